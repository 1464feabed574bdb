package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
)

func runWorker(t *testing.T, environ []string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	p := proc{environ: environ, stdout: &out, stderr: &errb}
	code := p.run(context.Background(), args)
	return out.String(), errb.String(), code
}

// TestHelpVersionAndUsageErrors: --help and --version answer on stdout
// with exit 0; a usage error is one line on stderr with exit 2.
func TestHelpVersionAndUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"healthcheck", "--help"}} {
		out, stderr, code := runWorker(t, nil, args...)
		if code != 0 || !strings.Contains(out, "usage: worker") || !strings.Contains(out, "-http-addr") || stderr != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, stderr)
		}
	}
	if out, _, _ := runWorker(t, nil, "--help"); !strings.Contains(out, "-version") || !strings.Contains(out, "healthcheck") {
		t.Errorf("--help lists neither --version nor healthcheck:\n%s", out)
	}
	out, stderr, code := runWorker(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "worker ") || stderr != "" {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	for _, args := range [][]string{{"--nosuch"}, {"stray"}, {"healthcheck", "--nosuch"}, {"healthcheck", "--http-addr", "nonsense"}} {
		out, stderr, code := runWorker(t, nil, args...)
		if code != 2 || out != "" || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one line on stderr", args, code, out, stderr)
		}
	}
}

func TestReadyURL(t *testing.T) {
	for addr, want := range map[string]string{
		"0.0.0.0:8080":   "http://127.0.0.1:8080/readyz",
		":8080":          "http://127.0.0.1:8080/readyz",
		"[::]:8080":      "http://127.0.0.1:8080/readyz",
		"10.1.2.3:9000":  "http://10.1.2.3:9000/readyz",
		"localhost:8080": "http://localhost:8080/readyz",
		"[::1]:8080":     "http://[::1]:8080/readyz",
	} {
		if got, err := readyURL(addr); err != nil || got != want {
			t.Errorf("readyURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
}

// TestHealthcheckExitCodes: 0 for a 200 from /readyz, 1 for a 503 (with
// its reason) or nothing listening.
func TestHealthcheckExitCodes(t *testing.T) {
	ready := true
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/readyz" {
			http.NotFound(rw, r)
			return
		}
		if !ready {
			rw.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(rw, `{"problems":{"tokens":"dial refused"}}`)
			return
		}
		fmt.Fprint(rw, `{"status":"ready"}`)
	}))
	defer srv.Close()
	addr := "FRAMEQ_HTTP_ADDR=" + strings.TrimPrefix(srv.URL, "http://")
	if _, stderr, code := runWorker(t, []string{addr}, "healthcheck"); code != 0 {
		t.Errorf("ready: exit %d, stderr %q", code, stderr)
	}
	mu.Lock()
	ready = false
	mu.Unlock()
	if _, stderr, code := runWorker(t, []string{addr}, "healthcheck"); code != 1 || !strings.Contains(stderr, "dial refused") {
		t.Errorf("not ready: exit %d, stderr %q; want 1 with the reason", code, stderr)
	}
	if _, stderr, code := runWorker(t, []string{"FRAMEQ_HTTP_ADDR=" + freeAddr(t)}, "healthcheck"); code != 1 {
		t.Errorf("nothing listening: exit %d, stderr %q; want 1", code, stderr)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer is a process's output, read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func buildWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "worker")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	return bin
}

// readyz is the worker's /readyz status and body (0 if it does not answer).
func readyz(httpAddr string) (int, string) {
	resp, err := http.Get("http://" + httpAddr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestWaitsForFrameioThenReady, over a real process: a worker whose
// Frame.io is not there yet keeps running, not ready, saying why on
// /readyz (and `worker healthcheck` exits 1); once the API answers on that
// address it becomes ready without a restart. A token Frame.io rejects
// still ends it, with status 1. Its go-redis lines are structured.
func TestWaitsForFrameioThenReady(t *testing.T) {
	bin := buildWorker(t)
	rdb := redistest.Start(t)
	apiAddr, httpAddr := freeAddr(t), freeAddr(t)
	env := []string{
		"FRAMEQ_REDIS_URL=" + rdb.URL(), "FRAMEQ_API_URL=http://" + apiAddr + "/v4",
		"FRAMEQ_UPLOAD_ROOT=" + t.TempDir(), "FRAMEQ_HTTP_ADDR=" + httpAddr, "FRAMEQ_CONCURRENCY=2",
	}
	cmd := exec.Command(bin)
	cmd.Env = append(env, "FRAMEQ_TOKEN="+frameiosim.DefaultToken)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-exited
		if t.Failed() {
			t.Logf("worker log:\n%s", log.String())
		}
	})

	var body string
	waitFor(t, "/readyz to say why it is not ready", 30*time.Second, func() bool {
		var code int
		code, body = readyz(httpAddr)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "connection refused")
	})
	if !strings.Contains(body, `"tokens"`) {
		t.Errorf("/readyz %s: the reason is not under tokens", body)
	}
	health := exec.Command(bin, "healthcheck")
	health.Env = env
	if out, err := health.CombinedOutput(); err == nil || !strings.Contains(string(out), "connection refused") {
		t.Errorf("healthcheck while Frame.io is down: %v, %s; want exit 1 with the reason", err, out)
	}

	// Past the few quick tries a token check makes (where the old worker
	// exited 1): it goes on waiting.
	waitFor(t, "the worker to wait past its quick tries", 30*time.Second, func() bool {
		return strings.Contains(log.String(), "not ready: Frame.io cannot be reached")
	})
	sim := frameiosim.New(frameiosim.Config{})
	if err := sim.Start(apiAddr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	select {
	case err := <-exited:
		t.Fatalf("worker exited while Frame.io was down: %v", err)
	default:
	}
	waitFor(t, "ready once Frame.io answers", 60*time.Second, func() bool {
		code, _ := readyz(httpAddr)
		return code == http.StatusOK
	})
	if !strings.Contains(log.String(), "worker started") {
		t.Errorf("log does not say the worker started")
	}
	health = exec.Command(bin, "healthcheck")
	health.Env = env
	if out, err := health.CombinedOutput(); err != nil {
		t.Errorf("healthcheck once ready: %v, %s", err, out)
	}

	rejected := exec.Command(bin)
	rejected.Env = append(env, "FRAMEQ_TOKEN=no-such-token", "FRAMEQ_HTTP_ADDR=127.0.0.1:0")
	out, err := rejected.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "401") {
		t.Errorf("rejected token: %v, want exit 1 naming the 401:\n%s", err, out)
	}
	checkRedisLinesStructured(t, bin, env)
}

// checkRedisLinesStructured starts bin with Redis down: go-redis's own
// complaints come as JSON log lines (source go-redis), like every other line.
func checkRedisLinesStructured(t *testing.T, bin string, env []string) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(env, "FRAMEQ_TOKEN=x", "FRAMEQ_REDIS_URL=redis://"+freeAddr(t)+"/0", "FRAMEQ_HTTP_ADDR=127.0.0.1:0")
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a go-redis line", 30*time.Second, func() bool { return strings.Contains(log.String(), `"source":"go-redis"`) })
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil {
			t.Errorf("unstructured line with Redis down: %q", line)
		}
	}
}
