package frameiosim

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestLogNeverShowsSecrets runs every kind of request, good and bad, and
// checks the request log for tokens and presigned query strings.
func TestLogNeverShowsSecrets(t *testing.T) {
	const token, wrong = "s3cr3t-token-value", "wr0ng-token-value"
	var mu sync.Mutex
	var lines []string
	s := StartTest(t, Config{Tokens: map[string]string{token: "acct"}, CreateLimit: 1, Window: longWindow,
		Logf: func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, fmt.Sprintf(format, args...))
		}})
	c := newTC(t, s, token)
	root := s.RootFolder(token)
	f := c.file(root, "a.mp4", 2)
	c.create(root, folderBody) // 429
	put(t, f.UploadURLs[0], []byte("ab"), "video/mp4", nil)
	put(t, f.UploadURLs[0]+"x", []byte("ab"), "video/mp4", map[string]string{"Authorization": "Bearer " + token})
	newTC(t, s, wrong).do(http.MethodGet, "/me", nil)
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 5 {
		t.Fatalf("want one log line per request, got %q", lines)
	}
	sig := f.UploadURLs[0][strings.Index(f.UploadURLs[0], "X-Amz-Signature=")+len("X-Amz-Signature="):]
	for _, l := range lines {
		if strings.Contains(l, token) || strings.Contains(l, wrong) || strings.Contains(l, "X-Amz") || strings.Contains(l, sig) {
			t.Fatalf("secret in log line %q", l)
		}
	}
	if !strings.Contains(strings.Join(lines, "\n"), "→ 429") {
		t.Fatalf("log lacks statuses: %q", lines)
	}
}
