package frameiosim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// apiAsset is an asset as a client decodes it, written independently of
// the server's types so that field names are checked.
type apiAsset struct {
	ID                string     `json:"id"`
	Name              string     `json:"name"`
	Type              string     `json:"type"`
	ParentID          *string    `json:"parent_id"`
	ProjectID         string     `json:"project_id"`
	Filesize          int64      `json:"filesize"`
	Filetype          string     `json:"filetype"`
	UploadURLs        []string   `json:"upload_urls"`
	InsertedAt        time.Time  `json:"inserted_at"`
	UploadCompletedAt *time.Time `json:"upload_completed_at"`
	Source            *struct {
		URL string `json:"url"`
	} `json:"source"`
}

type apiErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Errors  []struct {
		Code   int    `json:"code"`
		Status int    `json:"status"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

// tc is a minimal HTTP client for tests: real requests over loopback.
type tc struct {
	t     testing.TB
	base  string // API base URL
	token string
	hc    *http.Client
}

func newTC(t testing.TB, s *Server, token string) *tc {
	return &tc{t: t, base: s.URL(), token: token, hc: &http.Client{Timeout: 30 * time.Second}}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (c *tc) do(method, path string, body any) resp {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	r, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp{status: r.StatusCode, header: r.Header, body: b}
}

func (c *tc) create(parent string, body any) resp {
	c.t.Helper()
	return c.do(http.MethodPost, "/assets/"+parent+"/children", body)
}

// mustCreate creates and decodes, failing unless 201.
func (c *tc) mustCreate(parent string, body any) apiAsset {
	c.t.Helper()
	r := c.create(parent, body)
	if r.status != http.StatusCreated {
		c.t.Fatalf("create under %s: %d %s", parent, r.status, r.body)
	}
	return decode[apiAsset](c.t, r.body)
}

func (c *tc) folder(parent, name string) apiAsset {
	c.t.Helper()
	return c.mustCreate(parent, map[string]any{"type": "folder", "name": name})
}

func (c *tc) file(parent, name string, size int64) apiAsset {
	c.t.Helper()
	return c.mustCreate(parent, map[string]any{"type": "file", "name": name, "filesize": size, "filetype": "video/mp4"})
}

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, b, err)
	}
	return v
}

// wantAPIError checks status and Frame.io's error shape, and that the
// detail mentions want.
func wantAPIError(t testing.TB, r resp, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	e := decode[apiErrorBody](t, r.body)
	if e.Code != status || len(e.Errors) != 1 || e.Errors[0].Status != status || e.Errors[0].Code != status || e.Errors[0].Title == "" || e.Message == "" {
		t.Fatalf("error body not in Frame.io's shape: %s", r.body)
	}
	if !strings.Contains(e.Errors[0].Detail, want) {
		t.Fatalf("detail %q does not mention %q", e.Errors[0].Detail, want)
	}
}

// put sends one part the way a correct client does, with optional header
// edits (a "" value deletes the header).
func put(t testing.TB, url string, body []byte, ctype string, edit map[string]string) resp {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("x-amz-acl", "private")
	for k, v := range edit {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT part: %v", err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{status: r.StatusCode, header: r.Header, body: b}
}

// parts splits data by the client's formula for n upload URLs.
func parts(data []byte, n int) [][]byte {
	size := int64(len(data))
	ps := (size + int64(n) - 1) / int64(n)
	out := make([][]byte, n)
	for i := range out {
		start := min(int64(i)*ps, size)
		end := min(start+ps, size)
		out[i] = data[start:end]
	}
	return out
}

// unlimited is a config whose limits never get in the way of a test.
func unlimited() Config {
	return Config{CallLimit: 1_000_000, CreateLimit: 1_000_000}
}

func readDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, err
}
