package frameiosim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestControlEndpointsV4(t *testing.T) {
	s := StartTest(t, Config{Faults: Faults{UploadFailed: 1}, PartSize: 2})
	sc := simClient(t, s)
	c := newV4C(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	f := c.mkFile(root, "a.mov", 3)
	putAll(t, f, []byte("abc"))
	c.mkFolder(root, "d")

	r := sc.do(http.MethodGet, "/stats", nil)
	var got struct {
		CallsByRoute       map[string]int            `json:"calls_by_route"`
		RateLimitedByRoute map[string]int            `json:"rate_limited_by_route"`
		MaxPerRouteWindow  map[string]map[string]int `json:"max_per_route_window"`
		V4Limits           map[string]struct {
			Limit    int   `json:"limit"`
			WindowMS int64 `json:"window_ms"`
		} `json:"v4_limits"`
		FailedUploads []struct{ ID, API, Status string } `json:"failed_uploads"`
		Files         []struct {
			API, Status string
			MediaType   string `json:"media_type"`
			Failed      bool
		} `json:"files"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.CallsByRoute[RouteFileCreate] != 1 || got.MaxPerRouteWindow[DefaultToken][RouteFolderCreate] != 1 ||
		got.V4Limits[RouteFolderCreate].Limit != 3 || got.V4Limits[RouteFolderCreate].WindowMS != 1000 ||
		len(got.FailedUploads) != 1 || got.FailedUploads[0].ID != f.ID || got.FailedUploads[0].API != "v4" ||
		len(got.Files) != 1 || !got.Files[0].Failed || got.Files[0].Status != "failed" || got.Files[0].MediaType != "video/quicktime" {
		t.Fatalf("stats JSON: %s", r.body)
	}

	r = sc.do(http.MethodPost, "/faults", `{"upload_failed":0.5,"locked_accounts":["acct-dev"]}`)
	if r.status != 200 || s.faults().UploadFailed != 0.5 || len(s.faults().LockedAccounts) != 1 {
		t.Fatalf("post faults: %d %s", r.status, r.body)
	}
	if r = sc.do(http.MethodGet, "/faults", nil); !strings.Contains(string(r.body), `"upload_failed":0.5`) || !strings.Contains(string(r.body), `"locked_accounts":["acct-dev"]`) {
		t.Fatalf("get faults: %s", r.body)
	}
	wantV4Error(t, c.do(http.MethodGet, "/v4/me", nil), 403, "locked", "")
	wantAPIError(t, sc.do(http.MethodPost, "/faults", `{"upload_failed":1.5}`), 400, "UploadFailed")
	s.SetFaults(Faults{})

	r = sc.do(http.MethodPost, "/limits", `{"v4":{"file_create":{"limit":2},"list_files":{"limit":4,"window_ms":2000}}}`)
	if r.status != 200 || !strings.Contains(string(r.body), `"file_create":{"limit":2,"window_ms":1000}`) {
		t.Fatalf("post v4 limits: %d %s", r.status, r.body)
	}
	wantRateHeaders(t, c.do(http.MethodGet, c.p("/folders/"+root+"/files"), nil), "4", "2000")
	for body, field := range map[string]string{
		`{"v4":{"uploads":{"limit":2}}}`:          "uploads",
		`{"v4":{"file_create":{"limit":-1}}}`:     "file_create",
		`{"v4":{"file_create":{"limits":1}}}`:     "limits",
		`{"v4":{"file_create":{"window_ms":-5}}}`: "file_create",
	} {
		wantAPIError(t, sc.do(http.MethodPost, "/limits", body), http.StatusBadRequest, field)
	}
	if s.V4Limits()[RouteFileCreate].Limit != 2 {
		t.Fatal("a refused POST changed the limits")
	}
}
