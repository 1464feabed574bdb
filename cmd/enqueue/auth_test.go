package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/frameq/frameq/ims/chain"
	"github.com/frameq/frameq/redistest"
)

// TestAuthImportAndStatus: import stores the token sealed (not in Redis in
// plaintext) and status shows the ref as user OAuth with 14 days left,
// next to an s2s and a static ref, never printing a secret; without the
// key, or with a bad one, both refuse, naming FRAMEQ_SECRET_KEY.
func TestAuthImportAndStatus(t *testing.T) {
	srv := redistest.Start(t)
	const rt = "enq-R3FR3SH-must-stay-sealed-77"
	const key = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="
	const s2sSecret = "enq-S2S-S3CR3T-41"
	env := []string{"FRAMEQ_REDIS_URL=" + srv.URL(), "FRAMEQ_SECRET_KEY=" + key,
		"FRAMEQ_TOKEN_STATIC=static-tok-9", "FRAMEQ_IMS_CLIENT_ID_S2S=s", "FRAMEQ_IMS_CLIENT_SECRET_S2S=" + s2sSecret}
	call := func(env []string, stdin string, args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := runIO(context.Background(), args, env, strings.NewReader(stdin), &out, &errb)
		return out.String(), errb.String(), code
	}
	if _, errs, code := call(env[:1], rt+"\n", "auth", "import", "--token-ref", "acme"); code != exitUsage || !strings.Contains(errs, "FRAMEQ_SECRET_KEY is not set") {
		t.Errorf("import without a key: %d %s", code, errs)
	}
	if _, errs, code := call(env, "", "auth", "import", "--token-ref", "acme"); code != exitUsage || !strings.Contains(errs, "no refresh token") {
		t.Errorf("import of nothing: %d %s", code, errs)
	}
	out, errs, code := call(env, "\n"+rt+"\n", "auth", "import", "--token-ref", "acme")
	if code != exitOK {
		t.Fatalf("import: %d %s", code, errs)
	}
	rdb := srv.Client(t)
	keys := rdb.Keys(context.Background(), "*").Val()
	for _, k := range keys {
		if v := rdb.Get(context.Background(), k).Val(); strings.Contains(v, rt) || strings.Contains(k, rt) {
			t.Errorf("the refresh token is in Redis in plaintext (%s)", k)
		}
	}
	if refs, _ := chain.Refs(context.Background(), rdb); len(refs) != 1 || refs[0] != "acme" {
		t.Errorf("chains stored: %v", refs)
	}
	status, errs, code := call(env, "", "auth", "status")
	if code != exitOK {
		t.Fatalf("status: %d %s", code, errs)
	}
	t.Logf("enqueue auth status:\n%s", status)
	lines := strings.Split(strings.TrimSpace(status), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "acme") || !strings.Contains(lines[1], "user") || !strings.Contains(lines[1], "14.0") ||
		!strings.Contains(lines[2], "s2s") || !strings.Contains(lines[3], "static") {
		t.Errorf("status:\n%s", status)
	}
	bad := append([]string{}, env...)
	bad[1] = "FRAMEQ_SECRET_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	badOut, badErr, code := call(bad, "", "auth", "status")
	if code != exitFailed || !strings.Contains(badOut, "cannot be decrypted") {
		t.Errorf("status with another key: %d\n%s%s", code, badOut, badErr)
	}
	for _, s := range []string{out, errs, status, badOut, badErr} {
		for _, secret := range []string{rt, key, s2sSecret, "static-tok-9"} {
			if strings.Contains(s, secret) {
				t.Errorf("output shows a secret: %s", s)
			}
		}
	}
}
