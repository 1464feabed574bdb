package config

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// NewLogger returns the logger the configuration asks for, writing to w.
func (c *Config) NewLogger(w io.Writer) zerolog.Logger {
	if c.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !isTerminal(w)}
	}
	lvl, err := zerolog.ParseLevel(c.LogLevel)
	if err != nil || c.LogLevel == "" {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// RedisClient connects to RedisURL (DefaultRedisURL when empty). poolSize
// should cover the command's concurrency: limiter waits, progress writes
// and asynq's own traffic share the pool.
func (c *Config) RedisClient(poolSize int) (redis.UniversalClient, error) {
	u := c.RedisURL
	if u == "" {
		u = DefaultRedisURL
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		return nil, fmt.Errorf("FRAMEQ_REDIS_URL %s: %v", redact(u), err)
	}
	if poolSize > opt.PoolSize {
		opt.PoolSize = poolSize
	}
	return redis.NewClient(opt), nil
}

// AsynqRedis is RedisURL as asynq's connection option, for components
// that open their own connections (the dashboard).
func (c *Config) AsynqRedis() (asynq.RedisConnOpt, error) {
	u := c.RedisURL
	if u == "" {
		u = DefaultRedisURL
	}
	opt, err := asynq.ParseRedisURI(u)
	if err != nil {
		return nil, fmt.Errorf("FRAMEQ_REDIS_URL %s: %v", redact(u), err)
	}
	return opt, nil
}
