package metrics

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// errBusy: the previous read has not returned yet. Starting another would
// pile goroutines onto a Redis that is already not answering.
var errBusy = errors.New("previous scrape still running")

// scrapeGuard runs a collector's Redis read with a deadline, one at a time,
// and counts the reads that failed, timed out or were skipped.
type scrapeGuard struct {
	timeout time.Duration
	busy    atomic.Bool
	errors  atomic.Int64
	desc    *prometheus.Desc
}

func newScrapeGuard(collector string, timeout time.Duration) *scrapeGuard {
	return &scrapeGuard{
		timeout: timeout,
		desc: prometheus.NewDesc("frameq_scrape_errors_total",
			"Scrapes whose Redis read failed or timed out; their figures are missing from that scrape.",
			nil, prometheus.Labels{"collector": collector}),
	}
}

// bounded calls fn with a deadline and returns when fn does or the
// deadline passes, whichever is first. fn may outlive the call (the asynq
// Inspector takes no context); the busy flag keeps at most one running.
func bounded[T any](g *scrapeGuard, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if !g.busy.CompareAndSwap(false, true) {
		g.errors.Add(1)
		return zero, errBusy
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer cancel()
		defer g.busy.Store(false)
		v, err := fn(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			g.errors.Add(1)
		}
		return r.v, r.err
	case <-ctx.Done():
		g.errors.Add(1)
		return zero, fmt.Errorf("scrape timed out after %v", g.timeout)
	}
}

func (g *scrapeGuard) describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *scrapeGuard) collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(g.desc, prometheus.CounterValue, float64(g.errors.Load()))
}
