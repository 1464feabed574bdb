package frameio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/frameq/frameq/apierr"
)

// Body size limits: a page of 100 children with their upload URLs fits in
// maxAPIBody many times over; an error body worth reading is small.
const (
	maxAPIBody   = 16 << 20
	maxErrorBody = 64 << 10
	// maxDrain is how much of an unread body is discarded so the connection
	// can be reused; beyond it, closing is cheaper.
	maxDrain = 256 << 10
)

// legacyAuthHeader lets a legacy developer token through V4's auth.
const legacyAuthHeader = "X-Frameio-Legacy-Token-Auth"

// Client calls the Frame.io v2 API with one bearer token. It is safe for
// concurrent use. Printing a Client with any fmt verb hides the token.
type Client struct {
	cfg      config
	maxPages int // ListChildren's bound; a field so tests can lower it
}

// New returns a Client for o, or an error naming the first invalid field.
func New(o Options) (*Client, error) {
	cfg, err := o.validate()
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, maxPages: maxPages}, nil
}

// String describes c with the token hidden.
func (c Client) String() string {
	tok := hidden(c.cfg.token)
	if c.cfg.tokens != nil {
		tok = "[SOURCE]"
	}
	return fmt.Sprintf("frameio.Client{BaseURL:%q Token:%s UserAgent:%q APITimeout:%v UploadMinRate:%d}",
		c.cfg.base.String(), tok, c.cfg.userAgent, c.cfg.apiTimeout, c.cfg.uploadMinRate)
}

// GoString is String, so %#v hides the token too.
func (c Client) GoString() string { return c.String() }

// Format prints String for every verb, so no verb reaches the token through
// reflection.
func (c Client) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// request is one API call.
type request struct {
	call  Call
	path  string     // escaped, below the base URL: "/assets/abc/children"
	query url.Values // may be nil
	body  any        // JSON-encoded when non-nil
	// check validates a decoded 2xx body, e.g. that an asset has an id.
	check func() error
	// next, when set, is the absolute URL to call instead of path and
	// query: a V4 page's links.next, followed byte for byte.
	next *url.URL
}

// api runs r: BeforeCall, the request under APITimeout, AfterCall. A 2xx
// body is decoded into out (when non-nil). With a token source, a 401 renews
// the token once and sends the call once more (BeforeCall again: it is
// another request). Every error is an *apierr.Error with every token
// redacted.
func (c *Client) api(ctx context.Context, r request, out any) (http.Header, error) {
	u, err := r.next, error(nil)
	if u == nil {
		u, err = c.endpoint(r.path, r.query)
	}
	if err != nil {
		return nil, c.refuse(r.call, c.cfg.base, err)
	}
	var body []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, c.refuse(r.call, u, fmt.Errorf("%w: encode request body: %v", apierr.ErrInvalidInput, err))
		}
		body = b
	}
	h, tok, err := c.attempt(ctx, r, u, body, out, false, "")
	var e *apierr.Error
	if err != nil && tok != "" && errors.As(err, &e) && c.renewable(e.Status) {
		h, _, err = c.attempt(ctx, r, u, body, out, true, tok)
	}
	return h, err
}

// attempt sends r once with the current token (renew: a newer one than
// rejected) and returns the token it sent ("" if it sent none).
func (c *Client) attempt(ctx context.Context, r request, u *url.URL, body []byte, out any, renew bool, rejected string) (http.Header, string, error) {
	var sent func(time.Time)
	if c.cfg.before != nil {
		var err error
		if sent, err = c.cfg.before(ctx, r.call); err != nil {
			return nil, "", c.refuse(r.call, u, fmt.Errorf("before call: %w", err))
		}
	}
	tok, err := c.token(ctx, renew, rejected)
	if err != nil {
		return nil, "", c.refuse(r.call, u, err)
	}
	reqCtx, cancel := context.WithTimeout(ctx, c.cfg.apiTimeout)
	defer cancel()
	var bodyReader io.Reader
	if body != nil {
		bodyReader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(reqCtx, r.call.Method, u.String(), bodyReader)
	if err != nil {
		return nil, "", c.refuse(r.call, u, fmt.Errorf("%w: build request", apierr.ErrInvalidInput))
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", c.cfg.userAgent)
	req.Header.Set("Accept", "application/json")
	if c.cfg.legacyAuth {
		req.Header.Set(legacyAuthHeader, "true")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, res, err := c.send(ctx, r.call, req, maxAPIBody, sent)
	if err != nil {
		return nil, tok, err
	}
	if out != nil {
		err = json.Unmarshal(resp.body, out)
		if err == nil && r.check != nil {
			err = r.check()
		}
		if err != nil {
			err = c.finish(ctx, r.call, res, &apierr.Error{
				Method: req.Method, Path: u.EscapedPath(), Status: resp.status,
				Title: "Undecodable response", Err: err,
			})
			return nil, tok, err
		}
	}
	c.finish(ctx, r.call, res, nil)
	return resp.header, tok, nil
}

// response is a completed HTTP exchange with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send does req and reads its body (up to limit for a 2xx, maxErrorBody
// otherwise). On failure it has already run AfterCall; on success the
// caller finishes res (it may still reject the body). wrote, if not nil,
// learns when the request was written to the connection.
func (c *Client) send(ctx context.Context, call Call, req *http.Request, limit int64, wrote func(time.Time)) (*response, Result, error) {
	var sent atomic.Bool
	trace := &httptrace.ClientTrace{WroteHeaders: func() { sent.Store(true) }}
	if wrote != nil {
		trace.WroteRequest = func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote(time.Now())
			}
		}
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	start := time.Now()
	resp, err := c.cfg.hc.Do(req)
	if err != nil {
		e := apierr.FromTransport(req.Method, req.URL, err)
		e.NotSent = e.NotSent || !sent.Load()
		return nil, Result{}, c.finish(ctx, call, Result{Duration: time.Since(start)}, e)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		limit = maxErrorBody
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	io.CopyN(io.Discard, resp.Body, maxDrain)
	res := Result{
		Status:    resp.StatusCode,
		RateLimit: ParseRateLimit(resp.Header),
		Duration:  time.Since(start),
	}
	var e *apierr.Error
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		e = apierr.FromResponse(req.Method, req.URL, resp.StatusCode, resp.Header, body[:min(int64(len(body)), limit)], time.Now())
	case readErr != nil:
		e = apierr.FromTransport(req.Method, req.URL, fmt.Errorf("read %d response body: %w", resp.StatusCode, readErr))
	case int64(len(body)) > limit:
		e = &apierr.Error{Method: req.Method, Path: req.URL.EscapedPath(), Status: resp.StatusCode,
			Title: "Response too large", Detail: fmt.Sprintf("body exceeds %d bytes", limit)}
	}
	if e != nil {
		return nil, res, c.finish(ctx, call, res, e)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, res, nil
}

// finish redacts e, runs AfterCall and returns e as an error (nil for a nil
// e, never a typed nil).
func (c *Client) finish(ctx context.Context, call Call, res Result, e *apierr.Error) error {
	var err error
	if e != nil {
		e.Redact(c.secretsToRedact()...)
		err = e
	}
	res.Err = err
	if c.cfg.after != nil {
		c.cfg.after(ctx, call, res)
	}
	return err
}

// refuse reports a call that was never sent; AfterCall does not run.
func (c *Client) refuse(call Call, u *url.URL, err error) error {
	e := &apierr.Error{Method: call.Method, Path: u.EscapedPath(), Err: err, NotSent: true}
	e.Redact(c.secretsToRedact()...)
	return e
}

// endpoint joins the base URL, an escaped path and a query.
func (c *Client) endpoint(path string, q url.Values) (*url.URL, error) {
	s := c.cfg.base.String() + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	u, err := url.Parse(s)
	if err != nil {
		// Both parts are escaped; the message would echo the URL anyway.
		return nil, fmt.Errorf("%w: bad request path", apierr.ErrInvalidInput)
	}
	return u, nil
}
