package frameiosim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Server is a simulated Frame.io v2: the API under /v2, presigned part
// uploads under /upload, and control endpoints under /_sim. It is an
// http.Handler, and can also listen by itself (Start).
type Server struct {
	cfg    Config
	err    error               // invalid config or setup failure, reported by Start
	tokens map[string]string   // every token → account, legacy ones included
	legacy map[string]bool     // legacy tokens: V4 wants the legacy header
	more   map[string][]string // token → further V4 accounts
	store  *store
	ims    *ims
	lim    *limiter
	key    []byte       // HMAC key of presigned URLs
	dir    string       // part files
	skew   atomic.Int64 // added to the clock; tests use it to expire URLs

	faultMu sync.RWMutex
	fault   Faults
	rng     *lockedRand

	partsReceived atomic.Int64
	partsFailed   atomic.Int64
	failedCreates atomic.Int64 // Create500 faults
	lostCreates   atomic.Int64 // LostCreate and ResetCreate faults

	mu        sync.Mutex
	http      *http.Server
	url       string // the v2 base URL
	origin    string // scheme and host
	closed    bool
	closeErr  error
	closeOnce sync.Once
}

// New returns a server for cfg, with defaults for zero fields. It makes
// one project (and root folder) per account. An invalid cfg is reported by
// Start (and by cfg.Validate); such a server answers every request 500.
func New(cfg Config) *Server {
	err := cfg.Validate()
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, err: err, tokens: make(map[string]string, len(cfg.Tokens)),
		legacy: make(map[string]bool, len(cfg.LegacyTokens)),
		fault:  cfg.Faults, rng: newLockedRand(cfg.Seed), key: make([]byte, 32), ims: newIMS(cfg.IMSClients)}
	_, _ = rand.Read(s.key) // crypto/rand.Read never fails (Go ≥ 1.24)
	accounts := make([]string, 0, len(cfg.Tokens)+len(cfg.LegacyTokens))
	for tok, acct := range cfg.Tokens {
		s.tokens[tok] = acct
		accounts = append(accounts, acct)
	}
	for tok, acct := range cfg.LegacyTokens {
		s.tokens[tok], s.legacy[tok] = acct, true
		accounts = append(accounts, acct)
	}
	for _, cl := range cfg.IMSClients {
		accounts = append(accounts, cl.Account)
	}
	s.more = make(map[string][]string, len(cfg.MoreAccounts))
	for tok, accts := range cfg.MoreAccounts {
		s.more[tok] = append([]string(nil), accts...)
		accounts = append(accounts, accts...)
	}
	sort.Strings(accounts)
	s.store = newStore(accounts, s.now())
	s.lim = newLimiter(cfg.Enforcement, cfg.Window, cfg.CallLimit, cfg.CreateLimit, s.now)
	for name, l := range cfg.v4Limits() {
		s.lim.setRoute(name, l)
	}
	if s.err == nil {
		s.dir, s.err = os.MkdirTemp("", "frameio-sim-parts-")
	}
	return s
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves in
// the background until Close.
func (s *Server) Start(addr string) error {
	if s.err != nil {
		return fmt.Errorf("frameio-sim: %w", s.err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http != nil || s.closed {
		return errors.New("frameio-sim: already started or closed")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("frameio-sim: listen %s: %w", addr, err)
	}
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.origin = "http://" + ln.Addr().String()
	s.url = s.origin + "/v2"
	go s.http.Serve(ln) // returns ErrServerClosed at Close
	return nil
}

// StartTest starts a server for cfg on 127.0.0.1:0 and closes it when tb
// ends.
func StartTest(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s := New(cfg)
	if err := s.Start("127.0.0.1:0"); err != nil {
		s.Close()
		tb.Fatalf("start frameio simulator: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Close stops serving at once, cutting in-flight requests, and removes the
// stored parts. It is safe to call more than once. See Shutdown for a
// graceful stop.
func (s *Server) Close() error {
	return s.stop(nil)
}

// Shutdown stops accepting requests, lets in-flight ones finish until ctx
// is done, then closes like Close.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.stop(ctx)
}

func (s *Server) stop(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		srv := s.http
		s.mu.Unlock()
		if srv != nil {
			if ctx != nil {
				_ = srv.Shutdown(ctx) // on timeout, Close below cuts the rest
			}
			if err := srv.Close(); err != nil {
				s.closeErr = fmt.Errorf("frameio-sim: close: %w", err)
			}
		}
		if s.dir != "" {
			if err := os.RemoveAll(s.dir); err != nil && s.closeErr == nil {
				s.closeErr = fmt.Errorf("frameio-sim: remove parts: %w", err)
			}
		}
	})
	return s.closeErr
}

// URL is the API base URL, e.g. "http://127.0.0.1:41234/v2"; "" before
// Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// V4URL is the V4 API base URL, e.g. "http://127.0.0.1:41234/v4"; ""
// before Start.
func (s *Server) V4URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.origin == "" {
		return ""
	}
	return s.origin + "/v4"
}

// AdvanceClock moves the simulator's clock d forward, as if that much time
// had passed, for tests outside this package: presigned URLs signed
// before expire (Config.URLExpiry), files pass CompleteAfter, rate-limit
// windows pass, and assets made later carry the later time. Advances add
// up; a d <= 0 does nothing (the clock never goes back).
func (s *Server) AdvanceClock(d time.Duration) {
	if d > 0 {
		s.skew.Add(int64(d))
	}
}

// now is the server's clock.
func (s *Server) now() time.Time {
	return time.Now().Add(time.Duration(s.skew.Load()))
}

// RootFolder is the root folder id of the project of token's account (v2
// root_asset_id, V4 root_folder_id: both APIs see the same store and ids),
// or "" for an unknown token. Legacy tokens count.
func (s *Server) RootFolder(token string) string {
	acct, ok := s.tokens[token]
	if !ok {
		return ""
	}
	return s.RootFolderOfAccount(acct)
}

// RootFolderOfAccount is the root_asset_id of the account's project, or
// "" for an unknown account.
func (s *Server) RootFolderOfAccount(accountID string) string {
	if a := s.store.account(accountID); a != nil {
		return a.rootID
	}
	return ""
}

// Accounts lists the account ids, sorted.
func (s *Server) Accounts() []string {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	out := make([]string, 0, len(s.store.accounts))
	for id := range s.store.accounts {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// MakeFolder creates a folder for test setup, bypassing limits, faults
// and the Creates count. It returns the new id, or "" if parentID is not a
// live folder or name is invalid.
func (s *Server) MakeFolder(parentID, name string) string {
	q := createRequest{Type: typeFolder, Name: name}
	if q.validate() != nil {
		return ""
	}
	a := s.newAsset(parentID, q)
	if s.store.add(a, false) != nil {
		return ""
	}
	return a.id
}

// SetFaults replaces the injected faults; requests already past their
// fault checks keep the old ones. Probabilities act as if clamped to
// [0, 1] and negative delays as 0 (Faults.Validate reports them).
func (s *Server) SetFaults(f Faults) {
	f.ForbiddenFolders = append([]string(nil), f.ForbiddenFolders...)
	f.PaymentRequiredFolders = append([]string(nil), f.PaymentRequiredFolders...)
	f.LockedAccounts = append([]string(nil), f.LockedAccounts...)
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.fault = f
}

func (s *Server) faults() Faults {
	s.faultMu.RLock()
	defer s.faultMu.RUnlock()
	return s.fault
}

// SetLimits changes the call and create limits at once (headers show the
// new values on the next response). A value <= 0 leaves that limit as is.
func (s *Server) SetLimits(callLimit, createLimit int) {
	s.lim.setLimits(callLimit, createLimit)
}

// SetV4Limit changes one V4 route's limit (headers show it on the next
// answer); a zero field keeps its current value. It reports an unknown
// route name or a negative value.
func (s *Server) SetV4Limit(route string, l Limit) error {
	if err := validLimit(DefaultV4Limits(), route, l); err != nil {
		return fmt.Errorf("frameio-sim: %w", err)
	}
	s.lim.setRoute(route, l)
	return nil
}

// V4Limits returns the V4 per-route limits in force, by route name.
func (s *Server) V4Limits() map[string]Limit {
	return s.lim.routeLimits()
}

// Delete removes an asset (a folder with everything below it) for test
// setup, bypassing limits and faults, as if deleted in Frame.io's web
// app. It reports false for an unknown id or a project root.
func (s *Server) Delete(id string) bool {
	gone, err := s.store.remove(id)
	if err != nil {
		return false
	}
	s.dropParts(gone)
	return true
}

// ServeHTTP serves the APIs (/v2, /v4), part uploads (/upload) and the
// control endpoints (/_sim).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusWriter{ResponseWriter: w}
	defer s.logRequest(r, rec, start)
	if s.err != nil {
		writeReply(rec, apiError(http.StatusInternalServerError, "simulator misconfigured: %v", s.err))
		return
	}
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/v2/") && s.cfg.API.serves(APIV2):
		s.serveAPI(rec, r)
	case strings.HasPrefix(p, "/v4/") && s.cfg.API.serves(APIV4):
		s.serveV4(rec, r)
	case strings.HasPrefix(p, "/upload/"):
		s.serveUpload(rec, r)
	case strings.HasPrefix(p, "/_sim/"):
		s.serveControl(rec, r)
	case p == IMSPath:
		s.serveIMS(rec, r)
	default:
		writeReply(rec, apiError(http.StatusNotFound, "no such endpoint: %s (the API is under %s)", p, s.prefixes()))
	}
}

func (s *Server) prefixes() string {
	switch s.cfg.API {
	case APIV2:
		return "/v2"
	case APIV4:
		return "/v4"
	}
	return "/v2 and /v4"
}

// serveAPI runs one API call: proxy fault, auth, rate limit, handler,
// delays, answer.
func (s *Server) serveAPI(w *statusWriter, r *http.Request) {
	f := s.faults()
	if s.chance(f.HTMLError) {
		writeProxyError(w)
		return
	}
	rt := matchRoute(r.Method, r.URL.Path)
	acct, scope, rep := s.authenticate(r)
	if rep != nil {
		writeReply(w, *rep)
		return
	}
	v := s.lim.admit(scope, rt.create)
	setRateHeaders(w.Header(), v)
	var out reply
	if v.ok {
		out = rt.handle(s, &call{r: r, acct: acct, id: rt.id, faults: f})
	} else {
		out = s.rateLimited(v)
	}
	if !s.delay(r.Context(), f) {
		return // the client gave up; nobody to answer
	}
	if out.reset {
		dropConnection(w)
		return
	}
	writeReply(w, out)
}

// authenticate finds the account of the bearer token and the limit scope.
// Tokens never appear in the answer.
func (s *Server) authenticate(r *http.Request) (*account, string, *reply) {
	tok := bearerToken(r)
	if tok == "" {
		rep := apiError(http.StatusUnauthorized, "missing bearer token: send the header Authorization: Bearer <token>")
		return nil, "", &rep
	}
	acctID, ok := s.tokens[tok]
	scope := tok
	if !ok {
		minted, known, expired := s.ims.lookup(tok, s.now())
		switch {
		case !known:
			rep := apiError(http.StatusUnauthorized, "invalid API token")
			return nil, "", &rep
		case expired:
			rep := apiError(http.StatusUnauthorized, "The access token has expired: get a new one from IMS")
			return nil, "", &rep
		}
		// Frame.io limits the user behind a token, and every token minted
		// for a client is the same user: one scope for all of them.
		acctID, scope = minted.account, "ims:"+minted.client
	}
	if s.cfg.LimitPerAccount {
		scope = acctID
	}
	return s.store.account(acctID), scope, nil
}

// bearerToken is the token of the Authorization header, or "".
func bearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

func setRateHeaders(h http.Header, v verdict) {
	h.Set("x-ratelimit-limit", fmt.Sprint(v.limit))
	h.Set("x-ratelimit-remaining", fmt.Sprint(v.remaining))
	h.Set("x-ratelimit-window", fmt.Sprint(v.window.Milliseconds()))
}

func (s *Server) rateLimited(v verdict) reply {
	rep := apiError(http.StatusTooManyRequests, "you have hit the rate limit for the API (%d per %d ms)", v.limit, v.window.Milliseconds())
	if !s.cfg.NoRetryAfter {
		secs := max(1, int64((v.wait+time.Second-1)/time.Second))
		rep.header = map[string]string{"Retry-After": fmt.Sprint(secs)}
	}
	return rep
}

func writeReply(w http.ResponseWriter, rep reply) {
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.status == http.StatusNoContent || rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	b, err := encodeJSON(rep.body)
	if err != nil { // our own types always marshal; answer like a server bug would
		rep = apiError(http.StatusInternalServerError, "encode response: %v", err)
		b, _ = encodeJSON(rep.body)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rep.status)
	w.Write(b)
}

// encodeJSON marshals v with a trailing newline, leaving '&' in upload
// URLs readable.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return buf.Bytes(), err
}
