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
