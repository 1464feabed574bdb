package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/frameq/frameq/metrics"
)

func Example() {
	m := metrics.New()
	m.APIResponse("POST /v2/assets/{id}/children", 201, 120*time.Millisecond)
	m.FileFinished("frameio:asset.upload", "ok")
	m.FileFinished("frameio:asset.upload", "token_rejected")
	m.TokenBreaker("acme", true)
	m.WatchBatches(func(ctx context.Context) (map[string]map[string]int64, error) {
		return map[string]map[string]int64{"b1": {"done": 1, "failed": 1}}, nil
	})

	srv := httptest.NewServer(m.Handler()) // mux.Handle("/metrics", m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "frameq_") && !strings.Contains(line, "_seconds") {
			fmt.Println(line)
		}
	}
	// Output:
	// frameq_api_responses_total{route="POST /v2/assets/{id}/children",status="201"} 1
	// frameq_batch_files{batch="b1",state="done"} 1
	// frameq_batch_files{batch="b1",state="failed"} 1
	// frameq_files_total{result="done",type="frameio:asset.upload"} 1
	// frameq_files_total{result="token_rejected",type="frameio:asset.upload"} 1
	// frameq_fleet_exporter 1
	// frameq_part_retries_total 0
	// frameq_scrape_errors_total{collector="batches"} 0
	// frameq_token_breaker_open{token_ref="acme"} 1
	// frameq_uploaded_bytes_total 0
	// frameq_uploads_in_flight 0
}
