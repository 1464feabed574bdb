package apierr_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/frameq/frameq/apierr"
)

func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"code":429,"errors":[{"code":429,"status":429,"title":"Rate Limited","detail":"slow down"}]}`)
	}))
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/v2/assets/abc/children?sig=secret", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(apierr.FromTransport(req.Method, req.URL, err))
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	err = apierr.FromResponse(req.Method, req.URL, resp.StatusCode, resp.Header, body, time.Now())

	fmt.Println(err)
	fmt.Println(apierr.Classify(err), apierr.WaitOf(err), apierr.Ambiguous(err))
	// Output:
	// POST /v2/assets/abc/children: 429 Rate Limited: slow down (retry after 2s)
	// rate_limited 2s false
}
