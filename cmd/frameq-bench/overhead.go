package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
)

// Row 4 raises every limit out of the way: the figure is our per-task cost.
const (
	noLimit        = 1_000_000
	overheadFile   = 1024
	overheadScen   = "per task, 1 proc × 16, no limits"
	bareQueue      = "bare"
	bareTaskType   = "bare:upload"
	bareCounterKey = "bare:done"
)

func (b *bench) overheadStack() (*stack, string, error) {
	s, err := b.newStack(frameiosim.Config{CallLimit: noLimit, CreateLimit: noLimit})
	if err != nil {
		return nil, "", err
	}
	dir := filepath.Join(s.root, "files")
	if err := writeFiles(dir, b.o.overheadTasks, overheadFile); err != nil {
		s.close()
		return nil, "", err
	}
	return s, dir, nil
}

// overhead compares one worker process with a bare asynq handler process
// making the same HTTP calls (create, one PUT) for the same files: the
// worker as configured by default, which also asks Frame.io whether each
// file is complete (a third call, a GET), and the worker without that
// check, which makes exactly the bare handler's calls. Each
// rate is tasks over the time from the first create to the moment the
// last task was seen done (polled every 10ms). The two alternate for
// b.o.rounds rounds and the table shows the round of median ratio. The
// machine is CPU-bound here, so each line also shows the CPU time per task
// of the process, of redis-server and of this program (the simulator).
func (b *bench) overhead(ctx context.Context) ([]line, error) {
	type round struct{ ours, same, base, bare throughput }
	var rounds []round
	for r := range b.o.rounds {
		o, err := b.overheadFrameq(ctx, "", true)
		if err != nil {
			return nil, fmt.Errorf("frameq: %w", err)
		}
		v, err := b.overheadFrameq(ctx, "", false)
		if err != nil {
			return nil, fmt.Errorf("frameq, no verification: %w", err)
		}
		var base throughput
		if b.o.baseline != "" {
			if base, err = b.overheadFrameq(ctx, b.o.baseline, false); err != nil {
				return nil, fmt.Errorf("-baseline worker, no verification: %w", err)
			}
		}
		x, err := b.overheadBare(ctx)
		if err != nil {
			return nil, fmt.Errorf("bare: %w", err)
		}
		msg := fmt.Sprintf("round %d: frameq %s, without verification %s", r+1, o, v)
		if b.o.baseline != "" {
			msg += fmt.Sprintf(", -baseline worker without verification %s (%.1f %% of bare)", base, 100*base.rate/x.rate)
		}
		b.progress("%s, bare %s; without verification %.1f %% of bare", msg, x, 100*v.rate/x.rate)
		rounds = append(rounds, round{o, v, base, x})
	}
	m := medianRound(rounds, func(r round) float64 { return r.same.rate / r.bare.rate })
	ours, same, bare := m.ours, m.same, m.bare
	p, q := 100*ours.rate/bare.rate, 100*same.rate/bare.rate
	lines := []line{
		{row: 4, scenario: overheadScen, impl: "frameq worker (verifies: + GET)",
			figures: append([]string{perSec(ours.rate, "tasks"), pct(p, "bare")}, ours.cpuFigures()...)},
		{row: 4, impl: "frameq, FRAMEQ_VERIFY_UPLOADS=false",
			figures: append([]string{perSec(same.rate, "tasks"), pct(q, "bare")}, same.cpuFigures()...),
			target:  "≥ 80 % of bare", met: verdict(q >= 80)},
	}
	if b.o.baseline != "" {
		lines = append(lines, line{row: 4, impl: "-baseline worker, no verification",
			figures: append([]string{perSec(m.base.rate, "tasks"), pct(100*m.base.rate/bare.rate, "bare")}, m.base.cpuFigures()...)})
	}
	return append(lines, line{row: 4, impl: "bare asynq handler",
		figures: append([]string{perSec(bare.rate, "tasks"), ""}, bare.cpuFigures()...)}), nil
}

// throughput is a rate with the CPU time per task of each process, and
// what each task cost redis-server in reads (≈ round trips: a pipeline
// arrives in one read) and commands (those run by scripts included): two
// figures the machine's load does not move.
type throughput struct {
	rate             float64
	proc, redis, sim time.Duration
	reads, cmds      float64
}

func (t throughput) cpuFigures() []string {
	us := func(d time.Duration) int64 { return d.Microseconds() }
	return []string{fmt.Sprintf("CPU %d µs/task", us(t.proc)),
		fmt.Sprintf("+ Redis %d, sim %d", us(t.redis), us(t.sim))}
}

// String is the round's line on stderr, with Redis's counts (the table
// has no room for them).
func (t throughput) String() string {
	return fmt.Sprintf("%.0f tasks/s (CPU %v/task, Redis %v, sim %v; Redis %.1f reads, %.1f cmds/task)",
		t.rate, t.proc, t.redis, t.sim, t.reads, t.cmds)
}

// cpuMeter takes CPU readings of redis-server and this process, and
// redis-server's counts of reads and commands.
type cpuMeter struct {
	redis, self time.Duration
	reads, cmds int64
}

func (s *stack) cpuNow(ctx context.Context) cpuMeter {
	m := cpuMeter{redis: s.redisCPU(ctx), self: selfCPU()}
	m.reads, m.cmds = s.redisCounts(ctx)
	return m
}

// measure turns a finished run into a throughput.
func (s *stack) measure(ctx context.Context, n int, end time.Time, pid int, start cpuMeter) (throughput, error) {
	now := s.cpuNow(ctx)
	proc, err := cpuTime(pid)
	if err != nil {
		return throughput{}, err
	}
	rate, err := rateSinceFirstCreate(s, n, end)
	per := func(d time.Duration) time.Duration { return d / time.Duration(n) }
	return throughput{rate: rate, proc: per(proc), redis: per(now.redis - start.redis), sim: per(now.self - start.self),
		reads: float64(now.reads-start.reads) / float64(n), cmds: float64(now.cmds-start.cmds) / float64(n)}, err
}

// overheadFrameq runs row 4 through worker binary bin ("": the one built or
// given with -worker).
func (b *bench) overheadFrameq(ctx context.Context, bin string, verify bool) (throughput, error) {
	s, dir, err := b.overheadStack()
	if err != nil {
		return throughput{}, err
	}
	defer s.close()
	n := b.o.overheadTasks
	batch, _, _, err := b.runEnqueue(ctx, s, "dir", "--parent", s.folder, dir)
	if err != nil {
		return throughput{}, err
	}
	start := s.cpuNow(ctx)
	w, err := b.startWorkerBin(ctx, bin, "overhead-worker", s.environ(
		fmt.Sprintf("FRAMEQ_CREATE_RATE=%d/s", noLimit), fmt.Sprintf("FRAMEQ_CALL_RATE=%d/s", noLimit),
		fmt.Sprintf("FRAMEQ_VERIFY_UPLOADS=%v", verify)))
	if err != nil {
		return throughput{}, err
	}
	defer w.stop()
	end, err := s.waitBatch(ctx, batch, int64(n), 5*time.Minute)
	if err != nil {
		return throughput{}, err
	}
	return s.measure(ctx, n, end, w.cmd.Process.Pid, start)
}

func rateSinceFirstCreate(s *stack, n int, end time.Time) (float64, error) {
	times := s.creates()
	if len(times) != n {
		return 0, fmt.Errorf("%d creates for %d tasks", len(times), n)
	}
	return float64(n) / end.Sub(times[0]).Seconds(), nil
}

func (b *bench) overheadBare(ctx context.Context) (throughput, error) {
	s, dir, err := b.overheadStack()
	if err != nil {
		return throughput{}, err
	}
	defer s.close()
	n := b.o.overheadTasks
	c := asynq.NewClientFromRedisClient(s.rdb)
	for i := range n {
		p, _ := json.Marshal(barePayload{ParentID: s.folder, Name: fmt.Sprintf("f%06d.bin", i),
			File: filepath.Join(dir, fmt.Sprintf("f%06d.bin", i)), Size: overheadFile, Filetype: "application/octet-stream"})
		if _, err := c.EnqueueContext(ctx, asynq.NewTask(bareTaskType, p, asynq.Queue(bareQueue))); err != nil {
			return throughput{}, err
		}
	}
	start := s.cpuNow(ctx)
	self, err := os.Executable()
	if err != nil {
		return throughput{}, err
	}
	spec, _ := json.Marshal(bareSpec{Redis: s.redis.Addr(), API: s.sim.URL(), Token: frameiosim.DefaultToken, Concurrency: workerConc})
	p, err := b.start("overhead-bare", os.Environ(), self, "-"+bareFlag, string(spec))
	if err != nil {
		return throughput{}, err
	}
	defer p.stop()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		got, _ := s.rdb.Get(ctx, bareCounterKey).Int()
		if got >= n {
			return s.measure(ctx, n, time.Now(), p.cmd.Process.Pid, start)
		}
		if time.Now().After(deadline) || !p.alive() {
			return throughput{}, fmt.Errorf("%d of %d done: %s", got, n, p.tail())
		}
		select {
		case <-ctx.Done():
			return throughput{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
