package frameiosim

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestV4MeAndAccounts(t *testing.T) {
	s := StartTest(t, Config{})
	if !strings.HasSuffix(s.V4URL(), "/v4") || strings.TrimSuffix(s.V4URL(), "/v4") != strings.TrimSuffix(s.URL(), "/v2") {
		t.Fatalf("V4URL %q beside URL %q", s.V4URL(), s.URL())
	}
	c := newV4C(t, s, DefaultToken)
	r := c.do(http.MethodGet, "/v4/me", nil)
	me := decode[v4One[map[string]any]](t, r.body).Data
	if r.status != 200 || me["id"] == "" || me["email"] == nil || me["name"] == nil {
		t.Fatalf("me: %d %s", r.status, r.body)
	}
	if _, ok := me["account_id"]; ok {
		t.Fatalf("V4 me carries an account id: %s", r.body)
	}
	wantRateHeaders(t, r, "100", "60000")
	r = c.do(http.MethodGet, "/v4/accounts", nil)
	accts := decode[v4One[[]struct {
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
	}]](t, r.body)
	if r.status != 200 || len(accts.Data) != 1 || accts.Data[0].ID != DefaultAccount || accts.Data[0].DisplayName == "" || accts.Links.Next != nil {
		t.Fatalf("accounts: %d %s", r.status, r.body)
	}
	// me and accounts share one limit.
	if got := r.header.Get("x-ratelimit-remaining"); got != "98" {
		t.Fatalf("remaining after me + accounts = %s, want 98", got)
	}
	if n := s.MaxInWindow(DefaultToken, RouteAccount, time.Minute); n != 2 {
		t.Fatalf("MaxInWindow(account) = %d, want 2", n)
	}
}

func TestV4FolderFileLifecycle(t *testing.T) {
	s := StartTest(t, Config{PartSize: 1000})
	c := newV4C(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	shoot := c.mkFolder(root, "shoot")
	if shoot.Type != "folder" || shoot.ParentID == nil || *shoot.ParentID != root || shoot.CoverFileID != nil || shoot.ProjectID == "" || shoot.ViewURL == "" {
		t.Fatalf("folder: %+v", shoot)
	}
	for _, ts := range []string{shoot.CreatedAt, shoot.UpdatedAt} {
		if at, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.Contains(ts, ".") || !strings.HasSuffix(ts, "Z") || time.Since(at) > time.Minute {
			t.Fatalf("time %q is not RFC 3339 UTC with fractional seconds: %v", ts, err)
		}
	}
	r := c.do(http.MethodGet, c.p("/folders/"+shoot.ID), nil)
	if got := decode[v4One[v4Folder]](t, r.body).Data; r.status != 200 || got.ID != shoot.ID || got.Name != "shoot" {
		t.Fatalf("show folder: %d %s", r.status, r.body)
	}
	wantRateHeaders(t, r, "10", "1000")
	rootView := decode[v4One[v4Folder]](t, c.do(http.MethodGet, c.p("/folders/"+root), nil).body).Data
	if rootView.ID != root || rootView.ParentID != nil {
		t.Fatalf("root folder: %+v", rootView)
	}

	data := randomBytes(4321, 7)
	f := c.mkFile(shoot.ID, "clip.mov", int64(len(data)))
	if f.Type != "file" || f.MediaType != "video/quicktime" || f.Status != "created" || f.FileSize != 4321 || f.ParentID != shoot.ID || len(f.UploadURLs) != 5 {
		t.Fatalf("local_upload: %+v", f)
	}
	if st := c.status(f.ID); st.UploadComplete || st.UploadFailed || st.UploadedAt != nil || st.UploadCompletedAt != nil || st.Filetype != "video/quicktime" {
		t.Fatalf("status before parts: %+v", st)
	}
	putAll(t, f, data)
	st := c.status(f.ID)
	if !st.UploadComplete || st.UploadFailed || st.UploadedAt == nil || st.UploadCompletedAt == nil || st.ID != f.ID {
		t.Fatalf("status after parts: %+v", st)
	}
	r = c.do(http.MethodGet, c.p("/files/"+f.ID), nil)
	if got := decode[v4One[v4File]](t, r.body).Data; r.status != 200 || got.Status != "uploaded" || got.UploadURLs != nil || strings.Contains(string(r.body), "upload_urls") {
		t.Fatalf("show file: %d %s", r.status, r.body)
	}
	wantRateHeaders(t, r, "10", "1000")
	stats := s.Stats()
	if len(stats.Files) != 1 || stats.Files[0].API != "v4" || !stats.Files[0].Complete || stats.Files[0].Status != FileComplete ||
		stats.Files[0].SHA256 != sha(data) || stats.Files[0].Path != "shoot/clip.mov" || stats.Files[0].MediaType != "video/quicktime" {
		t.Fatalf("stats files: %+v", stats.Files)
	}
	if len(stats.Folders) != 1 || stats.Folders[0].API != "v4" || stats.Creates != 2 {
		t.Fatalf("stats folders: %+v, creates %d", stats.Folders, stats.Creates)
	}
	// The v2 view of the same store sees the same ids.
	if a := decode[apiAsset](t, newTC(t, s, DefaultToken).do(http.MethodGet, "/assets/"+f.ID, nil).body); a.ID != f.ID || a.UploadCompletedAt == nil {
		t.Fatalf("v2 view of a V4 file: %+v", a)
	}
	r = c.do(http.MethodDelete, c.p("/files/"+f.ID), nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantRateHeaders(t, r, "100", "60000")
	wantV4Error(t, c.do(http.MethodGet, c.p("/files/"+f.ID), nil), 404, f.ID, "")
	wantV4Error(t, c.do(http.MethodDelete, c.p("/files/"+shoot.ID), nil), 404, shoot.ID, "") // a folder is no file
	if st := s.Stats(); len(st.Files) != 0 || st.Deleted != 1 {
		t.Fatalf("after delete: %+v", st)
	}
}

func TestV4RemoteUpload(t *testing.T) {
	s := StartTest(t, Config{CompleteAfter: time.Hour})
	c := newV4C(t, s, DefaultToken)
	r := c.do(http.MethodPost, c.p("/folders/"+s.RootFolder(DefaultToken)+"/files/remote_upload"),
		data(map[string]any{"name": "far.mp4", "source_url": "https://example.com/far.mp4"}))
	got := decode[v4One[v4File]](t, r.body)
	if r.status != http.StatusAccepted || got.Data.MediaType != "video/mp4" || got.Data.Status != "created" || got.Data.UploadURLs != nil {
		t.Fatalf("remote_upload: %d %s", r.status, r.body)
	}
	if want := c.p("/files/" + got.Data.ID + "/status"); got.Links.Status != want {
		t.Fatalf("links.status %q, want %q", got.Links.Status, want)
	}
	if st := c.status(got.Data.ID); st.UploadComplete {
		t.Fatalf("remote upload complete before CompleteAfter: %+v", st)
	}
	s.skew.Store(int64(time.Hour))
	if st := c.status(got.Data.ID); !st.UploadComplete || st.UploadFailed {
		t.Fatalf("remote upload after CompleteAfter: %+v", st)
	}
	wantV4Error(t, c.do(http.MethodPost, c.p("/folders/"+s.RootFolder(DefaultToken)+"/files/remote_upload"),
		data(map[string]any{"name": "x.mp4", "source_url": "ftp://example.com/x"})), 422, "source_url", "/data/source_url")
}

func TestV4PageWalk(t *testing.T) {
	s := StartTest(t, v4Unlimited())
	c := newV4C(t, s, DefaultToken)
	dir := c.mkFolder(s.RootFolder(DefaultToken), "many")
	const files = 120
	var want []string
	for i := range files {
		want = append(want, c.mkFile(dir.ID, fmt.Sprintf("f%03d.mov", i), 1).ID)
		if i%40 == 0 {
			c.mkFolder(dir.ID, fmt.Sprint("sub", i))
		}
	}
	walk := func(first string, reappend string) (ids []string, sizes []int) {
		path := first
		for path != "" {
			r := c.do(http.MethodGet, path+reappend, nil)
			if r.status != 200 {
				t.Fatalf("GET %s: %d %s", path, r.status, r.body)
			}
			wantRateHeaders(t, r, "1000000", "1000")
			page := decode[v4One[[]v4File]](t, r.body)
			sizes = append(sizes, len(page.Data))
			for _, f := range page.Data {
				if f.Type != "file" {
					t.Fatalf("files list holds a %s", f.Type)
				}
				ids = append(ids, f.ID)
			}
			path = ""
			if n := page.Links.Next; n != nil {
				if !strings.HasPrefix(*n, "/v4/accounts/") || strings.Contains(*n, "page_size") || !strings.Contains(*n, "after=") {
					t.Fatalf("links.next %q", *n)
				}
				path = *n
			}
		}
		return ids, sizes
	}
	// A client that re-appends page_size keeps its size.
	ids, sizes := walk(c.p("/folders/"+dir.ID+"/files?page_size=7"), "&page_size=7")
	if fmt.Sprint(ids) != fmt.Sprint(want) || len(sizes) != 18 || sizes[17] != 1 {
		t.Fatalf("walk with page_size: %d ids, pages %v", len(ids), sizes)
	}
	// One that does not gets the default 50 after the first page.
	ids, sizes = walk(c.p("/folders/"+dir.ID+"/files?page_size=7"), "")
	if fmt.Sprint(ids) != fmt.Sprint(want) || fmt.Sprint(sizes) != "[7 50 50 13]" {
		t.Fatalf("walk without page_size: %d ids, pages %v", len(ids), sizes)
	}
	// Folders and children lists; the maxima.
	r := c.do(http.MethodGet, c.p("/folders/"+dir.ID+"/folders?page_size=500"), nil)
	if subs := decode[v4One[[]v4Folder]](t, r.body); r.status != 200 || len(subs.Data) != 3 || subs.Data[0].Name != "sub0" || subs.Links.Next != nil {
		t.Fatalf("folders: %d %s", r.status, r.body)
	}
	r = c.do(http.MethodGet, c.p("/folders/"+dir.ID+"/children?page_size=100"), nil)
	if kids := decode[v4One[[]map[string]any]](t, r.body); r.status != 200 || len(kids.Data) != 100 || kids.Links.Next == nil {
		t.Fatalf("children: %d", r.status)
	}
	wantV4Error(t, c.do(http.MethodGet, c.p("/folders/"+dir.ID+"/files?page_size=501"), nil), 422, "page_size", "")
	wantV4Error(t, c.do(http.MethodGet, c.p("/folders/"+dir.ID+"/children?page_size=101"), nil), 422, "page_size", "")
	wantV4Error(t, c.do(http.MethodGet, c.p("/folders/"+dir.ID+"/files?page_size=0"), nil), 422, "page_size", "")
	// A cursor belongs to its list.
	next := decode[v4One[[]v4File]](t, c.do(http.MethodGet, c.p("/folders/"+dir.ID+"/files"), nil).body).Links.Next
	u, _ := url.Parse(*next)
	wantV4Error(t, c.do(http.MethodGet, c.p("/folders/"+dir.ID+"/folders?"+u.RawQuery), nil), 422, "after", "")
	wantV4Error(t, c.do(http.MethodGet, c.p("/folders/"+dir.ID+"/files?after=bogus"), nil), 422, "after", "")
}

func TestV4PageSurvivesDeletes(t *testing.T) {
	s := StartTest(t, v4Unlimited())
	c := newV4C(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	var ids []string
	for i := range 6 {
		ids = append(ids, c.mkFolder(root, fmt.Sprint("d", i)).ID)
	}
	r := c.do(http.MethodGet, c.p("/folders/"+root+"/folders?page_size=3"), nil)
	first := decode[v4One[[]v4Folder]](t, r.body)
	s.Delete(ids[1]) // already seen: must not shift the next page
	page := decode[v4One[[]v4Folder]](t, c.do(http.MethodGet, *first.Links.Next+"&page_size=3", nil).body)
	if len(page.Data) != 3 || page.Data[0].ID != ids[3] || page.Links.Next != nil {
		t.Fatalf("second page after a delete: %+v", page)
	}
}

func TestV4UnknownFieldsAndInvalidValues(t *testing.T) {
	s := StartTest(t, v4Unlimited())
	c := newV4C(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	folders, local := c.p("/folders/"+root+"/folders"), c.p("/folders/"+root+"/files/local_upload")
	cases := []struct {
		path    string
		body    any
		detail  string
		pointer string
	}{
		{local, data(map[string]any{"name": "a.mov", "file_size": 1, "foo": 1}), "Unexpected field: foo", "/data/foo"},
		{local, data(map[string]any{"name": "a.mov", "file_size": 1, "media_type": "video/mp4"}), "Unexpected field: media_type", "/data/media_type"},
		{folders, data(map[string]any{"name": "a", "type": "folder"}), "Unexpected field: type", "/data/type"},
		{folders, map[string]any{"name": "a"}, "Unexpected field: name", "/name"},
		{folders, map[string]any{}, "Missing field: data", "/data"},
		{folders, "", "Missing field: data", "/data"},
		{folders, `{"data":[1]}`, "data must be an object", "/data"},
		{folders, "{", "Malformed JSON", ""},
		{folders, data(map[string]any{}), "Missing field: name", "/data/name"},
		{folders, data(map[string]any{"name": ""}), "name is empty", "/data/name"},
		{folders, data(map[string]any{"name": 7}), "name must be a string", "/data/name"},
		{folders, data(map[string]any{"name": "a/b"}), "'/'", "/data/name"},
		{folders, data(map[string]any{"name": "a\tb"}), "control character", "/data/name"},
		{folders, data(map[string]any{"name": strings.Repeat("é", 256)}), "255", "/data/name"},
		{local, data(map[string]any{"name": "a.mov"}), "Missing field: file_size", "/data/file_size"},
		{local, data(map[string]any{"name": "a.mov", "file_size": 0}), "file_size", "/data/file_size"},
		{local, data(map[string]any{"name": "a.mov", "file_size": int64(maxV4FileSize) + 1}), "file_size", "/data/file_size"},
		{local, data(map[string]any{"name": "a.mov", "file_size": 1.5}), "integer", "/data/file_size"},
	}
	for _, tt := range cases {
		wantV4Error(t, c.do(http.MethodPost, tt.path, tt.body), 422, tt.detail, tt.pointer)
	}
	// 255 characters are fine, whatever their bytes.
	c.mkFolder(root, strings.Repeat("é", 255))
	c.mkFile(root, "max.mov", maxV4FileSize)
	if st := s.Stats(); st.Creates != 2 {
		t.Fatalf("invalid requests created something: %d creates", st.Creates)
	}
}

func TestV4MediaTypeChecksOnPut(t *testing.T) {
	if MediaType("A.MOV") != "video/quicktime" || MediaType("x.unknownext") != "application/octet-stream" || MediaType("noext") != "application/octet-stream" {
		t.Fatalf("MediaType: %q %q %q", MediaType("A.MOV"), MediaType("x.unknownext"), MediaType("noext"))
	}
	if got := MediaType("page.html"); got != "text/html" {
		t.Fatalf("MediaType(page.html) = %q, want parameters dropped", got)
	}
	s := StartTest(t, Config{PartSize: 4})
	c := newV4C(t, s, DefaultToken)
	f := c.mkFile(s.RootFolder(DefaultToken), "blob.unknownext", 10)
	if f.MediaType != "application/octet-stream" || len(f.UploadURLs) != 3 || f.UploadURLs[0].Size != 4 || f.UploadURLs[2].Size != 2 {
		t.Fatalf("file: %+v", f)
	}
	u := f.UploadURLs[0].URL
	for _, tt := range []struct {
		name string
		body string
		edit map[string]string
	}{
		{"other content type", "abcd", map[string]string{"Content-Type": "video/mp4"}},
		{"no acl", "abcd", map[string]string{"x-amz-acl": ""}},
		{"public acl", "abcd", map[string]string{"x-amz-acl": "public-read"}},
		{"short", "abc", nil},
		{"long", "abcde", nil},
	} {
		if r := put(t, u, []byte(tt.body), f.MediaType, tt.edit); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "<Error>") {
			t.Fatalf("%s: %d %s", tt.name, r.status, r.body)
		}
	}
	if st := s.Stats(); st.PartsReceived != 0 {
		t.Fatalf("refused parts stored: %+v", st)
	}
	putAll(t, f, []byte("0123456789"))
}

func TestV4PerRouteRateLimits(t *testing.T) {
	for _, e := range []Enforcement{SlidingWindow, LeakyBucket} {
		t.Run(string(e), func(t *testing.T) {
			const window = 3 * time.Second // long: a slow machine stays inside it
			s := StartTest(t, Config{Enforcement: e, V4Limits: map[string]Limit{
				RouteFileCreate: {Limit: 3, Window: window}, RouteFolderCreate: {Limit: 2, Window: window},
			}})
			c := newV4C(t, s, DefaultToken)
			root := s.RootFolder(DefaultToken)
			var limited429 [2]int
			// Folder creates and file creates draw on separate limits: a burst
			// of each fits, the next of each is refused.
			for i := range 4 {
				r := c.do(http.MethodPost, c.p("/folders/"+root+"/folders"), data(map[string]any{"name": fmt.Sprint("d", i)}))
				wantRateHeaders(t, r, "2", "3000")
				if (i < 2) != (r.status == http.StatusCreated) {
					t.Fatalf("folder create %d: %d %s", i, r.status, r.body)
				}
				if r.status == 429 {
					limited429[0]++
					wantV4Error(t, r, 429, "rate limit", "")
					if r.header.Get("x-ratelimit-remaining") != "0" || r.header.Get("Retry-After") == "" {
						t.Fatalf("429 headers: %v", r.header)
					}
				}
			}
			for i := range 5 {
				r := c.do(http.MethodPost, c.p("/folders/"+root+"/files/local_upload"), data(map[string]any{"name": fmt.Sprint("f", i, ".mov"), "file_size": 1}))
				wantRateHeaders(t, r, "3", "3000")
				if (i < 3) != (r.status == http.StatusCreated) {
					t.Fatalf("file create %d: %d %s", i, r.status, r.body)
				}
				if r.status == 429 {
					limited429[1]++
				}
			}
			// remote_upload shares file_create.
			r := c.do(http.MethodPost, c.p("/folders/"+root+"/files/remote_upload"), data(map[string]any{"name": "r.mp4", "source_url": "https://x.test/r"}))
			wantV4Error(t, r, 429, "rate limit", "")
			st := s.Stats()
			if st.RateLimitedByRoute[RouteFolderCreate] != limited429[0] || st.RateLimitedByRoute[RouteFileCreate] != limited429[1]+1 ||
				st.CallsByRoute[RouteFolderCreate] != 2 || st.CallsByRoute[RouteFileCreate] != 3 || st.RateLimited != limited429[0]+limited429[1]+1 {
				t.Fatalf("stats by route: calls %v 429s %v (total %d)", st.CallsByRoute, st.RateLimitedByRoute, st.RateLimited)
			}
			if n := s.MaxInWindow(DefaultToken, RouteFileCreate, window); n != 3 {
				t.Fatalf("MaxInWindow(file_create) = %d", n)
			}
			s.skew.Store(int64(window)) // a window later, the route accepts again
			c.mkFolder(root, "after-the-window")
		})
	}
}

// TestV4StrictWindowHammer: many goroutines hit two routes as fast as they
// can; neither ever accepts more than its limit in any window.
func TestV4StrictWindowHammer(t *testing.T) {
	const window = 200 * time.Millisecond
	s := StartTest(t, Config{Enforcement: SlidingWindow, V4Limits: map[string]Limit{
		RouteFolderCreate: {Limit: 3, Window: window}, RouteListFiles: {Limit: 5, Window: window},
	}})
	root := s.RootFolder(DefaultToken)
	deadline := time.Now().Add(4 * window)
	done := make(chan [2]int)
	for g := range 6 {
		go func() {
			c := newV4C(t, s, DefaultToken)
			var n [2]int
			for i := 0; time.Now().Before(deadline); i++ {
				time.Sleep(time.Millisecond)
				r := c.do(http.MethodPost, c.p("/folders/"+root+"/folders"), data(map[string]any{"name": fmt.Sprint(g, "-", i)}))
				if r.status == 429 {
					n[0]++
				}
				if r = c.do(http.MethodGet, c.p("/folders/"+root+"/files"), nil); r.status == 429 {
					n[1]++
				}
			}
			done <- n
		}()
	}
	var seen [2]int
	for range 6 {
		n := <-done
		seen[0], seen[1] = seen[0]+n[0], seen[1]+n[1]
	}
	for route, limit := range map[string]int{RouteFolderCreate: 3, RouteListFiles: 5} {
		if n := s.MaxInWindow(DefaultToken, route, window); n != limit {
			t.Fatalf("%s: max %d in a window, limit %d", route, n, limit)
		}
	}
	st := s.Stats()
	if st.RateLimitedByRoute[RouteFolderCreate] != seen[0] || st.RateLimitedByRoute[RouteListFiles] != seen[1] || seen[0] == 0 || seen[1] == 0 {
		t.Fatalf("429s by route %v, clients saw %v", st.RateLimitedByRoute, seen)
	}
	if len(st.Folders) != st.CallsByRoute[RouteFolderCreate] || len(s.RouteCalls(DefaultToken, RouteFolderCreate)) != len(st.Folders) {
		t.Fatalf("%d folders, %d accepted creates", len(st.Folders), st.CallsByRoute[RouteFolderCreate])
	}
}

func TestV4EveryRouteHasItsHeaders(t *testing.T) {
	s := StartTest(t, Config{})
	c := newV4C(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	f := c.mkFile(root, "a.mov", 1)
	for _, tt := range []struct {
		method, path  string
		limit, window string
	}{
		{"GET", "/v4/me", "100", "60000"},
		{"GET", "/v4/accounts", "100", "60000"},
		{"GET", c.p("/folders/" + root), "10", "1000"},
		{"GET", c.p("/folders/" + root + "/folders"), "5", "1000"},
		{"GET", c.p("/folders/" + root + "/files"), "5", "1000"},
		{"GET", c.p("/folders/" + root + "/children"), "100", "60000"},
		{"POST", c.p("/folders/" + root + "/folders"), "3", "1000"},
		{"POST", c.p("/folders/" + root + "/files/local_upload"), "5", "1000"},
		{"POST", c.p("/folders/" + root + "/files/remote_upload"), "5", "1000"},
		{"GET", c.p("/files/" + f.ID), "10", "1000"},
		{"GET", c.p("/files/" + f.ID + "/status"), "5", "1000"},
		{"DELETE", c.p("/files/" + f.ID), "100", "60000"},
		{"PUT", c.p("/files/" + f.ID), "100", "60000"}, // 405 still counts, on the path's limit
	} {
		r := c.do(tt.method, tt.path, `{"data":{}}`)
		wantRateHeaders(t, r, tt.limit, tt.window)
	}
	if r := c.do(http.MethodGet, "/v4/nothing/here", nil); r.status != 404 || r.header.Get("x-ratelimit-limit") != "" {
		t.Fatalf("unknown endpoint: %d %v", r.status, r.header)
	}
}

func TestV4AuthAndOwnership(t *testing.T) {
	s := StartTest(t, Config{Tokens: map[string]string{"tok-a": "acct-a", "tok-b": "acct-b"}})
	a, b := newV4C(t, s, "tok-a"), newV4C(t, s, "tok-b")
	fa := a.mkFolder(s.RootFolder("tok-a"), "mine")
	anon := newV4C(t, s, "")
	anon.acct = "acct-a"
	wantV4Error(t, anon.do(http.MethodGet, "/v4/me", nil), 401, "bearer", "")
	wantV4Error(t, newV4C(t, s, "nope").do(http.MethodGet, "/v4/me", nil), 401, "invalid", "")
	// Another account's path or ids do not exist for the caller.
	wantV4Error(t, b.do(http.MethodGet, "/v4/accounts/acct-a/folders/"+fa.ID, nil), 404, "acct-a", "")
	wantV4Error(t, b.do(http.MethodGet, b.p("/folders/"+fa.ID), nil), 404, fa.ID, "")
	wantV4Error(t, b.do(http.MethodPost, b.p("/folders/"+fa.ID+"/folders"), data(map[string]any{"name": "x"})), 404, fa.ID, "")
	wantV4Error(t, a.do(http.MethodGet, a.p("/files/"+fa.ID), nil), 404, fa.ID, "")
	wantV4Error(t, a.do(http.MethodGet, a.p("/folders/nope/files"), nil), 404, "nope", "")
}

func TestV4LegacyTokens(t *testing.T) {
	s := StartTest(t, Config{LegacyTokens: map[string]string{"legacy-tok": "acct-old"}})
	old := newV4C(t, s, "legacy-tok")
	wantV4Error(t, old.do(http.MethodGet, "/v4/me", nil), 401, "x-frameio-legacy-token-auth", "")
	old.legacy = true
	if r := old.do(http.MethodGet, "/v4/me", nil); r.status != 200 {
		t.Fatalf("legacy token with the header: %d %s", r.status, r.body)
	}
	old.mkFolder(s.RootFolder("legacy-tok"), "ok")
	// The header is ignored with a current token; v2 takes legacy tokens as is.
	cur := newV4C(t, s, DefaultToken)
	cur.legacy = true
	if r := cur.do(http.MethodGet, "/v4/me", nil); r.status != 200 {
		t.Fatalf("current token with the header: %d", r.status)
	}
	if r := newTC(t, s, "legacy-tok").do(http.MethodGet, "/me", nil); r.status != 200 {
		t.Fatalf("legacy token on v2: %d", r.status)
	}
	if got := s.Accounts(); fmt.Sprint(got) != "[acct-dev acct-old]" {
		t.Fatalf("accounts %v", got)
	}
}

func TestV4LockedAccount(t *testing.T) {
	s := StartTest(t, Config{Tokens: map[string]string{"tok-a": "acct-a", "tok-b": "acct-b"},
		Faults: Faults{LockedAccounts: []string{"acct-a"}}})
	a, b := newV4C(t, s, "tok-a"), newV4C(t, s, "tok-b")
	root := s.RootFolder("tok-a")
	for _, r := range []resp{
		a.do(http.MethodGet, "/v4/me", nil),
		a.do(http.MethodGet, "/v4/accounts", nil),
		a.do(http.MethodGet, a.p("/folders/"+root+"/folders"), nil),
		a.do(http.MethodPost, a.p("/folders/"+root+"/files/local_upload"), data(map[string]any{"name": "a.mov", "file_size": 1})),
	} {
		if r.status != 403 || strings.TrimSpace(string(r.body)) != `{"errors":[{"title":"Account locked","detail":"This account is locked. Contact your account admin or upgrade your plan."}]}` {
			t.Fatalf("locked: %d %s", r.status, r.body)
		}
		if r.header.Get("x-ratelimit-limit") == "" {
			t.Fatalf("locked answer without rate headers")
		}
	}
	b.mkFolder(s.RootFolder("tok-b"), "fine")
	if r := newTC(t, s, "tok-a").do(http.MethodGet, "/me", nil); r.status != 200 {
		t.Fatalf("v2 of a V4-locked account: %d", r.status)
	}
	s.SetFaults(Faults{})
	a.mkFolder(root, "unlocked")
}

func TestV4CreateFaults(t *testing.T) {
	s := StartTest(t, v4Unlimited())
	c := newV4C(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	blocked, broke := c.mkFolder(root, "blocked"), c.mkFolder(root, "broke")
	creates := []struct{ suffix, body string }{
		{"/folders", `{"data":{"name":"x"}}`},
		{"/files/local_upload", `{"data":{"name":"x.mov","file_size":3}}`},
		{"/files/remote_upload", `{"data":{"name":"y.mov","source_url":"https://x.test/y"}}`},
	}
	s.SetFaults(Faults{ForbiddenFolders: []string{blocked.ID}, PaymentRequiredFolders: []string{broke.ID}})
	for _, cr := range creates {
		wantV4Error(t, c.do(http.MethodPost, c.p("/folders/"+blocked.ID+cr.suffix), cr.body), 403, blocked.ID, "")
		e := wantV4Error(t, c.do(http.MethodPost, c.p("/folders/"+broke.ID+cr.suffix), cr.body), 403, "locked", "")
		if e.Errors[0].Title != "Account locked" {
			t.Fatalf("payment-required folder on V4: %+v", e)
		}
	}
	s.SetFaults(Faults{Create500: 1})
	for _, cr := range creates {
		wantV4Error(t, c.do(http.MethodPost, c.p("/folders/"+root+cr.suffix), cr.body), 500, "", "")
	}
	if st := s.Stats(); st.FailedCreates != 3 || st.Creates != 2 {
		t.Fatalf("Create500: %+v", st)
	}
	s.SetFaults(Faults{LostCreate: 1})
	for _, cr := range creates {
		wantV4Error(t, c.do(http.MethodPost, c.p("/folders/"+root+cr.suffix), cr.body), 500, "", "")
	}
	if st := s.Stats(); st.LostCreates != 3 || st.Creates != 5 {
		t.Fatalf("LostCreate: %+v", st)
	}
	s.SetFaults(Faults{ResetCreate: 1})
	for _, cr := range creates {
		req, _ := http.NewRequest(http.MethodPost, c.origin+c.p("/folders/"+root+cr.suffix), strings.NewReader(cr.body))
		req.Header.Set("Authorization", "Bearer "+DefaultToken)
		if r, err := http.DefaultClient.Do(req); err == nil {
			r.Body.Close()
			t.Fatalf("ResetCreate answered %d", r.StatusCode)
		}
	}
	// Lost creates leave duplicates when retried blindly; Stats sees them.
	st := s.Stats()
	if st.LostCreates != 6 || st.Creates != 8 || len(st.Duplicates) != 3 {
		t.Fatalf("ResetCreate: creates %d lost %d duplicates %+v", st.Creates, st.LostCreates, st.Duplicates)
	}
	s.SetFaults(Faults{HTMLError: 1})
	if r := c.do(http.MethodGet, "/v4/me", nil); r.status != 502 || !strings.Contains(string(r.body), "<html>") || r.header.Get("x-ratelimit-limit") != "" {
		t.Fatalf("HTMLError: %d %s", r.status, r.body)
	}
	s.SetFaults(Faults{Latency: 100 * time.Millisecond})
	start := time.Now()
	c.do(http.MethodGet, "/v4/me", nil)
	if time.Since(start) < 100*time.Millisecond {
		t.Fatal("Latency not applied on V4")
	}
}

func TestV4Duplicates(t *testing.T) {
	s := StartTest(t, v4Unlimited())
	c := newV4C(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	d1 := c.mkFolder(root, "same")
	c.mkFolder(root, "same")
	c.mkFile(d1.ID, "a.mov", 1)
	c.mkFile(d1.ID, "a.mov", 1)
	c.mkFile(d1.ID, "b.mov", 1)
	got := s.Stats().Duplicates
	want := []Duplicate{{ParentID: root, Name: "same", Count: 2}, {ParentID: d1.ID, Name: "a.mov", Count: 2}}
	if len(got) != 2 || !(got[0] == want[0] && got[1] == want[1] || got[0] == want[1] && got[1] == want[0]) {
		t.Fatalf("duplicates %+v", got)
	}
}

func TestV4PartFail(t *testing.T) {
	s := StartTest(t, Config{Faults: Faults{PartFail: 1}})
	c := newV4C(t, s, DefaultToken)
	f := c.mkFile(s.RootFolder(DefaultToken), "a.mov", 3)
	if r := put(t, f.UploadURLs[0].URL, []byte("abc"), f.MediaType, nil); r.status != 500 {
		t.Fatalf("PartFail: %d", r.status)
	}
	s.SetFaults(Faults{})
	putAll(t, f, []byte("abc"))
	if st := c.status(f.ID); !st.UploadComplete {
		t.Fatalf("after retry: %+v", st)
	}
}

func TestAPISelection(t *testing.T) {
	v4only := StartTest(t, Config{API: APIV4})
	if r := newTC(t, v4only, DefaultToken).do(http.MethodGet, "/me", nil); r.status != 404 || !strings.Contains(string(r.body), "/v4") {
		t.Fatalf("v2 on a V4-only server: %d %s", r.status, r.body)
	}
	if r := newV4C(t, v4only, DefaultToken).do(http.MethodGet, "/v4/me", nil); r.status != 200 {
		t.Fatalf("V4 on a V4-only server: %d", r.status)
	}
	v2only := StartTest(t, Config{API: APIV2})
	if r := newV4C(t, v2only, DefaultToken).do(http.MethodGet, "/v4/me", nil); r.status != 404 {
		t.Fatalf("V4 on a v2-only server: %d", r.status)
	}
	if r := newTC(t, v2only, DefaultToken).do(http.MethodGet, "/me", nil); r.status != 200 {
		t.Fatalf("v2 on a v2-only server: %d", r.status)
	}
}

func TestSetV4Limit(t *testing.T) {
	s := StartTest(t, Config{})
	if err := s.SetV4Limit("nope", Limit{Limit: 1}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown route: %v", err)
	}
	if err := s.SetV4Limit(RouteShowFile, Limit{Limit: -1}); err == nil {
		t.Fatal("negative limit accepted")
	}
	if err := s.SetV4Limit(RouteAccount, Limit{Limit: 7}); err != nil {
		t.Fatal(err)
	}
	if l := s.V4Limits()[RouteAccount]; l != (Limit{Limit: 7, Window: time.Minute}) {
		t.Fatalf("V4Limits()[account] = %+v", l)
	}
	wantRateHeaders(t, newV4C(t, s, DefaultToken).do(http.MethodGet, "/v4/me", nil), "7", "60000")
}

func TestV4MoreAccounts(t *testing.T) {
	s := StartTest(t, Config{Tokens: map[string]string{"tok-a": "acct-a", "tok-x": "acct-x"},
		MoreAccounts: map[string][]string{"tok-a": {"acct-c", "acct-b"}},
		Faults:       Faults{LockedAccounts: []string{"acct-c"}}})
	a := newV4C(t, s, "tok-a")
	r := a.do(http.MethodGet, "/v4/accounts?page_size=2", nil)
	first := decode[v4One[[]struct{ ID string }]](t, r.body)
	if r.status != 200 || len(first.Data) != 2 || first.Data[0].ID != "acct-a" || first.Data[1].ID != "acct-c" || first.Links.Next == nil {
		t.Fatalf("accounts page 1: %d %s", r.status, r.body)
	}
	second := decode[v4One[[]struct{ ID string }]](t, a.do(http.MethodGet, *first.Links.Next+"&page_size=2", nil).body)
	if len(second.Data) != 1 || second.Data[0].ID != "acct-b" || second.Links.Next != nil {
		t.Fatalf("accounts page 2: %+v", second)
	}
	b := *a
	b.acct = "acct-b"
	made := b.mkFolder(s.RootFolderOfAccount("acct-b"), "in-b")
	if st := s.Stats(); len(st.Folders) != 1 || st.Folders[0].ID != made.ID {
		t.Fatalf("folder in a further account: %+v", st.Folders)
	}
	// Its ids belong to acct-b only; locks are per account; others' accounts do not exist.
	wantV4Error(t, a.do(http.MethodGet, a.p("/folders/"+made.ID), nil), 404, made.ID, "")
	wantV4Error(t, a.do(http.MethodGet, "/v4/accounts/acct-c/folders/"+s.RootFolderOfAccount("acct-c"), nil), 403, "locked", "")
	wantV4Error(t, a.do(http.MethodGet, "/v4/accounts/acct-x/folders/"+s.RootFolderOfAccount("acct-x"), nil), 404, "acct-x", "")
	if s.RootFolder("tok-a") != s.RootFolderOfAccount("acct-a") {
		t.Fatal("RootFolder(token) is not the token's own account's")
	}
	if err := (Config{MoreAccounts: map[string][]string{"ghost": {"a"}}}).Validate(); err == nil || !strings.HasPrefix(err.Error(), "MoreAccounts") {
		t.Fatalf("MoreAccounts of an unknown token: %v", err)
	}
}

func TestV4RouteOfNamesTheLimitACallDrawsOn(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{http.MethodPost, "/v4/accounts/a/folders/f/files/local_upload", RouteFileCreate},
		{http.MethodGet, "/v4/accounts/a/files/x/status", RouteFileStatus},
		{http.MethodGet, "/v4/accounts/a/files/x", RouteShowFile},
		{http.MethodDelete, "/v4/accounts/a/files/x", RouteFileDelete},
		{http.MethodGet, "/v4/me", RouteAccount},
		{http.MethodPut, "/upload/x/1", ""}, // parts are presigned, not limited
		{http.MethodGet, "/v4/nowhere", ""},
	} {
		if got := V4RouteOf(tc.method, tc.path); got != tc.want {
			t.Errorf("V4RouteOf(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}
