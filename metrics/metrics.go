// Package metrics exports frameq's Prometheus metrics: API responses, the
// rate limiter, uploads, the token breaker, Adobe IMS mints, and asynq's queue figures read
// at scrape time.
//
//	m := metrics.New()
//	m.WatchQueues(asynq.NewInspector(redisOpt))
//	lease, _ := metrics.NewLease(rdb, 0) // one process of the fleet exports the queue figures
//	m.ExportFleetWhen(lease.Held)
//	go lease.Run(ctx)
//	mux.Handle("/metrics", m.Handler())
//
//	start := time.Now()
//	resp, err := client.Do(req)
//	m.APIResponse("POST /v2/assets/{id}/children", statusOf(resp, err), time.Since(start))
//
// Every Metrics owns its registry, so tests and several workers in one
// process never collide. The recording methods are safe for concurrent use
// and do nothing on a nil *Metrics, so code can run without metrics.
//
// Label values must come from small fixed sets: routes are templates, not
// URLs; scopes and token refs are names from the configuration.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Bucket bounds in seconds. API calls take tens of milliseconds to tens of
// seconds; limiter waits range from nothing to the minutes of a 429 hold.
// Media files run from a KB sidecar to camera originals of hundreds of GB,
// and their uploads from a second to many hours.
var (
	apiBuckets      = []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	waitBuckets     = []float64{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}
	fileSizeBuckets = []float64{1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 5e8, 1e9, 5e9, 1e10, 5e10, 1e11, 5e11}
	fileTimeBuckets = []float64{1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800}
)

// defaultScrapeTimeout bounds each Redis read made during a scrape.
const defaultScrapeTimeout = 2 * time.Second

// Metrics holds frameq's metrics and the registry that exports them.
type Metrics struct {
	reg *prometheus.Registry

	apiResponses  *prometheus.CounterVec
	apiDuration   *prometheus.HistogramVec
	rateLimited   *prometheus.CounterVec
	limiterWait   *prometheus.HistogramVec
	permits       *prometheus.CounterVec
	limitRate     *prometheus.GaugeVec
	uploadedBytes prometheus.Counter
	partRetries   prometheus.Counter
	files         *prometheus.CounterVec
	inFlight      prometheus.Gauge
	breaker       *prometheus.GaugeVec
	imsMints      *prometheus.CounterVec
	imsDaysLeft   *prometheus.GaugeVec
	fileSize      *prometheus.HistogramVec
	fileDuration  *prometheus.HistogramVec

	scrapeTimeout time.Duration

	mu      sync.Mutex
	watched map[string]prometheus.Collector // by collector name
	fleet   func() bool                     // nil: this process exports the fleet figures
}

// New returns Metrics on a fresh registry that also carries the Go runtime
// and process collectors.
func New() *Metrics {
	f := factory{prometheus.NewRegistry()}
	m := &Metrics{
		reg:           f.reg,
		scrapeTimeout: defaultScrapeTimeout,
		watched:       map[string]prometheus.Collector{},

		apiResponses: f.counterVec("frameq_api_responses_total",
			"Frame.io API responses by route template and HTTP status (\"error\": no response).", "route", "status"),
		apiDuration: f.histogramVec("frameq_api_request_duration_seconds",
			"Frame.io API call duration by route template.", apiBuckets, "route"),
		rateLimited: f.counterVec("frameq_api_rate_limited_total",
			"Frame.io 429 responses by limiter scope.", "scope"),
		limiterWait: f.histogramVec("frameq_limiter_wait_seconds",
			"Time spent waiting for a rate limiter permit, by scope.", waitBuckets, "scope"),
		permits: f.counterVec("frameq_limiter_permits_total",
			"Rate limiter permits granted, by scope and the call's most specific limit (V4: its route limit; v2: creates, or calls for the rest).", "scope", "limit"),
		limitRate: f.gaugeVec("frameq_limiter_limit_per_second",
			"Configured rate of a limit, in permits per second per scope (the limiter runs FRAMEQ_RATE_MARGIN below it).", "limit"),
		uploadedBytes: f.counter("frameq_uploaded_bytes_total",
			"Bytes of file parts uploaded to Frame.io."),
		partRetries: f.counter("frameq_part_retries_total",
			"File part uploads that were tried again."),
		files: f.counterVec("frameq_files_total",
			"Files finished, by task type and result (done, or the failure class).", "type", "result"),
		inFlight: f.gauge("frameq_uploads_in_flight",
			"Uploads being processed now."),
		breaker: f.gaugeVec("frameq_token_breaker_open",
			"1 while a token's circuit breaker holds its jobs (the token was rejected), else 0.", "token_ref"),
		imsMints: f.counterVec("frameq_ims_mints_total",
			"Access tokens minted by Adobe IMS for a token ref (server-to-server credentials, or user OAuth refreshes by this worker; IMS throttles integrations that mint too often).", "token_ref"),
		imsDaysLeft: f.gaugeVec("frameq_ims_refresh_token_days_left",
			"Days before a token ref's user OAuth refresh token lapses (14 days from the login); under 3, log in again and run enqueue auth import.", "token_ref"),
		fileSize: f.histogramVec("frameq_file_size_bytes",
			"Size of each file uploaded (done), by task type.", fileSizeBuckets, "type"),
		fileDuration: f.histogramVec("frameq_file_upload_duration_seconds",
			"Time the attempt that completed a file took, by task type (waits between attempts not included).", fileTimeBuckets, "type"),
	}
	f.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "frameq_fleet_exporter",
			Help: "1 if this process exports the fleet-wide figures (frameq_queue_*, frameq_batch_files) now, else 0; across a fleet exactly one should.",
		}, func() float64 { return boolValue(m.exportsFleet()) }),
	)
	return m
}

// ExportFleetWhen makes the fleet-wide figures (WatchQueues,
// WatchBatches) exported only while held returns true, e.g. a
// (*Lease).Held, so that one process of a fleet exports them. Without it
// they are always exported. A nil held never exports them.
func (m *Metrics) ExportFleetWhen(held func() bool) {
	if held == nil {
		held = func() bool { return false }
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fleet = held
}

// exportsFleet reports whether this process exports the fleet figures now.
func (m *Metrics) exportsFleet() bool {
	m.mu.Lock()
	held := m.fleet
	m.mu.Unlock()
	return held == nil || held()
}

// Handler serves the registry in the Prometheus exposition formats. A
// collector that fails is left out of the scrape rather than failing it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	})
}

// Registry is the registry the metrics live in, for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// APIResponse records one API call: its route template, HTTP status (0 when
// no response arrived) and duration.
func (m *Metrics) APIResponse(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	code := "error"
	if status > 0 {
		code = strconv.Itoa(status)
	}
	m.apiResponses.WithLabelValues(route, code).Inc()
	m.apiDuration.WithLabelValues(route).Observe(seconds(d))
}

// RateLimited records a 429 answer in a limiter scope.
func (m *Metrics) RateLimited(scope string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(scope).Inc()
}

// LimiterWait records a permit granted in scope, counted against limit
// (the call's most specific one), after waiting d.
func (m *Metrics) LimiterWait(scope, limit string, d time.Duration) {
	if m == nil {
		return
	}
	m.limiterWait.WithLabelValues(scope).Observe(seconds(d))
	m.permits.WithLabelValues(scope, limit).Inc()
}

// LimitRate publishes a limit's configured rate in permits per second.
func (m *Metrics) LimitRate(limit string, perSecond float64) {
	if m == nil {
		return
	}
	m.limitRate.WithLabelValues(limit).Set(perSecond)
}

// BytesUploaded adds n uploaded bytes; n <= 0 is ignored.
func (m *Metrics) BytesUploaded(n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.uploadedBytes.Add(float64(n))
}

// PartRetry records a part upload tried again.
func (m *Metrics) PartRetry() {
	if m == nil {
		return
	}
	m.partRetries.Inc()
}

// FileFinished records a file's outcome. Class "ok" counts as result
// "done"; any other class (terminal, token_rejected, input, retryable,
// rate_limited, retries_exhausted) is the result itself.
func (m *Metrics) FileFinished(taskType, class string) {
	if m == nil {
		return
	}
	switch class {
	case "ok":
		class = "done"
	case "":
		class = "unknown"
	}
	m.files.WithLabelValues(taskType, class).Inc()
}

// FileUploaded records a file done: its size (when known, > 0) and how
// long the attempt that completed it took.
func (m *Metrics) FileUploaded(taskType string, size int64, took time.Duration) {
	if m == nil {
		return
	}
	if size > 0 {
		m.fileSize.WithLabelValues(taskType).Observe(float64(size))
	}
	m.fileDuration.WithLabelValues(taskType).Observe(seconds(took))
}

// InFlight moves the uploads-in-flight gauge by delta (+1 on start, -1 at
// the end).
func (m *Metrics) InFlight(delta int) {
	if m == nil {
		return
	}
	m.inFlight.Add(float64(delta))
}

// TokenBreaker records whether tokenRef's breaker is open (jobs held).
func (m *Metrics) TokenBreaker(tokenRef string, open bool) {
	if m == nil {
		return
	}
	m.breaker.WithLabelValues(tokenRef).Set(boolValue(open))
}

// IMSRefreshDaysLeft publishes the days left of tokenRef's user OAuth
// refresh token.
func (m *Metrics) IMSRefreshDaysLeft(tokenRef string, days float64) {
	if m == nil {
		return
	}
	m.imsDaysLeft.WithLabelValues(tokenRef).Set(days)
}

// IMSMint counts one access token minted by Adobe IMS for tokenRef.
func (m *Metrics) IMSMint(tokenRef string) {
	if m == nil {
		return
	}
	m.imsMints.WithLabelValues(tokenRef).Inc()
}

// watch registers c under name, replacing an earlier collector of that
// name, so that calling a Watch method again re-points it.
func (m *Metrics) watch(name string, c prometheus.Collector) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.watched[name]; ok {
		m.reg.Unregister(old)
	}
	m.reg.MustRegister(c)
	m.watched[name] = c
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func seconds(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return d.Seconds()
}

// factory creates metrics already registered in reg.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}
