package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// values gathers reg into "name{k="v",...}" → value; a histogram gives its
// sample count under name_count and its sum under name_sum.
func values(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := func(suffix string) string { return mf.GetName() + suffix + labelString(m) }
			switch {
			case m.Counter != nil:
				out[key("")] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key("")] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key("_count")] = float64(m.Histogram.GetSampleCount())
				out[key("_sum")] = m.Histogram.GetSampleSum()
			}
		}
	}
	return out
}

func labelString(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func expect(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s missing", k)
		} else if g != w {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
}

func TestRecordingMethods(t *testing.T) {
	m := New()
	m.APIResponse("POST /v2/assets/{id}/children", 201, 300*time.Millisecond)
	m.APIResponse("POST /v2/assets/{id}/children", 201, 100*time.Millisecond)
	m.APIResponse("POST /v2/assets/{id}/children", 429, time.Second)
	m.APIResponse("GET /v2/me", 0, -time.Second)
	m.RateLimited("acme")
	m.LimiterWait("acme", "file_create", 1500*time.Millisecond)
	m.LimiterWait("acme", "file_create", 0)
	m.BytesUploaded(1000)
	m.BytesUploaded(-5)
	m.BytesUploaded(24)
	m.PartRetry()
	m.FileFinished("frameio:asset.upload", "ok")
	m.FileFinished("frameio:asset.upload", "ok")
	m.FileFinished("frameio:asset.upload", "token_rejected")
	m.FileFinished("frameio:asset.remote_upload", "")
	m.InFlight(3)
	m.InFlight(-1)
	m.TokenBreaker("acme", true)
	m.TokenBreaker("beta", true)
	m.TokenBreaker("beta", false)
	m.IMSMint("acme")
	m.IMSMint("acme")
	m.LimitRate("file_create", 5)
	m.LimitRate("account", 100.0/60)

	expect(t, values(t, m.Registry()), map[string]float64{
		`frameq_api_responses_total{route="POST /v2/assets/{id}/children",status="201"}`:   2,
		`frameq_api_responses_total{route="POST /v2/assets/{id}/children",status="429"}`:   1,
		`frameq_api_responses_total{route="GET /v2/me",status="error"}`:                    1,
		`frameq_api_request_duration_seconds_count{route="POST /v2/assets/{id}/children"}`: 3,
		`frameq_api_request_duration_seconds_sum{route="POST /v2/assets/{id}/children"}`:   1.4,
		`frameq_api_request_duration_seconds_sum{route="GET /v2/me"}`:                      0,
		`frameq_api_rate_limited_total{scope="acme"}`:                                      1,
		`frameq_limiter_wait_seconds_count{scope="acme"}`:                                  2,
		`frameq_limiter_wait_seconds_sum{scope="acme"}`:                                    1.5,
		`frameq_limiter_permits_total{limit="file_create",scope="acme"}`:                   2,
		`frameq_uploaded_bytes_total`:                                                      1024,
		`frameq_part_retries_total`:                                                        1,
		`frameq_files_total{result="done",type="frameio:asset.upload"}`:                    2,
		`frameq_files_total{result="token_rejected",type="frameio:asset.upload"}`:          1,
		`frameq_files_total{result="unknown",type="frameio:asset.remote_upload"}`:          1,
		`frameq_uploads_in_flight`:                                                         2,
		`frameq_token_breaker_open{token_ref="acme"}`:                                      1,
		`frameq_token_breaker_open{token_ref="beta"}`:                                      0,
		`frameq_ims_mints_total{token_ref="acme"}`:                                         2,
		`frameq_limiter_limit_per_second{limit="file_create"}`:                             5,
		`frameq_limiter_limit_per_second{limit="account"}`:                                 100.0 / 60,
	})
	if n := testutil.ToFloat64(m.partRetries); n != 1 {
		t.Errorf("part retries = %v", n)
	}
	// Naming conventions: _total counters, base units, help on every metric.
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "frameq_") {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
	}
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	m.APIResponse("r", 200, time.Second)
	m.RateLimited("s")
	m.LimiterWait("s", "l", time.Second)
	m.LimitRate("l", 5)
	m.FileUploaded("t", 1, time.Second)
	m.SetBuildInfo("v")
	m.BytesUploaded(1)
	m.PartRetry()
	m.FileFinished("t", "ok")
	m.InFlight(1)
	m.TokenBreaker("t", true)
	m.IMSMint("t")
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New(), New()
	a.PartRetry()
	if got := testutil.ToFloat64(b.partRetries); got != 0 {
		t.Fatalf("second Metrics sees the first one's count: %v", got)
	}
}

func TestHandlerServesTextFormat(t *testing.T) {
	m := New()
	m.APIResponse("GET /v2/me", 200, time.Millisecond)
	m.RateLimited("acme")
	m.LimiterWait("acme", "calls", time.Millisecond)
	m.FileFinished("frameio:asset.upload", "terminal")
	m.TokenBreaker("acme", false)
	ts := httptest.NewServer(m.Handler())
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, name := range []string{
		"frameq_api_responses_total", "frameq_api_request_duration_seconds_bucket",
		"frameq_api_rate_limited_total", "frameq_limiter_wait_seconds_bucket", "frameq_limiter_permits_total",
		"frameq_uploaded_bytes_total", "frameq_part_retries_total", "frameq_files_total",
		"frameq_uploads_in_flight", "frameq_token_breaker_open",
		"go_goroutines", "process_cpu_seconds_total",
		`frameq_files_total{result="terminal",type="frameio:asset.upload"} 1`,
	} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}
