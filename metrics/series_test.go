package metrics

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestDeclareExportsZeroSeries: counters with known label values exist at
// 0 before their first event (an alert on the 429 rate sees 0, not
// nothing), and declaring never resets what was recorded.
func TestDeclareExportsZeroSeries(t *testing.T) {
	m := New()
	m.RateLimited("token:acme")
	m.TokenBreaker("acme", true)
	m.Declare(Series{
		Scopes:      []string{"token:acme", "token:beta"},
		Limits:      []string{"file_create"},
		TokenRefs:   []string{"acme", "beta"},
		IMSRefs:     []string{"beta"},
		FileTypes:   []string{"frameio:asset.upload"},
		FileResults: []string{"done", "terminal"},
	})
	got := values(t, m.Registry())
	expect(t, got, map[string]float64{
		`frameq_api_rate_limited_total{scope="token:acme"}`:                      1,
		`frameq_api_rate_limited_total{scope="token:beta"}`:                      0,
		`frameq_limiter_permits_total{limit="file_create",scope="token:beta"}`:   0,
		`frameq_limiter_wait_seconds_count{scope="token:beta"}`:                  0,
		`frameq_token_breaker_open{token_ref="acme"}`:                            1,
		`frameq_token_breaker_open{token_ref="beta"}`:                            0,
		`frameq_ims_mints_total{token_ref="beta"}`:                               0,
		`frameq_files_total{result="done",type="frameio:asset.upload"}`:          0,
		`frameq_files_total{result="terminal",type="frameio:asset.upload"}`:      0,
		`frameq_file_size_bytes_count{type="frameio:asset.upload"}`:              0,
		`frameq_file_upload_duration_seconds_count{type="frameio:asset.upload"}`: 0,
	})
	if _, ok := got[`frameq_ims_mints_total{token_ref="acme"}`]; ok {
		t.Error("a ref without IMS credentials has an IMS mints series")
	}
	var nilM *Metrics
	nilM.Declare(Series{Scopes: []string{"x"}})
}

// TestFileHistograms: sizes land in media-sized buckets (KB to hundreds of
// GB), durations in seconds-to-hours ones; an unknown size (remote upload
// without one) is not observed as 0.
func TestFileHistograms(t *testing.T) {
	m := New()
	m.FileUploaded("frameio:asset.upload", 900, 800*time.Millisecond)
	m.FileUploaded("frameio:asset.upload", 300e9, 3*time.Hour)
	m.FileUploaded("frameio:asset.remote_upload", 0, time.Minute)
	got := values(t, m.Registry())
	expect(t, got, map[string]float64{
		`frameq_file_size_bytes_count{type="frameio:asset.upload"}`:                     2,
		`frameq_file_size_bytes_sum{type="frameio:asset.upload"}`:                       300e9 + 900,
		`frameq_file_upload_duration_seconds_count{type="frameio:asset.upload"}`:        2,
		`frameq_file_upload_duration_seconds_sum{type="frameio:asset.upload"}`:          3*3600 + 0.8,
		`frameq_file_upload_duration_seconds_count{type="frameio:asset.remote_upload"}`: 1,
	})
	if _, ok := got[`frameq_file_size_bytes_count{type="frameio:asset.remote_upload"}`]; ok {
		t.Error("a file of unknown size was observed")
	}
	// The buckets tell a 900-byte sidecar from a 300 GB original, and a
	// second from three hours.
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		name := mf.GetName()
		if name != "frameq_file_size_bytes" && name != "frameq_file_upload_duration_seconds" {
			continue
		}
		for _, s := range mf.GetMetric() {
			if s.GetLabel()[0].GetValue() != "frameio:asset.upload" {
				continue
			}
			b := s.GetHistogram().GetBucket()
			first, last := b[0], b[len(b)-1]
			if first.GetCumulativeCount() != 1 || last.GetCumulativeCount() != 2 {
				t.Errorf("%s: first bucket (le %v) holds %d, last (le %v) %d; want 1 and 2",
					name, first.GetUpperBound(), first.GetCumulativeCount(), last.GetUpperBound(), last.GetCumulativeCount())
			}
		}
	}
}

func TestBuildInfo(t *testing.T) {
	m := New()
	m.SetBuildInfo("v1.2.3")
	m.SetBuildInfo("v1.2.4") // replaces, does not add a second series
	var found []string
	for k, v := range values(t, m.Registry()) {
		if strings.HasPrefix(k, "frameq_build_info{") {
			found = append(found, k)
			if v != 1 {
				t.Errorf("%s = %v, want 1", k, v)
			}
		}
	}
	if len(found) != 1 || !strings.Contains(found[0], `version="v1.2.4"`) ||
		!strings.Contains(found[0], `goversion="`+runtime.Version()+`"`) || !strings.Contains(found[0], `revision="`) {
		t.Errorf("build info series %v", found)
	}
}
