package apierr

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// frameioBody is the error body Frame.io sends.
func frameioBody(status int, title, detail string) string {
	return fmt.Sprintf(`{"code":%d,"errors":[{"code":%d,"detail":%q,"status":%d,"title":%q}],"message":%q}`,
		status, status, detail, status, title, title)
}

// TestStatusTable covers every status in the seed and the extra ones the
// contract names, each served over real loopback HTTP.
func TestStatusTable(t *testing.T) {
	tests := []struct {
		status    int
		body      string
		header    map[string]string
		class     Class
		ambiguous bool
		wait      time.Duration
		want      string // Error()
	}{
		{400, frameioBody(400, "Bad Request", "malformed JSON"), nil, Terminal, false, 0,
			"POST /v2/assets/abc/children: 400 Bad Request: malformed JSON"},
		{401, frameioBody(401, "Unauthorized", "Invalid API token."), nil, TokenRejected, false, 0,
			"POST /v2/assets/abc/children: 401 Unauthorized: Invalid API token."},
		{402, frameioBody(402, "Usage exceeded", "You have gone over your Frame.io plan limits."), nil, TokenRejected, false, 0,
			"POST /v2/assets/abc/children: 402 Usage exceeded: You have gone over your Frame.io plan limits."},
		{403, frameioBody(403, "Forbidden", "missing scope asset.create"), nil, Terminal, false, 0,
			"POST /v2/assets/abc/children: 403 Forbidden: missing scope asset.create"},
		{404, frameioBody(404, "Not Found", "Resource not found."), nil, Terminal, false, 0,
			"POST /v2/assets/abc/children: 404 Not Found: Resource not found."},
		{409, frameioBody(409, "Conflict", "already exists"), nil, Terminal, false, 0,
			"POST /v2/assets/abc/children: 409 Conflict: already exists"},
		{418, "", nil, Terminal, false, 0,
			"POST /v2/assets/abc/children: 418 I'm a teapot"},
		{422, frameioBody(422, "Invalid arguments", "name must not be empty"), nil, Terminal, false, 0,
			"POST /v2/assets/abc/children: 422 Invalid arguments: name must not be empty"},
		{429, frameioBody(429, "Rate Limited", "You have hit the rate limit for the API."),
			map[string]string{"Retry-After": "2", "X-Ratelimit-Window": "1000"}, RateLimited, false, 2 * time.Second,
			"POST /v2/assets/abc/children: 429 Rate Limited: You have hit the rate limit for the API. (retry after 2s)"},
		{429, "", map[string]string{"X-Ratelimit-Window": "1000", "X-Ratelimit-Limit": "5", "X-Ratelimit-Remaining": "0"},
			RateLimited, false, time.Second,
			"POST /v2/assets/abc/children: 429 Too Many Requests (retry after 1s)"},
		{500, frameioBody(500, "Server Error", "unable to complete within 30 seconds"), nil, Retryable, true, 0,
			"POST /v2/assets/abc/children: 500 Server Error: unable to complete within 30 seconds"},
		{502, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
			nil, Retryable, true, 0,
			"POST /v2/assets/abc/children: 502 Bad Gateway: 502 Bad Gateway 502 Bad Gateway nginx"},
		{503, "", map[string]string{"Retry-After": "7"}, Retryable, true, 7 * time.Second,
			"POST /v2/assets/abc/children: 503 Service Unavailable (retry after 7s)"},
		{504, "upstream request timeout", nil, Retryable, true, 0,
			"POST /v2/assets/abc/children: 504 Gateway Timeout: upstream request timeout"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			e := roundTrip(t, nil, http.MethodPost, "/v2/assets/abc/children", func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			if e == nil {
				t.Fatal("no error")
			}
			if e.Status != tt.status || e.Method != "POST" || e.Path != "/v2/assets/abc/children" {
				t.Errorf("got status %d method %q path %q", e.Status, e.Method, e.Path)
			}
			if got := e.Error(); got != tt.want {
				t.Errorf("Error() =\n %q\nwant\n %q", got, tt.want)
			}
			var err error = fmt.Errorf("create asset %q: %w", "a.mov", e)
			if got := Classify(err); got != tt.class {
				t.Errorf("Classify = %v, want %v", got, tt.class)
			}
			if got := Ambiguous(err); got != tt.ambiguous {
				t.Errorf("Ambiguous = %v, want %v", got, tt.ambiguous)
			}
			if got := WaitOf(err); got != tt.wait {
				t.Errorf("WaitOf = %v, want %v", got, tt.wait)
			}
			wantCode := 0
			if strings.HasPrefix(tt.body, `{"code"`) {
				wantCode = tt.status
			}
			if e.Code != wantCode {
				t.Errorf("Code = %d, want %d", e.Code, wantCode)
			}
			assertNoSecret(t, e.Error())
			assertNoSecret(t, fmt.Sprintf("%+v %#v", e, e))
		})
	}
}

func TestErrorUnwrapAndFormats(t *testing.T) {
	cause := errors.New("connection reset by peer")
	e := &Error{Method: "PUT", Path: "/upload/x/0", Err: cause}
	if got, want := e.Error(), "PUT /upload/x/0: connection reset by peer"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, cause) {
		t.Error("errors.Is does not reach the cause")
	}
	if got := (&Error{}).Error(); got != "transport error" {
		t.Errorf("zero Error() = %q", got)
	}
	if got := (&Error{Method: "GET", Path: "/me", Status: 200, Title: "Undecodable response", Err: cause}).Error(); got != "GET /me: 200 Undecodable response: connection reset by peer" {
		t.Errorf("2xx Error() = %q", got)
	}
	if got := (&Error{Status: 599}).Error(); got != "599" {
		t.Errorf("bare status Error() = %q", got)
	}
}

func TestFromResponseUnknownStatusAndNilInputs(t *testing.T) {
	e := FromResponse("", nil, 799, nil, nil, time.Time{})
	if e.Title != "HTTP status 799" || e.Path != "" || e.Wait != 0 {
		t.Errorf("got %+v", e)
	}
	if Classify(e) != Retryable || !Ambiguous(e) {
		t.Errorf("unknown 7xx: Classify %v Ambiguous %v", Classify(e), Ambiguous(e))
	}
	for status, want := range map[int]Class{301: Terminal, 304: Terminal, 101: Retryable, 200: Retryable, 204: Retryable} {
		if got := Classify(FromResponse("GET", nil, status, nil, nil, time.Now())); got != want {
			t.Errorf("Classify(%d) = %v, want %v", status, got, want)
		}
	}
	if Ambiguous(FromResponse("GET", nil, 304, nil, nil, time.Now())) {
		t.Error("a 3xx cannot have taken effect")
	}
	if !Ambiguous(FromResponse("POST", nil, 201, nil, nil, time.Now())) {
		t.Error("an undecodable 2xx did take effect")
	}
}

func TestFromTransportNilError(t *testing.T) {
	e := FromTransport("GET", mustURL(t, "http://h/p"), nil)
	if e.Err == nil || e.Error() != "GET /p: unknown transport error" {
		t.Errorf("got %q", e.Error())
	}
}
