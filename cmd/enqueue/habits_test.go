package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameq/frameq/redistest"
)

// closedRedisURL is a Redis URL on a port nothing listens on.
func closedRedisURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "redis://" + addr + "/0"
}

// TestFlagsAfterArguments: the README writes `retry "$batch" --class
// terminal` and `status B --json`; flags after the arguments take effect.
func TestFlagsAfterArguments(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.mov"), []byte("x"), 0o644)

	_, stderr, code := runCLI(t, srv.URL(), "dir", dir, "--parent", "p1", "--dry-run")
	if code != exitOK || !strings.Contains(stderr, "dry run: 1 files would be enqueued") {
		t.Fatalf("dir <path> --parent p1 --dry-run: exit %d, stderr %q", code, stderr)
	}
	out, stderr, code := runCLI(t, srv.URL(), "dir", dir, "--parent", "p1")
	if code != exitOK {
		t.Fatalf("dir <path> --parent p1: exit %d, stderr %q", code, stderr)
	}
	batch := strings.TrimSpace(out)

	out, stderr, code = runCLI(t, srv.URL(), "status", batch, "--json")
	var report map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &report) != nil {
		t.Errorf("status B --json: exit %d, stdout %q (want JSON), stderr %q", code, out, stderr)
	}
	_, stderr, code = runCLI(t, srv.URL(), "retry", batch, "--class", "terminal")
	if code != exitOK || !strings.Contains(stderr, "0 queued again") {
		t.Errorf("retry B --class terminal: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runCLI(t, srv.URL(), "wait", batch, "--timeout", "50ms", "--interval", "10ms")
	if code != exitTimeout {
		t.Errorf("wait B --timeout 50ms (no worker): exit %d, want %d (the timeout applied); stderr %q", code, exitTimeout, stderr)
	}
	_, stderr, code = runCLI(t, srv.URL(), "failed", batch, "--nosuch")
	if code != exitUsage || !strings.Contains(stderr, "-nosuch") {
		t.Errorf("failed B --nosuch: exit %d, stderr %q; want 2 naming the flag", code, stderr)
	}
	_, stderr, code = runCLI(t, srv.URL(), "status", batch, "other")
	if code != exitUsage || !strings.Contains(stderr, "exactly one batch id") {
		t.Errorf("status B other: exit %d, stderr %q; want 2", code, stderr)
	}
}

// TestHelpOnStdoutUsageErrorsOnStderr: help asked for is output (stdout,
// exit 0); a usage error goes to stderr with exit 2.
func TestHelpOnStdoutUsageErrorsOnStderr(t *testing.T) {
	url := closedRedisURL(t)
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"dir", "--help"}, {"manifest", "-h"}, {"status", "--help"},
		{"wait", "--help"}, {"failed", "--help"}, {"retry", "--help"}, {"resume", "--help"},
		{"serve", "--help"}, {"auth", "--help"}, {"auth", "import", "--help"}, {"auth", "status", "--help"},
	} {
		out, stderr, code := runCLI(t, url, args...)
		if code != exitOK || !strings.Contains(out, "usage: enqueue") || stderr != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0, usage on stdout, nothing on stderr", args, code, out, stderr)
		}
	}
	for _, args := range [][]string{{}, {"nosuch"}, {"dir", "--nosuch"}, {"status"}} {
		out, stderr, code := runCLI(t, url, args...)
		if code != exitUsage || out != "" || stderr == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2, the error on stderr only", args, code, out, stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-version", "version"} {
		out, stderr, code := runCLI(t, closedRedisURL(t), arg)
		if code != exitOK || !strings.HasPrefix(out, "enqueue ") || stderr != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, out, stderr)
		}
	}
}

// TestNoSummaryWhenRedisIsDown: with Redis unreachable, dir says it
// stopped, without a "0 enqueued (N tasks/s)" summary first.
func TestNoSummaryWhenRedisIsDown(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.mov"), []byte("x"), 0o644)
	out, stderr, code := runCLI(t, closedRedisURL(t), "dir", "--parent", "p1", dir)
	if code != exitFailed || out != "" {
		t.Fatalf("exit %d, stdout %q; want %d and no batch id", code, out, exitFailed)
	}
	if strings.Contains(stderr, "tasks/s") || !strings.Contains(stderr, "stopped after 0 enqueued") {
		t.Errorf("stderr %q: want the stop, no summary", stderr)
	}
}

// TestRedisLinesAreStructured runs the built binary (go-redis's logger is
// process-wide, so only main installs ours): with Redis down, go-redis's
// own complaints come as JSON log lines, none as its bare "redis: ..." text.
func TestRedisLinesAreStructured(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "enqueue")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	cmd := exec.Command(bin, "status", "b1")
	cmd.Env = []string{"FRAMEQ_REDIS_URL=" + closedRedisURL(t), "FRAMEQ_LOG_FORMAT=json"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("status with Redis down succeeded")
	}
	fromRedis := 0
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var entry map[string]string
		switch {
		case strings.HasPrefix(line, "enqueue: "): // the command's own error
		case json.Unmarshal([]byte(line), &entry) == nil && entry["source"] == "go-redis":
			fromRedis++
		default:
			t.Errorf("unstructured line: %q", line)
		}
	}
	if fromRedis == 0 {
		t.Errorf("no go-redis log entry in:\n%s", stderr.String())
	}
}
