package frameiosim

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAuthRejectsMissingAndUnknownTokens(t *testing.T) {
	s := StartTest(t, Config{})
	cases := []struct {
		name, header, want string
	}{
		{"missing", "", "missing bearer token"},
		{"basic scheme", "Basic dev-token", "missing bearer token"},
		{"empty bearer", "Bearer ", "missing bearer token"},
		{"unknown", "Bearer not-a-token-42", "invalid API token"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.URL()+"/me", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Body.Close()
			b := readAll(t, r)
			wantAPIError(t, resp{status: r.StatusCode, body: b}, http.StatusUnauthorized, tt.want)
			if strings.Contains(string(b), "not-a-token-42") {
				t.Fatalf("the token leaked into the body: %s", b)
			}
			if r.Header.Get("x-ratelimit-limit") != "" {
				t.Fatalf("401 before auth carries rate headers")
			}
		})
	}
	if st := s.Stats(); st.Calls != 0 || st.RateLimited != 0 {
		t.Fatalf("unauthenticated calls were counted: %+v", st)
	}
}

func TestMe(t *testing.T) {
	s := StartTest(t, Config{Tokens: map[string]string{"tok-a": "acct-a", "tok-b": "acct-b"}})
	for tok, acct := range map[string]string{"tok-a": "acct-a", "tok-b": "acct-b"} {
		r := newTC(t, s, tok).do(http.MethodGet, "/me", nil)
		if r.status != http.StatusOK {
			t.Fatalf("me: %d %s", r.status, r.body)
		}
		me := decode[map[string]string](t, r.body)
		if me["account_id"] != acct || me["id"] == "" || me["name"] == "" || !strings.Contains(me["email"], "@") {
			t.Fatalf("me for %s: %v", acct, me)
		}
		if r.header.Get("x-ratelimit-limit") != "50" || r.header.Get("x-ratelimit-window") != "1000" {
			t.Fatalf("me rate headers: %v", r.header)
		}
	}
	if s.RootFolder("tok-a") == s.RootFolder("tok-b") || s.RootFolder("tok-a") == "" || s.RootFolder("nope") != "" {
		t.Fatal("each account needs its own root folder; unknown tokens none")
	}
}

func TestGetAsset(t *testing.T) {
	s := StartTest(t, Config{Tokens: map[string]string{"tok-a": "acct-a", "tok-b": "acct-b"}})
	a, b := newTC(t, s, "tok-a"), newTC(t, s, "tok-b")
	root := s.RootFolder("tok-a")

	r := a.do(http.MethodGet, "/assets/"+root, nil)
	got := decode[apiAsset](t, r.body)
	if r.status != http.StatusOK || got.Type != "folder" || got.ParentID != nil || got.ProjectID == "" {
		t.Fatalf("root: %d %s", r.status, r.body)
	}
	f := a.file(root, "clip.mp4", 10)
	r = a.do(http.MethodGet, "/assets/"+f.ID, nil)
	got = decode[apiAsset](t, r.body)
	if got.ID != f.ID || got.Name != "clip.mp4" || got.Type != "file" || *got.ParentID != root ||
		got.Filesize != 10 || got.Filetype != "video/mp4" || len(got.UploadURLs) != 1 ||
		got.UploadCompletedAt != nil || got.InsertedAt.IsZero() || got.ProjectID != f.ProjectID {
		t.Fatalf("file: %s", r.body)
	}
	if !strings.Contains(string(r.body), `"upload_completed_at":null`) {
		t.Fatalf("upload_completed_at must be present and null: %s", r.body)
	}
	d := a.folder(root, "dailies")
	if len(d.UploadURLs) != 0 || strings.Contains(string(a.do(http.MethodGet, "/assets/"+d.ID, nil).body), "upload_urls") {
		t.Fatal("folders never get upload_urls")
	}
	wantAPIError(t, a.do(http.MethodGet, "/assets/no-such-id", nil), http.StatusNotFound, "no-such-id")
	wantAPIError(t, b.do(http.MethodGet, "/assets/"+f.ID, nil), http.StatusForbidden, f.ID)
}

func TestCreateRejectsBadInput(t *testing.T) {
	s := StartTest(t, unlimited())
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	file := c.file(root, "x.mp4", 1)
	cases := []struct {
		name   string
		parent string
		body   any
		status int
		field  string
	}{
		{"malformed json", root, `{"type":`, 422, "body"},
		{"empty body", root, ``, 422, "body"},
		{"not an object", root, `[1]`, 422, "body"},
		{"bad type", root, map[string]any{"type": "album", "name": "x"}, 422, "type"},
		{"missing type", root, map[string]any{"name": "x"}, 422, "type"},
		{"empty name", root, map[string]any{"type": "folder", "name": ""}, 422, "name"},
		{"slash in name", root, map[string]any{"type": "folder", "name": "a/b"}, 422, "name"},
		{"NUL in name", root, map[string]any{"type": "folder", "name": "a\x00b"}, 422, "name"},
		{"control character in name", root, map[string]any{"type": "file", "name": "bad\x01name.mov", "filesize": 1}, 422, "control character"},
		{"long name", root, map[string]any{"type": "folder", "name": strings.Repeat("n", 256)}, 422, "name"},
		{"name not a string", root, `{"type":"folder","name":7}`, 422, "name"},
		{"missing filesize", root, map[string]any{"type": "file", "name": "f"}, 422, "filesize"},
		{"negative filesize", root, map[string]any{"type": "file", "name": "f", "filesize": -1}, 422, "filesize"},
		{"filesize a string", root, `{"type":"file","name":"f","filesize":"9"}`, 422, "filesize"},
		{"huge filesize", root, map[string]any{"type": "file", "name": "f", "filesize": int64(6) << 40}, 422, "filesize"},
		{"bad source url", root, map[string]any{"type": "file", "name": "f", "source": map[string]string{"url": "ftp:/x"}}, 422, "source.url"},
		{"parent is a file", file.ID, map[string]any{"type": "folder", "name": "x"}, 422, "parent_id"},
		{"unknown parent", "nope", map[string]any{"type": "folder", "name": "x"}, 404, "nope"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			wantAPIError(t, c.create(tt.parent, tt.body), tt.status, tt.field)
		})
	}
	if st := s.Stats(); st.Creates != 1 || len(st.Files) != 1 || len(st.Folders) != 0 {
		t.Fatalf("a refused create made something: %+v", st)
	}
	// 255 bytes is still fine.
	c.folder(root, strings.Repeat("n", 255))
}

func TestCreateUnderAnotherAccountIsForbidden(t *testing.T) {
	s := StartTest(t, Config{Tokens: map[string]string{"tok-a": "acct-a", "tok-b": "acct-b"}})
	r := newTC(t, s, "tok-b").create(s.RootFolder("tok-a"), map[string]any{"type": "folder", "name": "x"})
	wantAPIError(t, r, http.StatusForbidden, "access")
}

func TestFaultFoldersAnswer403And402(t *testing.T) {
	s := StartTest(t, unlimited())
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	blocked, broke := s.MakeFolder(root, "blocked"), s.MakeFolder(root, "broke")
	s.SetFaults(Faults{ForbiddenFolders: []string{blocked}, PaymentRequiredFolders: []string{broke}})
	body := map[string]any{"type": "file", "name": "a", "filesize": 1}
	wantAPIError(t, c.create(blocked, body), http.StatusForbidden, blocked)
	wantAPIError(t, c.create(broke, body), http.StatusPaymentRequired, "plan")
	c.file(root, "a", 1) // other folders unaffected
	if st := s.Stats(); st.Creates != 1 {
		t.Fatalf("creates = %d, want 1", st.Creates)
	}
}

func TestCreateFileGetsPartsByPartSize(t *testing.T) {
	const ps = 1000
	s := StartTest(t, Config{PartSize: ps, CreateLimit: 1000, CallLimit: 1000})
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	for size, want := range map[int64]int{0: 1, 1: 1, ps - 1: 1, ps: 1, ps + 1: 2, 10 * ps: 10, 10*ps + 1: 11} {
		f := c.file(root, fmt.Sprint(size), size)
		if len(f.UploadURLs) != want {
			t.Errorf("size %d: %d upload_urls, want %d", size, len(f.UploadURLs), want)
		}
		for _, u := range f.UploadURLs {
			if !strings.HasPrefix(u, strings.TrimSuffix(s.URL(), "/v2")+"/upload/"+f.ID+"/") || !strings.Contains(u, "X-Amz-Signature=") || !strings.Contains(u, "X-Amz-Expires=") {
				t.Fatalf("upload url %q", u)
			}
		}
	}
}

func TestCreateCapsPartCount(t *testing.T) {
	s := StartTest(t, Config{PartSize: 1})
	f := newTC(t, s, DefaultToken).file(s.RootFolder(DefaultToken), "big", 3*maxParts+5)
	if len(f.UploadURLs) != maxParts {
		t.Fatalf("%d upload_urls, want the cap %d", len(f.UploadURLs), maxParts)
	}
}

func TestCreateFolderAndRemoteUpload(t *testing.T) {
	s := StartTest(t, unlimited())
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	d := c.folder(root, "shoot")
	if d.Type != "folder" || *d.ParentID != root || d.UploadURLs != nil {
		t.Fatalf("folder: %+v", d)
	}
	r := c.mustCreate(d.ID, map[string]any{"type": "file", "name": "remote.mov", "filetype": "video/quicktime",
		"filesize": 1234, "source": map[string]string{"url": "https://example.com/remote.mov"},
		"description": "d", "properties": map[string]any{"k": "v"}})
	if r.UploadURLs != nil || r.UploadCompletedAt == nil || r.Source == nil || r.Source.URL != "https://example.com/remote.mov" {
		t.Fatalf("remote upload: %+v", r)
	}
	// A remote upload may leave the size to Frame.io.
	c.mustCreate(d.ID, map[string]any{"type": "file", "name": "nosize.mov", "source": map[string]string{"url": "https://example.com/x"}})
	st := s.Stats()
	if len(st.Files) != 2 || !st.Files[1].Complete || st.Files[1].SHA256 != "" || st.Files[1].Path != "shoot/remote.mov" || st.Files[1].Parts != 0 {
		t.Fatalf("remote file stats: %+v", st.Files)
	}
	if len(st.Folders) != 1 || st.Folders[0].Path != "shoot" || st.Folders[0].ParentID != root {
		t.Fatalf("folders: %+v", st.Folders)
	}
}

func TestChildrenPagination(t *testing.T) {
	s := StartTest(t, unlimited())
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	d := c.folder(root, "d")
	var ids []string
	for i := range 7 {
		ids = append(ids, c.folder(d.ID, fmt.Sprint("f", i)).ID)
	}
	var seen []string
	for page := 1; page <= 3; page++ {
		r := c.do(http.MethodGet, fmt.Sprintf("/assets/%s/children?page=%d&page_size=3", d.ID, page), nil)
		if r.status != http.StatusOK {
			t.Fatalf("page %d: %d %s", page, r.status, r.body)
		}
		h := r.header
		if h.Get("page-number") != fmt.Sprint(page) || h.Get("per-page") != "3" || h.Get("total") != "7" || h.Get("total-pages") != "3" {
			t.Fatalf("page %d headers: %v", page, h)
		}
		for _, a := range decode[[]apiAsset](t, r.body) {
			seen = append(seen, a.ID)
		}
	}
	if fmt.Sprint(seen) != fmt.Sprint(ids) {
		t.Fatalf("children in creation order: got %v want %v", seen, ids)
	}
	if r := c.do(http.MethodGet, "/assets/"+d.ID+"/children?page=9&page_size=3", nil); string(r.body) != "[]\n" {
		t.Fatalf("a page past the end is an empty array: %q", r.body)
	}
	r := c.do(http.MethodGet, "/assets/"+d.ID+"/children", nil)
	if r.header.Get("per-page") != "50" || len(decode[[]apiAsset](t, r.body)) != 7 {
		t.Fatalf("default page: %v %s", r.header, r.body)
	}
	if r := c.do(http.MethodGet, "/assets/"+d.ID+"/children?page_size=500", nil); r.header.Get("per-page") != "100" {
		t.Fatalf("page_size is capped at 100: %v", r.header)
	}
	empty := c.folder(root, "empty")
	if r := c.do(http.MethodGet, "/assets/"+empty.ID+"/children", nil); string(r.body) != "[]\n" || r.header.Get("total") != "0" {
		t.Fatalf("empty folder: %q %v", r.body, r.header)
	}
	for _, q := range []string{"page=0", "page=-1", "page=x", "page_size=0", "page_size=1.5"} {
		field, _, _ := strings.Cut(q, "=")
		wantAPIError(t, c.do(http.MethodGet, "/assets/"+d.ID+"/children?"+q, nil), http.StatusUnprocessableEntity, field)
	}
	f := c.file(d.ID, "x", 1)
	wantAPIError(t, c.do(http.MethodGet, "/assets/"+f.ID+"/children", nil), http.StatusUnprocessableEntity, "not a folder")
	wantAPIError(t, c.do(http.MethodGet, "/assets/nope/children", nil), http.StatusNotFound, "nope")
}

func TestDelete(t *testing.T) {
	s := StartTest(t, unlimited())
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	d := c.folder(root, "d")
	sub := c.folder(d.ID, "sub")
	f := c.file(sub.ID, "a.mp4", 4)
	keep := c.file(root, "keep.mp4", 0)

	if r := c.do(http.MethodDelete, "/assets/"+d.ID, nil); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %d %q", r.status, r.body)
	}
	for _, id := range []string{d.ID, sub.ID, f.ID} {
		wantAPIError(t, c.do(http.MethodGet, "/assets/"+id, nil), http.StatusNotFound, id)
	}
	wantAPIError(t, c.do(http.MethodDelete, "/assets/"+d.ID, nil), http.StatusNotFound, d.ID)
	wantAPIError(t, c.do(http.MethodDelete, "/assets/"+root, nil), http.StatusForbidden, "root")
	// The deleted file's upload URL no longer takes bytes.
	if r := put(t, f.UploadURLs[0], []byte("abcd"), "video/mp4", nil); r.status != http.StatusNotFound || !strings.Contains(string(r.body), "NoSuchUpload") {
		t.Fatalf("PUT to a deleted asset: %d %s", r.status, r.body)
	}
	st := s.Stats()
	if st.Deleted != 3 || len(st.Files) != 1 || st.Files[0].ID != keep.ID || len(st.Folders) != 0 {
		t.Fatalf("after delete: %+v", st)
	}
	kids := decode[[]apiAsset](t, c.do(http.MethodGet, "/assets/"+root+"/children", nil).body)
	if len(kids) != 1 || kids[0].ID != keep.ID {
		t.Fatalf("root children after delete: %+v", kids)
	}
}

func TestUnknownEndpointsAndMethods(t *testing.T) {
	s := StartTest(t, Config{})
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	wantAPIError(t, c.do(http.MethodGet, "/projects", nil), http.StatusNotFound, "/v2/projects")
	r := c.do(http.MethodPut, "/assets/"+root, nil)
	wantAPIError(t, r, http.StatusMethodNotAllowed, "PUT")
	if r.header.Get("Allow") != "DELETE, GET" || r.header.Get("x-ratelimit-limit") == "" {
		t.Fatalf("405 headers: %v", r.header)
	}
	wantAPIError(t, c.do(http.MethodPost, "/me", nil), http.StatusMethodNotAllowed, "POST")
	c.base = strings.TrimSuffix(c.base, "/v2")
	wantAPIError(t, c.do(http.MethodGet, "/v1/me", nil), http.StatusNotFound, "/v2")
}

func readAll(t testing.TB, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}
