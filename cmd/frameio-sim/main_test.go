package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a stderr that the test can read while run writes.
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

// sim is a running run(): its banner, stderr and a stop function that
// returns the exit code.
type sim struct {
	banner banner
	stderr *lockedBuffer
	stop   func() int
}

func startRun(t *testing.T, args []string, env map[string]string) *sim {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &lockedBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, pw, stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no banner line (stderr %q): %v", stderr.String(), err)
	}
	go io.Copy(io.Discard, pr)
	var b banner
	if err := json.Unmarshal([]byte(line), &b); err != nil {
		cancel()
		t.Fatalf("banner %q: %v", line, err)
	}
	s := &sim{banner: b, stderr: stderr}
	var once sync.Once
	var rc int
	s.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case rc = <-code:
			case <-time.After(30 * time.Second):
				t.Fatal("run did not return after cancel")
			}
		})
		return rc
	}
	t.Cleanup(func() { s.stop() })
	return s
}

func call(t *testing.T, method, url, token, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, r.Header, string(b)
}

func TestRunServesAndPrintsBanner(t *testing.T) {
	s := startRun(t, []string{"--tokens", "secret-tok-1=acct-x,secret-tok-2=acct-y", "--create-limit", "1", "--window", "1m", "--enforcement", "sliding", "--log-requests"}, nil)
	b := s.banner
	if !strings.HasPrefix(b.URL, "http://127.0.0.1:") || !strings.HasSuffix(b.URL, "/v2") || len(b.Roots) != 2 || b.Roots["acct-x"] == "" {
		t.Fatalf("banner: %+v", b)
	}
	code, h, body := call(t, http.MethodPost, b.URL+"/assets/"+b.Roots["acct-x"]+"/children", "secret-tok-1",
		`{"type":"file","name":"a.mov","filetype":"video/quicktime","filesize":10}`)
	if code != http.StatusCreated || !strings.Contains(body, `"upload_urls":["http://127.0.0.1:`) || h.Get("x-ratelimit-limit") != "1" {
		t.Fatalf("create: %d %v %s", code, h, body)
	}
	if code, _, _ := call(t, http.MethodPost, b.URL+"/assets/"+b.Roots["acct-x"]+"/children", "secret-tok-1", `{"type":"folder","name":"b"}`); code != http.StatusTooManyRequests {
		t.Fatalf("second create with --create-limit 1: %d", code)
	}
	if rc := s.stop(); rc != 0 {
		t.Fatalf("exit code %d after shutdown", rc)
	}
	errOut := s.stderr.String()
	if strings.Contains(errOut, "secret-tok") || strings.Contains(errOut, "X-Amz") {
		t.Fatalf("stderr shows a secret:\n%s", errOut)
	}
	for _, want := range []string{"serving Frame.io v2 at " + b.URL, "account acct-x: root folder " + b.Roots["acct-x"], "→ 201", "→ 429", "shutting down"} {
		if !strings.Contains(errOut, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestRunEnvironmentAndFolderFaults(t *testing.T) {
	env := map[string]string{"FRAMEQ_SIM_CREATE_LIMIT": "1", "FRAMEQ_SIM_WINDOW": "1m", "FRAMEQ_SIM_ENFORCEMENT": "sliding",
		"FRAMEQ_SIM_FORBIDDEN_FOLDER": "/blocked/deep"}
	// The command line wins over the environment.
	s := startRun(t, []string{"--create-limit", "5", "--payment-required-folder", "/broke,some-id"}, env)
	b := s.banner
	blocked, broke := b.Folders["acct-dev:/blocked/deep"], b.Folders["acct-dev:/broke"]
	if blocked == "" || broke == "" {
		t.Fatalf("folders in banner: %+v", b.Folders)
	}
	body := `{"type":"folder","name":"x"}`
	if code, h, _ := call(t, http.MethodPost, b.URL+"/assets/"+blocked+"/children", "dev-token", body); code != 403 || h.Get("x-ratelimit-limit") != "5" {
		t.Fatalf("forbidden folder: %d %v", code, h)
	}
	if code, _, _ := call(t, http.MethodPost, b.URL+"/assets/"+broke+"/children", "dev-token", body); code != 402 {
		t.Fatalf("payment-required folder: %d", code)
	}
	if code, _, _ := call(t, http.MethodPost, b.URL+"/assets/some-id/children", "dev-token", body); code != 402 {
		t.Fatalf("payment-required folder by id: %d", code)
	}
	r, err := http.Get(strings.TrimSuffix(b.URL, "/v2") + "/_sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var st struct {
		Folders []struct{ Path string }
	}
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil || len(st.Folders) != 3 {
		t.Fatalf("stats: %+v %v", st, err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--call-limit", "abc"}, nil, "-call-limit"},
		{[]string{"--create-limit", "0"}, nil, "-create-limit"},
		{[]string{"--window", "soon"}, nil, "-window"},
		{[]string{"--enforcement", "fixed"}, nil, "-enforcement"},
		{[]string{"--create-500", "1.5"}, nil, "-create-500"},
		{[]string{"--lost-create", "x"}, nil, "-lost-create"},
		{[]string{"--latency", "-1s"}, nil, "-latency"},
		{[]string{"--part-size", "0"}, nil, "-part-size"},
		{[]string{"--seed", "x"}, nil, "-seed"},
		{[]string{"--tokens", "secret-only"}, nil, "-tokens"},
		{[]string{"--no-such-flag"}, nil, "no-such-flag"},
		{[]string{"stray"}, nil, "stray"},
		{[]string{"--forbidden-folder", "/" + strings.Repeat("n", 300)}, nil, "--forbidden-folder"},
		{nil, map[string]string{"FRAMEQ_SIM_CALL_LIMIT": "-3"}, "FRAMEQ_SIM_CALL_LIMIT"},
		{nil, map[string]string{"FRAMEQ_SIM_NO_RETRY_AFTER": "perhaps"}, "FRAMEQ_SIM_NO_RETRY_AFTER"},
	}
	for _, tt := range cases {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"--addr", "127.0.0.1:0"}, tt.args...), func(k string) string { return tt.env[k] }, &stdout, &stderr)
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], tt.want) || stdout.Len() != 0 {
				t.Fatalf("exit %d, stderr %q; want 2 and one line naming %s", code, stderr.String(), tt.want)
			}
			if strings.Contains(stderr.String(), "secret-only") {
				t.Fatalf("token in error: %s", stderr.String())
			}
		})
	}
}

func TestRunFailsToListen(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--addr", "256.1.1.1:1"}, func(string) string { return "" }, io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "256.1.1.1") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func TestRunTokensFromEnvironment(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--addr", "127.0.0.1:0"}, func(k string) string {
		return map[string]string{"FRAMEQ_SIM_TOKENS": "env-secret"}[k]
	}, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "FRAMEQ_SIM_TOKENS") || strings.Contains(stderr.String(), "env-secret") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	s := startRun(t, nil, map[string]string{"FRAMEQ_SIM_TOKENS": "env-tok=acct-env"})
	if code, _, _ := call(t, http.MethodGet, s.banner.URL+"/me", "env-tok", ""); code != 200 {
		t.Fatalf("me with the env token: %d", code)
	}
}
