package frameiosim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client-side V4 shapes, written independently of the server's types so
// that field names are checked.
type v4Folder struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	ParentID    *string `json:"parent_id"`
	ProjectID   string  `json:"project_id"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
	CoverFileID *string `json:"cover_file_id"`
	ViewURL     string  `json:"view_url"`
}

type v4File struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	ParentID   string `json:"parent_id"`
	ProjectID  string `json:"project_id"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
	FileSize   int64  `json:"file_size"`
	MediaType  string `json:"media_type"`
	Status     string `json:"status"`
	ViewURL    string `json:"view_url"`
	UploadURLs []struct {
		Size int64  `json:"size"`
		URL  string `json:"url"`
	} `json:"upload_urls"`
}

type v4Status struct {
	ID                string  `json:"id"`
	Filetype          string  `json:"filetype"`
	UploadedAt        *string `json:"uploaded_at"`
	UploadCompletedAt *string `json:"upload_completed_at"`
	UploadComplete    bool    `json:"upload_complete"`
	UploadFailed      bool    `json:"upload_failed"`
}

type v4Links struct {
	Next   *string `json:"next"`
	Status string  `json:"status"`
}

type v4One[T any] struct {
	Data  T       `json:"data"`
	Links v4Links `json:"links"`
}

type v4Errs struct {
	Errors []struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Source *struct {
			Pointer string `json:"pointer"`
		} `json:"source"`
	} `json:"errors"`
}

// v4c is a minimal V4 test client over loopback.
type v4c struct {
	t      testing.TB
	origin string
	acct   string
	token  string
	legacy bool // send the legacy-token header
	hc     *http.Client
}

func newV4C(t testing.TB, s *Server, token string) *v4c {
	return &v4c{t: t, origin: strings.TrimSuffix(s.V4URL(), "/v4"), acct: s.tokens[token], token: token,
		hc: &http.Client{Timeout: 30 * time.Second}}
}

// do calls path, which starts with /v4 (as links.next does).
func (c *v4c) do(method, path string, body any) resp {
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
	req, err := http.NewRequest(method, c.origin+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.legacy {
		req.Header.Set("x-frameio-legacy-token-auth", "true")
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

// p is the account path prefix plus rest.
func (c *v4c) p(rest string) string { return "/v4/accounts/" + c.acct + rest }

func data(fields map[string]any) map[string]any { return map[string]any{"data": fields} }

func (c *v4c) mkFolder(parent, name string) v4Folder {
	c.t.Helper()
	r := c.do(http.MethodPost, c.p("/folders/"+parent+"/folders"), data(map[string]any{"name": name}))
	if r.status != http.StatusCreated {
		c.t.Fatalf("create folder %q: %d %s", name, r.status, r.body)
	}
	return decode[v4One[v4Folder]](c.t, r.body).Data
}

func (c *v4c) mkFile(parent, name string, size int64) v4File {
	c.t.Helper()
	r := c.do(http.MethodPost, c.p("/folders/"+parent+"/files/local_upload"), data(map[string]any{"name": name, "file_size": size}))
	if r.status != http.StatusCreated {
		c.t.Fatalf("local_upload %q: %d %s", name, r.status, r.body)
	}
	return decode[v4One[v4File]](c.t, r.body).Data
}

func (c *v4c) status(id string) v4Status {
	c.t.Helper()
	r := c.do(http.MethodGet, c.p("/files/"+id+"/status"), nil)
	if r.status != http.StatusOK {
		c.t.Fatalf("status %s: %d %s", id, r.status, r.body)
	}
	return decode[v4One[v4Status]](c.t, r.body).Data
}

// putAll PUTs data into f's parts by their sizes, correctly.
func putAll(t testing.TB, f v4File, data []byte) {
	t.Helper()
	off := int64(0)
	for i, u := range f.UploadURLs {
		if r := put(t, u.URL, data[off:off+u.Size], f.MediaType, nil); r.status != http.StatusOK {
			t.Fatalf("part %d: %d %s", i, r.status, r.body)
		}
		off += u.Size
	}
	if off != int64(len(data)) {
		t.Fatalf("part sizes sum to %d, file has %d bytes", off, len(data))
	}
}

// wantV4Error checks the status, V4's error shape, that the detail
// mentions want, and the pointer ("" for none).
func wantV4Error(t testing.TB, r resp, status int, want, pointer string) v4Errs {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	e := decode[v4Errs](t, r.body)
	if len(e.Errors) != 1 || e.Errors[0].Title == "" || e.Errors[0].Detail == "" {
		t.Fatalf("error body not in V4's shape: %s", r.body)
	}
	if !strings.Contains(e.Errors[0].Detail, want) {
		t.Fatalf("detail %q does not mention %q", e.Errors[0].Detail, want)
	}
	got := ""
	if e.Errors[0].Source != nil {
		got = e.Errors[0].Source.Pointer
	}
	if got != pointer {
		t.Fatalf("pointer %q, want %q: %s", got, pointer, r.body)
	}
	if strings.Contains(string(r.body), `"code"`) {
		t.Fatalf("V4 error carries v2's code field: %s", r.body)
	}
	return e
}

// wantRateHeaders checks the x-ratelimit-* headers of an answer.
func wantRateHeaders(t testing.TB, r resp, limit string, windowMS string) {
	t.Helper()
	if r.header.Get("x-ratelimit-limit") != limit || r.header.Get("x-ratelimit-window") != windowMS || r.header.Get("x-ratelimit-remaining") == "" {
		t.Fatalf("rate headers limit=%q window=%q remaining=%q, want %s per %s ms", r.header.Get("x-ratelimit-limit"),
			r.header.Get("x-ratelimit-window"), r.header.Get("x-ratelimit-remaining"), limit, windowMS)
	}
}

// v4Unlimited lifts every limit out of a test's way.
func v4Unlimited() Config {
	c := unlimited()
	c.V4Limits = map[string]Limit{}
	for name := range DefaultV4Limits() {
		c.V4Limits[name] = Limit{Limit: 1_000_000}
	}
	return c
}
