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
}

// mintedToken is an access token IMS handed out.
type mintedToken struct {
	client, account string
	expiry          time.Time
}

func newIMS(clients map[string]IMSClient) *ims {
	m := &ims{clients: map[string]IMSClient{}, tokens: map[string]mintedToken{}, mints: map[string][]time.Time{}, counts: map[string]int{}}
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
// client-credentials grant: form fields grant_type=client_credentials,
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
	switch {
	case r.PostForm.Get("grant_type") != "client_credentials":
		writeIMS(w, http.StatusBadRequest, imsError("unsupported_grant_type", "grant_type must be client_credentials"))
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

func imsError(code, desc string) map[string]string {
	return map[string]string{"error": code, "error_description": desc}
}

func writeIMS(w http.ResponseWriter, status int, body any) {
	writeReply(w, reply{status: status, body: body})
}
