package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/frameq/frameq/frameiosim"
)

// envPrefix names the environment variable of each flag:
// --create-limit ↔ FRAMEQ_SIM_CREATE_LIMIT.
const envPrefix = "FRAMEQ_SIM_"

// options is the parsed command line.
type options struct {
	addr           string
	cfg            frameiosim.Config
	tokens         secretFlag
	legacyTokens   secretFlag
	imsClients     secretFlag
	forbidden      []string // folder ids, or "/paths" made under every root
	paymentFolders []string
	logRequests    bool
	version        bool // --version: print it and exit
}

// versionFlag is the one flag without a FRAMEQ_SIM_ variable.
const versionFlag = "version"

// printUsage writes --help's text: what the simulator is, then every flag.
func printUsage(w io.Writer) {
	fmt.Fprintln(w, `usage: frameio-sim [flags]

Serves a simulated Frame.io (V4 and v2) on --addr and prints one JSON line
with its URLs and root folder ids on stdout. Every flag can also be set with
FRAMEQ_SIM_<FLAG> (e.g. FRAMEQ_SIM_CREATE_LIMIT=5); a flag on the command
line wins. Flags:`)
	var o options
	fs := flag.NewFlagSet("frameio-sim", flag.ContinueOnError)
	o.define(fs)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// parseFlags reads args, then FRAMEQ_SIM_* variables for flags not given.
// Every error names the flag or variable at fault.
func parseFlags(args []string, getenv func(string) string) (options, error) {
	o := options{cfg: frameiosim.Config{
		Tokens:      map[string]string{frameiosim.DefaultToken: frameiosim.DefaultAccount},
		CallLimit:   frameiosim.DefaultCallLimit,
		CreateLimit: frameiosim.DefaultCreateLimit,
		Window:      frameiosim.DefaultWindow,
		Enforcement: frameiosim.LeakyBucket,
		PartSize:    frameiosim.DefaultPartSize,
		URLExpiry:   frameiosim.DefaultURLExpiry,
		API:         frameiosim.APIBoth,
	}}
	fs := flag.NewFlagSet("frameio-sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // we print one line ourselves
	o.define(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.version { // no environment variable, no check: just the version
		return o, nil
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (all settings are --flags)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == versionFlag {
			return
		}
		env := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" && !set[f.Name] && err == nil {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("%s: %w", env, serr)
			}
		}
	})
	if err != nil {
		return o, err
	}
	if o.tokens != "" {
		if o.cfg.Tokens, err = parseTokens(string(o.tokens)); err != nil {
			return o, fmt.Errorf("%s: %w", source(set, "tokens"), err)
		}
	}
	if o.legacyTokens != "" {
		if o.cfg.LegacyTokens, err = parseTokens(string(o.legacyTokens)); err != nil {
			return o, fmt.Errorf("%s: %w", source(set, "legacy-tokens"), err)
		}
	}
	if o.imsClients != "" {
		if o.cfg.IMSClients, err = parseIMSClients(string(o.imsClients)); err != nil {
			return o, fmt.Errorf("%s: %w", source(set, "ims-clients"), err)
		}
	}
	if err := o.cfg.Validate(); err != nil {
		return o, fmt.Errorf("invalid configuration: %w", err)
	}
	return o, nil
}

// source names where a flag's value came from: the flag, or its variable.
func source(set map[string]bool, name string) string {
	if set[name] {
		return "--" + name
	}
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func (o *options) define(fs *flag.FlagSet) {
	c, f := &o.cfg, &o.cfg.Faults
	fs.BoolVar(&o.version, versionFlag, false, "print the version and exit")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8090", "listen address")
	fs.Var(&o.tokens, "tokens", "comma list of token=account (default dev-token=acct-dev)")
	fs.BoolVar(&c.LimitPerAccount, "limit-per-account", false, "count limits per account instead of per token")
	fs.Var((*countFlag)(&c.CallLimit), "call-limit", "API calls per window per scope")
	fs.Var((*countFlag)(&c.CreateLimit), "create-limit", "creates per window per scope")
	fs.Var((*durationFlag)(&c.Window), "window", "rate-limit window")
	fs.Var((*enforcementFlag)(&c.Enforcement), "enforcement", "leaky or sliding")
	fs.BoolVar(&c.NoRetryAfter, "no-retry-after", false, "omit Retry-After from 429s")
	fs.Var((*sizeFlag)(&c.PartSize), "part-size", "server-chosen part size in bytes")
	fs.Var((*durationFlag)(&c.URLExpiry), "url-expiry", "lifetime of presigned upload URLs")
	fs.Var((*probFlag)(&f.Create500), "create-500", "probability a create answers 500 without creating")
	fs.Var((*probFlag)(&f.LostCreate), "lost-create", "probability a create creates but answers 500")
	fs.Var((*probFlag)(&f.ResetCreate), "reset-create", "probability a create creates then drops the connection")
	fs.Var((*probFlag)(&f.PartFail), "part-fail", "probability a part PUT answers 500")
	fs.Var((*durationFlag)(&f.Latency), "latency", "latency added to every API call")
	fs.Var((*probFlag)(&f.SlowProb), "slow-prob", "probability an API call sleeps --slow-delay")
	fs.Var((*durationFlag)(&f.SlowDelay), "slow-delay", "sleep of a slow API call")
	fs.Var((*probFlag)(&f.HTMLError), "html-error", "probability an API call gets a proxy's 502 HTML page")
	fs.Var((*listFlag)(&o.forbidden), "forbidden-folder", "folder id or /path (made under each root) whose creates answer 403; repeatable")
	fs.Var((*listFlag)(&o.paymentFolders), "payment-required-folder", "folder id or /path whose creates answer 402; repeatable")
	fs.Var((*seedFlag)(&c.Seed), "seed", "fault RNG seed (0: time-based)")
	fs.BoolVar(&o.logRequests, "log-requests", false, "log each request to stderr (never tokens or signatures)")
	fs.Var((*apiFlag)(&c.API), "api", "APIs to serve: v4, v2 or both")
	fs.Var(&o.legacyTokens, "legacy-tokens", "comma list of legacy token=account: v2 developer tokens, accepted on V4 only with x-frameio-legacy-token-auth: true")
	fs.Var((*v4LimitsFlag)(&c.V4Limits), "v4-limit", "V4 route limit route=N/window (e.g. file_create=5/1s, folder_create=3/1s); comma list, repeatable")
	fs.Var((*durationFlag)(&c.CompleteAfter), "complete-after", "delay from a file's last part to its completion")
	fs.Var((*probFlag)(&f.UploadFailed), "upload-failed", "probability a fully uploaded file ends upload_failed")
	fs.Var(&o.imsClients, "ims-clients", "comma list of client_id:secret=account: IMS server-to-server clients (POST /ims/token/v3)")
	fs.Var((*durationFlag)(&c.TokenLifetime), "token-lifetime", "lifetime of IMS access tokens (default 24h)")
	fs.Var((*countFlag)(&c.IMSMintLimit), "ims-mint-limit", "IMS tokens one client may mint per minute (0: no limit)")
	fs.Var((*listFlag)(&f.LockedAccounts), "locked-account", "account id whose V4 calls answer 403 Account locked; repeatable")
}

type apiFlag frameiosim.API

func (a *apiFlag) String() string { return string(*a) }
func (a *apiFlag) Set(v string) error {
	switch x := frameiosim.API(v); x {
	case frameiosim.APIV4, frameiosim.APIV2, frameiosim.APIBoth:
		*a = apiFlag(x)
		return nil
	}
	return errors.New("want v4, v2 or both")
}

// v4LimitsFlag collects route=N/window entries.
type v4LimitsFlag map[string]frameiosim.Limit

func (l *v4LimitsFlag) String() string {
	var out []string
	for route, lim := range *l {
		out = append(out, fmt.Sprintf("%s=%d/%v", route, lim.Limit, lim.Window))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func (l *v4LimitsFlag) Set(v string) error {
	if *l == nil {
		*l = map[string]frameiosim.Limit{}
	}
	known := frameiosim.DefaultV4Limits()
	for _, entry := range strings.Split(v, ",") {
		route, spec, ok := strings.Cut(strings.TrimSpace(entry), "=")
		n, win, ok2 := strings.Cut(spec, "/")
		limit, err := strconv.Atoi(n)
		window, werr := time.ParseDuration(win)
		if _, found := known[route]; !found {
			return fmt.Errorf("%q is not a V4 route (%s)", route, strings.Join(routeNames(known), ", "))
		}
		if !ok || !ok2 || err != nil || limit < 1 || werr != nil || window < time.Millisecond {
			return fmt.Errorf("%q is not route=N/window like file_create=5/1s", entry)
		}
		(*l)[route] = frameiosim.Limit{Limit: limit, Window: window}
	}
	return nil
}

func routeNames(m map[string]frameiosim.Limit) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// secretFlag holds a value that must never be echoed: the flag package
// quotes a value it cannot Set, so Set always succeeds and the value is
// checked after parsing.
type secretFlag string

func (f *secretFlag) String() string     { return "" }
func (f *secretFlag) Set(v string) error { *f = secretFlag(v); return nil }

// parseTokens parses "tok=acct,tok2=acct2". Errors never show a token.
func parseTokens(v string) (map[string]string, error) {
	m := map[string]string{}
	for i, entry := range strings.Split(v, ",") {
		tok, acct, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok || tok == "" || acct == "" || strings.ContainsAny(tok, " \t") {
			return nil, fmt.Errorf("entry %d is not token=account", i+1)
		}
		m[tok] = acct
	}
	return m, nil
}

// parseIMSClients parses "id:secret=account,...". Errors never show a
// secret.
func parseIMSClients(v string) (map[string]frameiosim.IMSClient, error) {
	m := map[string]frameiosim.IMSClient{}
	for i, entry := range strings.Split(v, ",") {
		creds, acct, ok := strings.Cut(strings.TrimSpace(entry), "=")
		id, secret, ok2 := strings.Cut(creds, ":")
		if !ok || !ok2 || id == "" || secret == "" || acct == "" {
			return nil, fmt.Errorf("entry %d is not client_id:secret=account", i+1)
		}
		m[id] = frameiosim.IMSClient{Secret: secret, Account: acct}
	}
	return m, nil
}

type countFlag int

func (c *countFlag) String() string { return strconv.Itoa(int(*c)) }
func (c *countFlag) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return errors.New("want a positive integer")
	}
	*c = countFlag(n)
	return nil
}

type sizeFlag int64

func (s *sizeFlag) String() string { return strconv.FormatInt(int64(*s), 10) }
func (s *sizeFlag) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return errors.New("want a positive number of bytes")
	}
	*s = sizeFlag(n)
	return nil
}

type seedFlag int64

func (s *seedFlag) String() string { return strconv.FormatInt(int64(*s), 10) }
func (s *seedFlag) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return errors.New("want an integer")
	}
	*s = seedFlag(n)
	return nil
}

type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }
func (d *durationFlag) Set(v string) error {
	x, err := time.ParseDuration(v)
	if err != nil || x < 0 {
		return errors.New("want a non-negative duration like 250ms")
	}
	*d = durationFlag(x)
	return nil
}

type probFlag float64

func (p *probFlag) String() string { return strconv.FormatFloat(float64(*p), 'g', -1, 64) }
func (p *probFlag) Set(v string) error {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || !(x >= 0 && x <= 1) {
		return errors.New("want a probability within [0, 1]")
	}
	*p = probFlag(x)
	return nil
}

type enforcementFlag frameiosim.Enforcement

func (e *enforcementFlag) String() string { return string(*e) }
func (e *enforcementFlag) Set(v string) error {
	switch x := frameiosim.Enforcement(v); x {
	case frameiosim.LeakyBucket, frameiosim.SlidingWindow:
		*e = enforcementFlag(x)
		return nil
	}
	return errors.New("want leaky or sliding")
}

// listFlag collects repeated flags, each a comma list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*l = append(*l, x)
		}
	}
	return nil
}
