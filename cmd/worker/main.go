// Command worker uploads queued files into Frame.io. Run as many as you
// like, on as many machines: they share one Redis and one rate limit.
//
//	FRAMEQ_TOKEN=... FRAMEQ_UPLOAD_ROOT=/media worker --concurrency 16
//
// Every setting is an FRAMEQ_* environment variable or a flag (see --help).
// Tokens and IMS credentials come only from the environment or
// FRAMEQ_TOKENS_FILE. Credentials IMS refuses at start-up, like a token
// Frame.io rejects, end the worker with status 1 naming the ref.
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

	"github.com/frameq/frameq/config"
	"github.com/frameq/frameq/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stderr))
}

func run(ctx context.Context, args, environ []string, stderr io.Writer) int {
	cfg := config.Default()
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	// A bad flag is reported once, on one line; usage only for --help.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := cfg.Load(fs, args, environ, config.Redis, config.Worker, config.Webhook); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "usage: worker [flags]\n\nUploads queued files into Frame.io. Tokens: FRAMEQ_TOKEN (ref \"default\"),\nFRAMEQ_TOKEN_<REF>, or FRAMEQ_TOKENS_FILE (lines ref=token); or Adobe IMS\nserver-to-server credentials FRAMEQ_IMS_CLIENT_ID and FRAMEQ_IMS_CLIENT_SECRET\n(_<REF> for other refs); or user OAuth: FRAMEQ_IMS_REFRESH_TOKEN (or enqueue auth\nimport) with FRAMEQ_IMS_CLIENT_ID and FRAMEQ_SECRET_KEY. Flags:")
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintln(stderr, "worker:", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "worker: unexpected argument %q: the worker takes only flags (see worker --help)\n", fs.Arg(0))
		return 2
	}
	if cfg.UploadRoot == "" {
		fmt.Fprintln(stderr, "worker: FRAMEQ_UPLOAD_ROOT (or -upload-root) is required: the only directory whose files this worker may read")
		return 2
	}
	log := cfg.NewLogger(stderr)
	rdb, err := cfg.RedisClient(len(cfg.TokenRefs())*2*cfg.Concurrency*(1+cfg.PartConcurrency) + 10)
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 2
	}
	defer rdb.Close()
	w, err := worker.New(cfg, rdb, log)
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 2
	}
	if err := w.CheckTokens(ctx); err != nil {
		var cerr *worker.ConfigError
		if errors.As(err, &cerr) {
			fmt.Fprintln(stderr, "worker:", err)
			return 2
		}
		log.Error().Err(err).Msg("token check failed")
		return 1
	}
	if err := w.Run(ctx); err != nil {
		log.Error().Err(err).Msg("worker failed")
		return 1
	}
	return 0
}
