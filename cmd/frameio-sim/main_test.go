package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
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
		{[]string{"--api", "v3"}, nil, "-api"},
		{[]string{"--v4-limit", "uploads=5/1s"}, nil, "-v4-limit"},
		{[]string{"--v4-limit", "file_create=5"}, nil, "-v4-limit"},
		{[]string{"--v4-limit", "file_create=0/1s"}, nil, "-v4-limit"},
		{[]string{"--v4-limit", "file_create=5/1us"}, nil, "-v4-limit"},
		{[]string{"--upload-failed", "2"}, nil, "-upload-failed"},
		{[]string{"--complete-after", "-1s"}, nil, "-complete-after"},
		{[]string{"--legacy-tokens", "secret-only"}, nil, "--legacy-tokens"},
		{[]string{"--tokens", "secret-only=a", "--legacy-tokens", "secret-only=a"}, nil, "LegacyTokens"},
		{nil, map[string]string{"FRAMEQ_SIM_API": "v1"}, "FRAMEQ_SIM_API"},
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

func TestRunServesV4(t *testing.T) {
	env := map[string]string{"FRAMEQ_SIM_V4_LIMIT": "folder_create=9/1s", "FRAMEQ_SIM_LEGACY_TOKENS": "secret-legacy=acct-old"}
	// The flag wins over the variable; repeated flags add up.
	s := startRun(t, []string{"--api", "both", "--v4-limit", "file_create=2/1m", "--v4-limit", "folder_create=1/1m", "--complete-after", "1h", "--upload-failed", "0", "--log-requests"}, env)
	b := s.banner
	if !strings.HasSuffix(b.V4URL, "/v4") || b.V2URL == "" || b.URL != b.V2URL || strings.TrimSuffix(b.V4URL, "/v4") != strings.TrimSuffix(b.V2URL, "/v2") {
		t.Fatalf("banner: %+v", b)
	}
	root := b.Roots["acct-dev"]
	folders := b.V4URL + "/accounts/acct-dev/folders/" + root + "/folders"
	code, h, body := call(t, http.MethodPost, folders, "dev-token", `{"data":{"name":"a"}}`)
	if code != 201 || h.Get("x-ratelimit-limit") != "1" || h.Get("x-ratelimit-window") != "60000" {
		t.Fatalf("V4 folder create: %d %v %s", code, h, body)
	}
	if code, _, _ := call(t, http.MethodPost, folders, "dev-token", `{"data":{"name":"b"}}`); code != 429 {
		t.Fatalf("second folder create with folder_create=1/1m: %d", code)
	}
	code, h, body = call(t, http.MethodPost, b.V4URL+"/accounts/acct-dev/folders/"+root+"/files/local_upload", "dev-token", `{"data":{"name":"a.mov","file_size":3}}`)
	if code != 201 || h.Get("x-ratelimit-limit") != "2" || !strings.Contains(body, `"media_type":"video/quicktime"`) {
		t.Fatalf("V4 local_upload: %d %v %s", code, h, body)
	}
	var file struct {
		Data struct {
			ID         string
			UploadURLs []struct{ URL string } `json:"upload_urls"`
		}
	}
	if err := json.Unmarshal([]byte(body), &file); err != nil || len(file.Data.UploadURLs) != 1 {
		t.Fatalf("local_upload body %s: %v", body, err)
	}
	req, _ := http.NewRequest(http.MethodPut, file.Data.UploadURLs[0].URL, strings.NewReader("abc"))
	req.Header.Set("Content-Type", "video/quicktime")
	req.Header.Set("x-amz-acl", "private")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("part PUT: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	// --complete-after 1h: every part is in, the file is not complete yet.
	code, _, body = call(t, http.MethodGet, b.V4URL+"/accounts/acct-dev/files/"+file.Data.ID+"/status", "dev-token", "")
	if code != 200 || !strings.Contains(body, `"upload_complete":false`) || !strings.Contains(body, `"upload_failed":false`) || strings.Contains(body, `"uploaded_at":null`) {
		t.Fatalf("status: %d %s", code, body)
	}
	if code, _, _ := call(t, http.MethodGet, b.V4URL+"/me", "secret-legacy", ""); code != 401 {
		t.Fatalf("legacy token without the header: %d", code)
	}
	if code, _, _ := call(t, http.MethodGet, b.V2URL+"/me", "secret-legacy", ""); code != 200 {
		t.Fatalf("legacy token on v2: %d", code)
	}
	if rc := s.stop(); rc != 0 {
		t.Fatalf("exit code %d", rc)
	}
	errOut := s.stderr.String()
	for _, want := range []string{"serving Frame.io V4 at " + b.V4URL, "serving Frame.io v2 at " + b.V2URL, "POST /v4/accounts/acct-dev/folders/"} {
		if !strings.Contains(errOut, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "secret-legacy") || strings.Contains(errOut, "X-Amz") {
		t.Fatalf("stderr shows a secret:\n%s", errOut)
	}
}

func TestRunServesOneAPI(t *testing.T) {
	v4 := startRun(t, []string{"--api", "v4", "--locked-account", "acct-dev"}, nil).banner
	if v4.V2URL != "" || v4.URL != v4.V4URL || !strings.HasSuffix(v4.URL, "/v4") {
		t.Fatalf("--api v4 banner: %+v", v4)
	}
	if code, _, body := call(t, http.MethodGet, v4.V4URL+"/me", "dev-token", ""); code != 403 || !strings.Contains(body, "Account locked") {
		t.Fatalf("--locked-account: %d %s", code, body)
	}
	if code, _, _ := call(t, http.MethodGet, strings.TrimSuffix(v4.URL, "/v4")+"/v2/me", "dev-token", ""); code != 404 {
		t.Fatalf("v2 under --api v4: %d", code)
	}
	v2 := startRun(t, []string{"--api", "v2"}, nil).banner
	if v2.V4URL != "" || v2.URL != v2.V2URL || !strings.HasSuffix(v2.URL, "/v2") {
		t.Fatalf("--api v2 banner: %+v", v2)
	}
	if code, _, _ := call(t, http.MethodGet, strings.TrimSuffix(v2.URL, "/v2")+"/v4/me", "dev-token", ""); code != 404 {
		t.Fatalf("V4 under --api v2: %d", code)
	}
}

func TestRunServesIMS(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--ims-clients", "cid-only-s3cr3t"}, func(string) string { return "" }, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--ims-clients") || strings.Contains(stderr.String(), "s3cr3t") {
		t.Fatalf("bad --ims-clients: exit %d: %s", code, stderr.String())
	}
	s := startRun(t, []string{"--ims-clients", "cid:s3cr3t=acct-ims", "--token-lifetime", "1m"}, nil)
	if !strings.HasSuffix(s.banner.IMSURL, "/ims/token/v3") {
		t.Fatalf("banner ims_url %q", s.banner.IMSURL)
	}
	resp, err := http.PostForm(s.banner.IMSURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"cid"}, "client_secret": {"s3cr3t"}, "scope": {"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.ExpiresIn != 60 {
		t.Fatalf("mint: %d %+v", resp.StatusCode, tok)
	}
	if code, _, _ := call(t, http.MethodGet, s.banner.V4URL+"/me", tok.AccessToken, ""); code != 200 {
		t.Errorf("V4 /me with the minted token: %d", code)
	}
}
