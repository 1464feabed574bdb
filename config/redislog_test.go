package config

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/rs/zerolog"
)

// TestRedisLogIsStructured: a go-redis line becomes one JSON log entry.
func TestRedisLogIsStructured(t *testing.T) {
	var buf bytes.Buffer
	RedisLog{Log: zerolog.New(&buf)}.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v", 5, "refused")
	var entry map[string]string
	if err := json.Unmarshal(buf.Bytes(), &entry); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	want := map[string]string{"level": "warn", "source": "go-redis", "message": "connection pool: failed to dial after 5 attempts: refused"}
	for k, v := range want {
		if entry[k] != v {
			t.Errorf("%s = %q, want %q (entry %v)", k, entry[k], v, entry)
		}
	}
}
