package frameio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/frameq/frameq/apierr"
)

func TestNewV4Defaults(t *testing.T) {
	v, err := NewV4(Options{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.c.cfg.base.String(); got != DefaultV4BaseURL {
		t.Errorf("base %q, want %q", got, DefaultV4BaseURL)
	}
	if v.AccountID() != "" || v.ForAccount("a").AccountID() != "a" {
		t.Errorf("ForAccount does not set the account")
	}
	if _, err := NewV4(Options{}); err == nil || !strings.Contains(err.Error(), "Options.Token") {
		t.Errorf("NewV4 without token: %v", err)
	}
}

// TestV4CallsDrawOnOneLimit checks that every call names a templated route
// and exactly one documented limit, and that the path it hits is the
// contract's.
func TestV4CallsDrawOnOneLimit(t *testing.T) {
	f := newFakeV4(t)
	var calls []Call
	var mu sync.Mutex
	v := f.client(t, func(o *Options) {
		o.BeforeCall = func(_ context.Context, c Call) error { mu.Lock(); calls = append(calls, c); mu.Unlock(); return nil }
	})
	ctx := context.Background()
	folder, err := v.CreateFolder(ctx, "root", "Shots")
	if err != nil {
		t.Fatal(err)
	}
	file, err := v.LocalUpload(ctx, folder.ID, "a.mov", 10)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		route, limit, path string
		run                func() error
	}{
		{RouteV4Me, LimitAccount, "/v4/me", func() error { _, err := v.Me(ctx); return err }},
		{RouteV4Accounts, LimitAccount, "/v4/accounts", func() error { _, err := v.Accounts(ctx); return err }},
		{RouteV4GetFolder, LimitShowFolder, "/v4/accounts/acc-1/folders/root", func() error { _, err := v.GetFolder(ctx, "root"); return err }},
		{RouteV4CreateFolder, LimitFolderCreate, "/v4/accounts/acc-1/folders/root/folders", func() error { _, err := v.CreateFolder(ctx, "root", "x"); return err }},
		{RouteV4ListFolders, LimitListFolders, "/v4/accounts/acc-1/folders/root/folders", func() error { _, err := v.ListFolders(ctx, "root"); return err }},
		{RouteV4ListFiles, LimitListFiles, "/v4/accounts/acc-1/folders/" + folder.ID + "/files", func() error { _, err := v.ListFiles(ctx, folder.ID); return err }},
		{RouteV4LocalUpload, LimitFileCreate, "/v4/accounts/acc-1/folders/root/files/local_upload", func() error { _, err := v.LocalUpload(ctx, "root", "b.txt", 3); return err }},
		{RouteV4RemoteUpload, LimitFileCreate, "/v4/accounts/acc-1/folders/root/files/remote_upload", func() error {
			_, err := v.RemoteUpload(ctx, "root", "c.mov", "https://src.example/c.mov")
			return err
		}},
		{RouteV4GetFile, LimitShowFile, "/v4/accounts/acc-1/files/" + file.ID, func() error { _, err := v.GetFile(ctx, file.ID); return err }},
		{RouteV4FileStatus, LimitFileStatus, "/v4/accounts/acc-1/files/" + file.ID + "/status", func() error { _, err := v.FileStatus(ctx, file.ID); return err }},
		{RouteV4DeleteFile, LimitFileDelete, "/v4/accounts/acc-1/files/" + file.ID, func() error { return v.DeleteFile(ctx, file.ID) }},
	}
	defaults := V4DefaultLimits()
	used := map[string]bool{}
	for _, s := range steps {
		calls = nil
		before := len(f.requests())
		if err := s.run(); err != nil {
			t.Fatalf("%s: %v", s.route, err)
		}
		reqs := f.requests()[before:]
		if len(calls) != 1 || len(reqs) != 1 {
			t.Fatalf("%s: %d BeforeCalls, %d requests; want 1 each", s.route, len(calls), len(reqs))
		}
		c := calls[0]
		if c.Route != s.route || !slices.Equal(c.Limits, []string{s.limit}) || c.Method != reqs[0].Method {
			t.Errorf("%s: call %+v, want route %q limits [%s]", s.route, c, s.route, s.limit)
		}
		if (s.route == RouteV4LocalUpload || s.route == RouteV4RemoteUpload) && !slices.Equal(c.Limits, v.CreateLimits()) {
			t.Errorf("%s: limits %v, CreateLimits %v", s.route, c.Limits, v.CreateLimits())
		}
		if reqs[0].Path != s.path {
			t.Errorf("%s: path %s, want %s", s.route, reqs[0].Path, s.path)
		}
		if _, ok := defaults[s.limit]; !ok {
			t.Errorf("%s: limit %q has no default rate", s.route, s.limit)
		}
		used[s.limit] = true
	}
	for name, r := range defaults {
		if !used[name] || r.N < 1 || r.Per <= 0 {
			t.Errorf("default limit %q = %+v: unused by any call or not a rate", name, r)
		}
	}
}

func TestV4DefaultLimitsAreTheDocumentedRates(t *testing.T) {
	d := V4DefaultLimits()
	perSec := func(name string) float64 { return float64(d[name].N) / d[name].Per.Seconds() }
	want := map[string]float64{
		LimitFileCreate: 5, LimitFolderCreate: 3, LimitListFolders: 5, LimitListFiles: 5, LimitShowFile: 10,
		LimitShowFolder: 10, LimitFileStatus: 5, LimitFileDelete: 100.0 / 60, LimitAccount: 100.0 / 60,
	}
	if len(d) != len(want) {
		t.Errorf("%d limits, want %d", len(d), len(want))
	}
	for name, rate := range want {
		if got := perSec(name); got != rate {
			t.Errorf("%s: %v/s, want %v/s", name, got, rate)
		}
	}
}

func TestV4RequestBodiesAreExactlyTheContracts(t *testing.T) {
	f := newFakeV4(t)
	v := f.client(t)
	ctx := context.Background()
	if _, err := v.CreateFolder(ctx, "root", "A"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.LocalUpload(ctx, "root", "a.mov", 7); err != nil {
		t.Fatal(err)
	}
	if _, err := v.RemoteUpload(ctx, "root", "r.mov", "https://src.example/r.mov?sig=x"); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, r := range f.requests() {
		if r.Method == http.MethodPost {
			bodies = append(bodies, r.Body)
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("POST %s Content-Type %q", r.Path, r.Header.Get("Content-Type"))
			}
		}
	}
	want := []string{
		`{"data":{"name":"A"}}`,
		`{"data":{"name":"a.mov","file_size":7}}`,
		`{"data":{"name":"r.mov","source_url":"https://src.example/r.mov?sig=x"}}`,
	}
	if !slices.Equal(bodies, want) {
		t.Errorf("bodies\n%q\nwant\n%q", bodies, want)
	}
}

func TestV4Pages(t *testing.T) {
	for _, withSize := range []bool{false, true} {
		t.Run(fmt.Sprintf("next carries page_size=%v", withSize), func(t *testing.T) {
			f := newFakeV4(t)
			f.pageLen, f.nextWithSize = 4, withSize
			v := f.client(t)
			ctx := context.Background()
			for i := range 10 {
				if _, err := v.LocalUpload(ctx, "root", fmt.Sprintf("f%d.txt", i), 1); err != nil {
					t.Fatal(err)
				}
			}
			before := len(f.requests())
			files, err := v.ListFiles(ctx, "root")
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 10 {
				t.Fatalf("got %d files, want 10", len(files))
			}
			reqs := f.requests()[before:]
			if len(reqs) != 3 {
				t.Fatalf("%d requests, want 3 pages", len(reqs))
			}
			if reqs[0].RawQuery != "page_size=500" {
				t.Errorf("first page query %q", reqs[0].RawQuery)
			}
			for i, r := range reqs[1:] {
				if !strings.HasPrefix(r.RawQuery, "after=") || strings.Count(r.RawQuery, "page_size=500") != 1 {
					t.Errorf("page %d query %q: want the link's after= and page_size=500 once", i+2, r.RawQuery)
				}
			}
		})
	}
}

func TestV4PagesFollowNextExactly(t *testing.T) {
	f := newFakeV4(t)
	// An opaque cursor with characters a re-encoding would change.
	cursor := "g3QAAAAC%2Bab=="
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/folders/root/folders") {
			return false
		}
		if r.URL.Query().Get("after") == "" {
			writeJSON(w, 200, `{"data":[{"id":"a","name":"A"}],"links":{"next":"/v4/accounts/acc-1/folders/root/folders?after=`+cursor+`&include_total_count=false"}}`)
		} else {
			writeJSON(w, 200, `{"data":[{"id":"b","name":"B"}],"links":{"next":null}}`)
		}
		return true
	}
	got, err := f.client(t).ListFolders(context.Background(), "root")
	if err != nil || len(got) != 2 {
		t.Fatalf("got %v, %v", got, err)
	}
	reqs := f.requests()
	if want := "after=" + cursor + "&include_total_count=false&page_size=500"; reqs[1].RawQuery != want {
		t.Errorf("second page query %q, want %q", reqs[1].RawQuery, want)
	}
}

func TestV4PagesRefuseBadNextLinks(t *testing.T) {
	tests := []struct{ name, next, want string }{
		{"another host", `"http://evil.example/v4/accounts/acc-1/folders/root/files?after=x"`, "another host"},
		{"scheme-relative host", `"//evil.example/v4/x?after=x"`, "another host"},
		{"same page again", `"/v4/accounts/acc-1/folders/root/files?after=same"`, "repeats"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeV4(t)
			f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
				writeJSON(w, 200, `{"data":[{"id":"f"}],"links":{"next":`+tt.next+`}}`)
				return true
			}
			got, err := f.client(t).ListFiles(context.Background(), "root")
			e := asAPIErr(t, err)
			if got != nil || !strings.Contains(e.Detail, tt.want) {
				t.Fatalf("got %v, %v; want an error saying %q", got, err, tt.want)
			}
			for _, r := range f.requests() {
				if r.Path != "/v4/accounts/acc-1/folders/root/files" {
					t.Errorf("requested %s", r.Path)
				}
			}
			if n := len(f.requests()); n > 2 {
				t.Errorf("%d requests", n)
			}
		})
	}
}

func TestV4PagesAreBounded(t *testing.T) {
	f := newFakeV4(t)
	n := 0
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		n++
		writeJSON(w, 200, fmt.Sprintf(`{"data":[{"id":"f%d"}],"links":{"next":"/v4/accounts/acc-1/folders/root/files?after=c%d"}}`, n, n))
		return true
	}
	v := f.client(t)
	v.c.maxPages = 5
	_, err := v.ListFiles(context.Background(), "root")
	if e := asAPIErr(t, err); !strings.Contains(e.Detail, "more than 5 pages") || n != 5 {
		t.Fatalf("after %d pages: %v", n, err)
	}
}

func TestV4PageWithoutData(t *testing.T) {
	f := newFakeV4(t)
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		writeJSON(w, 200, `{"links":{"next":null}}`)
		return true
	}
	_, err := f.client(t).ListFolders(context.Background(), "root")
	if e := asAPIErr(t, err); e.Status != 200 || !strings.Contains(err.Error(), "no data") {
		t.Fatalf("got %v", err)
	}
}

func TestV4Errors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		header map[string]string
		check  func(t *testing.T, e *apierr.Error, err error)
	}{
		{"422 names the field", 422, `{"errors":[{"title":"Invalid request","detail":"Unexpected field: foo","source":{"pointer":"/data/foo"}}]}`, nil,
			func(t *testing.T, e *apierr.Error, err error) {
				if e.Detail != "data.foo: Unexpected field: foo" || apierr.Classify(err) != apierr.Terminal {
					t.Errorf("detail %q, class %v", e.Detail, apierr.Classify(err))
				}
			}},
		{"403 locked account", 403, `{"errors":[{"title":"Account locked","detail":"This account is locked. Contact your account admin or upgrade your plan."}]}`, nil,
			func(t *testing.T, e *apierr.Error, err error) {
				if e.Title != "Account locked" || !strings.Contains(e.Detail, "locked") {
					t.Errorf("title %q detail %q", e.Title, e.Detail)
				}
			}},
		{"401 echoing the token is redacted", 401, `{"errors":[{"title":"Unauthorized","detail":"token ` + testToken + ` expired"}]}`, nil,
			func(t *testing.T, e *apierr.Error, err error) {
				if e.Status != 401 || !strings.Contains(e.Detail, "expired") {
					t.Errorf("got %v", err)
				}
			}},
		{"429 waits", 429, `{"errors":[{"title":"Too Many Requests","detail":"slow down"}]}`, map[string]string{"Retry-After": "2"},
			func(t *testing.T, e *apierr.Error, err error) {
				if apierr.Classify(err) != apierr.RateLimited || e.Wait.Seconds() != 2 {
					t.Errorf("class %v wait %v", apierr.Classify(err), e.Wait)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeV4(t)
			f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				writeJSON(w, tt.status, tt.body)
				return true
			}
			var results []Result
			v := f.client(t, func(o *Options) {
				o.AfterCall = func(_ context.Context, c Call, r Result) { results = append(results, r) }
			})
			_, err := v.CreateFolder(context.Background(), "root", "x")
			e := asAPIErr(t, err)
			if e.Status != tt.status {
				t.Fatalf("status %d, want %d", e.Status, tt.status)
			}
			tt.check(t, e, err)
			if len(results) != 1 || results[0].Status != tt.status || results[0].Err == nil ||
				results[0].RateLimit != (RateLimit{Limit: 50, Remaining: 49, Window: 1e9, Present: true}) {
				t.Errorf("AfterCall saw %+v", results)
			}
			noLeak(t, fmt.Sprint(results[0].Err))
		})
	}
}

func TestV4RefusesBadInputWithoutACall(t *testing.T) {
	f := newFakeV4(t)
	ctx := context.Background()
	var befores int
	v := f.client(t, func(o *Options) {
		o.BeforeCall = func(context.Context, Call) error { befores++; return nil }
	})
	noAccount, _ := NewV4(Options{BaseURL: f.srv.URL + "/v4", Token: testToken})
	// Refused bodies name the request they would have been (path, when
	// the path itself is valid), like any answered call.
	tests := []struct {
		name, want, path string
		run              func() error
	}{
		{"no account", "ForAccount", "", func() error { _, err := noAccount.GetFile(ctx, "x"); return err }},
		{"dot-dot id", `file id ".."`, "", func() error { _, err := v.GetFile(ctx, ".."); return err }},
		{"empty folder id", `folder id ""`, "", func() error { _, err := v.ListFiles(ctx, ""); return err }},
		{"empty name", "name", "/folders/root/folders", func() error { _, err := v.CreateFolder(ctx, "root", ""); return err }},
		{"slash in name", `"/"`, "/folders/root/files/local_upload", func() error { _, err := v.LocalUpload(ctx, "root", "a/b", 1); return err }},
		{"long name", "255", "/folders/root/folders", func() error { _, err := v.CreateFolder(ctx, "root", strings.Repeat("é", 256)); return err }},
		{"empty file", "size 0", "/folders/root/files/local_upload", func() error { _, err := v.LocalUpload(ctx, "root", "a", 0); return err }},
		{"relative source", "source URL", "/folders/root/files/remote_upload", func() error { _, err := v.RemoteUpload(ctx, "root", "a", "/etc/passwd"); return err }},
	}
	for _, tt := range tests {
		err := tt.run()
		e := asAPIErr(t, err)
		if !e.NotSent || !errors.Is(err, apierr.ErrInvalidInput) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want invalid input naming %s", tt.name, err, tt.want)
		}
		if tt.path != "" && (!strings.HasPrefix(e.Path, "/v4/accounts/") || !strings.HasSuffix(e.Path, tt.path)) {
			t.Errorf("%s: refused as %s %s; want the request's path …%s", tt.name, e.Method, e.Path, tt.path)
		}
	}
	if befores != 0 || len(f.requests()) != 0 {
		t.Errorf("%d BeforeCalls, %d requests; want none", befores, len(f.requests()))
	}
}

func TestV4LocalUploadPartsTileTheFile(t *testing.T) {
	f := newFakeV4(t)
	// Uneven sizes a recomputed even split would get wrong.
	f.partSizes = func(int64) []int64 { return []int64{5, 3, 7, 1} }
	v := f.client(t)
	ctx := context.Background()
	data := []byte("0123456789abcdef")
	file, err := v.LocalUpload(ctx, "root", "clip.mov", int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Part{{0, 0, 5}, {1, 5, 3}, {2, 8, 7}, {3, 15, 1}}
	if got := file.Parts(); !slices.Equal(got, want) {
		t.Fatalf("parts %v, want %v", got, want)
	}
	if file.MediaType != "video/quicktime" || file.Status != FileCreated || file.Uploaded() {
		t.Fatalf("file %v", file)
	}
	for _, p := range file.Parts() {
		if err := v.UploadPart(ctx, file.UploadURLs[p.Index].URL, file.MediaType, bytes.NewReader(data), p.Offset, p.Size); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.content(file.ID); !bytes.Equal(got, data) {
		t.Fatalf("assembled %q, want %q", got, data)
	}
	got, err := v.GetFile(ctx, file.ID)
	if err != nil || !got.Uploaded() || len(got.UploadURLs) != 0 {
		t.Fatalf("after parts: %v, %v", got, err)
	}
	st, err := v.FileStatus(ctx, file.ID)
	if err != nil || !st.UploadComplete || st.UploadFailed {
		t.Fatalf("status %+v, %v", st, err)
	}
}

func TestV4PartWithWrongMediaTypeIsRefused(t *testing.T) {
	f := newFakeV4(t)
	v := f.client(t)
	ctx := context.Background()
	file, err := v.LocalUpload(ctx, "root", "clip.mov", 9)
	if err != nil {
		t.Fatal(err)
	}
	p := file.Parts()[0]
	err = v.UploadPart(ctx, file.UploadURLs[0].URL, "application/octet-stream", bytes.NewReader(make([]byte, 9)), p.Offset, p.Size)
	if e := asAPIErr(t, err); e.Status != 403 || apierr.Classify(err) != apierr.Terminal {
		t.Fatalf("got %v", err)
	}
}

func TestV4LocalUploadAnswerIsValidated(t *testing.T) {
	const u = "https://s3.example/p?X-Amz-Signature=" + testSig
	tests := []struct{ name, data, want string }{
		{"sizes short of file_size", `"file_size":10,"upload_urls":[{"size":4,"url":"` + u + `"},{"size":4,"url":"` + u + `"}]`, "sum to 8, file_size is 10"},
		{"sizes beyond file_size", `"file_size":10,"upload_urls":[{"size":8,"url":"` + u + `"},{"size":4,"url":"` + u + `"}]`, "sum to 12"},
		{"zero-size part", `"file_size":10,"upload_urls":[{"size":10,"url":"` + u + `"},{"size":0,"url":"` + u + `"}]`, "upload_urls[1].size is 0"},
		{"relative url", `"file_size":10,"upload_urls":[{"size":10,"url":"/p?X-Amz-Signature=` + testSig + `"}]`, "upload_urls[0].url"},
		{"ftp url", `"file_size":10,"upload_urls":[{"size":10,"url":"ftp://h/p"}]`, "upload_urls[0].url"},
		{"no urls", `"file_size":10`, "no upload_urls"},
		{"other file_size", `"file_size":11,"upload_urls":[{"size":11,"url":"` + u + `"}]`, "file_size 11, asked for 10"},
		{"no id", `"id":"","file_size":10,"upload_urls":[{"size":10,"url":"` + u + `"}]`, "no id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeV4(t)
			f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
				id := `"id":"f1",`
				if strings.Contains(tt.data, `"id"`) {
					id = ""
				}
				writeJSON(w, 201, `{"data":{`+id+`"name":"a.mov","media_type":"video/quicktime","status":"created",`+tt.data+`}}`)
				return true
			}
			file, err := f.client(t).LocalUpload(context.Background(), "root", "a.mov", 10)
			e := asAPIErr(t, err)
			if file != nil || e.Status != 201 || !strings.Contains(err.Error(), tt.want) || !apierr.Ambiguous(err) {
				t.Fatalf("got %v, %v; want an ambiguous error saying %q", file, err, tt.want)
			}
		})
	}
}

func TestV4LegacyTokenAuthHeader(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprint(legacy), func(t *testing.T) {
			f := newFakeV4(t)
			v := f.client(t, func(o *Options) { o.LegacyTokenAuth = legacy })
			ctx := context.Background()
			if _, err := v.Me(ctx); err != nil {
				t.Fatal(err)
			}
			file, err := v.LocalUpload(ctx, "root", "a.txt", 4)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range file.Parts() {
				if err := v.UploadPart(ctx, file.UploadURLs[p.Index].URL, file.MediaType, strings.NewReader("abcd"), p.Offset, p.Size); err != nil {
					t.Fatal(err)
				}
			}
			var api, puts int
			for _, r := range f.requests() {
				got := r.Header.Get("X-Frameio-Legacy-Token-Auth")
				if strings.HasPrefix(r.Path, "/upload/") {
					puts++
					if got != "" || r.Header.Get("Authorization") != "" {
						t.Errorf("part PUT carries legacy %q / authorization %q", got, r.Header.Get("Authorization"))
					}
					continue
				}
				api++
				if want := map[bool]string{true: "true"}[legacy]; got != want {
					t.Errorf("%s %s legacy header %q, want %q", r.Method, r.Path, got, want)
				}
			}
			if api != 2 || puts != len(file.Parts()) {
				t.Errorf("%d API calls, %d PUTs", api, puts)
			}
		})
	}
}

func TestV4PrintsNoSecrets(t *testing.T) {
	f := newFakeV4(t)
	v := f.client(t, func(o *Options) { o.LegacyTokenAuth = true })
	file, err := v.LocalUpload(context.Background(), "root", "a.mov", 12)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for _, x := range []any{v, *v, file, *file, file.UploadURLs, file.UploadURLs[0], []File{*file}} {
			s := fmt.Sprintf(verb, x)
			noLeak(t, s)
			if strings.Contains(s, "X-Amz") {
				t.Errorf("%s of %T shows the query: %s", verb, x, s)
			}
		}
	}
	if s := fmt.Sprint(*file); !strings.Contains(s, "/upload/"+file.ID+"/0?[REDACTED]") || !strings.Contains(s, "a.mov") {
		t.Errorf("File prints %s", s)
	}
}

func TestV4RemoteUploadHidesTheSourceURL(t *testing.T) {
	f := newFakeV4(t)
	const src = "https://src.example/clip.mov?token=S0urceS3cretValue"
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		v4Error(w, 422, "Invalid request", "cannot fetch "+src, "/data/source_url")
		return true
	}
	_, err := f.client(t).RemoteUpload(context.Background(), "root", "clip.mov", src)
	if e := asAPIErr(t, err); e.Status != 422 || strings.Contains(err.Error(), "S0urceS3cretValue") {
		t.Fatalf("got %v", err)
	}
}

func TestV4AccountsFollowsPages(t *testing.T) {
	f := newFakeV4(t)
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v4/accounts" {
			return false
		}
		if r.URL.Query().Get("after") == "" {
			writeJSON(w, 200, `{"data":[{"id":"a1","display_name":"One"}],"links":{"next":"/v4/accounts?after=p2"}}`)
		} else {
			writeJSON(w, 200, `{"data":[{"id":"a2","display_name":"Two"}],"links":{"next":null}}`)
		}
		return true
	}
	got, err := f.client(t).Accounts(context.Background())
	if err != nil || len(got) != 2 || got[1].DisplayName != "Two" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if q := f.requests()[0].RawQuery; q != "page_size=100" {
		t.Errorf("first query %q", q)
	}
}
