package metrics

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Series are the label values a process knows at start. Declare exports
// their series at zero, so that a rate() or an alert on a counter sees 0
// before the first event instead of no series at all (a missing series
// makes increase() and absent-safe alerts silently wrong).
type Series struct {
	// Scopes are the limiter scopes (frameq_api_rate_limited_total,
	// frameq_limiter_wait_seconds, and with Limits
	// frameq_limiter_permits_total).
	Scopes []string
	// Limits are the limiter's limit names.
	Limits []string
	// TokenRefs are the configured refs (frameq_token_breaker_open).
	TokenRefs []string
	// IMSRefs are the refs whose tokens Adobe IMS mints (frameq_ims_mints_total).
	IMSRefs []string
	// FileTypes are the task types (frameq_files_total and the file
	// size and duration histograms).
	FileTypes []string
	// FileResults are the results a file may end with (frameq_files_total).
	FileResults []string
}

// Declare exports s's series with their current values (zero when new).
// It never changes a value already recorded.
func (m *Metrics) Declare(s Series) {
	if m == nil {
		return
	}
	for _, scope := range s.Scopes {
		m.rateLimited.WithLabelValues(scope)
		m.limiterWait.WithLabelValues(scope)
		for _, limit := range s.Limits {
			m.permits.WithLabelValues(scope, limit)
		}
	}
	for _, ref := range s.TokenRefs {
		m.breaker.WithLabelValues(ref)
	}
	for _, ref := range s.IMSRefs {
		m.imsMints.WithLabelValues(ref)
	}
	for _, typ := range s.FileTypes {
		m.fileSize.WithLabelValues(typ)
		m.fileDuration.WithLabelValues(typ)
		for _, result := range s.FileResults {
			m.files.WithLabelValues(typ, result)
		}
	}
}

// SetBuildInfo exports frameq_build_info{version,revision,goversion} 1:
// version as given (the binary's release), revision the VCS commit Go
// stamped into the binary ("unknown" without one; "-dirty" when built from
// a modified tree). Calling it again replaces the earlier figure.
func (m *Metrics) SetBuildInfo(version string) {
	if m == nil {
		return
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "frameq_build_info",
		Help: "Always 1; the labels say which frameq build this process runs.",
		ConstLabels: prometheus.Labels{
			"version": version, "revision": revision(), "goversion": runtime.Version(),
		},
	})
	g.Set(1)
	m.watch("build_info", g)
}

// revision is the commit the binary was built from, as Go recorded it.
func revision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "unknown", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && rev != "unknown" {
		rev += "-dirty"
	}
	return rev
}
