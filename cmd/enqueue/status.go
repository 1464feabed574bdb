package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/frameq/frameq/report"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
)

func cmdStatus(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	asJSON := fs.Bool("json", false, "print JSON")
	grace := fs.Duration("vanish-grace", job.DefaultVanishGrace, "count a task asynq no longer has as failed only this long after the batch's last enqueue")
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
	if *grace < 0 {
		return c.fail(exitUsage, "status: --vanish-grace %v: must not be negative", *grace)
	}
	rdb, err := c.redis()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	defer rdb.Close()
	b := records.NewBatches(rdb)
	sweeper := job.NewSweeper(rdb)
	sweeper.Grace = *grace
	if _, err := sweeper.Sweep(ctx, fs.Arg(0)); err != nil {
		fmt.Fprintf(c.stderr, "enqueue: status: vanished tasks not checked: %v\n", err)
	}
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
	holds, err := b.Holds(ctx, fs.Arg(0))
	if err != nil {
		return c.fail(exitFailed, "%v", err)
	}
	report.Status(c.stdout, st, holds, fails)
	return exitOK
}

func cmdWait(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	timeout := fs.Duration("timeout", 0, "give up after this long (0: wait forever)")
	every := fs.Duration("interval", time.Second, "how often to check")
	grace := fs.Duration("vanish-grace", job.DefaultVanishGrace, "count a task asynq no longer has as failed only this long after the batch's last enqueue")
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
	if *grace < 0 {
		return c.fail(exitUsage, "wait: --vanish-grace %v: must not be negative", *grace)
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
	w := &watch{batches: records.NewBatches(rdb), sweeper: job.NewSweeper(rdb), batch: fs.Arg(0)}
	w.sweeper.Grace = *grace
	bar := report.NewProgress(c.stderr)
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for {
		st, holds, err := w.poll(ctx)
		if w.sweepErr != nil && ctx.Err() == nil {
			fmt.Fprintln(c.stderr, "enqueue: wait: vanished tasks not checked:", w.sweepErr)
			w.sweepErr = nil
		}
		if err == nil {
			bar.Show(st, holds)
			if st.Finished() {
				bar.End()
				return c.finishWait(ctx, w.batches, st, holds)
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

// watch is wait's view of a batch. It looks for tasks that vanished from
// asynq only once the batch has made no progress for sweepAfter: a batch
// that moves needs no look, and a look costs an EXISTS per unfinished task.
type watch struct {
	batches *records.Batches
	sweeper *job.Sweeper
	batch   string
	state   string    // counts at the last change
	since   time.Time // when they last changed
	next    time.Time // the earliest time for the next sweep
	// sweepErr is why the last sweep failed; the status is shown anyway.
	sweepErr error
}

// sweepAfter is how long a batch must stand still before wait looks for
// vanished tasks. It looks again after sweepAfter plus ten times what the
// last look took, so a large stalled batch (say held by the breaker) is
// not looked up task by task every few seconds.
const sweepAfter = 5 * time.Second

func (w *watch) poll(ctx context.Context) (records.Status, []records.Failure, error) {
	st, err := w.batches.Status(ctx, w.batch)
	if err != nil {
		return st, nil, err
	}
	now := time.Now()
	if state := fmt.Sprint(st.Counts); state != w.state || w.since.IsZero() {
		w.state, w.since = state, now
	}
	if !st.Finished() && now.Sub(w.since) >= sweepAfter && !now.Before(w.next) {
		n, err := w.sweeper.Sweep(ctx, w.batch)
		w.next = time.Now().Add(sweepAfter + 10*time.Since(now))
		w.sweepErr = err
		if n > 0 {
			if st, err = w.batches.Status(ctx, w.batch); err != nil {
				return st, nil, err
			}
		}
	}
	holds, err := w.batches.Holds(ctx, w.batch)
	return st, holds, err
}

func (c *cli) finishWait(ctx context.Context, b *records.Batches, st records.Status, holds []records.Failure) int {
	fails, _ := b.Failures(ctx, st.Batch)
	report.Status(c.stderr, st, holds, fails)
	if st.Counts[records.Failed] > 0 {
		return exitFailed
	}
	return exitOK
}
