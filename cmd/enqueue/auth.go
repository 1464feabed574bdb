package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/config"
	"github.com/frameq/frameq/ims/chain"
)

// cmdAuth runs auth import and auth status.
func cmdAuth(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	if len(args) == 0 {
		return c.fail(exitUsage, "auth: want import --token-ref <ref> or status")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(c.stdout, "usage: enqueue auth import --token-ref <ref> < refresh-token\n       enqueue auth status\n\nRun \"enqueue auth import --help\" for the flags.")
		return exitOK
	case "import":
		return cmdAuthImport(ctx, c, fs, args[1:])
	case "status":
		return cmdAuthStatus(ctx, c, fs, args[1:])
	}
	return c.fail(exitUsage, "auth: unknown command %q: want import or status", args[0])
}

// secretKey is FRAMEQ_SECRET_KEY from the environment only.
func (c *cli) secretKey() ([]byte, error) {
	for _, kv := range c.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == config.SecretKeyVar {
			return config.ParseSecretKey(v)
		}
	}
	return config.ParseSecretKey("")
}

// cmdAuthImport stores a refresh token read from standard input as the
// ref's new chain: after a login, or when IMS refused the chain.
func cmdAuthImport(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	ref := fs.String("token-ref", "", "the token ref whose user OAuth chain to replace (required)")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "usage: enqueue auth import --token-ref <ref> < refresh-token\n\nReads an Adobe IMS user OAuth refresh token (offline_access) from standard input\nand stores it, sealed with FRAMEQ_SECRET_KEY, as the ref's refresh chain that\nevery worker shares. Workers pick it up at their next renewal.")
		fs.PrintDefaults()
	}
	if code, ok := c.load(fs, args); !ok {
		return code
	}
	if *ref == "" || fs.NArg() != 0 {
		return c.fail(exitUsage, "auth import: --token-ref is required, and nothing else (the token comes from standard input)")
	}
	if err := config.ValidateRef(*ref); err != nil {
		return c.fail(exitUsage, "auth import: --token-ref: %v", err)
	}
	key, err := c.secretKey()
	if err != nil {
		return c.fail(exitUsage, "auth import: %v", err)
	}
	tok, err := readToken(c.stdin)
	if err != nil {
		return c.fail(exitUsage, "auth import: standard input: %v", err)
	}
	rdb, err := c.redis()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	defer rdb.Close()
	if err := chain.Import(ctx, rdb, key, *ref, tok, 45*time.Second); err != nil {
		return c.fail(exitFailed, "auth import: %v", err)
	}
	fmt.Fprintf(c.stderr, "token ref %q: refresh token stored (sealed); workers use it from their next renewal. If its jobs are held, run enqueue resume --token-ref %s\n", *ref, *ref)
	return exitOK
}

// readToken reads one token: the first non-empty line, nothing after it.
func readToken(r io.Reader) (string, error) {
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	sc.Buffer(make([]byte, 0, 16<<10), 64<<10)
	var tok string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case tok != "":
			return "", errors.New("more than one line: give only the refresh token")
		case strings.ContainsAny(line, " \t"):
			return "", errors.New("the token contains white space")
		default:
			tok = line
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if tok == "" {
		return "", errors.New("no refresh token (pipe it in: enqueue auth import --token-ref R < file)")
	}
	return tok, nil
}

// cmdAuthStatus prints every ref's token kind and, for user OAuth, the
// chain's figures: never a secret.
func cmdAuthStatus(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "usage: enqueue auth status\n\nPer token ref: kind (s2s, user, static), and for user OAuth the access token's\nexpiry, the refresh token's age and days left (14 days from the login), the last\nrenewal and the refreshes of the last hour. Reads the workers' token settings\nfrom the environment and the chains from Redis (FRAMEQ_SECRET_KEY).")
		fs.PrintDefaults()
	}
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := c.cfg.Load(fs, args, c.environ, config.Redis, config.Worker)
	fs.Usage = usage
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		c.help(fs)
		return exitOK
	}
	if err != nil {
		return c.fail(exitUsage, "auth status: %v", err)
	}
	c.logRedis()
	rdb, err := c.redis()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	defer rdb.Close()
	stored, err := chain.Refs(ctx, rdb)
	if err != nil {
		return c.fail(exitFailed, "auth status: %v", err)
	}
	refs := c.cfg.TokenRefs()
	for _, r := range stored {
		if !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	slices.Sort(refs)
	key, keyErr := c.secretKey()
	now := time.Now()
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN REF\tKIND\tACCESS TOKEN EXPIRES\tREFRESH TOKEN AGE\tDAYS LEFT\tLAST RENEWAL\tREFRESHES (1H)\tNOTE")
	code := exitOK
	for _, ref := range refs {
		creds, hasIMS := c.cfg.IMSClients[ref]
		user := creds.User() || slices.Contains(stored, ref)
		if !user { // SCAN may not see every Cluster node: ask for the key
			user, _ = chain.Exists(ctx, rdb, ref)
		}
		switch {
		case user:
			if line, err := userLine(ctx, rdb, key, keyErr, ref, now); err != nil {
				fmt.Fprintf(tw, "%s\tuser\t-\t-\t-\t-\t-\t%s\n", ref, oneLine(err.Error()))
				code = exitFailed
			} else {
				fmt.Fprintln(tw, line)
			}
		case hasIMS:
			fmt.Fprintf(tw, "%s\ts2s\t-\t-\t-\t-\t-\teach worker mints its own (frameq_ims_mints_total)\n", ref)
		default:
			fmt.Fprintf(tw, "%s\tstatic\t-\t-\t-\t-\t-\t\n", ref)
		}
	}
	_ = tw.Flush()
	return code
}

// userLine is a user OAuth ref's status row.
func userLine(ctx context.Context, rdb redis.UniversalClient, key []byte, keyErr error, ref string, now time.Time) (string, error) {
	if keyErr != nil {
		return "", keyErr
	}
	st, err := chain.Load(ctx, rdb, key, ref)
	if err != nil {
		return "", err
	}
	if st == nil {
		return fmt.Sprintf("%s\tuser\t-\t-\t-\t-\t0\tno chain yet: the first worker starts it from FRAMEQ_IMS_REFRESH_TOKEN", ref), nil
	}
	s := st.Summary(ref, now)
	note := ""
	switch days := s.DaysLeft(now); {
	case s.Rejected != "":
		note = chain.LoginAgain
	case days < 0:
		note = "lapsed: log in again (enqueue auth import)"
	case days < 3:
		note = "under 3 days left: log in again soon (enqueue auth import)"
	}
	return fmt.Sprintf("%s\tuser\t%s\t%s\t%.1f\t%s\t%d\t%s", ref, when(s.AccessExpiry, now),
		s.Age(now).Round(time.Minute), s.DaysLeft(now), when(s.LastRenewal, now), s.MintsLastHour, note), nil
}

// when is t in UTC with how far from now, or "-".
func when(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now).Round(time.Second)
	if d >= 0 {
		return fmt.Sprintf("%s (in %v)", t.UTC().Format(time.RFC3339), d)
	}
	return fmt.Sprintf("%s (%v ago)", t.UTC().Format(time.RFC3339), -d)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
