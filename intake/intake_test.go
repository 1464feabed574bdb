package intake

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/docs"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/notify"
	"github.com/frameq/frameq/tasks/records"
)

func (e *env) body(callback string) string {
	cb := ""
	if callback != "" {
		cb = fmt.Sprintf(`,"callback_url":%q`, callback)
	}
	return fmt.Sprintf(`{"token_ref":"default","items":[
		{"file":%q,"parent_id":"p1","path":"shoot/a.mov"},
		{"file":%q,"parent_id":"p1"},
		{"url":"https://cdn.example.com/c.mov?sig=s3cr3t","parent_id":"p1","size":123}]%s}`,
		e.file("a.mov"), e.file("b.mov"), cb)
}

func TestCreateEnqueuesAndOnlyItsKeySeesTheBatch(t *testing.T) {
	e := newEnv(t)
	code, b, _ := e.do("POST", "/v1/batches", acmeKey, e.body(""))
	if code != http.StatusCreated {
		t.Fatalf("POST: %d %s", code, b)
	}
	var c Created
	mustJSON(t, b, &c)
	if c.Enqueued != 3 || c.AlreadyQueued != 0 || c.AlreadyUploaded != 0 || c.Batch == "" {
		t.Fatalf("created %+v, want 3 enqueued", c)
	}
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	tasks, err := insp.ListPendingTasks(job.SmallQueue("default"))
	if err != nil || len(tasks) != 3 {
		t.Fatalf("pending in %s: %d (%v), want 3", job.SmallQueue("default"), len(tasks), err)
	}
	for _, tk := range tasks {
		u, err := job.DecodeUpload(tk.Type, tk.Payload)
		if err != nil || u.Batch != c.Batch {
			t.Errorf("task %s: %+v %v", tk.ID, u, err)
		}
	}

	code, b, _ = e.do("GET", "/v1/batches/"+c.Batch, acmeKey, "")
	var rep records.Report
	mustJSON(t, b, &rep)
	if code != 200 || rep.Total != 3 || rep.Counts[records.Pending] != 3 || rep.Finished {
		t.Fatalf("status: %d %s", code, b)
	}
	if want := (records.Bytes{Total: 5 + 5 + 123}); rep.Bytes != want { // two files holding their names, the URL's size
		t.Errorf("status bytes %+v, want %+v", rep.Bytes, want)
	}
	code, b, _ = e.do("GET", "/v1/batches/"+c.Batch+"/failures", acmeKey, "")
	if code != 200 || !strings.Contains(string(b), `"failures":[]`) {
		t.Fatalf("failures: %d %s", code, b)
	}
	for _, path := range []string{"/v1/batches/" + c.Batch, "/v1/batches/" + c.Batch + "/failures", "/v1/batches/nope", "/v1/batches/bad%20id"} {
		if code, b, _ := e.do("GET", path, opsKey, ""); code != http.StatusNotFound {
			t.Errorf("another key GET %s: %d %s, want 404", path, code, b)
		}
	}
	if code, _, _ := e.do("GET", "/v1/batches/"+c.Batch, "", ""); code != http.StatusUnauthorized {
		t.Errorf("GET without a key: %d, want 401", code)
	}
}

func TestRefusalsNameTheProblemAndLeaveRedisUnchanged(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxBody = 4096 })
	// One accepted request first, so the 409 has a key to conflict with.
	good := e.body("")
	if code, b, _ := e.do("POST", "/v1/batches", acmeKey, good, "Idempotency-Key", "k1"); code != 201 {
		t.Fatalf("POST: %d %s", code, b)
	}
	item := func(extra string) string {
		return fmt.Sprintf(`{"items":[{"file":%q,"parent_id":"p1"%s}]}`, e.file("a.mov"), extra)
	}
	cases := []struct {
		name, key, body string
		hdr             []string
		code            int
		want            []string // in the body
	}{
		{"no key", "", good, nil, 401, []string{"Bearer"}},
		{"wrong key", acmeKey + "x", good, nil, 401, []string{"API key"}},
		{"malformed", acmeKey, `{"items":[`, nil, 400, []string{"malformed"}},
		{"unknown top-level field", acmeKey, `{"items":[{"url":"https://h/a","parent_id":"p"}],"colour":1}`, nil, 400, []string{"colour"}},
		{"no items", acmeKey, `{"items":[]}`, nil, 400, []string{"items"}},
		{"bad idempotency key", acmeKey, good, []string{"Idempotency-Key", "a b"}, 400, []string{"Idempotency-Key"}},
		{"too large", acmeKey, `{"items":[` + strings.Repeat(`{"url":"https://h/a.mov","parent_id":"p1"},`, 200) + `]}`, nil, 413, []string{"4096"}},
		{"ref not allowed", acmeKey, `{"token_ref":"acme2","items":[{"url":"https://h/a.mov","parent_id":"p1"}]}`, nil, 403, []string{"acme2"}},
		{"item ref not allowed", acmeKey, item(`,"token_ref":"other"`), nil, 403, []string{"other"}},
		{"same key, other body", acmeKey, item(""), []string{"Idempotency-Key", "k1"}, 409, []string{"another body"}},
		{"invalid items", acmeKey, fmt.Sprintf(`{"callback_url":"https://evil.example.net/h","items":[
			{"file":%q,"parent_id":"p1"},
			{"file":"/nonexistent/x.mov","parent_id":"p1"},
			{"file":"rel/x.mov","parent_id":"p1"},
			{"url":"ftp://h/x.mov","parent_id":"p1"},
			{"url":"https://h/x.mov","parent_id":"bad id!","path":"../x"},
			{"url":"https://h/x.mov","parent_id":"p1","size":-1},
			{"url":"https://h/x.mov","parent_id":"p1","colour":"red"}]}`, e.file("a.mov")), nil, 422,
			[]string{`"item":-1,"field":"callback_url"`, `"item":1,"field":"file","detail":"no such file"`, `"item":2,"field":"file"`,
				`"item":3,"field":"url"`, `"item":4,"field":"parent_id"`, `"item":4,"field":"path"`, `"item":5,"field":"size"`, `"item":6,"field":""`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.snapshot()
			code, b, _ := e.do("POST", "/v1/batches", c.key, c.body, c.hdr...)
			if code != c.code {
				t.Fatalf("%d %s, want %d", code, b, c.code)
			}
			for _, w := range c.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("body lacks %s:\n%s", w, b)
				}
			}
			if strings.Contains(string(b), `"item":0`) {
				t.Errorf("the good item was reported: %s", b)
			}
			if after := e.snapshot(); !maps.Equal(before, after) {
				t.Errorf("Redis changed: %d keys before, %d after", len(before), len(after))
			}
		})
	}
}

func TestIdempotencyKeyReplaysTheFirstAnswerAndEnqueuesNothing(t *testing.T) {
	e := newEnv(t)
	body := e.body("")
	code, first, _ := e.do("POST", "/v1/batches", acmeKey, body, "Idempotency-Key", "order-42")
	if code != 201 {
		t.Fatalf("first: %d %s", code, first)
	}
	before := e.snapshot()
	code, again, hdr := e.do("POST", "/v1/batches", acmeKey, body, "Idempotency-Key", "order-42")
	if code != 201 || string(again) != string(first) || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s (header %q), want 201 %s", code, again, hdr.Get("Idempotent-Replayed"), first)
	}
	if after := e.snapshot(); !maps.Equal(before, after) {
		t.Errorf("the replay changed Redis: %d keys before, %d after", len(before), len(after))
	}
	// Another key's same Idempotency-Key is its own.
	code, other, _ := e.do("POST", "/v1/batches", opsKey, body, "Idempotency-Key", "order-42")
	var a, b Created
	mustJSON(t, first, &a)
	mustJSON(t, other, &b)
	if code != 201 || a.Batch == b.Batch || b.AlreadyQueued != 3 {
		t.Fatalf("ops with the same Idempotency-Key: %d %s, want a new batch tracking 3 queued", code, other)
	}
}

func TestBatchWithNothingToDoIsNotifiedByTheIntake(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	code, b, _ := e.do("POST", "/v1/batches", acmeKey, e.body(""))
	if code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	// The worker's part: every file uploaded, its task gone.
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	tasks, _ := insp.ListPendingTasks(job.SmallQueue("default"))
	prog := records.NewProgresses(e.rdb)
	for _, tk := range tasks {
		u, _ := job.DecodeUpload(tk.Type, tk.Payload)
		if err := prog.Done(ctx, job.IdempotencyKey(u), "asset"); err != nil {
			t.Fatal(err)
		}
		if err := insp.DeleteTask(job.SmallQueue("default"), tk.ID); err != nil {
			t.Fatal(err)
		}
	}
	code, b, _ = e.do("POST", "/v1/batches", acmeKey, e.body(e.http.URL+"/hook"))
	var c Created
	mustJSON(t, b, &c)
	if code != 201 || c.AlreadyUploaded != 3 || c.Enqueued != 0 {
		t.Fatalf("second POST: %d %s, want 3 already uploaded", code, b)
	}
	info, err := insp.GetTaskInfo(notify.Queue, notify.TaskID(c.Batch))
	if err != nil {
		t.Fatalf("no webhook task for a batch with nothing to do: %v", err)
	}
	if info.Type != notify.TypeWebhook || strings.Contains(string(info.Payload), "hook") {
		t.Errorf("webhook task %s %s (the URL must stay out of the payload)", info.Type, info.Payload)
	}
	code, b, _ = e.do("GET", "/v1/batches/"+c.Batch, acmeKey, "")
	if code != 200 || !strings.Contains(string(b), `"finished":true`) || !strings.Contains(string(b), `"skipped":3`) {
		t.Errorf("status: %d %s", code, b)
	}
}

func TestServiceRoutes(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/v1/batches", acmeKey, e.body(""))
	e.do("POST", "/v1/batches", acmeKey, `{"items":[{"url":"https://h/x","parent_id":"bad id"}]}`)
	code, b, _ := e.do("GET", "/v1/openapi.yaml", "", "")
	disk, err := os.ReadFile("../docs/intake.openapi.yaml")
	if err != nil || code != 200 || string(b) != string(disk) || string(b) != string(docs.IntakeOpenAPI()) {
		t.Errorf("openapi.yaml: %d, %d bytes; want docs/intake.openapi.yaml (%d bytes)", code, len(b), len(disk))
	}
	if code, b, _ := e.do("GET", "/healthz", "", ""); code != 200 {
		t.Errorf("healthz: %d %s", code, b)
	}
	if code, b, _ := e.do("GET", "/readyz", "", ""); code != 200 {
		t.Errorf("readyz: %d %s", code, b)
	}
	resp, err := http.Get(e.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := new(strings.Builder)
	_, _ = fmt.Fprint(buf, readAll(t, resp))
	for _, want := range []string{
		`frameq_intake_requests_total{route="POST /v1/batches",status="201"} 1`,
		`frameq_intake_requests_total{route="POST /v1/batches",status="422"} 1`,
		`frameq_intake_items_total{result="accepted"} 3`,
		`frameq_intake_items_total{result="refused"} 1`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(buf.String(), acmeKey) {
		t.Error("/metrics shows a key")
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

func TestParseKeys(t *testing.T) {
	keys, err := ParseKeys(strings.NewReader("# producers\nacme acme-secret-key-01234 default,acme\n\nops ops-secret-key-0123456 *\n"))
	if err != nil || len(keys) != 2 {
		t.Fatalf("%v %v", keys, err)
	}
	if !keys[0].Allows("acme") || keys[0].Allows("other") || !keys[1].Allows("anything") {
		t.Errorf("refs: %+v", keys)
	}
	if k, ok := authenticate(keys, "ops-secret-key-0123456"); !ok || k.Name != "ops" {
		t.Errorf("authenticate ops: %v %v", k.Name, ok)
	}
	for _, bad := range []string{"", "acme-secret-key-0123", "ops-secret-key-0123456 "} {
		if _, ok := authenticate(keys, bad); ok {
			t.Errorf("authenticate(%q) passed", bad)
		}
	}
	for in, want := range map[string]string{
		"acme short *":                                   "line 1: key \"acme\": the key is shorter than 16 characters",
		"acme acme-secret-key-01234":                     "line 1: want: name key",
		"Acme acme-secret-key-01234 *":                   "line 1: key name \"Acme\"",
		"a k-0123456789abcdef x\na k-0123456789abcdeg *": "line 2: key name \"a\" given twice",
		"a k-0123456789abcdef Bad":                       "line 1: key \"a\": token ref \"Bad\"",
	} {
		_, err := ParseKeys(strings.NewReader(in))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %s", in, err, want)
		} else if strings.Contains(err.Error(), "k-0123456789") || strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: the error shows the key: %v", in, err)
		}
	}
}

// The check in env.do is real: a response off the document is caught.
func TestSpecCatchesAResponseOffTheDocument(t *testing.T) {
	e := newEnv(t)
	if ok, errs := e.spec.ValidateDocument(); !ok {
		for _, err := range errs {
			t.Errorf("docs/intake.openapi.yaml is not valid OpenAPI 3.1: %s: %s", err.Message, err.Reason)
		}
	}
	req, _ := http.NewRequest("POST", "http://127.0.0.1:8081/v1/batches", nil)
	for _, c := range []struct {
		status int
		body   string
	}{
		{201, `{"batch":"b1","enqueued":1,"already_queued":0}`},
		{422, `{"errors":[{"item":"x","field":"f","detail":"d"}]}`},
		{418, `{"error":"teapot"}`},
	} {
		resp := &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(c.body)), Request: req}
		if ok, _ := e.spec.ValidateHttpResponse(req, resp); ok {
			t.Errorf("%d %s passed validation", c.status, c.body)
		}
	}
}

// Twin requests racing with one Idempotency-Key make one batch: the
// others get its answer or a 409 saying it is in progress.
func TestConcurrentTwinsMakeOneBatch(t *testing.T) {
	e := newEnv(t)
	body := e.body("")
	codes := make(chan int, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			code, _, _ := e.do("POST", "/v1/batches", acmeKey, body, "Idempotency-Key", "twin")
			codes <- code
		})
	}
	wg.Wait()
	close(codes)
	created := 0
	for c := range codes {
		switch c {
		case 201:
			created++
		case 409:
		default:
			t.Errorf("twin answered %d", c)
		}
	}
	if n, _ := e.rdb.ZCard(context.Background(), "frameq:batches").Result(); n != 1 || created == 0 {
		t.Errorf("%d batches recorded, %d answers 201; want 1 batch", n, created)
	}
}

// A presigned source URL reaches Redis sealed: no query in any key or
// value; the tasks carry the configured retention.
func TestSourceURLQueryIsSealedInRedis(t *testing.T) {
	e := newEnv(t)
	code, b, _ := e.do("POST", "/v1/batches", acmeKey, e.body(""))
	if code != http.StatusCreated {
		t.Fatalf("POST: %d %s", code, b)
	}
	ctx := context.Background()
	for _, k := range e.rdb.Keys(ctx, "*").Val() {
		var vals []string
		switch e.rdb.Type(ctx, k).Val() {
		case "string":
			vals = []string{e.rdb.Get(ctx, k).Val()}
		case "hash":
			for f, v := range e.rdb.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "zset":
			vals = e.rdb.ZRange(ctx, k, 0, -1).Val()
		case "set":
			vals = e.rdb.SMembers(ctx, k).Val()
		case "list":
			vals = e.rdb.LRange(ctx, k, 0, -1).Val()
		}
		for _, v := range append(vals, k) {
			if strings.Contains(v, "s3cr3t") || strings.Contains(v, "sig=") {
				t.Errorf("Redis key %s holds the source URL's query", k)
			}
		}
	}
	tasks, err := asynq.NewInspectorFromRedisClient(e.rdb).ListPendingTasks(job.SmallQueue("default"))
	if err != nil || len(tasks) != 3 {
		t.Fatalf("pending: %d %v", len(tasks), err)
	}
	for _, tk := range tasks {
		if tk.Retention != time.Hour {
			t.Errorf("task %s retention %v, want the configured 1h", tk.ID, tk.Retention)
		}
	}
}

// Without FRAMEQ_SECRET_KEY such a URL is a 422 naming the item, the
// field and the key, and nothing is enqueued.
func TestSourceURLQueryWithoutKeyIsRefused(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Box = nil })
	code, b, _ := e.do("POST", "/v1/batches", acmeKey, e.body(""))
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("POST: %d %s, want 422", code, b)
	}
	var ans struct{ Errors []ItemProblem }
	mustJSON(t, b, &ans)
	if len(ans.Errors) != 1 || ans.Errors[0].Item != 2 || ans.Errors[0].Field != "source_url" ||
		!strings.Contains(ans.Errors[0].Detail, "FRAMEQ_SECRET_KEY") || strings.Contains(string(b), "s3cr3t") {
		t.Errorf("422 body %s; want item 2, field source_url, naming FRAMEQ_SECRET_KEY, without the secret", b)
	}
	if keys := e.rdb.Keys(context.Background(), "asynq:*:t:*").Val(); len(keys) != 0 {
		t.Errorf("tasks enqueued: %v", keys)
	}
}

// A callback_url with a query is sealed in Redis, or refused without a key.
func TestCallbackURLQueryIsSealedOrRefused(t *testing.T) {
	cb := "https://hooks.example.com:8443/frameq?token=hooksecret"
	e := newEnv(t)
	code, b, _ := e.do("POST", "/v1/batches", acmeKey, e.body(cb))
	if code != http.StatusCreated {
		t.Fatalf("POST: %d %s", code, b)
	}
	var c Created
	mustJSON(t, b, &c)
	raw := e.rdb.HGet(context.Background(), "frameq:batch:{"+c.Batch+"}:meta", "callback").Val()
	if raw == "" || strings.Contains(raw, "hooksecret") {
		t.Errorf("stored callback %q: want it sealed", raw)
	}
	e2 := newEnv(t, func(o *Options) { o.Box = nil })
	code, b, _ = e2.do("POST", "/v1/batches", acmeKey, strings.Replace(e2.body(cb), "?sig=s3cr3t", "", 1))
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"field":"callback_url"`) ||
		!strings.Contains(string(b), "FRAMEQ_SECRET_KEY") || strings.Contains(string(b), "hooksecret") {
		t.Errorf("without a key: %d %s; want 422 naming callback_url and FRAMEQ_SECRET_KEY", code, b)
	}
}
