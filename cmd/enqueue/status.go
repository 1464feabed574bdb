package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/frameq/frameq/report"
	"github.com/frameq/frameq/tasks/records"
)

func cmdStatus(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "usage: enqueue status [--json] <batch>")
		fs.PrintDefaults()
	}
	if code, ok := c.load(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return c.fail(exitUsage, "status: want exactly one batch id")
	}
	rdb, err := c.redis()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	defer rdb.Close()
	b := records.NewBatches(rdb)
	st, err := b.Status(ctx, fs.Arg(0))
	if err != nil {
		return c.fail(exitFailed, "%v", err)
	}
	if st.Total() == 0 {
		return c.fail(exitFailed, "batch %s: unknown (no tasks recorded)", fs.Arg(0))
	}
	fails, err := b.Failures(ctx, fs.Arg(0))
	if err != nil {
		return c.fail(exitFailed, "%v", err)
	}
	if *asJSON {
		_ = json.NewEncoder(c.stdout).Encode(records.NewReport(st, fails))
		return exitOK
	}
	report.Status(c.stdout, st, fails)
	return exitOK
}

func cmdWait(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	timeout := fs.Duration("timeout", 0, "give up after this long (0: wait forever)")
	every := fs.Duration("interval", time.Second, "how often to check")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "usage: enqueue wait [--timeout D] <batch>\n\nExit 0: every file uploaded; 1: some failed; 3: timeout.")
		fs.PrintDefaults()
	}
	if code, ok := c.load(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return c.fail(exitUsage, "wait: want exactly one batch id")
	}
	rdb, err := c.redis()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	defer rdb.Close()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	b := records.NewBatches(rdb)
	bar := report.NewProgress(c.stderr)
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for {
		st, err := b.Status(ctx, fs.Arg(0))
		if err == nil {
			bar.Show(st)
			if st.Finished() {
				return c.finishWait(ctx, b, st)
			}
		} else if ctx.Err() == nil {
			fmt.Fprintln(c.stderr, "enqueue: wait:", err)
		}
		select {
		case <-ctx.Done():
			bar.End()
			return c.fail(exitTimeout, "wait: batch %s not finished: %v", fs.Arg(0), ctx.Err())
		case <-tick.C:
		}
	}
}

func (c *cli) finishWait(ctx context.Context, b *records.Batches, st records.Status) int {
	fails, _ := b.Failures(ctx, st.Batch)
	report.Status(c.stderr, st, fails)
	if st.Counts[records.Failed] > 0 {
		return exitFailed
	}
	return exitOK
}
