package frameiosim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	imsID     = "s2s-client-1"
	imsSecret = "p8e-S1MS3CR3T-do-not-leak-4c7a"
)

// postIMS posts a token request and decodes the answer.
func postIMS(t *testing.T, s *Server, form url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := http.PostForm(s.IMSURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("IMS answer %d is not JSON: %s", resp.StatusCode, b)
	}
	if strings.Contains(string(b), imsSecret) {
		t.Errorf("IMS answer holds the secret: %s", b)
	}
	return resp.StatusCode, out, resp.Header
}

func credsForm(secret string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {imsID}, "client_secret": {secret}, "scope": {"openid,AdobeID,frame.s2s.all"}}
}

// getMe calls V4 GET /me with tok.
func getMe(t *testing.T, s *Server, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.V4URL()+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestIMSMintsTokensBothAPIsAcceptUntilExpiry: a client-credentials grant
// gets a bearer token of the configured lifetime that V4 and v2 accept for
// the client's account, until it expires; then 401 with a V4 body saying
// so. Wrong credentials are invalid_client; mints are counted per client.
func TestIMSMintsTokensBothAPIsAcceptUntilExpiry(t *testing.T) {
	var logs strings.Builder
	s := StartTest(t, Config{
		IMSClients:    map[string]IMSClient{imsID: {Secret: imsSecret, Account: "acct-s2s"}},
		TokenLifetime: 90 * time.Second,
		Logf:          func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) },
	})
	code, body, _ := postIMS(t, s, credsForm(imsSecret))
	tok, _ := body["access_token"].(string)
	if code != 200 || tok == "" || body["token_type"] != "bearer" || body["expires_in"] != 90.0 {
		t.Fatalf("mint: %d %v", code, body)
	}
	if code, b := getMe(t, s, tok); code != 200 {
		t.Fatalf("V4 /me with a fresh token: %d %s", code, b)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me struct {
		AccountID string `json:"account_id"`
	}
	json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != 200 || me.AccountID != "acct-s2s" {
		t.Errorf("v2 /me: %d, account %q; want 200, acct-s2s", resp.StatusCode, me.AccountID)
	}
	if s.RootFolderOfAccount("acct-s2s") == "" {
		t.Error("the client's account has no project")
	}

	s.skew.Store(int64(90 * time.Second))
	code, b := getMe(t, s, tok)
	if code != 401 || !strings.Contains(b, `"errors"`) || !strings.Contains(b, "expired") {
		t.Errorf("V4 /me with an expired token: %d %s; want 401 with a V4 body saying it expired", code, b)
	}
	s.skew.Store(0)

	for name, form := range map[string]url.Values{
		"wrong secret":  credsForm("nope"),
		"unknown id":    {"grant_type": {"client_credentials"}, "client_id": {"other"}, "client_secret": {imsSecret}, "scope": {"openid"}},
		"grant missing": {"client_id": {imsID}, "client_secret": {imsSecret}, "scope": {"openid"}},
	} {
		code, body, _ := postIMS(t, s, form)
		if code/100 != 4 || body["error"] == "" {
			t.Errorf("%s: %d %v, want a 4xx with an OAuth error", name, code, body)
		}
	}
	if code, body, _ := postIMS(t, s, credsForm("nope")); code != 401 || body["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v, want 401 invalid_client", code, body)
	}
	// A rotated secret: the old one is refused, the new one mints; tokens
	// expired early are refused.
	if err := s.SetIMSSecret(imsID, "rotated-"+imsSecret); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := postIMS(t, s, credsForm(imsSecret)); code != 401 {
		t.Errorf("the old secret after rotation: %d, want 401", code)
	}
	code, body, _ = postIMS(t, s, credsForm("rotated-"+imsSecret))
	fresh, _ := body["access_token"].(string)
	if code != 200 {
		t.Fatalf("the new secret: %d %v", code, body)
	}
	if code, _ := getMe(t, s, fresh); code != 200 {
		t.Errorf("fresh token: %d", code)
	}
	s.ExpireIMSTokens()
	if code, b := getMe(t, s, fresh); code != 401 || !strings.Contains(b, "expired") {
		t.Errorf("after ExpireIMSTokens: %d %s", code, b)
	}
	st := s.Stats()
	if st.IMSMints[imsID] != 2 || st.ExpiredTokens != 2 {
		t.Errorf("stats: mints %v, expired %d; want 2 and 2", st.IMSMints, st.ExpiredTokens)
	}
	if strings.Contains(logs.String(), imsSecret) || strings.Contains(logs.String(), tok) {
		t.Error("the request log holds a secret")
	}
	if !strings.Contains(logs.String(), IMSPath) {
		t.Errorf("the IMS calls were not logged, so the check above proved nothing:\n%s", logs.String())
	}
}

// TestIMSMintLimit: beyond IMSMintLimit mints a minute, 429 with a
// Retry-After until the oldest mint leaves the minute.
func TestIMSMintLimit(t *testing.T) {
	s := StartTest(t, Config{
		IMSClients:   map[string]IMSClient{imsID: {Secret: imsSecret, Account: "acct-s2s"}},
		IMSMintLimit: 2,
	})
	for i := 0; i < 2; i++ {
		if code, body, _ := postIMS(t, s, credsForm(imsSecret)); code != 200 {
			t.Fatalf("mint %d: %d %v", i, code, body)
		}
	}
	code, body, h := postIMS(t, s, credsForm(imsSecret))
	if code != 429 || h.Get("Retry-After") == "" {
		t.Errorf("third mint in a minute: %d %v Retry-After %q; want 429 with Retry-After", code, body, h.Get("Retry-After"))
	}
	s.skew.Store(int64(61 * time.Second))
	if code, body, _ := postIMS(t, s, credsForm(imsSecret)); code != 200 {
		t.Errorf("a minute later: %d %v", code, body)
	}
	if n := s.Stats().IMSMints[imsID]; n != 3 {
		t.Errorf("%d mints counted, want 3 (a 429 is no mint)", n)
	}
}

func TestIMSConfigValidation(t *testing.T) {
	for name, c := range map[string]Config{
		"no secret":       {IMSClients: map[string]IMSClient{"id": {Account: "a"}}},
		"no account":      {IMSClients: map[string]IMSClient{"id": {Secret: "s"}}},
		"negative life":   {TokenLifetime: -time.Second},
		"negative limit":  {IMSMintLimit: -1},
		"id with a space": {IMSClients: map[string]IMSClient{"a b": {Secret: "s", Account: "a"}}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		} else if strings.Contains(err.Error(), "\"s\"") {
			t.Errorf("%s: error quotes a secret: %v", name, err)
		}
	}
}

// TestIMSRefreshRotates: a seeded refresh token is exchanged once for an
// access token the API accepts and the next refresh token; the used one is
// refused (400 invalid_grant) and counted as a reuse; a wrong client
// secret is invalid_client and does not spend the token.
func TestIMSRefreshRotates(t *testing.T) {
	s := StartTest(t, Config{IMSClients: map[string]IMSClient{imsID: {Secret: imsSecret, Account: "acct-u"}}})
	if _, err := s.IssueRefreshToken("nobody"); err == nil {
		t.Error("a refresh token for an unknown client")
	}
	rt0, err := s.IssueRefreshToken(imsID)
	if err != nil {
		t.Fatal(err)
	}
	form := func(rt, secret string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "client_id": {imsID}, "client_secret": {secret}, "refresh_token": {rt}}
	}
	if code, out, _ := postIMS(t, s, form(rt0, "wrong")); code != 401 || out["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", code, out)
	}
	code, out, _ := postIMS(t, s, form(rt0, imsSecret))
	at, _ := out["access_token"].(string)
	rt1, _ := out["refresh_token"].(string)
	if code != 200 || at == "" || rt1 == "" || rt1 == rt0 {
		t.Fatalf("refresh: %d %v", code, out)
	}
	if code, body := getMe(t, s, at); code != 200 {
		t.Errorf("GET /me with the refreshed token: %d %s", code, body)
	}
	if code, out, _ := postIMS(t, s, form(rt0, imsSecret)); code != 400 || out["error"] != "invalid_grant" {
		t.Errorf("second use of a refresh token: %d %v", code, out)
	}
	if code, _, _ := postIMS(t, s, form(rt1, imsSecret)); code != 200 {
		t.Errorf("the rotated refresh token: %d", code)
	}
	st := s.Stats()
	if st.IMSRefreshes[imsID] != 2 || st.RefreshTokenReuses != 1 || st.IMSMints[imsID] != 2 {
		t.Errorf("refreshes %v, reuses %d, mints %v; want 2, 1, 2", st.IMSRefreshes, st.RefreshTokenReuses, st.IMSMints)
	}
}
