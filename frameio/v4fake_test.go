package frameio

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testAccount is the fake's one account.
const testAccount = "acc-1"

// fakeV4 models the V4 wire contract (notes/v4contract.md) closely enough
// to drive the client: one account, folders, files, cursor pages, local
// uploads with presigned part PUTs, status and delete.
type fakeV4 struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	nextID  int
	folders map[string]*Folder
	files   map[string]*fakeFile
	reqs    []fakeReq
	// pageLen caps every page (0: the client's page_size).
	pageLen int
	// nextWithSize makes next links carry page_size.
	nextWithSize bool
	// partSizes splits a new file (default: three uneven parts).
	partSizes func(size int64) []int64
	// intercept, when it returns true, has answered the request itself.
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

type fakeFile struct {
	File
	parts [][]byte
}

// fakeReq is what the fake saw of one request.
type fakeReq struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

func newFakeV4(t *testing.T) *fakeV4 {
	f := &fakeV4{t: t, folders: map[string]*Folder{}, files: map[string]*fakeFile{}}
	f.partSizes = func(size int64) []int64 {
		if size < 3 {
			return []int64{size}
		}
		a, b := size/2, size/3
		return []int64{a, b, size - a - b}
	}
	f.folders["root"] = &Folder{ID: "root", Name: "root", Type: "folder"}
	mux := http.NewServeMux()
	api := "/v4/accounts/{a}/"
	mux.HandleFunc("GET /v4/me", f.me)
	mux.HandleFunc("GET /v4/accounts", f.accounts)
	mux.HandleFunc("GET "+api+"folders/{id}", f.getFolder)
	mux.HandleFunc("POST "+api+"folders/{id}/folders", f.createFolder)
	mux.HandleFunc("GET "+api+"folders/{id}/folders", f.listFolders)
	mux.HandleFunc("GET "+api+"folders/{id}/files", f.listFiles)
	mux.HandleFunc("POST "+api+"folders/{id}/files/local_upload", f.localUpload)
	mux.HandleFunc("POST "+api+"folders/{id}/files/remote_upload", f.remoteUpload)
	mux.HandleFunc("GET "+api+"files/{id}", f.getFile)
	mux.HandleFunc("GET "+api+"files/{id}/status", f.status)
	mux.HandleFunc("DELETE "+api+"files/{id}", f.deleteFile)
	mux.HandleFunc("PUT /upload/{id}/{n}", f.putPart)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		f.mu.Lock()
		f.reqs = append(f.reqs, fakeReq{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
		f.mu.Unlock()
		if f.intercept != nil && f.intercept(w, r) {
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/upload/") {
			if r.Header.Get("Authorization") != "Bearer "+testToken {
				v4Error(w, 401, "Unauthorized", "invalid token", "")
				return
			}
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// client returns a V4 for the fake's account; mutate adjusts the options.
func (f *fakeV4) client(t *testing.T, mutate ...func(*Options)) *V4 {
	t.Helper()
	o := Options{BaseURL: f.srv.URL + "/v4", Token: testToken}
	for _, m := range mutate {
		m(&o)
	}
	v, err := NewV4(o)
	if err != nil {
		t.Fatal(err)
	}
	return v.ForAccount(testAccount)
}

func (f *fakeV4) requests() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeReq(nil), f.reqs...)
}

func (f *fakeV4) id(prefix string) string {
	f.nextID++
	return fmt.Sprintf("%s-%04d", prefix, f.nextID)
}

// v4Error answers status with the V4 error shape and rate-limit headers.
func v4Error(w http.ResponseWriter, status int, title, detail, pointer string) {
	e := map[string]any{"title": title, "detail": detail}
	if pointer != "" {
		e["source"] = map[string]string{"pointer": pointer}
	}
	b, _ := json.Marshal(map[string]any{"errors": []any{e}})
	writeJSON(w, status, string(b))
}

func writeData(w http.ResponseWriter, status int, v any, extra map[string]any) {
	m := map[string]any{"data": v}
	for k, x := range extra {
		m[k] = x
	}
	b, _ := json.Marshal(m)
	writeJSON(w, status, string(b))
}

// account answers 404 for any account but the fake's.
func (f *fakeV4) account(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("a") != testAccount {
		v4Error(w, 404, "Not Found", "account not found", "")
		return false
	}
	return true
}

// decode reads {"data":{...}} allowing only the given fields.
func decode(w http.ResponseWriter, r *http.Request, into any, fields ...string) bool {
	var raw map[string]map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil || raw["data"] == nil {
		v4Error(w, 422, "Invalid request", "Missing field: data", "/data")
		return false
	}
	for k := range raw["data"] {
		ok := false
		for _, f := range fields {
			ok = ok || f == k
		}
		if !ok {
			v4Error(w, 422, "Invalid request", "Unexpected field: "+k, "/data/"+k)
			return false
		}
	}
	b, _ := json.Marshal(raw["data"])
	json.Unmarshal(b, into)
	return true
}

func (f *fakeV4) me(w http.ResponseWriter, r *http.Request) {
	writeData(w, 200, Profile{ID: "user-1", Name: "Ada", Email: "ada@example.com"}, nil)
}

func (f *fakeV4) accounts(w http.ResponseWriter, r *http.Request) {
	writeData(w, 200, []Account{{ID: testAccount, DisplayName: "Acme"}}, map[string]any{"links": map[string]any{"next": nil}})
}

func (f *fakeV4) getFolder(w http.ResponseWriter, r *http.Request) {
	if !f.account(w, r) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fo, ok := f.folders[r.PathValue("id")]
	if !ok {
		v4Error(w, 404, "Not Found", "folder not found", "")
		return
	}
	writeData(w, 200, fo, nil)
}

func (f *fakeV4) createFolder(w http.ResponseWriter, r *http.Request) {
	var in struct{ Name string }
	if !f.account(w, r) || !decode(w, r, &in, "name") {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	parent := r.PathValue("id")
	if _, ok := f.folders[parent]; !ok {
		v4Error(w, 404, "Not Found", "folder not found", "")
		return
	}
	fo := &Folder{ID: f.id("folder"), Name: in.Name, Type: "folder", ParentID: parent, CreatedAt: time.Now().UTC()}
	f.folders[fo.ID] = fo
	writeData(w, 201, fo, nil)
}

func (f *fakeV4) listFolders(w http.ResponseWriter, r *http.Request) {
	f.list(w, r, func(parent string) []any {
		var out []any
		for _, fo := range f.folders {
			if fo.ParentID == parent {
				out = append(out, fo)
			}
		}
		return out
	})
}

func (f *fakeV4) listFiles(w http.ResponseWriter, r *http.Request) {
	f.list(w, r, func(parent string) []any {
		var out []any
		for _, fi := range f.files {
			if fi.ParentID == parent {
				c := fi.File
				c.UploadURLs = nil
				out = append(out, c)
			}
		}
		return out
	})
}

// list pages items by id with an opaque cursor: the next link is the
// request path with after= (and page_size only when nextWithSize).
func (f *fakeV4) list(w http.ResponseWriter, r *http.Request, items func(parent string) []any) {
	if !f.account(w, r) {
		return
	}
	q := r.URL.Query()
	size, err := strconv.Atoi(q.Get("page_size"))
	if q.Has("page_size") && (err != nil || size < 1 || size > 500) {
		v4Error(w, 422, "Invalid request", "page_size must be 1..500", "")
		return
	}
	if size == 0 {
		size = 50
	}
	if f.pageLen > 0 {
		size = min(size, f.pageLen)
	}
	start := 0
	if a := q.Get("after"); a != "" {
		b, err := base64.URLEncoding.DecodeString(a)
		if err != nil {
			v4Error(w, 422, "Invalid request", "bad cursor", "")
			return
		}
		start, _ = strconv.Atoi(strings.TrimPrefix(string(b), "cursor:"))
	}
	f.mu.Lock()
	all := items(r.PathValue("id"))
	f.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return fmt.Sprint(all[i]) < fmt.Sprint(all[j]) })
	end := min(start+size, len(all))
	page := all[min(start, len(all)):end]
	if page == nil {
		page = []any{}
	}
	var next any
	if end < len(all) {
		link := r.URL.Path + "?after=" + base64.URLEncoding.EncodeToString([]byte("cursor:"+strconv.Itoa(end)))
		if f.nextWithSize {
			link += "&page_size=" + q.Get("page_size")
		}
		next = link
	}
	writeData(w, 200, page, map[string]any{"links": map[string]any{"next": next}})
}

// mediaType is the server's choice from the name's extension.
func mediaType(name string) string {
	switch {
	case strings.HasSuffix(name, ".mov"):
		return "video/quicktime"
	case strings.HasSuffix(name, ".txt"):
		return "text/plain"
	}
	return "application/octet-stream"
}

func (f *fakeV4) localUpload(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name     string
		FileSize int64 `json:"file_size"`
	}
	if !f.account(w, r) || !decode(w, r, &in, "name", "file_size") {
		return
	}
	if in.FileSize < 1 {
		v4Error(w, 422, "Invalid request", "must be at least 1", "/data/file_size")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fi := &fakeFile{File: File{ID: f.id("file"), Name: in.Name, Type: "file", ParentID: r.PathValue("id"),
		CreatedAt: time.Now().UTC(), FileSize: in.FileSize, MediaType: mediaType(in.Name), Status: FileCreated}}
	for i, s := range f.partSizes(in.FileSize) {
		fi.UploadURLs = append(fi.UploadURLs, UploadURL{Size: s,
			URL: fmt.Sprintf("%s/upload/%s/%d?X-Amz-Expires=86400&X-Amz-Signature=%s", f.srv.URL, fi.ID, i, testSig)})
	}
	fi.parts = make([][]byte, len(fi.UploadURLs))
	f.files[fi.ID] = fi
	writeData(w, 201, fi.File, nil)
}

func (f *fakeV4) remoteUpload(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name      string
		SourceURL string `json:"source_url"`
	}
	if !f.account(w, r) || !decode(w, r, &in, "name", "source_url") {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fi := &fakeFile{File: File{ID: f.id("file"), Name: in.Name, Type: "file", ParentID: r.PathValue("id"),
		CreatedAt: time.Now().UTC(), MediaType: mediaType(in.Name), Status: FileCreated}}
	f.files[fi.ID] = fi
	writeData(w, 202, fi.File, map[string]any{"links": map[string]any{"status": "/v4/accounts/" + testAccount + "/files/" + fi.ID + "/status"}})
}

func (f *fakeV4) file(w http.ResponseWriter, r *http.Request) *fakeFile {
	if !f.account(w, r) {
		return nil
	}
	fi, ok := f.files[r.PathValue("id")]
	if !ok {
		v4Error(w, 404, "Not Found", "file not found", "")
		return nil
	}
	return fi
}

func (f *fakeV4) getFile(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fi := f.file(w, r); fi != nil {
		c := fi.File
		c.UploadURLs = nil
		writeData(w, 200, c, nil)
	}
}

func (f *fakeV4) status(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fi := f.file(w, r); fi != nil {
		writeData(w, 200, UploadStatus{ID: fi.ID, Filetype: fi.MediaType, UploadComplete: fi.Uploaded()}, nil)
	}
}

func (f *fakeV4) deleteFile(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fi := f.file(w, r); fi != nil {
		delete(f.files, fi.ID)
		w.WriteHeader(http.StatusNoContent)
	}
}

// putPart checks what S3 checks of a presigned V4 part PUT.
func (f *fakeV4) putPart(w http.ResponseWriter, r *http.Request) {
	deny := func(why string) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "<Error><Code>AccessDenied</Code><Message>%s</Message></Error>", why)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, ok := f.files[r.PathValue("id")]
	n, _ := strconv.Atoi(r.PathValue("n"))
	switch {
	case !ok || n < 0 || n >= len(fi.UploadURLs):
		deny("no such upload")
		return
	case r.URL.Query().Get("X-Amz-Signature") != testSig:
		deny("bad signature")
		return
	case r.Header.Get("X-Amz-Acl") != "private", r.Header.Get("Content-Type") != fi.MediaType:
		deny("signed headers differ")
		return
	}
	b, _ := io.ReadAll(r.Body)
	if int64(len(b)) != fi.UploadURLs[n].Size {
		deny(fmt.Sprintf("part %d is %d bytes, want %d", n, len(b), fi.UploadURLs[n].Size))
		return
	}
	fi.parts[n] = b
	done := true
	for _, p := range fi.parts {
		done = done && p != nil
	}
	if done {
		fi.Status = FileUploaded
	}
	w.WriteHeader(http.StatusOK)
}

// content is file id's bytes as assembled from its parts.
func (f *fakeV4) content(id string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b []byte
	for _, p := range f.files[id].parts {
		b = append(b, p...)
	}
	return b
}
