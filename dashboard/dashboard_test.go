package dashboard

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
	"github.com/hibiken/asynq"
)

const (
	queue        = "upload:acme"
	otherQueue   = "upload:beta"
	secretQuery  = "X-Amz-Signature=PLANTED-SIG-7f3a"
	secretToken  = "fio-u-PLANTED-TOKEN-91c2"
	secretEnvVar = "PLANTED-ENV-SECRET-55d0"
)

// fixture is a redis-server holding asynq tasks in several states.
type fixture struct {
	redis asynq.RedisClientOpt
	insp  *asynq.Inspector
	ids   map[string][]string // queue → task ids
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := redistest.Start(t)
	f := &fixture{redis: asynq.RedisClientOpt{Addr: srv.Addr()}, ids: map[string][]string{}}
	client := asynq.NewClient(f.redis)
	t.Cleanup(func() { _ = client.Close() })
	f.insp = asynq.NewInspector(f.redis)
	t.Cleanup(func() { _ = f.insp.Close() })

	upload := `{"v":1,"batch":"batch-42","token_ref":"acme","parent_id":"folder-9","path":"shoot/a.mov","file":"/data/a.mov","size":2048,"token":"` + secretToken + `"}`
	remote := `{"v":1,"batch":"batch-42","token_ref":"acme","parent_id":"folder-9","path":"shoot/b.mp4","size":0,"source_url":"https://bucket.example.com/b.mp4?` + secretQuery + `"}`
	tasks := []struct {
		q, typ, payload string
		opts            []asynq.Option
	}{
		{queue, typeUpload, upload, nil},
		{queue, typeRemoteUpload, remote, nil},
		{queue, typeUpload, upload, []asynq.Option{asynq.ProcessIn(time.Hour)}},
		{queue, "other:type", `{"authorization":"Bearer ` + secretToken + `"}`, nil},
		{otherQueue, typeRemoteUpload, remote, nil},
	}
	for _, tk := range tasks {
		info, err := client.Enqueue(asynq.NewTask(tk.typ, []byte(tk.payload)), append(tk.opts, asynq.Queue(tk.q))...)
		if err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		f.ids[tk.q] = append(f.ids[tk.q], info.ID)
	}
	if err := f.insp.ArchiveTask(queue, f.ids[queue][1]); err != nil {
		t.Fatalf("archive: %v", err)
	}
	return f
}

func (f *fixture) serve(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	o.Redis = f.redis
	h, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = h.(*Handler).Close() })
	mux := http.NewServeMux()
	mux.Handle(DefaultRootPath+"/", h)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func (f *fixture) paused(t *testing.T, q string) bool {
	t.Helper()
	info, err := f.insp.GetQueueInfo(q)
	if err != nil {
		t.Fatalf("queue info: %v", err)
	}
	return info.Paused
}

type req struct {
	method, path string
	user, pass   string
	header       map[string]string
}

func do(t *testing.T, ts *httptest.Server, r req) (int, http.Header, string) {
	t.Helper()
	hr, err := http.NewRequest(r.method, ts.URL+r.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.user != "" {
		hr.SetBasicAuth(r.user, r.pass)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func TestReadOnlyServesUIAndAPI(t *testing.T) {
	f := newFixture(t)
	ts := f.serve(t, Options{})

	code, hdr, body := do(t, ts, req{method: "GET", path: "/monitoring/"})
	if code != 200 || !strings.Contains(body, "<html") || !strings.Contains(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("UI: %d %s %.200s", code, hdr.Get("Content-Type"), body)
	}
	if hdr.Get("X-Frame-Options") != "DENY" {
		t.Errorf("X-Frame-Options = %q", hdr.Get("X-Frame-Options"))
	}

	code, _, body = do(t, ts, req{method: "GET", path: "/monitoring/api/queues"})
	var queues struct {
		Queues []struct {
			Queue    string `json:"queue"`
			Pending  int    `json:"pending"`
			Archived int    `json:"archived"`
		} `json:"queues"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &queues) != nil {
		t.Fatalf("queues: %d %.300s", code, body)
	}
	got := map[string][2]int{}
	for _, q := range queues.Queues {
		got[q.Queue] = [2]int{q.Pending, q.Archived}
	}
	if got[queue] != [2]int{2, 1} || got[otherQueue] != [2]int{1, 0} {
		t.Fatalf("queues (pending, archived) = %v", got)
	}

	code, _, body = do(t, ts, req{method: "GET", path: "/monitoring/api/queues/" + queue + "/pending_tasks"})
	if code != 200 || !strings.Contains(body, `folder_id: folder-9`) || !strings.Contains(body, "unreadable payload") {
		t.Fatalf("pending tasks not formatted: %d %.500s", code, body)
	}
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	f := newFixture(t)
	ts := f.serve(t, Options{})
	writes := []req{
		{method: "POST", path: "/monitoring/api/queues/" + queue + ":pause"},
		{method: "DELETE", path: "/monitoring/api/queues/" + otherQueue},
		{method: "DELETE", path: "/monitoring/api/queues/" + queue + "/pending_tasks:delete_all"},
		{method: "POST", path: "/monitoring/api/queues/" + queue + "/archived_tasks:run_all"},
		{method: "PUT", path: "/monitoring/"},
	}
	for _, r := range writes {
		code, _, body := do(t, ts, r)
		if code != http.StatusForbidden || !strings.Contains(body, "read-only") {
			t.Errorf("%s %s: %d %s, want 403 read-only", r.method, r.path, code, body)
		}
	}
	if f.paused(t, queue) {
		t.Error("queue paused by a read-only dashboard")
	}
	info, err := f.insp.GetQueueInfo(queue)
	if err != nil || info.Pending != 2 || info.Archived != 1 {
		t.Errorf("queue changed: %+v %v", info, err)
	}
	if qs, _ := f.insp.Queues(); len(qs) != 2 {
		t.Errorf("queues = %v, want both", qs)
	}
}

func TestOptionsErrors(t *testing.T) {
	r := asynq.RedisClientOpt{Addr: "127.0.0.1:1"}
	cases := []struct {
		o    Options
		want []string
	}{
		{Options{Redis: r, Writable: true}, []string{EnvUser, EnvPassword}},
		{Options{Redis: r, Writable: true, User: "ops"}, []string{EnvUser, EnvPassword}},
		{Options{Redis: r, Password: "pw"}, []string{EnvUser, EnvPassword}},
		{Options{}, []string{"Redis"}},
		{Options{Redis: r, RootPath: "monitoring"}, []string{"RootPath"}},
	}
	for _, c := range cases {
		h, err := New(c.o)
		if err == nil {
			_ = h.(*Handler).Close()
			t.Errorf("New(%+v) succeeded", c.o)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("New(%+v) = %q, want it to name %s", c.o, err, w)
			}
		}
		if strings.Contains(err.Error(), "pw") {
			t.Errorf("error echoes the password: %v", err)
		}
	}
}

func TestWritableNeedsAuth(t *testing.T) {
	f := newFixture(t)
	ts := f.serve(t, Options{Writable: true, User: "ops", Password: "s3cret"})
	pause := "/monitoring/api/queues/" + queue + ":pause"

	for _, r := range []req{
		{method: "GET", path: "/monitoring/api/queues"},
		{method: "GET", path: "/monitoring/"},
		{method: "POST", path: pause},
		{method: "POST", path: pause, user: "ops", pass: "wrong"},
		{method: "POST", path: pause, user: "op", pass: "s3cret"},
	} {
		code, hdr, _ := do(t, ts, r)
		if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s %s as %q: %d, want 401 with a Basic challenge", r.method, r.path, r.user, code)
		}
	}
	if f.paused(t, queue) {
		t.Fatal("paused without valid credentials")
	}

	// A page on another site must not ride on the browser's cached credentials.
	code, _, _ := do(t, ts, req{method: "POST", path: pause, user: "ops", pass: "s3cret",
		header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}})
	if code != http.StatusForbidden || f.paused(t, queue) {
		t.Fatalf("cross-site pause: %d, paused=%v", code, f.paused(t, queue))
	}

	code, _, body := do(t, ts, req{method: "POST", path: pause, user: "ops", pass: "s3cret"})
	if code/100 != 2 || !f.paused(t, queue) {
		t.Fatalf("authorized pause: %d %s, paused=%v", code, body, f.paused(t, queue))
	}
	if code, _, _ := do(t, ts, req{method: "GET", path: "/monitoring/api/queues", user: "ops", pass: "s3cret"}); code != 200 {
		t.Fatalf("authorized read: %d", code)
	}
}

func TestReadOnlyWithCredentialsGuardsReads(t *testing.T) {
	f := newFixture(t)
	ts := f.serve(t, Options{User: "ops", Password: "s3cret"})
	if code, _, _ := do(t, ts, req{method: "GET", path: "/monitoring/api/queues"}); code != 401 {
		t.Fatalf("anonymous read: %d, want 401", code)
	}
	code, _, _ := do(t, ts, req{method: "POST", path: "/monitoring/api/queues/" + queue + ":pause", user: "ops", pass: "s3cret"})
	if code != 403 || f.paused(t, queue) {
		t.Fatalf("authorized write on read-only dashboard: %d, paused=%v", code, f.paused(t, queue))
	}
}

// TestNoSecretInAnyResponse reads every GET endpoint of asynqmon's API for
// every queue, state and task, and looks for the planted secrets.
func TestNoSecretInAnyResponse(t *testing.T) {
	t.Setenv("FRAMEQ_TOKEN_ACME", secretEnvVar)
	f := newFixture(t)
	ts := f.serve(t, Options{})

	paths := []string{"/", "/api/queues", "/api/queue_stats", "/api/servers", "/api/scheduler_entries", "/api/redis_info"}
	for q, ids := range f.ids {
		paths = append(paths, "/api/queues/"+q, "/api/queues/"+q+"/groups")
		for _, state := range []string{"active", "pending", "scheduled", "retry", "archived", "completed"} {
			paths = append(paths, "/api/queues/"+q+"/"+state+"_tasks")
		}
		for _, id := range ids {
			paths = append(paths, "/api/queues/"+q+"/tasks/"+id)
		}
	}
	var all strings.Builder
	for _, p := range paths {
		code, _, body := do(t, ts, req{method: "GET", path: "/monitoring" + p})
		if code != 200 {
			t.Errorf("GET %s: %d %.200s", p, code, body)
		}
		for _, s := range []string{secretQuery, "PLANTED-SIG", secretToken, "PLANTED-TOKEN", secretEnvVar} {
			if strings.Contains(body, s) {
				t.Errorf("GET %s leaks %q", p, s)
			}
		}
		all.WriteString(strings.ReplaceAll(body, `\n  `, "")) // unwrapped: see FormatPayload
	}
	// The scan must have seen the tasks, or it proves nothing.
	for _, want := range []string{"batch-42", `https://bucket.example.com/b.mp4?[REDACTED]`, "unreadable payload"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("no response shows %q", want)
		}
	}
}

// asynqmon's metrics API answers 500 and its page is blank without a
// Prometheus server: both say why instead, whatever the options.
func TestMetricsPageIsOffWithAReason(t *testing.T) {
	f := newFixture(t)
	for _, o := range []Options{{}, {User: "ops", Password: "s3cret"}} {
		ts := f.serve(t, o)
		for _, p := range []string{"/monitoring/api/metrics", "/monitoring/api/metrics?duration_sec=3600", "/monitoring/metrics", "/monitoring/metrics/"} {
			code, _, body := do(t, ts, req{method: "GET", path: p, user: o.User, pass: o.Password})
			if code != http.StatusNotFound || !strings.Contains(body, "Prometheus") || !strings.Contains(body, "frameq_queue_tasks") {
				t.Errorf("GET %s: %d %.200s, want 404 saying why", p, code, body)
			}
		}
		if o.User != "" {
			if code, _, _ := do(t, ts, req{method: "GET", path: "/monitoring/api/metrics"}); code != http.StatusUnauthorized {
				t.Errorf("anonymous GET of metrics behind auth: %d, want 401", code)
			}
		}
		if code, _, _ := do(t, ts, req{method: "GET", path: "/monitoring/api/queues", user: o.User, pass: o.Password}); code != 200 {
			t.Errorf("the rest of the API went with it: %d", code)
		}
	}
}
