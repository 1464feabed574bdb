package frameio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameq/frameq/apierr"
)

func TestRequestHeadersAndPaths(t *testing.T) {
	type seen struct {
		method, rawPath, query, auth, ua, accept, ctype, body string
	}
	var got []seen
	var mu sync.Mutex
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"),
			r.Header.Get("User-Agent"), r.Header.Get("Accept"), r.Header.Get("Content-Type"), string(b)})
		mu.Unlock()
		switch {
		case r.Method == "DELETE":
			w.WriteHeader(http.StatusNoContent)
		case strings.HasSuffix(r.URL.Path, "/children") && r.Method == "GET":
			writeJSON(w, 200, `[]`)
		case strings.HasSuffix(r.URL.Path, "/me"):
			writeJSON(w, 200, `{"id":"u1","name":"N","email":"e@x","account_id":"a1"}`)
		default:
			writeJSON(w, 200, `{"id":"a1","name":"x"}`)
		}
	}, func(o *Options) { o.BaseURL += "/"; o.UserAgent = "frameq/1.2.3" })
	ctx := context.Background()
	u, err := c.Me(ctx)
	if err != nil || *u != (User{ID: "u1", Name: "N", Email: "e@x", AccountID: "a1"}) {
		t.Fatalf("Me = %+v, %v", u, err)
	}
	odd := "a/b c?d#é"
	if _, err := c.GetAsset(ctx, odd); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListChildren(ctx, odd); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAsset(ctx, odd, CreateAsset{Type: TypeFolder, Name: "f"}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAsset(ctx, odd); err != nil {
		t.Fatal(err)
	}
	esc := "/v2/assets/a%2Fb%20c%3Fd%23%C3%A9"
	want := []seen{
		{"GET", "/v2/me", "", "Bearer " + testToken, "frameq/1.2.3", "application/json", "", ""},
		{"GET", esc, "", "Bearer " + testToken, "frameq/1.2.3", "application/json", "", ""},
		{"GET", esc + "/children", "page=1&page_size=100", "Bearer " + testToken, "frameq/1.2.3", "application/json", "", ""},
		{"POST", esc + "/children", "", "Bearer " + testToken, "frameq/1.2.3", "application/json", "application/json", `{"type":"folder","name":"f","filesize":0}`},
		{"DELETE", esc, "", "Bearer " + testToken, "frameq/1.2.3", "application/json", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d requests, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestHooks(t *testing.T) {
	type after struct {
		call Call
		res  Result
	}
	var (
		mu      sync.Mutex
		befores []Call
		afters  []after
	)
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			w.Header().Set("Retry-After", "3")
			writeJSON(w, 429, `{"code":429,"errors":[{"code":429,"title":"Rate Limited"}]}`)
			return
		}
		writeJSON(w, 200, `{"id":"a1"}`)
	}, func(o *Options) {
		o.BeforeCall = func(ctx context.Context, c Call) error {
			mu.Lock()
			defer mu.Unlock()
			befores = append(befores, c)
			return nil
		}
		o.AfterCall = func(ctx context.Context, c Call, r Result) {
			mu.Lock()
			defer mu.Unlock()
			afters = append(afters, after{c, r})
		}
	})
	ctx := context.Background()
	if _, err := c.GetAsset(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateAsset(ctx, "a1", CreateAsset{Type: TypeFile, Name: "x"})
	if apierr.Classify(err) != apierr.RateLimited || apierr.WaitOf(err) != 3*time.Second {
		t.Fatalf("create: %v (class %v wait %v)", err, apierr.Classify(err), apierr.WaitOf(err))
	}
	wantCalls := []Call{
		{"GET", RouteGetAsset, KindRead, []string{LimitCalls}},
		{"POST", RouteCreateChildren, KindCreate, []string{LimitCalls, LimitCreates}},
	}
	if len(befores) != 2 || !reflect.DeepEqual(befores, wantCalls) {
		t.Errorf("BeforeCall saw %+v", befores)
	}
	if got := c.CreateLimits(); !reflect.DeepEqual(got, wantCalls[1].Limits) {
		t.Errorf("CreateLimits = %v, want the create call's %v", got, wantCalls[1].Limits)
	}
	if len(afters) != 2 {
		t.Fatalf("AfterCall ran %d times", len(afters))
	}
	rl := RateLimit{Limit: 50, Remaining: 49, Window: time.Second, Present: true}
	if a := afters[0]; !reflect.DeepEqual(a.call, wantCalls[0]) || a.res.Status != 200 || a.res.Err != nil || a.res.RateLimit != rl || a.res.Duration <= 0 {
		t.Errorf("after GET: %+v", a)
	}
	if a := afters[1]; !reflect.DeepEqual(a.call, wantCalls[1]) || a.res.Status != 429 || a.res.RateLimit != rl || apierr.Classify(a.res.Err) != apierr.RateLimited {
		t.Errorf("after POST: %+v", a)
	}
	var e *apierr.Error
	if !errors.As(afters[1].res.Err, &e) {
		t.Errorf("Result.Err is %T, want *apierr.Error", afters[1].res.Err)
	}
}

func TestBeforeCallErrorAbortsCall(t *testing.T) {
	requests, afters := 0, 0
	refusal := errors.New("no permit")
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { requests++ }, func(o *Options) {
		o.BeforeCall = func(ctx context.Context, c Call) error { return refusal }
		o.AfterCall = func(ctx context.Context, c Call, r Result) { afters++ }
	})
	_, err := c.CreateAsset(context.Background(), "p1", CreateAsset{Type: TypeFolder, Name: "f"})
	e := asAPIErr(t, err)
	if !errors.Is(err, refusal) || !e.NotSent || apierr.Ambiguous(err) || requests != 0 || afters != 0 {
		t.Errorf("err %v NotSent %v Ambiguous %v requests %d afters %d", err, e.NotSent, apierr.Ambiguous(err), requests, afters)
	}
	if e.Path != "/v2/assets/p1/children" || e.Method != "POST" {
		t.Errorf("error names %s %s", e.Method, e.Path)
	}
}

func TestErrorResponsesAreAPIErrors(t *testing.T) {
	tests := []struct {
		status int
		body   string
		class  apierr.Class
	}{
		{401, `{"code":401,"errors":[{"code":401,"title":"Unauthorized","detail":"token ` + testToken + ` is invalid"}]}`, apierr.TokenRejected},
		{404, `{"code":404,"errors":[{"code":404,"title":"Not Found"}]}`, apierr.Terminal},
		{422, `{"code":422,"errors":[{"code":422,"title":"Invalid arguments","detail":"name"}]}`, apierr.Terminal},
		{500, `<html><body>echo: Authorization: Bearer ` + testToken + `</body></html>`, apierr.Retryable},
		{503, ``, apierr.Retryable},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, tt.status, tt.body) })
			ctx := context.Background()
			errs := map[string]error{}
			_, errs["me"] = c.Me(ctx)
			_, errs["get"] = c.GetAsset(ctx, "a1")
			_, errs["list"] = c.ListChildren(ctx, "a1")
			_, errs["create"] = c.CreateAsset(ctx, "a1", CreateAsset{Type: TypeFolder, Name: "f"})
			errs["delete"] = c.DeleteAsset(ctx, "a1")
			for name, err := range errs {
				e := asAPIErr(t, err)
				if e.Status != tt.status || apierr.Classify(err) != tt.class {
					t.Errorf("%s: status %d class %v: %v", name, e.Status, apierr.Classify(err), err)
				}
				if tt.status == 401 && !strings.Contains(err.Error(), "[REDACTED]") {
					t.Errorf("%s: echoed token not redacted: %v", name, err)
				}
			}
		})
	}
}

func TestUndecodableSuccess(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"garbage", `<html>ok</html>`},
		{"truncated", `{"id":"a1","name":`},
		{"wrong type", `{"id":42}`},
		{"no id", `{"name":"x"}`},
		{"empty", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 201, tt.body) })
			_, err := c.CreateAsset(context.Background(), "p", CreateAsset{Type: TypeFolder, Name: "f"})
			e := asAPIErr(t, err)
			if e.Status != 201 || apierr.Classify(err) != apierr.Retryable || !apierr.Ambiguous(err) {
				t.Errorf("status %d class %v ambiguous %v: %v", e.Status, apierr.Classify(err), apierr.Ambiguous(err), err)
			}
		})
	}
}

func TestOversizedBody(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		io.WriteString(w, `{"id":"a","name":"`)
		chunk := strings.Repeat("x", 1<<20)
		for range maxAPIBody>>20 + 1 {
			io.WriteString(w, chunk)
		}
		io.WriteString(w, `"}`)
	})
	_, err := c.GetAsset(context.Background(), "a")
	if e := asAPIErr(t, err); e.Title != "Response too large" || apierr.Classify(err) != apierr.Retryable {
		t.Errorf("got %v", err)
	}
}

func TestAPITimeout(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // lets the server notice the hang-up
		<-r.Context().Done()
	}, func(o *Options) { o.APITimeout = 50 * time.Millisecond })
	_, err := c.CreateAsset(context.Background(), "p", CreateAsset{Type: TypeFolder, Name: "f"})
	e := asAPIErr(t, err)
	if !errors.Is(err, context.DeadlineExceeded) || apierr.Classify(err) != apierr.Retryable ||
		!apierr.Ambiguous(err) || e.NotSent {
		t.Errorf("got %v (ambiguous %v)", err, apierr.Ambiguous(err))
	}
}

func TestCanceledBeforeSendIsNotSent(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { t.Error("request reached the server") })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.CreateAsset(ctx, "p", CreateAsset{Type: TypeFolder, Name: "f"})
	if e := asAPIErr(t, err); !e.NotSent || apierr.Ambiguous(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("got %v NotSent %v", err, e.NotSent)
	}
}

func TestInvalidInputIsRefused(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { t.Error("request reached the server") })
	ctx := context.Background()
	errs := []error{}
	for _, id := range []string{"", ".", ".."} {
		_, err := c.GetAsset(ctx, id)
		errs = append(errs, err)
		_, err = c.ListChildren(ctx, id)
		errs = append(errs, err)
		_, err = c.CreateAsset(ctx, id, CreateAsset{Type: TypeFolder, Name: "f"})
		errs = append(errs, err)
		errs = append(errs, c.DeleteAsset(ctx, id))
	}
	_, err := c.CreateAsset(ctx, "p", CreateAsset{Type: TypeFile, Name: "f", Properties: map[string]any{"bad": func() {}}})
	errs = append(errs, err)
	for _, err := range errs {
		asAPIErr(t, err)
		if !errors.Is(err, apierr.ErrInvalidInput) || apierr.Classify(err) != apierr.Terminal || apierr.Ambiguous(err) {
			t.Errorf("got %v class %v", err, apierr.Classify(err))
		}
	}
}

func TestConnectionRefused(t *testing.T) {
	c, srv := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {})
	srv.Close()
	_, err := c.CreateAsset(context.Background(), "p", CreateAsset{Type: TypeFolder, Name: "f"})
	if e := asAPIErr(t, err); !e.NotSent || apierr.Ambiguous(err) || apierr.Classify(err) != apierr.Retryable {
		t.Errorf("got %v", err)
	}
}

// Permit's sent runs once per request, with the time the request was
// written, within the call; BeforeCall and Permit exclude each other.
func TestPermitLearnsWhenTheRequestWasWritten(t *testing.T) {
	var sentAt []time.Time
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"id":"a1","type":"file","name":"f"}`)
	}, func(o *Options) {
		o.Permit = func(ctx context.Context, c Call) (func(time.Time), error) {
			return func(at time.Time) { sentAt = append(sentAt, at) }, nil
		}
	})
	asked := time.Now()
	if _, err := c.GetAsset(context.Background(), "a1"); err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	if len(sentAt) != 1 {
		t.Fatalf("sent ran %d times for one request, want 1", len(sentAt))
	}
	if sentAt[0].Before(asked) || sentAt[0].After(answered) {
		t.Errorf("sent says the request left at %v, outside the call [%v, %v]", sentAt[0], asked, answered)
	}
	_, err := New(Options{BaseURL: "http://127.0.0.1:1/v2", Token: testToken,
		BeforeCall: func(context.Context, Call) error { return nil },
		Permit:     func(context.Context, Call) (func(time.Time), error) { return nil, nil }})
	if err == nil || !strings.Contains(err.Error(), "Options.Permit") {
		t.Errorf("BeforeCall and Permit both set: %v, want an error naming both", err)
	}
}
