package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/job"
)

// Row 8: a backlog of small files, from enqueue to drained, at sizes from
// 100,000 to 1,000,000, to see how each cost grows. Opt-in (-rows 8): the
// full size takes most of an hour on two cores.
const (
	millionScen    = "backlog: N small files, 4 procs × 16, no limits"
	millionWorkers = 4
)

// parseScales reads "-scale 100000,300000".
func parseScales(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-scale %q: want positive file counts, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// backlogRun is one size of row 8.
type backlogRun struct {
	n                  int
	enqueue            time.Duration
	drain              float64 // files/s from the first create to all done
	rssPeak            int64   // the largest worker's VmHWM, bytes
	perQueued, perDone float64 // Redis bytes per file
}

// million runs row 8 at every size of -scale, one after another.
func (b *bench) million(ctx context.Context) ([]line, error) {
	var out []line
	for i, n := range b.o.scales {
		r, err := b.backlog(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("%d files: %w", n, err)
		}
		b.progress("row 8, %d files: enqueue %v, drain %.0f files/s, worker peak RSS %s, Redis %.0f B/queued, %.0f B/done",
			n, r.enqueue.Round(time.Millisecond), r.drain, mib(r.rssPeak), r.perQueued, r.perDone)
		l := line{row: 8, impl: fmt.Sprintf("%s files", thousands(float64(n))), figures: []string{
			fmt.Sprintf("enqueue %.1f s", r.enqueue.Seconds()), perSec(r.drain, "drained"),
			"worker peak " + mib(r.rssPeak),
			fmt.Sprintf("Redis %.0f B/queued, %.0f B/done", r.perQueued, r.perDone)}}
		if i == 0 {
			l.scenario = millionScen
		}
		out = append(out, l)
	}
	return out, nil
}

// backlog enqueues n files with `enqueue manifest` (one 1 KiB file on disk,
// n target names) into a paused queue, measures Redis, starts 4 workers,
// resumes the queue and waits for all n to be done.
func (b *bench) backlog(ctx context.Context, n int) (backlogRun, error) {
	r := backlogRun{n: n}
	s, err := b.newStack(frameiosim.Config{CallLimit: noLimit, CreateLimit: noLimit})
	if err != nil {
		return r, err
	}
	defer s.close()
	manifest, err := writeLocalManifest(s.root, s.folder, n)
	if err != nil {
		return r, err
	}
	// Paused while it fills and the workers start: the first workers to
	// start would otherwise drain it while the others start on two cores.
	insp := asynq.NewInspectorFromRedisClient(s.rdb)
	if err := insp.PauseQueue(job.Queue("default")); err != nil {
		return r, err
	}
	before, err := s.usedMemory(ctx)
	if err != nil {
		return r, err
	}
	batch, _, took, err := b.runEnqueue(ctx, s, "manifest", manifest)
	if err != nil {
		return r, err
	}
	r.enqueue = took
	queued, err := s.usedMemory(ctx)
	if err != nil {
		return r, err
	}
	r.perQueued = float64(queued-before) / float64(n)
	env := s.environ(fmt.Sprintf("FRAMEQ_CREATE_RATE=%d/s", noLimit), fmt.Sprintf("FRAMEQ_CALL_RATE=%d/s", noLimit))
	var workers []*proc
	for i := range millionWorkers {
		w, err := b.startWorker(ctx, fmt.Sprintf("backlog-worker%d", i), env)
		if err != nil {
			return r, err
		}
		defer w.stop()
		workers = append(workers, w)
	}
	if err := insp.UnpauseQueue(job.Queue("default")); err != nil {
		return r, err
	}
	peak := watchPeakRSS(workers)
	end, err := s.waitBatch(ctx, batch, int64(n), time.Duration(n)*time.Millisecond*20+5*time.Minute)
	r.rssPeak = peak()
	if err != nil {
		return r, err
	}
	if r.drain, err = rateSinceFirstCreate(s, n, end); err != nil {
		return r, err
	}
	done, err := s.usedMemory(ctx)
	if err != nil {
		return r, err
	}
	r.perDone = float64(done-before) / float64(n)
	return r, nil
}

// watchPeakRSS reads each worker's VmHWM (peak RSS) until the returned
// function is called, which returns the largest: a worker stopped early
// still counts with its last reading.
func watchPeakRSS(workers []*proc) func() int64 {
	var (
		mu   sync.Mutex
		best int64
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	read := func() {
		for _, w := range workers {
			if v, err := memStatus(w.cmd.Process.Pid, "VmHWM"); err == nil {
				mu.Lock()
				best = max(best, v)
				mu.Unlock()
			}
		}
	}
	wg.Go(func() {
		for {
			read()
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
		}
	})
	return func() int64 {
		close(stop)
		wg.Wait()
		read()
		mu.Lock()
		defer mu.Unlock()
		return best
	}
}

// writeLocalManifest writes one 1 KiB file under root and a JSONL manifest
// of n uploads of it under n names into folder: n distinct files to
// frameq (the target path is part of a file's identity), one on disk.
func writeLocalManifest(root, folder string, n int) (string, error) {
	src := filepath.Join(root, "one.bin")
	if err := os.WriteFile(src, []byte(strings.Repeat("frameq-bench ", 79)[:1024]), 0o644); err != nil {
		return "", err
	}
	path := filepath.Join(root, "..", "backlog.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintf(w, `{"file":%q,"parent_id":%q,"path":"clip-%07d.bin"}`+"\n", src, folder, i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}
