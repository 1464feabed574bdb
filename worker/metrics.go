package worker

import (
	"fmt"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/metrics"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/upload"
)

// fleetMetrics sets who exports the fleet-wide figures (FRAMEQ_FLEET_METRICS)
// and the build info. Every worker reads the same queues and batches from
// Redis; exported by all, sum() over the fleet would count them once per
// worker.
func (w *Worker) fleetMetrics() error {
	w.metrics.SetBuildInfo(version)
	switch w.cfg.FleetMetrics {
	case "always":
	case "never":
		w.metrics.ExportFleetWhen(nil)
	default: // "lease", also a Config built without config.Default
		lease, err := metrics.NewLease(w.rdb, 0)
		if err != nil {
			return fmt.Errorf("fleet metrics: %w", err)
		}
		w.lease = lease
		w.metrics.ExportFleetWhen(lease.Held)
	}
	return nil
}

// declareSeries exports at zero the series whose label values are known
// once the tokens were checked (the limit scopes may then name accounts),
// so alerts see 0 rather than nothing before the first event.
func (w *Worker) declareSeries() {
	s := metrics.Series{
		TokenRefs: w.cfg.TokenRefs(),
		FileTypes: []string{job.TypeUpload, job.TypeRemoteUpload},
		// The results Handler reports on a worker (a token rejection
		// holds the file, it never ends it).
		FileResults: []string{"done", apierr.Terminal.String(), upload.ClassInput, upload.ClassUploadFailed, upload.ClassExhausted},
	}
	for name, l := range w.cfg.Limits() {
		s.Limits = append(s.Limits, name)
		w.metrics.LimitRate(name, float64(l.Rate)/l.Per.Seconds())
	}
	for _, ref := range s.TokenRefs {
		s.Scopes = append(s.Scopes, w.accounts[ref].Scope)
		if w.ims[ref] != nil {
			s.IMSRefs = append(s.IMSRefs, ref)
		}
	}
	w.metrics.Declare(s)
}
