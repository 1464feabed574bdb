package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// BatchFunc returns file counts by batch and state, e.g.
// {"b1": {"done": 10, "failed": 1, "pending": 89}}. It should return only
// unfinished or recent batches, since each batch is a label value.
type BatchFunc func(ctx context.Context) (map[string]map[string]int64, error)

// WatchBatches exports frameq_batch_files{batch,state} from fn, called at
// scrape time with a short deadline. Calling it again replaces fn. They
// are fleet-wide: see ExportFleetWhen.
func (m *Metrics) WatchBatches(fn func(ctx context.Context) (map[string]map[string]int64, error)) {
	m.watch("batches", &batchCollector{fn: fn, guard: newScrapeGuard("batches", m.scrapeTimeout), exports: m.exportsFleet})
}

var batchFilesDesc = prometheus.NewDesc("frameq_batch_files",
	"Files of a batch by state, from frameq's batch counters.", []string{"batch", "state"}, nil)

type batchCollector struct {
	fn      BatchFunc
	guard   *scrapeGuard
	exports func() bool // whether this process exports the fleet figures now
}

// Describe implements prometheus.Collector.
func (c *batchCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- batchFilesDesc
	c.guard.describe(ch)
}

// Collect implements prometheus.Collector.
func (c *batchCollector) Collect(ch chan<- prometheus.Metric) {
	if !c.exports() {
		c.guard.collect(ch)
		return
	}
	batches, err := bounded(c.guard, c.fn)
	if err == nil {
		for batch, states := range batches {
			for state, n := range states {
				ch <- prometheus.MustNewConstMetric(batchFilesDesc, prometheus.GaugeValue, float64(n), batch, state)
			}
		}
	}
	c.guard.collect(ch)
}
