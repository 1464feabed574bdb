package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// WatchQueues exports asynq's figures for every queue, read through insp at
// scrape time: frameq_queue_tasks{queue,state}, frameq_queue_latency_seconds,
// frameq_queue_paused, frameq_queue_processed_total and
// frameq_queue_failed_total. The caller keeps insp open. Calling it again
// replaces the earlier inspector. They are fleet-wide: see ExportFleetWhen.
func (m *Metrics) WatchQueues(insp *asynq.Inspector) {
	c := newQueueCollector(insp, m.scrapeTimeout)
	c.exports = m.exportsFleet
	m.watch("queues", c)
}

var (
	queueTasksDesc = prometheus.NewDesc("frameq_queue_tasks",
		"asynq tasks by queue and state.", []string{"queue", "state"}, nil)
	queueLatencyDesc = prometheus.NewDesc("frameq_queue_latency_seconds",
		"Age of the oldest pending task in the queue.", []string{"queue"}, nil)
	queuePausedDesc = prometheus.NewDesc("frameq_queue_paused",
		"1 if the queue is paused, else 0.", []string{"queue"}, nil)
	queueProcessedDesc = prometheus.NewDesc("frameq_queue_processed_total",
		"Tasks processed in the queue, succeeded or failed (asynq's cumulative count).", []string{"queue"}, nil)
	queueFailedDesc = prometheus.NewDesc("frameq_queue_failed_total",
		"Task attempts that failed in the queue (asynq's cumulative count).", []string{"queue"}, nil)
)

type queueCollector struct {
	insp    *asynq.Inspector
	guard   *scrapeGuard
	exports func() bool // whether this process exports the fleet figures now
}

func newQueueCollector(insp *asynq.Inspector, timeout time.Duration) *queueCollector {
	return &queueCollector{insp: insp, guard: newScrapeGuard("queues", timeout), exports: func() bool { return true }}
}

// Describe implements prometheus.Collector.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueTasksDesc, queueLatencyDesc, queuePausedDesc, queueProcessedDesc, queueFailedDesc} {
		ch <- d
	}
	c.guard.describe(ch)
}

// Collect implements prometheus.Collector. A failed read leaves the queue
// figures out and counts a scrape error. A process that does not export
// the fleet figures does not read them either.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	if !c.exports() {
		c.guard.collect(ch)
		return
	}
	infos, err := bounded(c.guard, c.read)
	if err == nil {
		for _, q := range infos {
			emitQueue(ch, q)
		}
	}
	c.guard.collect(ch)
}

func (c *queueCollector) read(ctx context.Context) ([]*asynq.QueueInfo, error) {
	names, err := c.insp.Queues()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	infos := make([]*asynq.QueueInfo, 0, len(names))
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q, err := c.insp.GetQueueInfo(name)
		if errors.Is(err, asynq.ErrQueueNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("queue %q: %w", name, err)
		}
		infos = append(infos, q)
	}
	return infos, nil
}

func emitQueue(ch chan<- prometheus.Metric, q *asynq.QueueInfo) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for state, n := range map[string]int{
		"pending": q.Pending, "active": q.Active, "scheduled": q.Scheduled,
		"retry": q.Retry, "archived": q.Archived, "completed": q.Completed,
	} {
		gauge(queueTasksDesc, float64(n), q.Queue, state)
	}
	gauge(queueLatencyDesc, q.Latency.Seconds(), q.Queue)
	paused := 0.0
	if q.Paused {
		paused = 1
	}
	gauge(queuePausedDesc, paused, q.Queue)
	ch <- prometheus.MustNewConstMetric(queueProcessedDesc, prometheus.CounterValue, float64(q.ProcessedTotal), q.Queue)
	ch <- prometheus.MustNewConstMetric(queueFailedDesc, prometheus.CounterValue, float64(q.FailedTotal), q.Queue)
}
