package config

import (
	"context"
	"fmt"
	"strings"

	"github.com/rs/zerolog"
)

// RedisLog carries go-redis's own log lines (pool dial failures, cluster
// and sentinel changes), which it otherwise prints unstructured on stderr,
// into a zerolog logger as warnings with source "go-redis". go-redis has
// one process-wide logger: a main installs it with
// redis.SetLogger(config.RedisLog{Log: log}).
type RedisLog struct {
	// Log receives the lines.
	Log zerolog.Logger
}

// Printf implements go-redis's internal Logging interface.
func (l RedisLog) Printf(_ context.Context, format string, v ...any) {
	msg := strings.TrimSpace(strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
	l.Log.Warn().Str("source", "go-redis").Msg(msg)
}
