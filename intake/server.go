package intake

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/docs"
	"github.com/frameq/frameq/seal"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/notify"
	"github.com/frameq/frameq/tasks/records"
)

// Defaults of Options.
const (
	DefaultMaxBody  = 32 << 20 // about 150,000 items of a typical size
	DefaultMaxItems = 100_000
	// DefaultIdempotencyTTL is how long an Idempotency-Key's answer is kept.
	DefaultIdempotencyTTL = 24 * time.Hour
)

// Options configure a Server.
type Options struct {
	// Keys are the producers' API keys; at least one.
	Keys []Key
	// Hosts are the callback URL hosts allowed; none refuses every callback_url.
	Hosts notify.Hosts
	// MaxBody caps a request body in bytes (DefaultMaxBody); larger gets 413.
	MaxBody int64
	// MaxItems caps the items of one batch (DefaultMaxItems); more gets 413.
	MaxItems int
	// IdempotencyTTL is how long an Idempotency-Key is remembered.
	IdempotencyTTL time.Duration
	// Log gets one line per request (never a key or a URL's query).
	Log zerolog.Logger
	// Box seals the credentials (user info, query) of source URLs before
	// they reach Redis (FRAMEQ_SECRET_KEY); nil refuses such URLs with 422.
	Box *seal.Box
	// Retention keeps finished tasks in asynq's completed list that long
	// (FRAMEQ_COMPLETED_RETENTION); 0 keeps none.
	Retention time.Duration
	// Durability makes a batch enqueued only once replicas hold it
	// (FRAMEQ_REDIS_WAIT_REPLICAS, FRAMEQ_REDIS_WAIT_TIMEOUT): until then
	// the request fails and the producer sends it again.
	Durability records.Durability
}

// Server is the intake's HTTP handler.
type Server struct {
	opts     Options
	rdb      redis.UniversalClient
	enq      *job.Enqueuer
	batches  *records.Batches
	meta     *notify.Store
	notifier *notify.Notifier
	metrics  *serverMetrics
	mux      *http.ServeMux
}

// New returns a Server on rdb, which stays the caller's to close.
func New(rdb redis.UniversalClient, o Options) (*Server, error) {
	if len(o.Keys) == 0 {
		return nil, errors.New("intake: no API key configured (FRAMEQ_INTAKE_KEY or FRAMEQ_INTAKE_KEYS_FILE)")
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxItems <= 0 {
		o.MaxItems = DefaultMaxItems
	}
	if o.IdempotencyTTL <= 0 {
		o.IdempotencyTTL = DefaultIdempotencyTTL
	}
	enq := job.NewEnqueuer(rdb)
	enq.Box, enq.Retention, enq.Durability = o.Box, o.Retention, o.Durability
	s := &Server{
		opts: o, rdb: rdb, enq: enq, batches: records.NewBatches(rdb),
		meta: notify.NewStore(rdb), notifier: notify.NewNotifier(rdb), metrics: newServerMetrics(),
	}
	s.routes()
	return s, nil
}

// Close releases what the Server holds beyond rdb (nothing today; call it
// anyway).
func (s *Server) Close() error { return s.notifier.Close() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(rec, r)
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	s.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
	s.opts.Log.Info().Str("method", r.Method).Str("route", route).Int("status", rec.status).
		Dur("took", time.Since(start)).Str("key", rec.key).Msg("request")
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /v1/batches", s.authed(s.create))
	m.HandleFunc("GET /v1/batches/{id}", s.authed(s.status))
	m.HandleFunc("GET /v1/batches/{id}/failures", s.authed(s.failures))
	m.HandleFunc("GET /v1/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(docs.IntakeOpenAPI())
	})
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", s.ready)
	m.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	s.mux = m
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "problems": map[string]string{"redis": err.Error()}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// authed runs h with the key the request presents, or answers 401.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, Key)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		presented, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		key, found := authenticate(s.opts.Keys, strings.TrimSpace(presented))
		if !ok || !found {
			w.Header().Set("WWW-Authenticate", `Bearer realm="frameq"`)
			problem(w, http.StatusUnauthorized, "missing or unknown API key: send Authorization: Bearer <key>")
			return
		}
		if rec, ok := w.(*statusRecorder); ok {
			rec.key = key.Name
		}
		h(w, r, key)
	}
}

// status answers GET /v1/batches/{id}.
func (s *Server) status(w http.ResponseWriter, r *http.Request, key Key) {
	id, ok := s.ownBatch(w, r, key)
	if !ok {
		return
	}
	st, err := s.batches.Status(r.Context(), id)
	if err != nil {
		s.internal(w, err)
		return
	}
	fails, err := s.batches.Failures(r.Context(), id)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, records.NewReport(st, fails))
}

// failures answers GET /v1/batches/{id}/failures.
func (s *Server) failures(w http.ResponseWriter, r *http.Request, key Key) {
	id, ok := s.ownBatch(w, r, key)
	if !ok {
		return
	}
	fails, err := s.batches.Failures(r.Context(), id)
	if err != nil {
		s.internal(w, err)
		return
	}
	if fails == nil {
		fails = []records.Failure{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"batch": id, "failures": fails})
}

// ownBatch is the {id} of the request if key created that batch; else it
// answers 404, the same for a batch that does not exist and one of another
// key, so a key cannot probe for others' batches.
func (s *Server) ownBatch(w http.ResponseWriter, r *http.Request, key Key) (string, bool) {
	id := r.PathValue("id")
	if job.ValidateID("batch", id) != nil {
		problem(w, http.StatusNotFound, "no such batch")
		return "", false
	}
	m, found, err := s.meta.Get(r.Context(), id)
	if err != nil {
		s.internal(w, err)
		return "", false
	}
	if !found || m.Owner != key.Name {
		problem(w, http.StatusNotFound, "no such batch")
		return "", false
	}
	return id, true
}

// internal answers 500 without detail (logged instead).
func (s *Server) internal(w http.ResponseWriter, err error) {
	s.opts.Log.Error().Err(err).Msg("request failed")
	problem(w, http.StatusInternalServerError, "internal error; the request may be retried")
}

// problem writes {"error": msg}.
func problem(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// statusRecorder remembers the status and key name for metrics and logs.
type statusRecorder struct {
	http.ResponseWriter
	status int
	key    string
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// serverMetrics are the intake's Prometheus series, on a registry of its own.
type serverMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	items    *prometheus.CounterVec
}

func newServerMetrics() *serverMetrics {
	m := &serverMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frameq_intake_requests_total", Help: "Intake HTTP requests by route and status.",
		}, []string{"route", "status"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frameq_intake_items_total", Help: "Batch items accepted or refused by the intake.",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.items, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}
