// Command enqueue puts uploads into frameq's queue and reports on batches.
//
//	enqueue dir --parent <folder-id> <path>   # mirror a local tree; prints the batch id
//	enqueue manifest <file.jsonl|file.csv>     # files or remote URLs, validated first
//	enqueue status <batch>                     # counts by state, failure reasons
//	enqueue wait <batch> [--timeout 1h]        # until done; exit 0 only if all uploaded
//	enqueue failed <batch>                     # failed files and reasons
//	enqueue retry <batch> [--class terminal]   # queue failed files again
//	enqueue resume --token-ref <ref>           # after fixing a rejected token
//	enqueue serve                              # HTTP intake; prints {"url": ...}
//	enqueue auth import --token-ref <ref>      # a user OAuth refresh token from stdin
//	enqueue auth status                        # every ref's token kind and lifetimes
//
// The batch id is the only line on stdout; everything else goes to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/buildinfo"
	"github.com/frameq/frameq/config"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // a batch has failed files, or an operation failed
	exitUsage   = 2 // bad flags, environment or input
	exitTimeout = 3 // wait's timeout passed
)

const usage = `usage: enqueue <command> [flags] [args]

commands:
  dir --parent <folder-id> <path>   enqueue every file below path, mirroring its folders
  manifest <file>                   enqueue the lines of a JSONL or CSV manifest
  status <batch>                    counts by state and failure reasons
  wait <batch>                      wait until every file is done or failed
  failed <batch>                    the failed files and why
  retry <batch> [--class C]         queue the failed files again
  resume --token-ref <ref>          release jobs held after the token was rejected (401/402)
  serve                             the HTTP intake for producers in any language (FRAMEQ_INTAKE_*)
  auth import --token-ref <ref>     store a user OAuth refresh token read from stdin (sealed with FRAMEQ_SECRET_KEY)
  auth status                       per token ref: kind, access token expiry, refresh token days left, mints

Flags may come before or after the arguments. Run "enqueue <command> --help"
for a command's flags, "enqueue --version" for the build. Redis: FRAMEQ_REDIS_URL.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	c := &cli{environ: os.Environ(), stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, redisLog: setRedisLog}
	os.Exit(c.run(ctx, os.Args[1:]))
}

// setRedisLog sends go-redis's own lines (a refused dial, a failover),
// which it prints unstructured on stderr otherwise, to log. go-redis has
// one logger per process, so only main sets it, never a test's run.
func setRedisLog(log zerolog.Logger) {
	redis.SetLogger(config.RedisLog{Log: log})
}

// cli carries what every command needs.
type cli struct {
	cfg     config.Config
	environ []string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	// redisLog, if set, installs the configured logger as go-redis's.
	redisLog func(zerolog.Logger)
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	return runIO(ctx, args, environ, os.Stdin, stdout, stderr)
}

// runIO is run with standard input (auth import reads the token from it).
func runIO(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{environ: environ, stdin: stdin, stdout: stdout, stderr: stderr}
	return c.run(ctx, args)
}

// run runs the command args name and returns the exit code.
func (c *cli) run(ctx context.Context, args []string) int {
	stdout, stderr := c.stdout, c.stderr
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage) // asked for: stdout, so it pipes into a pager
		return exitOK
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, buildinfo.String("enqueue"))
		return exitOK
	}
	cmds := map[string]func(context.Context, *cli, *flag.FlagSet, []string) int{
		"dir": cmdDir, "manifest": cmdManifest, "status": cmdStatus, "wait": cmdWait,
		"failed": cmdFailed, "retry": cmdRetry, "resume": cmdResume, "serve": cmdServe, "auth": cmdAuth,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "enqueue: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	c.cfg = config.Default()
	fs := flag.NewFlagSet("enqueue "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	return cmd(ctx, c, fs, args[1:])
}

// load parses the command's flags (already defined on fs) with the shared
// settings and those of groups. ok false means: return code.
func (c *cli) load(fs *flag.FlagSet, args []string, groups ...config.Group) (code int, ok bool) {
	// A bad flag is reported once, on one line; usage only for --help.
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := c.cfg.Load(fs, args, c.environ, append([]config.Group{config.Redis}, groups...)...)
	fs.Usage = usage
	fs.SetOutput(c.stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.help(fs)
			return exitOK, false
		}
		fmt.Fprintln(c.stderr, "enqueue:", err)
		return exitUsage, false
	}
	c.logRedis()
	return 0, true
}

// help prints the command's usage on stdout: help that was asked for is
// the output, not an error. The commands' Usage functions write to
// c.stderr, so it points there while they run.
func (c *cli) help(fs *flag.FlagSet) {
	stderr := c.stderr
	c.stderr = c.stdout
	fs.SetOutput(c.stdout)
	fs.Usage()
	c.stderr = stderr
	fs.SetOutput(stderr)
}

// logRedis routes go-redis's lines through the configured logger (the
// reason enqueue has --log-format and --log-level; serve logs too).
func (c *cli) logRedis() {
	if c.redisLog != nil {
		c.redisLog(c.cfg.NewLogger(c.stderr))
	}
}

func (c *cli) redis() (redis.UniversalClient, error) {
	return c.cfg.RedisClient(64)
}

func (c *cli) fail(code int, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "enqueue: "+format+"\n", args...)
	return code
}
