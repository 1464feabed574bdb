package worker

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/config"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
)

// scrape returns the value of every sample of name in w's /metrics whose
// line matches labels, summed.
func scrape(t *testing.T, w *Worker, name, labels string) (float64, bool) {
	t.Helper()
	rec := httptest.NewRecorder()
	w.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name+labels) + ` (\S+)$`)
	m := re.FindStringSubmatch(rec.Body.String())
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v, true
}

// TestFleetMetricsSetting: with the default (lease), of three workers on
// one Redis exactly one exports the queue figures, so their sum is the
// true count; "always" exports them whatever the lease; "never" does not.
// Counters of known label values are there at 0 before any event.
func TestFleetMetricsSetting(t *testing.T) {
	sim := frameiosim.New(frameiosim.Config{})
	front := httptest.NewServer(sim)
	t.Cleanup(func() { front.Close(); sim.Close() })
	srv := redistest.Start(t)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: srv.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	for range 4 {
		if _, err := client.Enqueue(asynq.NewTask("x", nil), asynq.Queue("elsewhere")); err != nil {
			t.Fatal(err)
		}
	}
	start := func(mode string) *Worker {
		cfg := config.Default()
		cfg.APIURL = front.URL + "/v4"
		cfg.Tokens = map[string]string{"default": frameiosim.DefaultToken}
		cfg.HTTPAddr, cfg.UploadRoot, cfg.FleetMetrics = "127.0.0.1:0", t.TempDir(), mode
		w, err := New(cfg, srv.Client(t), zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		t.Cleanup(func() { stop(); <-done })
		return w
	}
	const pending = `{queue="elsewhere",state="pending"}`
	leased := []*Worker{start("lease"), start("lease"), start("lease")}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var sum, exporters float64
		for _, w := range leased {
			v, _ := scrape(t, w, "frameq_queue_tasks", pending)
			sum += v
			e, _ := scrape(t, w, "frameq_fleet_exporter", "")
			exporters += e
		}
		if sum == 4 && exporters == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sum over three leased workers: %v pending, %v exporters; want 4 and 1", sum, exporters)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, ok := scrape(t, start("always"), "frameq_queue_tasks", pending); v != 4 || !ok {
		t.Errorf("FRAMEQ_FLEET_METRICS=always: %v pending (exported %v), want 4", v, ok)
	}
	never := start("never")
	// Run declares the series once its tokens passed their check.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, ok := scrape(t, never, "frameq_limiter_limit_per_second", `{limit="file_create"}`); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker never declared its series")
		}
	}
	if _, ok := scrape(t, never, "frameq_queue_tasks", pending); ok {
		t.Error("FRAMEQ_FLEET_METRICS=never exports the queue figures")
	}
	for name, labels := range map[string]string{
		"frameq_api_rate_limited_total":   `{scope="token:default"}`,
		"frameq_limiter_permits_total":    `{limit="file_create",scope="token:default"}`,
		"frameq_files_total":              `{result="retries_exhausted",type="frameio:asset.remote_upload"}`,
		"frameq_token_breaker_open":       `{token_ref="default"}`,
		"frameq_limiter_limit_per_second": `{limit="folder_create"}`,
	} {
		if _, ok := scrape(t, never, name, labels); !ok {
			t.Errorf("%s%s not exported before its first event", name, labels)
		}
	}
	if v, _ := scrape(t, never, "frameq_limiter_limit_per_second", `{limit="file_create"}`); v != 5 {
		t.Errorf("file_create limit exported as %v/s, want 5", v)
	}
}
