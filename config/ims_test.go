package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const imsSecret = "cfg-IMS-S3CR3T-9a8b7c6d"

// TestIMSCredentials: the default ref's and other refs' credentials come
// from the environment and the tokens file (the environment wins), next to
// static tokens; the refs are their union.
func TestIMSCredentials(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(file, []byte("static = tok-s\nFRAMEQ_IMS_CLIENT_ID_FILED = id-f\nFRAMEQ_IMS_CLIENT_SECRET_FILED = "+imsSecret+"\nFRAMEQ_IMS_CLIENT_ID = from-file\n"), 0o600)
	c, err := load(t, []string{"-ims-scopes", "openid, AdobeID"}, []string{
		"FRAMEQ_TOKENS_FILE=" + file,
		"FRAMEQ_IMS_CLIENT_ID=id-d", "FRAMEQ_IMS_CLIENT_SECRET=" + imsSecret,
		"FRAMEQ_IMS_CLIENT_ID_ACME=id-a", "FRAMEQ_IMS_CLIENT_SECRET_ACME=" + imsSecret,
		"FRAMEQ_IMS_URL=http://127.0.0.1:1/ims/token/v3",
	}, Redis, Worker)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"default": "id-d", "acme": "id-a", "filed": "id-f"}
	for ref, id := range want {
		if got := c.IMSClients[ref]; got.ClientID != id || got.ClientSecret != imsSecret {
			t.Errorf("ref %s: %v, want client id %s", ref, got, id)
		}
	}
	if len(c.IMSClients) != 3 {
		t.Errorf("IMS refs %v", c.IMSRefs())
	}
	if got := strings.Join(c.TokenRefs(), ","); got != "acme,default,filed,static" {
		t.Errorf("TokenRefs = %s", got)
	}
	if c.IMSScopes != "openid,AdobeID" || c.IMSURL != "http://127.0.0.1:1/ims/token/v3" {
		t.Errorf("scopes %q url %q", c.IMSScopes, c.IMSURL)
	}
	for _, s := range []string{fmt.Sprint(c.IMSClients), fmt.Sprintf("%#v", c.IMSClients["acme"]), fmt.Sprintf("%+v", c.IMSClients)} {
		if strings.Contains(s, imsSecret) {
			t.Errorf("printing credentials shows the secret: %s", s)
		}
	}
}

// TestIMSBadSettings name the variable (never quoting the secret).
func TestIMSBadSettings(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"FRAMEQ_IMS_CLIENT_ID=x"}, "FRAMEQ_IMS_CLIENT_SECRET"},
		{[]string{"FRAMEQ_IMS_CLIENT_SECRET_ACME=" + imsSecret}, "FRAMEQ_IMS_CLIENT_ID_ACME"},
		{[]string{"FRAMEQ_IMS_CLIENT_ID_B@D=x", "FRAMEQ_IMS_CLIENT_SECRET_B@D=" + imsSecret}, "FRAMEQ_IMS_CLIENT_"},
		{[]string{"FRAMEQ_IMS_CLIENT_ID=x", "FRAMEQ_IMS_CLIENT_SECRET=" + imsSecret, "FRAMEQ_API_VERSION=v2"}, "v4"},
		{[]string{"FRAMEQ_IMS_URL=ftp://x"}, "FRAMEQ_IMS_URL"},
		{[]string{"FRAMEQ_IMS_SCOPES=openid,,x"}, "FRAMEQ_IMS_SCOPES"},
	} {
		_, err := load(t, nil, tc.env, Redis, Worker)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: %v, want an error naming %s", tc.env, err, tc.want)
		} else if strings.Contains(err.Error(), imsSecret) {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
	// Never flags: there is none for the credentials.
	if _, err := load(t, []string{"-ims-client-secret", imsSecret}, nil, Redis, Worker); err == nil {
		t.Error("a flag set the client secret")
	}
}

// TestIMSUserOAuth: a refresh token makes a ref user OAuth (client id
// required, secret optional) and needs FRAMEQ_SECRET_KEY, which must be 32
// bytes of standard base64; errors name the variable and quote neither the
// token nor the key.
func TestIMSUserOAuth(t *testing.T) {
	const rt = "cfg-R3FR3SH-token-4f2a"
	const key = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=" // 32 bytes
	c, err := load(t, nil, []string{
		"FRAMEQ_SECRET_KEY=" + key,
		"FRAMEQ_IMS_CLIENT_ID=web", "FRAMEQ_IMS_CLIENT_SECRET=" + imsSecret, "FRAMEQ_IMS_REFRESH_TOKEN=" + rt,
		"FRAMEQ_IMS_CLIENT_ID_NATIVE=nat", "FRAMEQ_IMS_REFRESH_TOKEN_NATIVE=" + rt,
		"FRAMEQ_IMS_CLIENT_ID_S2S=s", "FRAMEQ_IMS_CLIENT_SECRET_S2S=" + imsSecret,
	}, Redis, Worker)
	if err != nil {
		t.Fatal(err)
	}
	if d := c.IMSClients["default"]; !d.User() || d.ClientSecret != imsSecret || d.RefreshToken != rt {
		t.Errorf("default: %v", d)
	}
	if n := c.IMSClients["native"]; !n.User() || n.ClientSecret != "" || n.ClientID != "nat" {
		t.Errorf("native: %v", n)
	}
	if s := c.IMSClients["s2s"]; s.User() {
		t.Errorf("s2s: %v", s)
	}
	if len(c.SecretKey) != 32 {
		t.Errorf("SecretKey: %d bytes", len(c.SecretKey))
	}
	for _, s := range []string{fmt.Sprint(c.IMSClients), fmt.Sprintf("%#v", c.IMSClients["default"])} {
		if strings.Contains(s, rt) || strings.Contains(s, imsSecret) {
			t.Errorf("printing credentials shows a secret: %s", s)
		}
	}
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"FRAMEQ_IMS_CLIENT_ID=x", "FRAMEQ_IMS_REFRESH_TOKEN=" + rt}, "FRAMEQ_SECRET_KEY is not set"},
		{[]string{"FRAMEQ_IMS_CLIENT_ID=x", "FRAMEQ_IMS_REFRESH_TOKEN=" + rt, "FRAMEQ_SECRET_KEY=not*base64" + key}, "FRAMEQ_SECRET_KEY: not standard base64"},
		{[]string{"FRAMEQ_IMS_CLIENT_ID=x", "FRAMEQ_IMS_REFRESH_TOKEN=" + rt, "FRAMEQ_SECRET_KEY=" + key[:24]}, "want 32"},
		{[]string{"FRAMEQ_IMS_REFRESH_TOKEN_ACME=" + rt, "FRAMEQ_SECRET_KEY=" + key}, "FRAMEQ_IMS_CLIENT_ID_ACME"},
		{[]string{"FRAMEQ_IMS_CLIENT_ID=x", "FRAMEQ_IMS_REFRESH_TOKEN=a b", "FRAMEQ_SECRET_KEY=" + key}, "FRAMEQ_IMS_REFRESH_TOKEN: contains white space"},
	} {
		_, err := load(t, nil, tc.env, Redis, Worker)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: %v, want an error saying %s", tc.env, err, tc.want)
		} else if strings.Contains(err.Error(), rt) || strings.Contains(err.Error(), key[:20]) {
			t.Errorf("error quotes a secret: %v", err)
		}
	}
}
