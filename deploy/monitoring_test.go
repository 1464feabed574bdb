package deploy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/frameq/frameq/config"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/ims/chain"
	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/worker"
)

const (
	rulesFile     = "prometheus/frameq.rules.yml"
	rulesTestFile = "prometheus/frameq.rules_test.yml"
	dashboardFile = "grafana/frameq.json"
)

// promtool finds promtool (Debian's prometheus package). Locally a missing
// one skips; with CI set it fails, so CI cannot pass without the checks.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("promtool not found and CI is set: install it (apt-get install prometheus; .ci/run does): %v", err)
	}
	t.Skipf("promtool not installed (apt-get install prometheus): %v", err)
	return ""
}

// runPromtool runs promtool in prometheus/ and fails the test unless it
// succeeds.
func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = "prometheus"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// knownLint is what promtool check metrics may say of a live scrape:
// frameq_ims_refresh_token_days_left predates these checks, and the
// alert on its expiry (and operators' own) use the name.
var knownLint = map[string]bool{
	`frameq_ims_refresh_token_days_left use base unit "seconds" instead of "days"`: true,
}

// checkMetrics runs promtool check metrics on a scrape; any problem but
// knownLint fails the test.
func checkMetrics(t *testing.T, scrape string) {
	t.Helper()
	cmd := exec.Command(promtool(t), "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("promtool check metrics: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line = strings.TrimSpace(line); line != "" && !knownLint[line] {
			t.Errorf("promtool check metrics: %s", line)
		}
	}
}

// TestRulesPassPromtool: the rules parse, and their unit tests (each alert
// quiet, then firing, with its annotations) pass.
func TestRulesPassPromtool(t *testing.T) {
	runPromtool(t, "check", "rules", filepath.Base(rulesFile))
	runPromtool(t, "test", "rules", filepath.Base(rulesTestFile))
}

// exprs returns every PromQL expression of the rules file and the
// dashboard, and the names the rules record.
func exprs(t *testing.T) (all []string, recorded map[string]bool) {
	t.Helper()
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	recorded = map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^[\s-]*(expr|record):\s*(.+)$`).FindAllStringSubmatch(string(rules), -1) {
		if m[1] == "record" {
			recorded[strings.TrimSpace(m[2])] = true
		} else {
			all = append(all, m[2])
		}
	}
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] || len(p.Targets) == 0 {
			t.Errorf("%s: panel %q: duplicate id %d or no query", dashboardFile, p.Title, p.ID)
		}
		ids[p.ID] = true
		for _, tg := range p.Targets {
			all = append(all, tg.Expr)
		}
	}
	if len(dash.Panels) < 10 || len(recorded) == 0 {
		t.Fatalf("%d panels, %d recorded names: files not read as meant", len(dash.Panels), len(recorded))
	}
	return all, recorded
}

// metricRef is a metric name used in an expression, or a selector
// name{labels}; labelRef a label matched in a selector.
var (
	metricRef = regexp.MustCompile(`\b(frameq|go|process)_[a-z0-9_]+(\{[^}]*\})?`)
	labelRef  = regexp.MustCompile(`([a-z_]+)\s*(?:=~|!~|!=|=)`)
	recordRef = regexp.MustCompile(`\bframeq:[a-z0-9_:]+`)
)

// TestLiveScrape runs a worker (over a real Redis and the simulator, with
// a static-token ref and a user OAuth ref), uploads a file, and scrapes
// its /metrics over HTTP: promtool check metrics passes on it, and every
// metric (and label in a selector) the rules and the dashboard use is in
// it. About 3 s.
func TestLiveScrape(t *testing.T) {
	body := liveScrape(t)
	series := parseScrape(body)
	all, recorded := exprs(t)
	used := 0
	for _, e := range all {
		for _, m := range metricRef.FindAllStringSubmatch(e, -1) {
			name := strings.SplitN(m[0], "{", 2)[0]
			used++
			labels, ok := series[name]
			if !ok {
				t.Errorf("%q uses %s, which a live /metrics does not have", e, name)
				continue
			}
			for _, l := range labelRef.FindAllStringSubmatch(m[2], -1) {
				if !labels[l[1]] {
					t.Errorf("%q matches label %s, which %s does not have", e, l[1], name)
				}
			}
		}
		for _, r := range recordRef.FindAllString(e, -1) {
			if !recorded[r] {
				t.Errorf("%q uses %s, which no rule records", e, r)
			}
		}
	}
	if used < 20 {
		t.Errorf("only %d metric references found: the scan is broken", used)
	}
	checkMetrics(t, body)
}

// parseScrape maps each sample name of a text exposition to its label
// names.
func parseScrape(body string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		name = strings.Fields(name)[0]
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		if lbls, _, ok := strings.Cut(rest, "}"); ok {
			for _, l := range labelRef.FindAllStringSubmatch(lbls, -1) {
				out[name][l[1]] = true
			}
		}
	}
	return out
}

// liveScrape starts a worker, uploads one file through it and returns its
// /metrics once the file is done.
func liveScrape(t *testing.T) string {
	t.Helper()
	const clientID, secret = "web-metrics", "p8e-M3TR1CS-S3CR3T"
	sim := frameiosim.New(frameiosim.Config{IMSClients: map[string]frameiosim.IMSClient{clientID: {Secret: secret, Account: "acct-u"}}})
	front := httptest.NewServer(sim)
	t.Cleanup(func() { front.Close(); sim.Close() })
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	rt, err := sim.IssueRefreshToken(clientID)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, chain.KeySize)
	_, _ = rand.Read(key)
	if err := chain.Import(ctx, rdb, key, "studio", rt, time.Second); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.mov"), bytes.Repeat([]byte("x"), 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.APIURL, cfg.IMSURL = front.URL+"/v4", front.URL+frameiosim.IMSPath
	cfg.Tokens = map[string]string{"default": frameiosim.DefaultToken}
	cfg.IMSClients = map[string]config.IMSCredentials{"studio": {ClientID: clientID, ClientSecret: secret}}
	cfg.SecretKey = key
	cfg.HTTPAddr, cfg.UploadRoot = "127.0.0.1:0", root
	w, err := worker.New(cfg, rdb, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CheckTokens(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	uploads, err := job.FromDir(root, sim.RootFolder(frameiosim.DefaultToken), "default", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := job.NewEnqueuer(rdb).Enqueue(ctx, job.NewBatchID(), uploads); err != nil {
		t.Fatal(err)
	}
	for {
		body := get(t, "http://"+w.Addr()+"/metrics")
		if strings.Contains(body, `frameq_files_total{result="done",type="frameio:asset.upload"} 1`) &&
			strings.Contains(body, "frameq_queue_tasks{") {
			return body
		}
		select {
		case <-ctx.Done():
			names := sort.StringSlice(strings.Split(body, "\n"))
			t.Fatalf("the file was not done, or no queue figures, within a minute:\n%s", strings.Join(names, "\n"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}
