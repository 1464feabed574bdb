package frameiosim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// simClient talks to the unauthenticated /_sim endpoints.
func simClient(t testing.TB, s *Server) *tc {
	return &tc{t: t, base: strings.TrimSuffix(s.URL(), "/v2") + "/_sim", hc: http.DefaultClient}
}

func TestStatsEndpoint(t *testing.T) {
	s := StartTest(t, Config{CreateLimit: 2, Window: longWindow, Enforcement: SlidingWindow, PartSize: 2})
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	d := c.folder(root, "d")
	f := c.file(d.ID, "a.mp4", 3)
	put(t, f.UploadURLs[0], []byte("ab"), "video/mp4", nil)
	put(t, f.UploadURLs[1], []byte("c"), "video/mp4", nil)
	c.create(root, folderBody) // 429

	r := simClient(t, s).do(http.MethodGet, "/stats", nil)
	if r.status != http.StatusOK {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	var got struct {
		Calls, Creates, RateLimited, Deleted int
		CreatesByScope                       map[string][]time.Time `json:"creates_by_scope"`
		MaxPerWindow                         map[string]int         `json:"max_creates_per_window"`
		WindowMS                             int64                  `json:"window_ms"`
		PartsReceived                        int                    `json:"parts_received"`
		RateLimitedJSON                      int                    `json:"rate_limited"`
		Files                                []struct {
			Path, SHA256 string
			Complete     bool
			Size         int64
			Parts        int
		}
		Folders    []struct{ ID, Path string }
		Duplicates []Duplicate
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Calls != 2 || got.Creates != 2 || got.RateLimitedJSON != 1 || got.PartsReceived != 2 ||
		got.MaxPerWindow[DefaultToken] != 2 || got.WindowMS != 60000 || len(got.CreatesByScope[DefaultToken]) != 2 ||
		len(got.Files) != 1 || got.Files[0].Path != "d/a.mp4" || got.Files[0].SHA256 != sha([]byte("abc")) ||
		!got.Files[0].Complete || got.Files[0].Parts != 2 || len(got.Folders) != 1 || got.Duplicates == nil || len(got.Duplicates) != 0 {
		t.Fatalf("stats JSON: %s", r.body)
	}
}

func TestFaultsEndpoint(t *testing.T) {
	s := StartTest(t, Config{})
	sc := simClient(t, s)
	r := sc.do(http.MethodPost, "/faults", `{"create_500":1,"latency":"5ms","slow_delay":2000000,"forbidden_folders":["x"]}`)
	if r.status != http.StatusOK {
		t.Fatalf("post faults: %d %s", r.status, r.body)
	}
	want := Faults{Create500: 1, Latency: 5 * time.Millisecond, SlowDelay: 2 * time.Millisecond, ForbiddenFolders: []string{"x"}}
	if got := s.faults(); got.Create500 != 1 || got.Latency != want.Latency || got.SlowDelay != want.SlowDelay || len(got.ForbiddenFolders) != 1 {
		t.Fatalf("faults: %+v", got)
	}
	r = sc.do(http.MethodGet, "/faults", nil)
	if !strings.Contains(string(r.body), `"latency":"5ms"`) {
		t.Fatalf("get faults: %s", r.body)
	}
	wantAPIError(t, newTC(t, s, DefaultToken).create(s.RootFolder(DefaultToken), folderBody), 500, "")

	for body, field := range map[string]string{
		`{"create_5OO":1}`:      "create_5OO",
		`{"part_fail":2}`:       "PartFail",
		`{"latency":"soon"}`:    "latency",
		`{"slow_delay":true}`:   "slow_delay",
		`{"create_500":"high"}`: "create_500",
		`{"latency":"-1s"}`:     "Latency",
		`not json`:              "body",
	} {
		wantAPIError(t, sc.do(http.MethodPost, "/faults", body), http.StatusBadRequest, field)
	}
	if s.faults().Create500 != 1 {
		t.Fatal("a refused POST changed the faults")
	}
}

func TestLimitsEndpoint(t *testing.T) {
	s := StartTest(t, Config{})
	sc := simClient(t, s)
	r := sc.do(http.MethodPost, "/limits", `{"create_limit":7}`)
	if r.status != http.StatusOK || decode[map[string]int](t, r.body)["create_limit"] != 7 || decode[map[string]int](t, r.body)["call_limit"] != 50 {
		t.Fatalf("limits: %d %s", r.status, r.body)
	}
	if h := newTC(t, s, DefaultToken).create(s.RootFolder(DefaultToken), folderBody).header; h.Get("x-ratelimit-limit") != "7" {
		t.Fatalf("headers after POST /_sim/limits: %v", h)
	}
	for body, field := range map[string]string{
		`{}`:                  "call_limit",
		`{"call_limit":0}`:    "call_limit",
		`{"create_limit":-2}`: "create_limit",
		`{"create_limt":2}`:   "create_limt",
		`{"call_limit":"9"}`:  "call_limit",
	} {
		wantAPIError(t, sc.do(http.MethodPost, "/limits", body), http.StatusBadRequest, field)
	}
	wantAPIError(t, sc.do(http.MethodDelete, "/stats", nil), http.StatusNotFound, "DELETE")
}

func TestDuplicatesDetection(t *testing.T) {
	s := StartTest(t, unlimited())
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	d := c.folder(root, "d")
	a1 := c.file(d.ID, "a.mp4", 1)
	c.file(d.ID, "a.mp4", 1)
	c.file(d.ID, "a.mp4", 2)
	c.file(root, "a.mp4", 1) // same name elsewhere is not a duplicate
	c.folder(d.ID, "sub")
	c.folder(d.ID, "sub")
	got := s.Stats().Duplicates
	want := []Duplicate{{d.ID, "a.mp4", 3}, {d.ID, "sub", 2}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("duplicates %+v, want %+v", got, want)
	}
	c.do(http.MethodDelete, "/assets/"+a1.ID, nil)
	if got := s.Stats().Duplicates; got[0].Count != 2 {
		t.Fatalf("deleted assets still counted: %+v", got)
	}
}

func TestMakeFolder(t *testing.T) {
	s := StartTest(t, Config{CreateLimit: 1, Window: longWindow})
	root := s.RootFolder(DefaultToken)
	for range 5 { // bypasses the create limit
		if s.MakeFolder(root, "x") == "" {
			t.Fatal("MakeFolder failed")
		}
	}
	id := s.MakeFolder(root, "y")
	if s.MakeFolder("nope", "x") != "" || s.MakeFolder(root, "a/b") != "" || s.MakeFolder(s.MakeFolder(id, "z"), "") != "" {
		t.Fatal("MakeFolder accepted a bad parent or name")
	}
	st := s.Stats()
	if st.Creates != 0 || len(st.Folders) != 7 || st.Calls != 0 {
		t.Fatalf("MakeFolder counted as API use: %+v", st)
	}
	if got := decode[apiAsset](t, newTC(t, s, DefaultToken).do(http.MethodGet, "/assets/"+id, nil).body); got.Name != "y" || *got.ParentID != root {
		t.Fatalf("made folder over the API: %+v", got)
	}
}
