package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/docs"
	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/seal"
	"github.com/frameq/frameq/tasks/notify"
)

// Keys of the test server: acme may use only "default"; ops every ref.
const (
	acmeKey = "acme-secret-key-0123456789"
	opsKey  = "ops-secret-key-0123456789ab"
)

type env struct {
	t    *testing.T
	rdb  *redis.Client
	srv  *Server
	http *httptest.Server
	spec validator.Validator
	dir  string // media files
}

func newEnv(t *testing.T, tweak ...func(*Options)) *env {
	t.Helper()
	rdb := redistest.Start(t).Client(t)
	acme, err := NewKey("acme", acmeKey, []string{"default"})
	if err != nil {
		t.Fatal(err)
	}
	ops, err := NewKey("ops", opsKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := notify.ParseHosts([]string{"127.0.0.1", "hooks.example.com:8443"})
	if err != nil {
		t.Fatal(err)
	}
	box, err := seal.New(bytes.Repeat([]byte{9}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Keys: []Key{acme, ops}, Hosts: hosts, Log: zerolog.Nop(), Box: box, Retention: time.Hour}
	for _, f := range tweak {
		f(&o)
	}
	srv, err := New(rdb, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	doc, err := libopenapi.NewDocument(docs.IntakeOpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("openapi: %v", errs)
	}
	dir := t.TempDir()
	for _, name := range []string{"a.mov", "b.mov"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &env{t: t, rdb: rdb, srv: srv, http: hs, spec: v, dir: dir}
}

// do sends a request and checks the real response against the OpenAPI
// document; it returns the status, the body and the response headers.
func (e *env) do(method, path, key string, body string, hdr ...string) (int, []byte, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.conforms(req, resp, b)
	return resp.StatusCode, b, resp.Header
}

// conforms validates a response (status, content type, body) against the
// document.
func (e *env) conforms(req *http.Request, resp *http.Response, body []byte) {
	e.t.Helper()
	vreq := req.Clone(context.Background())
	vreq.URL.Scheme, vreq.URL.Host = "http", "127.0.0.1:8081" // the document's server
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := e.spec.ValidateHttpResponse(vreq, resp); !ok {
		for _, err := range errs {
			e.t.Errorf("%s %s → %d does not conform to docs/intake.openapi.yaml: %s: %s (%v)", req.Method, req.URL.Path, resp.StatusCode, err.Message, err.Reason, err.SchemaValidationErrors)
		}
		e.t.Logf("body: %s", body)
	}
}

// snapshot is every key in Redis with its serialized value.
func (e *env) snapshot() map[string]string {
	e.t.Helper()
	ctx := context.Background()
	keys, err := e.rdb.Keys(ctx, "*").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		v, err := e.rdb.Dump(ctx, k).Result()
		if err != nil {
			e.t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

func (e *env) file(name string) string { return filepath.Join(e.dir, name) }

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}
