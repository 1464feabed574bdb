package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/job"
)

// enqueueScen measures row 3: `enqueue manifest` of N remote uploads (the
// whole process: start, parse, validate, enqueue) against the same tasks
// from sequential asynq.Client.Enqueue calls, and, for reference, from 64
// goroutines calling asynq.Client.Enqueue through the same autopipelined
// connection with no frameq work at all: the ceiling for any enqueue built
// on asynq. Each runs on its own fresh redis-server; the three alternate
// for b.o.rounds rounds and the table shows the round of median ratio.
func (b *bench) enqueueScen(ctx context.Context) ([]line, error) {
	n := b.o.enqueueTasks
	manifest := filepath.Join(b.tmp, "manifest.jsonl")
	if err := writeManifest(manifest, "root-folder", n); err != nil {
		return nil, err
	}
	type round struct {
		ours, seq, ceil, other enqRun
		http                   float64
	}
	var rounds []round
	for r := range b.o.rounds {
		var rd round
		var err error
		if rd.ours, err = b.manifestRun(ctx, filepath.Join(b.bin, "enqueue"), manifest, n); err != nil {
			return nil, err
		}
		if b.o.enqueue != "" {
			if rd.other, err = b.manifestRun(ctx, b.o.enqueue, manifest, n); err != nil {
				return nil, err
			}
		}
		if rd.seq, _, err = b.asynqEnqueue(ctx, n, 1); err != nil {
			return nil, err
		}
		if rd.ceil, _, err = b.asynqEnqueue(ctx, n, 64); err != nil {
			return nil, err
		}
		if rd.http, err = b.intakeEnqueue(ctx, manifest); err != nil {
			return nil, err
		}
		msg := fmt.Sprintf("round %d: enqueue manifest %.0f/s, sequential %.0f/s, asynq ×64 %.0f/s, enqueue serve %.0f/s; manifest %.0f %% of ceiling, manifest %s, asynq ×64 %s",
			r+1, rd.ours.rate, rd.seq.rate, rd.ceil.rate, rd.http, 100*rd.ours.rate/rd.ceil.rate, rd.ours.cpu(), rd.ceil.cpu())
		if b.o.enqueue != "" {
			msg += fmt.Sprintf("; -enqueue binary %.0f/s (%.0f %% of ceiling), %s", rd.other.rate, 100*rd.other.rate/rd.ceil.rate, rd.other.cpu())
		}
		b.progress("%s", msg)
		rounds = append(rounds, rd)
	}
	m := medianRound(rounds, func(r round) float64 { return r.ours.rate / r.seq.rate })
	ours, seq, ceil, hp := m.ours.rate, m.seq.rate, m.ceil.rate, m.http
	ok := ours >= 10_000 && ours >= 3*seq && ours >= 0.8*ceil
	lines := []line{
		{row: 3, scenario: fmt.Sprintf("enqueue %s tasks", thousands(float64(n))), impl: "enqueue manifest",
			figures: []string{perSec(ours, "tasks"), fmt.Sprintf("%.2f s", float64(n)/ours),
				fmt.Sprintf("%.1f× seq., %.0f %% of ceiling", ours/seq, 100*ours/ceil), m.ours.cpu()},
			target: "≥ 10,000/s, ≥ 3× sequential, ≥ 80 % of ceiling", met: verdict(ok)},
	}
	if b.o.enqueue != "" {
		lines = append(lines, line{row: 3, impl: "enqueue manifest, -enqueue binary",
			figures: []string{perSec(m.other.rate, "tasks"), fmt.Sprintf("%.2f s", float64(n)/m.other.rate),
				fmt.Sprintf("%.1f× seq., %.0f %% of ceiling", m.other.rate/seq, 100*m.other.rate/ceil), m.other.cpu()}})
	}
	return append(lines,
		line{row: 3, impl: fmt.Sprintf("enqueue serve, HTTP POSTs of %s", thousands(intakeBatch)),
			figures: []string{perSec(hp, "tasks"), fmt.Sprintf("%.2f s", float64(n)/hp), fmt.Sprintf("%.2f× manifest", hp/ours)},
			target:  "≥ 20,000/s", met: verdict(hp >= 20_000)},
		line{row: 3, impl: "sequential Client.Enqueue", figures: []string{perSec(seq, "tasks"),
			fmt.Sprintf("%.2f s", float64(n)/seq)}},
		line{row: 3, impl: "Client.Enqueue ×64 (asynq ceiling)", figures: []string{perSec(ceil, "tasks"),
			fmt.Sprintf("%.2f s", float64(n)/ceil), fmt.Sprintf("%.1f× seq.", ceil/seq), m.ceil.cpu()}},
	), nil
}

// enqRun is one timed enqueue of n tasks: its rate, and the CPU it took
// per 1,000 tasks in the enqueuing process and in redis-server (CPU is
// less moved by a loaded machine than the rate is).
type enqRun struct {
	rate          float64
	client, redis time.Duration
}

func (r enqRun) cpu() string {
	return fmt.Sprintf("CPU %.1f + Redis %.1f ms/1,000", ms(r.client), ms(r.redis))
}

func perThousand(d time.Duration, n int) time.Duration { return d * 1000 / time.Duration(max(n, 1)) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// manifestRun times bin's `enqueue manifest` of n tasks as a whole process,
// on a fresh stack.
func (b *bench) manifestRun(ctx context.Context, bin, manifest string, n int) (enqRun, error) {
	s, err := b.newStack(frameiosim.Config{})
	if err != nil {
		return enqRun{}, err
	}
	defer s.close()
	cmd := exec.CommandContext(ctx, bin, "manifest", manifest)
	cmd.Env = s.environ()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	r0 := s.redisCPU(ctx)
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return enqRun{}, fmt.Errorf("%s manifest: %v: %s", bin, err, errb.String())
	}
	took := time.Since(t0)
	return enqRun{rate: float64(n) / took.Seconds(),
		client: perThousand(cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime(), n),
		redis:  perThousand(s.redisCPU(ctx)-r0, n)}, nil
}

// memory measures row 6 on one stack: a worker's idle RSS, then
// `enqueue manifest` of N remote uploads into its paused queue (Redis
// bytes per task), then the worker's RSS working through that backlog at
// the API's 5 creates/s, after one /metrics scrape. A fresh Redis takes
// the same tasks from plain asynq.Client.Enqueue for comparison.
func (b *bench) memory(ctx context.Context) ([]line, error) {
	n := b.o.enqueueTasks
	s, err := b.newStack(frameiosim.Config{Enforcement: frameiosim.SlidingWindow, CreateLimit: createLimit})
	if err != nil {
		return nil, err
	}
	defer s.close()
	manifest := filepath.Join(b.tmp, "backlog.jsonl")
	if err := writeManifest(manifest, s.folder, n); err != nil {
		return nil, err
	}
	w, err := b.startWorker(ctx, "memory-worker", s.environ())
	if err != nil {
		return nil, err
	}
	defer w.stop()
	time.Sleep(3 * time.Second) // past start-up allocations
	idle, err := memStatus(w.cmd.Process.Pid, "VmRSS")
	if err != nil {
		return nil, err
	}
	queue := job.Queue("default")
	insp := asynq.NewInspectorFromRedisClient(s.rdb)
	if err := insp.PauseQueue(queue); err != nil {
		return nil, err
	}
	before, err := s.usedMemory(ctx)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := b.runEnqueue(ctx, s, "manifest", manifest); err != nil {
		return nil, err
	}
	after, err := s.usedMemory(ctx)
	if err != nil {
		return nil, err
	}
	if err := insp.UnpauseQueue(queue); err != nil {
		return nil, err
	}
	time.Sleep(5 * time.Second)
	if err := scrape(w); err != nil { // a Prometheus scrape walks the queues
		return nil, err
	}
	busy, err := memStatus(w.cmd.Process.Pid, "VmRSS")
	if err != nil {
		return nil, err
	}
	info, err := insp.GetQueueInfo(queue)
	if err != nil {
		return nil, err
	}
	_, plain, err := b.asynqEnqueue(ctx, n, 64)
	if err != nil {
		return nil, err
	}
	return []line{
		{row: 6, scenario: "memory", impl: "worker RSS",
			figures: []string{"idle " + mib(idle), fmt.Sprintf("%s with %s queued", mib(busy), thousands(float64(info.Size)))}},
		{row: 6, impl: "Redis per queued task",
			figures: []string{fmt.Sprintf("frameq %.0f B", float64(after-before)/float64(n)), fmt.Sprintf("plain asynq %.0f B", plain)}},
	}, nil
}

// writeManifest writes n remote uploads, each its own asset in folder.
func writeManifest(path, folder string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintf(w, `{"url":"https://media.example.com/shoot/clip-%07d.mov","parent_id":%q,"path":"clip-%07d.mov","size":1048576}`+"\n", i, folder, i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// asynqEnqueue enqueues the tasks enqueue would make (same payloads, ids
// and options) with asynq.Client alone, from conc goroutines, into a fresh
// Redis; with conc > 1 through the autopipelined connection job.Enqueuer
// uses. It returns the run (this process's CPU is the client's: the
// bench does nothing else meanwhile) and Redis bytes per task.
func (b *bench) asynqEnqueue(ctx context.Context, n, conc int) (enqRun, float64, error) {
	s, err := b.newStack(frameiosim.Config{})
	if err != nil {
		return enqRun{}, 0, err
	}
	defer s.close()
	var rdb redis.UniversalClient = s.rdb
	if conc > 1 {
		if rdb, err = s.rdb.AutoPipeline(); err != nil {
			return enqRun{}, 0, err
		}
	}
	c := asynq.NewClientFromRedisClient(rdb)
	before, err := s.usedMemory(ctx)
	if err != nil {
		return enqRun{}, 0, err
	}
	batch := job.NewBatchID()
	next := make(chan int)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	c0, r0 := selfCPU(), s.redisCPU(ctx)
	t0 := time.Now()
	for range conc {
		wg.Go(func() {
			for i := range next {
				if err := enqueuePlain(ctx, c, batch, i); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	took := time.Since(t0)
	run := enqRun{rate: float64(n) / took.Seconds(), client: perThousand(selfCPU()-c0, n), redis: perThousand(s.redisCPU(ctx)-r0, n)}
	if first != nil {
		return enqRun{}, 0, first
	}
	after, err := s.usedMemory(ctx)
	if err != nil {
		return enqRun{}, 0, err
	}
	return run, float64(after-before) / float64(n), nil
}

// enqueuePlain enqueues line i of writeManifest as enqueue would.
func enqueuePlain(ctx context.Context, c *asynq.Client, batch string, i int) error {
	u := &job.Upload{V: job.PayloadVersion, Batch: batch, TokenRef: "default", ParentID: "root-folder",
		Path: fmt.Sprintf("clip-%07d.mov", i), Size: 1 << 20,
		SourceURL: fmt.Sprintf("https://media.example.com/shoot/clip-%07d.mov", i)}
	payload, err := u.Encode()
	if err != nil {
		return err
	}
	t := asynq.NewTask(job.TypeRemoteUpload, payload, asynq.TaskID(job.TaskID(u)),
		asynq.Queue(job.Queue(u.TokenRef)), asynq.MaxRetry(25), asynq.Timeout(6*time.Hour))
	_, err = c.EnqueueContext(ctx, t)
	return err
}

// scrape GETs the worker's /metrics once, as Prometheus would.
func scrape(w *proc) error {
	addr, err := w.httpAddr()
	if err != nil {
		return err
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return fmt.Errorf("scrape worker: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("scrape worker: %s", resp.Status)
	}
	return nil
}
