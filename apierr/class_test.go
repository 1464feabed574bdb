package apierr

import (
	"fmt"
	"testing"
	"time"
)

func TestClassString(t *testing.T) {
	for c, want := range map[Class]string{
		OK: "ok", Retryable: "retryable", RateLimited: "rate_limited",
		Terminal: "terminal", TokenRejected: "token_rejected", Class(42): "Class(42)",
	} {
		if got := c.String(); got != want {
			t.Errorf("Class(%d).String() = %q, want %q", int(c), got, want)
		}
	}
}

// V4 answers a locked account with 403 (v2 used 402): it must trip the token
// breaker like a 401, while any other 403 stays a per-job failure.
func TestV4LockedAccountIsTokenRejected(t *testing.T) {
	locked := `{"errors":[{"title":"Account locked","detail":"This account is locked. Contact your account admin or upgrade your plan."}]}`
	tests := []struct {
		name   string
		status int
		body   string
		want   Class
	}{
		{"V4 locked account", 403, locked, TokenRejected},
		{"locked in the detail only", 403, `{"errors":[{"title":"Forbidden","detail":"Workspace LOCKED by an admin"}]}`, TokenRejected},
		{"locked in the title only", 403, `{"errors":[{"title":"Locked"}]}`, TokenRejected},
		{"V4 no permission", 403, `{"errors":[{"title":"Forbidden","detail":"You do not have permission to access this folder."}]}`, Terminal},
		{"empty 403", 403, ``, Terminal},
		{"S3 refusal", 403, `<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`, Terminal},
		{"a name that contains the word", 403, `{"errors":[{"detail":"no access to folder Unlocked footage"}]}`, Terminal},
		{"V4 401", 401, `{"errors":[{"title":"Unauthorized","detail":"Invalid or expired token"}]}`, TokenRejected},
		{"v2 402", 402, frameioBody(402, "Usage exceeded", "plan limit"), TokenRejected},
		{"locked but not 403", 423, locked, Terminal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := FromResponse("POST", mustURL(t, "http://h/v4/accounts/a/folders/f/files"), tt.status, nil, []byte(tt.body), time.Now())
			if got := Classify(fmt.Errorf("create: %w", e)); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", e, got, tt.want)
			}
		})
	}
}
