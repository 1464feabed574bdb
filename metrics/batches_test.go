package metrics

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestBatchFigures(t *testing.T) {
	m := New()
	m.WatchBatches(func(context.Context) (map[string]map[string]int64, error) {
		return map[string]map[string]int64{
			"b1": {"done": 10, "failed": 2, "pending": 88},
			"b2": {"done": 5},
		}, nil
	})
	expect(t, values(t, m.Registry()), map[string]float64{
		`frameq_batch_files{batch="b1",state="done"}`:     10,
		`frameq_batch_files{batch="b1",state="failed"}`:   2,
		`frameq_batch_files{batch="b1",state="pending"}`:  88,
		`frameq_batch_files{batch="b2",state="done"}`:     5,
		`frameq_scrape_errors_total{collector="batches"}`: 0,
	})

	// Watching again replaces the function instead of failing registration.
	m.WatchBatches(func(context.Context) (map[string]map[string]int64, error) {
		return nil, errors.New("redis: connection refused")
	})
	got := values(t, m.Registry())
	if _, ok := got[`frameq_batch_files{batch="b1",state="done"}`]; ok {
		t.Error("figures exported although the read failed")
	}
	if got[`frameq_scrape_errors_total{collector="batches"}`] != 1 {
		t.Errorf("scrape errors = %v, want 1", got[`frameq_scrape_errors_total{collector="batches"}`])
	}
}

// TestHungBatchReadDoesNotHangTheScrape: a read that ignores its context
// costs each scrape the timeout at most, and never runs twice at once.
func TestHungBatchReadDoesNotHangTheScrape(t *testing.T) {
	m := New()
	m.scrapeTimeout = 50 * time.Millisecond
	release := make(chan struct{})
	var calls, running, maxRunning atomic.Int32
	m.WatchBatches(func(context.Context) (map[string]map[string]int64, error) {
		n := running.Add(1)
		defer running.Add(-1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		if calls.Add(1) == 1 {
			<-release // hung Redis, deaf to ctx
		}
		return map[string]map[string]int64{"b1": {"done": 1}}, nil
	})

	for i := 1; i <= 3; i++ {
		got := values(t, m.Registry())
		if e := got[`frameq_scrape_errors_total{collector="batches"}`]; e != float64(i) {
			t.Fatalf("scrape %d: errors = %v, want %d", i, e, i)
		}
		if _, ok := got[`frameq_batch_files{batch="b1",state="done"}`]; ok {
			t.Fatalf("scrape %d exported figures of a hung read", i)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("fn called %d times while the first call hung, want 1", c)
	}
	close(release)
	waitFor(t, func() bool {
		_, ok := values(t, m.Registry())[`frameq_batch_files{batch="b1",state="done"}`]
		return ok
	})
	if maxRunning.Load() != 1 {
		t.Errorf("fn ran %d at once", maxRunning.Load())
	}
}

func TestBatchReadGetsADeadline(t *testing.T) {
	m := New()
	var deadline atomic.Bool
	m.WatchBatches(func(ctx context.Context) (map[string]map[string]int64, error) {
		_, ok := ctx.Deadline()
		deadline.Store(ok)
		return nil, nil
	})
	values(t, m.Registry())
	if !deadline.Load() {
		t.Fatal("fn's context has no deadline")
	}
}
