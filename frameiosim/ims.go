package frameiosim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// IMSPath is the simulated Adobe IMS token endpoint, on the same server as
// the APIs (IMSURL).
const IMSPath = "/ims/token/v3"

// DefaultTokenLifetime is how long a minted access token lives, like Adobe
// IMS's (about 24 hours).
const DefaultTokenLifetime = 24 * time.Hour

// IMSClient is a server-to-server integration: its client secret and the
// account its access tokens act for.
type IMSClient struct {
	Secret  string
	Account string
}

// ims is the simulated IMS: the tokens it minted and its mint counts.
type ims struct {
	mu      sync.Mutex
	clients map[string]IMSClient   // client id → secret and account
	tokens  map[string]mintedToken // access token → what it is
	mints   map[string][]time.Time // client id → mint times (for the limit), in order
	counts  map[string]int         // client id → successful mints
	expired int                    // API calls refused for an expired minted token
	// refresh tokens: live ones by token, and every one ever used (the
	// rotated-out ones), so a second use is refused and counted.
	refresh   map[string]string // live refresh token → client id
	used      map[string]bool   // refresh tokens already exchanged
	refreshes map[string]int    // client id → successful refreshes
	reuses    int               // refresh attempts with a used token
}

// mintedToken is an access token IMS handed out.
type mintedToken struct {
	client, account string
	expiry          time.Time
}

func newIMS(clients map[string]IMSClient) *ims {
	m := &ims{clients: map[string]IMSClient{}, tokens: map[string]mintedToken{}, mints: map[string][]time.Time{}, counts: map[string]int{},
		refresh: map[string]string{}, used: map[string]bool{}, refreshes: map[string]int{}}
	for id, c := range clients {
		m.clients[id] = c
	}
	return m
}

// SetIMSSecret changes a client's secret, as an admin rotating it in the
// Adobe Developer Console would: the old one is refused from now on
// (tokens already minted keep working until they expire). It reports an
// unknown client id.
func (s *Server) SetIMSSecret(clientID, secret string) error {
	s.ims.mu.Lock()
	defer s.ims.mu.Unlock()
	c, ok := s.ims.clients[clientID]
	if !ok || secret == "" {
		return fmt.Errorf("frameio-sim: no IMS client %q, or an empty secret", clientID)
	}
	c.Secret = secret
	s.ims.clients[clientID] = c
	return nil
}

// ExpireIMSTokens makes every access token minted so far expire now, as if
// the clocks disagreed or IMS revoked them: the APIs answer 401 "expired"
// to them, and a client must mint again.
func (s *Server) ExpireIMSTokens() {
	now := s.now()
	s.ims.mu.Lock()
	defer s.ims.mu.Unlock()
	for tok, t := range s.ims.tokens {
		if now.Before(t.expiry) {
			t.expiry = now
			s.ims.tokens[tok] = t
		}
	}
}

// IssueRefreshToken hands out a user OAuth refresh token for clientID, as
// IMS does when a person logs in with offline_access: the
// refresh_token grant exchanges it once for an access token and the next
// refresh token, and refuses it (400 invalid_grant) from then on.
func (s *Server) IssueRefreshToken(clientID string) (string, error) {
	s.ims.mu.Lock()
	defer s.ims.mu.Unlock()
	if _, ok := s.ims.clients[clientID]; !ok {
		return "", fmt.Errorf("frameio-sim: no IMS client %q", clientID)
	}
	return s.ims.newRefreshLocked(clientID), nil
}

// newRefreshLocked makes a live refresh token for client.
func (m *ims) newRefreshLocked(client string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "sim-rt-" + hex.EncodeToString(b)
	m.refresh[tok] = client
	return tok
}

// client returns a client if secret is its secret.
func (m *ims) client(id, secret string) (IMSClient, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clients[id]
	return c, ok && c.Secret == secret
}

// IMSURL is the simulated IMS token endpoint, e.g.
// "http://127.0.0.1:41234/ims/token/v3"; "" before Start.
func (s *Server) IMSURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.origin == "" {
		return ""
	}
	return s.origin + IMSPath
}

// serveIMS answers POST /ims/token/v3 like Adobe IMS does for the
// refresh_token grant (serveRefresh) and the client-credentials grant: form fields grant_type=client_credentials,
// client_id, client_secret and scope; 401 invalid_client for unknown or
// wrong credentials; 429 beyond Config.IMSMintLimit mints per minute per
// client; else the access token, "bearer" and expires_in in seconds.
func (s *Server) serveIMS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeIMS(w, http.StatusMethodNotAllowed, imsError("method_not_allowed", "use POST"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeIMS(w, http.StatusBadRequest, imsError("invalid_request", "the body is not a form"))
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	switch grant := r.PostForm.Get("grant_type"); {
	case grant == "refresh_token":
		s.serveRefresh(w, r, id, secret)
		return
	case grant != "client_credentials":
		writeIMS(w, http.StatusBadRequest, imsError("unsupported_grant_type", "grant_type must be client_credentials or refresh_token"))
		return
	case id == "" || secret == "":
		writeIMS(w, http.StatusBadRequest, imsError("invalid_request", "client_id and client_secret are required in the body"))
		return
	case r.PostForm.Get("scope") == "":
		writeIMS(w, http.StatusBadRequest, imsError("invalid_scope", "scope is required"))
		return
	}
	client, ok := s.ims.client(id, secret)
	if !ok {
		writeIMS(w, http.StatusUnauthorized, imsError("invalid_client", "invalid client_id or client_secret parameter"))
		return
	}
	tok, wait := s.ims.mint(id, client.Account, s.now(), s.cfg.TokenLifetime, s.cfg.IMSMintLimit)
	if tok == "" {
		w.Header().Set("Retry-After", fmt.Sprint(max(1, int64((wait+time.Second-1)/time.Second))))
		writeIMS(w, http.StatusTooManyRequests, imsError("too_many_requests", "too many token requests for this client"))
		return
	}
	secs := int64((s.cfg.TokenLifetime + time.Second - 1) / time.Second)
	writeIMS(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": secs})
}

// serveRefresh answers the refresh_token grant: client_id and
// client_secret (web-app credentials) must match; the refresh token must
// be live and the client's, else 400 invalid_grant; beyond the mint limit
// 429 (the refresh token stays live). Success revokes the refresh token and
// returns an access token and the next refresh token.
func (s *Server) serveRefresh(w http.ResponseWriter, r *http.Request, id, secret string) {
	rt := r.PostForm.Get("refresh_token")
	if id == "" || rt == "" {
		writeIMS(w, http.StatusBadRequest, imsError("invalid_request", "client_id and refresh_token are required in the body"))
		return
	}
	client, ok := s.ims.client(id, secret)
	if !ok {
		writeIMS(w, http.StatusUnauthorized, imsError("invalid_client", "invalid client_id or client_secret parameter"))
		return
	}
	tok, next, wait, err := s.ims.refreshGrant(id, client.Account, rt, s.now(), s.cfg.TokenLifetime, s.cfg.IMSMintLimit)
	switch {
	case err != "":
		writeIMS(w, http.StatusBadRequest, imsError("invalid_grant", err))
		return
	case tok == "":
		w.Header().Set("Retry-After", fmt.Sprint(max(1, int64((wait+time.Second-1)/time.Second))))
		writeIMS(w, http.StatusTooManyRequests, imsError("too_many_requests", "too many token requests for this client"))
		return
	}
	secs := int64((s.cfg.TokenLifetime + time.Second - 1) / time.Second)
	writeIMS(w, http.StatusOK, map[string]any{"access_token": tok, "refresh_token": next, "token_type": "bearer", "expires_in": secs})
}

// refreshGrant exchanges refresh token rt of client: a new access token and
// refresh token, rt revoked; or a refusal (err) or the wait before the mint
// limit allows one.
func (m *ims) refreshGrant(client, account, rt string, now time.Time, lifetime time.Duration, limit int) (tok, next string, wait time.Duration, err string) {
	m.mu.Lock()
	owner, live := m.refresh[rt]
	switch {
	case m.used[rt]:
		m.reuses++
		m.mu.Unlock()
		return "", "", 0, "the refresh token was already used (revoked)"
	case !live || owner != client:
		m.mu.Unlock()
		return "", "", 0, "invalid refresh token"
	}
	m.mu.Unlock()
	tok, wait = m.mint(client, account, now, lifetime, limit)
	if tok == "" {
		return "", "", wait, ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used[rt] { // another request exchanged it meanwhile
		m.reuses++
		delete(m.tokens, tok)
		return "", "", 0, "the refresh token was already used (revoked)"
	}
	delete(m.refresh, rt)
	m.used[rt] = true
	m.refreshes[client]++
	return tok, m.newRefreshLocked(client), 0, ""
}

// mint makes a token for client acting for account, or says how long until
// limit (per minute; 0: none) allows one.
func (m *ims) mint(client, account string, now time.Time, lifetime time.Duration, limit int) (string, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	times := m.mints[client]
	for len(times) > 0 && !times[0].After(now.Add(-time.Minute)) {
		times = times[1:]
	}
	if limit > 0 && len(times) >= limit {
		m.mints[client] = times
		return "", times[len(times)-limit].Add(time.Minute).Sub(now)
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (Go ≥ 1.24)
	tok := "sim-ims-" + hex.EncodeToString(b)
	m.tokens[tok] = mintedToken{client: client, account: account, expiry: now.Add(lifetime)}
	m.mints[client] = append(times, now)
	m.counts[client]++
	return tok, 0
}

// lookup finds a minted token: its client and account, and whether it has
// expired at now (counted as a refusal).
func (m *ims) lookup(tok string, now time.Time) (mintedToken, bool, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[tok]
	if !ok {
		return mintedToken{}, false, false
	}
	if !now.Before(t.expiry) {
		m.expired++
		return t, true, true
	}
	return t, true, false
}

// stats copies the mint counts.
func (m *ims) stats() (map[string]int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.counts))
	for k, v := range m.counts {
		out[k] = v
	}
	return out, m.expired
}

// refreshStats copies the refresh counts.
func (m *ims) refreshStats() (map[string]int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.refreshes))
	for k, v := range m.refreshes {
		out[k] = v
	}
	return out, m.reuses
}

func imsError(code, desc string) map[string]string {
	return map[string]string{"error": code, "error_description": desc}
}

func writeIMS(w http.ResponseWriter, status int, body any) {
	writeReply(w, reply{status: status, body: body})
}
