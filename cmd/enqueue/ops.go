package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
)

func cmdFailed(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	asJSON := fs.Bool("json", false, "print JSON lines")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "usage: enqueue failed [--json] <batch>\n\nLists the batch's failed files with the reason each gave up.")
		fs.PrintDefaults()
	}
	if code, ok := c.load(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return c.fail(exitUsage, "failed: want exactly one batch id")
	}
	rdb, err := c.redis()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	defer rdb.Close()
	fails, err := records.NewBatches(rdb).Failures(ctx, fs.Arg(0))
	if err != nil {
		return c.fail(exitFailed, "%v", err)
	}
	enc := json.NewEncoder(c.stdout)
	for _, f := range fails {
		if *asJSON {
			_ = enc.Encode(f)
			continue
		}
		fmt.Fprintf(c.stdout, "%s\t%s\t%s\t%s\n", f.TaskID, f.Class, f.Path, f.Reason)
	}
	fmt.Fprintf(c.stderr, "%d failed\n", len(fails))
	return exitOK
}

func cmdRetry(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	class := fs.String("class", "", "only failures of this class (terminal, token_rejected, input, retries_exhausted)")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "usage: enqueue retry [--class C] <batch>\n\nQueues the batch's failed (archived) files again.")
		fs.PrintDefaults()
	}
	if code, ok := c.load(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return c.fail(exitUsage, "retry: want exactly one batch id")
	}
	rdb, err := c.redis()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	defer rdb.Close()
	batches := records.NewBatches(rdb)
	fails, err := batches.Failures(ctx, fs.Arg(0))
	if err != nil {
		return c.fail(exitFailed, "%v", err)
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	queued, gone := 0, 0
	for _, f := range fails {
		if *class != "" && f.Class != *class {
			continue
		}
		if err := insp.RunTask(f.Queue, f.TaskID); err != nil {
			fmt.Fprintf(c.stderr, "enqueue: retry %s (%s): %v\n", f.Path, f.TaskID, err)
			gone++
			continue
		}
		if err := batches.Set(ctx, fs.Arg(0), f.TaskID, records.Pending, nil); err != nil {
			return c.fail(exitFailed, "%v", err)
		}
		queued++
	}
	fmt.Fprintf(c.stderr, "%d queued again, %d could not be (no longer archived: enqueue the file anew)\n", queued, gone)
	if gone > 0 {
		return exitFailed
	}
	return exitOK
}

func cmdResume(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	ref := fs.String("token-ref", "", "the token ref whose breaker to close (required)")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "usage: enqueue resume --token-ref <ref>\n\nAfter a token was rejected (401/402) its jobs are held and its queue paused.\nFix the token on the workers first, then resume to let the held jobs run.")
		fs.PrintDefaults()
	}
	if code, ok := c.load(fs, args); !ok {
		return code
	}
	if *ref == "" || fs.NArg() != 0 {
		return c.fail(exitUsage, "resume: --token-ref is required, and nothing else")
	}
	rdb, err := c.redis()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	defer rdb.Close()
	b := job.NewBreaker(rdb)
	reason, err := b.Reason(ctx, *ref)
	if err != nil {
		return c.fail(exitFailed, "%v", err)
	}
	if err := b.Resume(ctx, *ref); err != nil {
		return c.fail(exitFailed, "%v", err)
	}
	if reason == "" {
		reason = "it was not open"
	}
	fmt.Fprintf(c.stderr, "token ref %q resumed (breaker had: %s)\n", *ref, reason)
	return exitOK
}
