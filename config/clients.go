package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/report"
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
	return report.IsTerminal(w)
}

// Redis topologies, as chosen by the settings.
const (
	topologySingle   = "single"
	topologyCluster  = "cluster"
	topologySentinel = "sentinel"
)

func (c *Config) topology() string {
	switch {
	case len(c.RedisClusterAddrs) > 0:
		return topologyCluster
	case len(c.RedisSentinelAddrs) > 0:
		return topologySentinel
	}
	return topologySingle
}

// validateTopology rejects settings that name more than one Redis, or half
// of one. Every error names the variables involved.
func (c *Config) validateTopology() error {
	cluster, sentinel := len(c.RedisClusterAddrs) > 0, len(c.RedisSentinelAddrs) > 0
	switch {
	case cluster && sentinel:
		return errors.New("FRAMEQ_REDIS_CLUSTER_ADDRS and FRAMEQ_REDIS_SENTINEL_ADDRS are both set: choose one Redis topology")
	case c.RedisURL != "" && cluster:
		return errors.New("FRAMEQ_REDIS_URL and FRAMEQ_REDIS_CLUSTER_ADDRS are both set: choose one Redis topology")
	case c.RedisURL != "" && sentinel:
		return errors.New("FRAMEQ_REDIS_URL and FRAMEQ_REDIS_SENTINEL_ADDRS are both set: choose one Redis topology")
	case sentinel && c.RedisSentinelMaster == "":
		return errors.New("FRAMEQ_REDIS_SENTINEL_MASTER / -redis-sentinel-master: required with FRAMEQ_REDIS_SENTINEL_ADDRS (the master name the Sentinels watch)")
	case !sentinel && c.RedisSentinelMaster != "":
		return errors.New("FRAMEQ_REDIS_SENTINEL_MASTER is set without FRAMEQ_REDIS_SENTINEL_ADDRS")
	case !sentinel && c.RedisSentinelPassword != "":
		return errors.New("FRAMEQ_REDIS_SENTINEL_PASSWORD is set without FRAMEQ_REDIS_SENTINEL_ADDRS")
	case c.RedisPassword != "" && urlHasPassword(c.RedisURL):
		return errors.New("FRAMEQ_REDIS_PASSWORD and a password in FRAMEQ_REDIS_URL: set the password in one place")
	}
	return nil
}

func urlHasPassword(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return false
	}
	_, ok := p.User.Password()
	return ok
}

// RedisClient connects to the configured Redis: a Cluster
// (RedisClusterAddrs), a Sentinel-managed master (RedisSentinelAddrs), or
// one server at RedisURL (DefaultRedisURL when empty). poolSize should
// cover the command's concurrency: limiter waits, progress writes and
// asynq's own traffic share the pool (per node, in a cluster).
func (c *Config) RedisClient(poolSize int) (redis.UniversalClient, error) {
	switch c.topology() {
	case topologyCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: c.RedisClusterAddrs, Password: c.RedisPassword, PoolSize: max(poolSize, 10),
		}), nil
	case topologySentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: c.RedisSentinelMaster, SentinelAddrs: c.RedisSentinelAddrs,
			SentinelPassword: c.RedisSentinelPassword, Password: c.RedisPassword, PoolSize: max(poolSize, 10),
		}), nil
	}
	u := c.redisURL()
	opt, err := redis.ParseURL(u)
	if err != nil {
		return nil, redisURLError(u, err)
	}
	if c.RedisPassword != "" {
		opt.Password = c.RedisPassword
	}
	if poolSize > opt.PoolSize {
		opt.PoolSize = poolSize
	}
	return redis.NewClient(opt), nil
}

// AsynqRedis is the configured Redis as asynq's connection option
// (RedisClientOpt, RedisClusterClientOpt or RedisFailoverClientOpt), for
// components that open their own connections (the dashboard).
func (c *Config) AsynqRedis() (asynq.RedisConnOpt, error) {
	switch c.topology() {
	case topologyCluster:
		return asynq.RedisClusterClientOpt{Addrs: c.RedisClusterAddrs, Password: c.RedisPassword}, nil
	case topologySentinel:
		return asynq.RedisFailoverClientOpt{
			MasterName: c.RedisSentinelMaster, SentinelAddrs: c.RedisSentinelAddrs,
			SentinelPassword: c.RedisSentinelPassword, Password: c.RedisPassword,
		}, nil
	}
	u := c.redisURL()
	opt, err := asynq.ParseRedisURI(u)
	if err != nil {
		return nil, redisURLError(u, err)
	}
	if o, ok := opt.(asynq.RedisClientOpt); ok && c.RedisPassword != "" {
		o.Password = c.RedisPassword
		return o, nil
	}
	return opt, nil
}

// redisURLError says why the Redis URL u is unusable. net/url's error
// quotes the whole URL, password included, so only its reason is kept.
func redisURLError(u string, err error) error {
	var parse *url.Error
	if errors.As(err, &parse) {
		err = parse.Err
	}
	return fmt.Errorf("FRAMEQ_REDIS_URL %s: %v", apierr.RedactURL(u), err)
}

func (c *Config) redisURL() string {
	if c.RedisURL == "" {
		return DefaultRedisURL
	}
	return c.RedisURL
}

// addrList is a comma-separated list of host:port addresses.
type addrList []string

func (a *addrList) String() string {
	if a == nil {
		return ""
	}
	return strings.Join(*a, ",")
}

func (a *addrList) Set(v string) error {
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		host, port, err := net.SplitHostPort(s)
		if err != nil || host == "" {
			return fmt.Errorf("%q: want host:port, comma-separated", s)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port must be 1 to 65535", s)
		}
		out = append(out, s)
	}
	*a = out
	return nil
}
