package upload

import (
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

	"github.com/frameq/frameq/frameio"
)

// The fake's account and token.
const (
	v4Account = "acc-1"
	v4Token   = "v4-T0kenThatMustNeverLeak"
)

// v4Fake models the V4 wire contract (notes/v4contract.md) for the
// adapter: folders, files, two-item cursor pages, local uploads split in
// uneven parts whose PUTs are checked as S3 checks them, status, delete.
// The simulator-driven tests come with frameiosim's V4.
type v4Fake struct {
	srv *httptest.Server

	mu      sync.Mutex
	n       int
	folders map[string]*frameio.Folder
	files   map[string]*v4FakeFile
	creates int // local and remote uploads
	puts    int // accepted part PUTs
	deletes int
	// failed makes the status route answer upload_failed.
	failed bool
}

type v4FakeFile struct {
	frameio.File
	urls []frameio.UploadURL
	got  [][]byte
}

func newV4Fake(t *testing.T) *v4Fake {
	f := &v4Fake{folders: map[string]*frameio.Folder{}, files: map[string]*v4FakeFile{}}
	f.folders["root"] = &frameio.Folder{ID: "root", Name: "root", Type: "folder"}
	mux := http.NewServeMux()
	a := "/v4/accounts/" + v4Account + "/"
	mux.HandleFunc("POST "+a+"folders/{id}/folders", f.createFolder)
	mux.HandleFunc("GET "+a+"folders/{id}/folders", f.list(func(parent string) []any {
		var out []any
		for _, fo := range f.folders {
			if fo.ParentID == parent {
				out = append(out, fo)
			}
		}
		return out
	}))
	mux.HandleFunc("GET "+a+"folders/{id}/files", f.list(func(parent string) []any {
		var out []any
		for _, fi := range f.files {
			if fi.ParentID == parent {
				out = append(out, fi.File)
			}
		}
		return out
	}))
	mux.HandleFunc("POST "+a+"folders/{id}/files/local_upload", f.create(false))
	mux.HandleFunc("POST "+a+"folders/{id}/files/remote_upload", f.create(true))
	mux.HandleFunc("GET "+a+"files/{id}", f.withFile(func(w http.ResponseWriter, fi *v4FakeFile) { data(w, 200, fi.File, nil) }))
	mux.HandleFunc("GET "+a+"files/{id}/status", f.withFile(func(w http.ResponseWriter, fi *v4FakeFile) {
		data(w, 200, map[string]any{"id": fi.ID, "filetype": fi.MediaType, "uploaded_at": nil, "upload_completed_at": nil,
			"upload_complete": fi.Uploaded() && !f.failed, "upload_failed": f.failed}, nil)
	}))
	mux.HandleFunc("DELETE "+a+"files/{id}", f.withFile(func(w http.ResponseWriter, fi *v4FakeFile) {
		delete(f.files, fi.ID)
		f.deletes++
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("PUT /s3/{id}/{n}", f.put)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/s3/") && r.Header.Get("Authorization") != "Bearer "+v4Token {
			v4Err(w, 401, "Unauthorized", "bad token")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// client returns a frameio.V4 for the fake's account.
func (f *v4Fake) client(t *testing.T) *frameio.V4 {
	t.Helper()
	c, err := frameio.NewV4(frameio.Options{BaseURL: f.srv.URL + "/v4", Token: v4Token})
	if err != nil {
		t.Fatal(err)
	}
	return c.ForAccount(v4Account)
}

func v4Err(w http.ResponseWriter, status int, title, detail string) {
	b, _ := json.Marshal(map[string]any{"errors": []any{map[string]string{"title": title, "detail": detail}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func data(w http.ResponseWriter, status int, v any, links any) {
	m := map[string]any{"data": v}
	if links != nil {
		m["links"] = links
	}
	b, _ := json.Marshal(m)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func (f *v4Fake) id(kind string) string {
	f.n++
	return fmt.Sprintf("%s-%04d", kind, f.n)
}

func (f *v4Fake) createFolder(w http.ResponseWriter, r *http.Request) {
	var in struct{ Data struct{ Name string } }
	json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.folders[r.PathValue("id")]; !ok {
		v4Err(w, 404, "Not Found", "folder not found")
		return
	}
	fo := &frameio.Folder{ID: f.id("folder"), Name: in.Data.Name, Type: "folder", ParentID: r.PathValue("id"), CreatedAt: time.Now().UTC()}
	f.folders[fo.ID] = fo
	data(w, 201, fo, nil)
}

// list pages two items at a time; the next link omits page_size.
func (f *v4Fake) list(items func(parent string) []any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		if _, ok := f.folders[r.PathValue("id")]; !ok {
			f.mu.Unlock()
			v4Err(w, 404, "Not Found", "folder not found")
			return
		}
		all := items(r.PathValue("id"))
		f.mu.Unlock()
		sort.Slice(all, func(i, j int) bool { return fmt.Sprint(all[i]) < fmt.Sprint(all[j]) })
		start, _ := strconv.Atoi(r.URL.Query().Get("after"))
		end := min(start+2, len(all))
		page := append([]any{}, all[min(start, end):end]...)
		var next any
		if end < len(all) {
			next = r.URL.Path + "?after=" + strconv.Itoa(end)
		}
		data(w, 200, page, map[string]any{"next": next})
	}
}

// create answers local_upload (parts of 5, 3 and the rest; media type
// from the extension) or remote_upload.
func (f *v4Fake) create(remote bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Data struct {
				Name      string `json:"name"`
				FileSize  int64  `json:"file_size"`
				SourceURL string `json:"source_url"`
			}
		}
		json.NewDecoder(r.Body).Decode(&in)
		mt := "application/octet-stream"
		if strings.HasSuffix(in.Data.Name, ".mov") {
			mt = "video/quicktime"
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.creates++
		fi := &v4FakeFile{File: frameio.File{ID: f.id("file"), Name: in.Data.Name, Type: "file", ParentID: r.PathValue("id"),
			CreatedAt: time.Now().UTC(), FileSize: in.Data.FileSize, MediaType: mt, Status: frameio.FileCreated}}
		f.files[fi.ID] = fi
		if remote {
			data(w, 202, fi.File, map[string]any{"status": "/v4/accounts/" + v4Account + "/files/" + fi.ID + "/status"})
			return
		}
		for i, rest := 0, in.Data.FileSize; rest > 0; i++ {
			n := min(rest, []int64{5, 3}[min(i, 1)])
			if i >= 2 {
				n = rest
			}
			fi.urls = append(fi.urls, frameio.UploadURL{Size: n, URL: fmt.Sprintf("%s/s3/%s/%d?X-Amz-Signature=s3cr3tSignatureValue", f.srv.URL, fi.ID, i)})
			rest -= n
		}
		fi.got = make([][]byte, len(fi.urls))
		out := fi.File
		out.UploadURLs = fi.urls
		data(w, 201, out, nil)
	}
}

func (f *v4Fake) withFile(h func(http.ResponseWriter, *v4FakeFile)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		fi, ok := f.files[r.PathValue("id")]
		if !ok {
			v4Err(w, 404, "Not Found", "file not found")
			return
		}
		h(w, fi)
	}
}

func (f *v4Fake) put(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, ok := f.files[r.PathValue("id")]
	n, _ := strconv.Atoi(r.PathValue("n"))
	if !ok || n >= len(fi.urls) || r.Header.Get("Content-Type") != fi.MediaType || r.Header.Get("X-Amz-Acl") != "private" ||
		r.Header.Get("Authorization") != "" || int64(len(b)) != fi.urls[n].Size {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")
		return
	}
	fi.got[n] = b
	f.puts++
	done := true
	for _, g := range fi.got {
		done = done && g != nil
	}
	if done {
		fi.Status = frameio.FileUploaded
	}
}

// content is file id's bytes, "" unless every part is in.
func (f *v4Fake) content(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, ok := f.files[id]
	if !ok || !fi.Uploaded() {
		return ""
	}
	var s strings.Builder
	for _, g := range fi.got {
		s.Write(g)
	}
	return s.String()
}

// filesNamed returns the ids of the files named name.
func (f *v4Fake) filesNamed(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id, fi := range f.files {
		if fi.Name == name {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// counts returns the creates, accepted part PUTs and deletes so far.
func (f *v4Fake) counts() (creates, puts, deletes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates, f.puts, f.deletes
}

// setFailed makes the status route answer upload_failed.
func (f *v4Fake) setFailed() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = true
}

// setFolderTime backdates folder id.
func (f *v4Fake) setFolderTime(id string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.folders[id].CreatedAt = at
}
