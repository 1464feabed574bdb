package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
	"github.com/hibiken/asynq"
)

// TestQueueFigures puts tasks in every state asynq has, over a real
// redis-server, and reads them back through /metrics' collector.
func TestQueueFigures(t *testing.T) {
	srv := redistest.Start(t)
	opt := asynq.RedisClientOpt{Addr: srv.Addr()}
	client := asynq.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() { _ = insp.Close() })
	enqueue := func(q, typ string, opts ...asynq.Option) string {
		t.Helper()
		info, err := client.Enqueue(asynq.NewTask(typ, nil), append(opts, asynq.Queue(q))...)
		if err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		return info.ID
	}

	// upload:acme: 2 pending, 1 archived, 1 scheduled. upload:beta: paused.
	enqueue("upload:acme", "x")
	enqueue("upload:acme", "x")
	if err := insp.ArchiveTask("upload:acme", enqueue("upload:acme", "x")); err != nil {
		t.Fatal(err)
	}
	enqueue("upload:acme", "x", asynq.ProcessIn(time.Hour))
	enqueue("upload:beta", "x")
	if err := insp.PauseQueue("upload:beta"); err != nil {
		t.Fatal(err)
	}

	// work: a worker completes one task, fails one into retry, holds one active.
	release := make(chan struct{})
	worker := asynq.NewServer(opt, asynq.Config{
		Queues:         map[string]int{"work": 1},
		Concurrency:    3,
		LogLevel:       asynq.FatalLevel,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour },
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc("ok", func(context.Context, *asynq.Task) error { return nil })
	mux.HandleFunc("fail", func(context.Context, *asynq.Task) error { return errors.New("boom") })
	mux.HandleFunc("block", func(ctx context.Context, _ *asynq.Task) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	enqueue("work", "ok", asynq.Retention(time.Hour))
	enqueue("work", "fail", asynq.MaxRetry(5))
	enqueue("work", "block")
	if err := worker.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(release); worker.Shutdown() })
	waitFor(t, func() bool {
		q, err := insp.GetQueueInfo("work")
		return err == nil && q.Completed == 1 && q.Retry == 1 && q.Active == 1
	})

	m := New()
	m.WatchQueues(insp)
	got := values(t, m.Registry())
	want := map[string]float64{`frameq_scrape_errors_total{collector="queues"}`: 0}
	for q, states := range map[string][6]float64{
		//             pending active scheduled retry archived completed
		"upload:acme": {2, 0, 1, 0, 1, 0},
		"upload:beta": {1, 0, 0, 0, 0, 0},
		"work":        {0, 1, 0, 1, 0, 1},
	} {
		for i, s := range []string{"pending", "active", "scheduled", "retry", "archived", "completed"} {
			want[`frameq_queue_tasks{queue="`+q+`",state="`+s+`"}`] = states[i]
		}
	}
	want[`frameq_queue_paused{queue="upload:beta"}`] = 1
	want[`frameq_queue_paused{queue="upload:acme"}`] = 0
	want[`frameq_queue_processed_total{queue="work"}`] = 2
	want[`frameq_queue_failed_total{queue="work"}`] = 1
	want[`frameq_queue_processed_total{queue="upload:acme"}`] = 0
	expect(t, got, want)
	if l := got[`frameq_queue_latency_seconds{queue="upload:acme"}`]; l <= 0 {
		t.Errorf("latency of a queue with pending tasks = %v, want > 0", l)
	}
}

// TestQueueScrapeSurvivesRedisOutage: the scrape still answers, counts an
// error, and the figures come back with Redis.
func TestQueueScrapeSurvivesRedisOutage(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
	opt := asynq.RedisClientOpt{Addr: srv.Addr(), DialTimeout: 200 * time.Millisecond}
	client := asynq.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	if _, err := client.Enqueue(asynq.NewTask("x", nil), asynq.Queue("q1")); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() { _ = insp.Close() })
	m := New()
	m.WatchQueues(insp)

	srv.Stop()
	got := values(t, m.Registry()) // fails the test if Gather errors
	if got[`frameq_scrape_errors_total{collector="queues"}`] != 1 {
		t.Errorf("scrape errors = %v, want 1", got[`frameq_scrape_errors_total{collector="queues"}`])
	}
	for k := range got {
		if strings.HasPrefix(k, "frameq_queue_") {
			t.Errorf("%s exported while Redis is down", k)
		}
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return values(t, m.Registry())[`frameq_queue_tasks{queue="q1",state="pending"}`] == 1
	})
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
