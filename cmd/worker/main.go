// Command worker uploads queued files into Frame.io. Run as many as you
// like, on as many machines: they share one Redis and one rate limit.
//
//	FRAMEQ_TOKEN=... FRAMEQ_UPLOAD_ROOT=/media worker --concurrency 16
//	worker healthcheck    # exit 0 if this host's worker (FRAMEQ_HTTP_ADDR) is ready
//	worker --version
//
// Every setting is an FRAMEQ_* environment variable or a flag (see --help).
// Tokens and IMS credentials come only from the environment or
// FRAMEQ_TOKENS_FILE. While Frame.io cannot be reached at start-up the
// worker waits with back-off, saying why on /readyz and in its log; a token
// or IMS credentials rejected end it with status 1 naming the ref.
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
	"github.com/frameq/frameq/worker"
)

const usage = `usage: worker [flags]
       worker healthcheck [--http-addr ADDR]   exit 0 if the worker at FRAMEQ_HTTP_ADDR is ready, else 1

Uploads queued files into Frame.io. Tokens: FRAMEQ_TOKEN (ref "default"),
FRAMEQ_TOKEN_<REF>, or FRAMEQ_TOKENS_FILE (lines ref=token); or Adobe IMS
server-to-server credentials FRAMEQ_IMS_CLIENT_ID and FRAMEQ_IMS_CLIENT_SECRET
(_<REF> for other refs); or user OAuth: FRAMEQ_IMS_REFRESH_TOKEN (or enqueue auth
import) with FRAMEQ_IMS_CLIENT_ID and FRAMEQ_SECRET_KEY. Flags:`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	p := proc{environ: os.Environ(), stdout: os.Stdout, stderr: os.Stderr, redisLog: setRedisLog}
	os.Exit(p.run(ctx, os.Args[1:]))
}

// setRedisLog sends go-redis's own lines, unstructured on stderr otherwise,
// to log. go-redis has one logger per process: only main sets it.
func setRedisLog(log zerolog.Logger) {
	redis.SetLogger(config.RedisLog{Log: log})
}

// proc is what one run of the program sees.
type proc struct {
	environ        []string
	stdout, stderr io.Writer
	// redisLog, if set, installs the configured logger as go-redis's.
	redisLog func(zerolog.Logger)
}

// run returns the exit code: 0 stopped cleanly (or --help, --version), 1 a
// token rejected or a failure while running, 2 bad settings.
func (p proc) run(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return p.healthcheck(ctx, args[1:])
	}
	cfg := config.Default()
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "print the version and exit")
	if code, ok := p.load(&cfg, fs, args, usage); !ok {
		return code
	}
	if *showVersion {
		fmt.Fprintln(p.stdout, buildinfo.String("worker"))
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(p.stderr, "worker: unexpected argument %q: the worker takes only flags (see worker --help)\n", fs.Arg(0))
		return 2
	}
	if cfg.UploadRoot == "" {
		fmt.Fprintln(p.stderr, "worker: FRAMEQ_UPLOAD_ROOT (or -upload-root) is required: the only directory whose files this worker may read")
		return 2
	}
	log := cfg.NewLogger(p.stderr)
	if p.redisLog != nil {
		p.redisLog(log)
	}
	return p.work(ctx, cfg, log)
}

// load fills cfg from the environment and args. ok false means: return
// code (0 after --help, which goes to stdout; 2 for a bad setting, one
// line on stderr).
func (p proc) load(cfg *config.Config, fs *flag.FlagSet, args []string, usage string) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := cfg.Load(fs, args, p.environ, config.Redis, config.Worker, config.Webhook)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(p.stdout, usage)
		fs.SetOutput(p.stdout)
		fs.PrintDefaults()
		return 0, false
	}
	if err != nil {
		fmt.Fprintln(p.stderr, "worker:", err)
		return 2, false
	}
	return 0, true
}

// work runs the worker until ctx ends.
func (p proc) work(ctx context.Context, cfg config.Config, log zerolog.Logger) int {
	// Every slot (two lanes per token, and the webhooks') may hold a
	// connection for its task and one for each part PUT at once.
	servers := 2*len(cfg.TokenRefs()) + 1
	rdb, err := cfg.RedisClient(servers*cfg.Concurrency*(1+cfg.PartConcurrency) + 10)
	if err != nil {
		fmt.Fprintln(p.stderr, "worker:", err)
		return 2
	}
	defer rdb.Close()
	w, err := worker.New(cfg, rdb, log)
	if err != nil {
		fmt.Fprintln(p.stderr, "worker:", err)
		return 2
	}
	if err := w.Run(ctx); err != nil {
		var cerr *worker.ConfigError
		if errors.As(err, &cerr) {
			fmt.Fprintln(p.stderr, "worker:", err)
			return 2
		}
		log.Error().Err(err).Msg("worker failed")
		return 1
	}
	return 0
}
