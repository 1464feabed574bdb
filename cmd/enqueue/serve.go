package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/frameq/frameq/config"
	"github.com/frameq/frameq/intake"
	"github.com/frameq/frameq/tasks/notify"
)

// Server timeouts: a slow client cannot hold a connection for long, but a
// 32 MiB batch over a slow link still gets in.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 2 * time.Minute
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
	stopGrace         = 30 * time.Second
)

func cmdServe(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "usage: enqueue serve [flags]\n\nServes the intake HTTP API (docs/intake.openapi.yaml). Keys: FRAMEQ_INTAKE_KEY\n(one key named default) or FRAMEQ_INTAKE_KEYS_FILE (lines: name key ref1,ref2 or *). Flags:")
		fs.PrintDefaults()
	}
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := c.cfg.Load(fs, args, c.environ, config.Redis, config.Intake, config.Webhook, config.Enqueue)
	fs.Usage = usage
	fs.SetOutput(c.stderr)
	if errors.Is(err, flag.ErrHelp) {
		c.help(fs)
		return exitOK
	}
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	if fs.NArg() != 0 {
		return c.fail(exitUsage, "serve: takes only flags, got %q", fs.Arg(0))
	}
	c.logRedis()
	opts, err := c.intakeOptions()
	if err != nil {
		return c.fail(exitUsage, "serve: %v", err)
	}
	rdb, err := c.redis()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	defer rdb.Close()
	srv, err := intake.New(rdb, opts)
	if err != nil {
		return c.fail(exitUsage, "serve: %v", err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", c.cfg.IntakeAddr)
	if err != nil {
		return c.fail(exitUsage, "serve: FRAMEQ_INTAKE_ADDR %s: %v", c.cfg.IntakeAddr, err)
	}
	return c.serve(ctx, ln, srv, opts)
}

// intakeOptions gathers the keys and hosts; the errors say what to set.
func (c *cli) intakeOptions() (intake.Options, error) {
	var keys []intake.Key
	if path := c.cfg.IntakeKeysFile; path != "" {
		f, err := os.Open(path)
		if err != nil {
			return intake.Options{}, fmt.Errorf("FRAMEQ_INTAKE_KEYS_FILE: %w", err)
		}
		keys, err = intake.ParseKeys(f)
		f.Close()
		if err != nil {
			return intake.Options{}, fmt.Errorf("FRAMEQ_INTAKE_KEYS_FILE %s: %w", path, err)
		}
	}
	if c.cfg.IntakeKey != "" {
		k, err := intake.NewKey("default", c.cfg.IntakeKey, nil)
		if err != nil {
			return intake.Options{}, fmt.Errorf("FRAMEQ_INTAKE_KEY: %w", err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return intake.Options{}, errors.New("no API key: set FRAMEQ_INTAKE_KEY or FRAMEQ_INTAKE_KEYS_FILE (the intake never runs open)")
	}
	hosts, err := notify.ParseHosts(c.cfg.WebhookHosts)
	if err != nil {
		return intake.Options{}, fmt.Errorf("FRAMEQ_WEBHOOK_HOSTS: %w", err)
	}
	if len(hosts) > 0 && c.cfg.WebhookSecret == "" {
		return intake.Options{}, errors.New("FRAMEQ_WEBHOOK_HOSTS allows callbacks but FRAMEQ_WEBHOOK_SECRET is unset: webhooks would go unsigned")
	}
	box, err := c.cfg.Box()
	if err != nil {
		return intake.Options{}, err
	}
	return intake.Options{Keys: keys, Hosts: hosts, Log: c.cfg.NewLogger(c.stderr), Box: box, Retention: c.cfg.CompletedRetention,
		Durability: c.cfg.Durability()}, nil
}

// serve runs the listener until ctx ends (SIGTERM), then lets requests in
// flight finish.
func (c *cli) serve(ctx context.Context, ln net.Listener, h http.Handler, opts intake.Options) int {
	hs := &http.Server{
		Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: 64 << 10,
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	_ = json.NewEncoder(c.stdout).Encode(map[string]string{"url": "http://" + ln.Addr().String()})
	opts.Log.Info().Str("addr", ln.Addr().String()).Int("keys", len(opts.Keys)).Msg("intake listening")
	select {
	case err := <-done:
		return c.fail(exitFailed, "serve: %v", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return c.fail(exitFailed, "serve: stopping: %v", err)
	}
	opts.Log.Info().Msg("intake stopped")
	return exitOK
}
