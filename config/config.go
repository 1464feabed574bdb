// Package config is frameq's one configuration struct, filled from FRAMEQ_*
// environment variables and then overridden by command-line flags.
//
//	cfg := config.Default()
//	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
//	if err := cfg.Load(fs, os.Args[1:], os.Environ(), config.Redis, config.Worker); err != nil {
//		fmt.Fprintln(os.Stderr, err) // names the variable or flag
//		os.Exit(2)
//	}
//
// Tokens are read from the environment (FRAMEQ_TOKEN, FRAMEQ_TOKEN_<REF>) or
// a tokens file, never from flags: a flag is visible to every user in ps.
// So are Adobe IMS server-to-server credentials (FRAMEQ_IMS_CLIENT_ID,
// FRAMEQ_IMS_CLIENT_SECRET, with _<REF> for refs other than "default"). A
// user OAuth refresh token (FRAMEQ_IMS_REFRESH_TOKEN[_<REF>]) and the key
// sealing the refresh chains in Redis (FRAMEQ_SECRET_KEY) come from the
// environment only.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/ident"
	"github.com/frameq/frameq/ims"
	"github.com/frameq/frameq/tasks/records"
	"github.com/frameq/frameq/throttle"
)

// Config is every setting of every frameq command. Each command binds the
// groups it uses.
type Config struct {
	// RedisURL is where asynq queues and frameq's own keys live. Empty means
	// "not configured"; the demo then embeds miniredis.
	RedisURL string
	// RedisClusterAddrs are host:port seed nodes of a Redis Cluster, used
	// instead of RedisURL.
	RedisClusterAddrs []string
	// RedisSentinelAddrs are host:port addresses of Redis Sentinels watching
	// RedisSentinelMaster, used instead of RedisURL.
	RedisSentinelAddrs  []string
	RedisSentinelMaster string
	// RedisPassword authenticates to the Redis data nodes (any topology);
	// RedisSentinelPassword to the Sentinels. Both come from the
	// environment only.
	RedisPassword         string
	RedisSentinelPassword string
	// LogFormat is "json" (default) or "console".
	LogFormat string
	// LogLevel is a zerolog level name: debug, info, warn, error.
	LogLevel string

	// APIVersion is the Frame.io API the workers drive: "v4" (current) or
	// "v2" (legacy).
	APIVersion string
	// APIURL is the Frame.io API base URL, /v4 or /v2 included; empty means
	// the version's default (see APIBase).
	APIURL string
	// AccountID is the V4 account to upload into; empty means the token's
	// only account.
	AccountID string
	// LegacyTokenAuth sends x-frameio-legacy-token-auth: true on V4, for
	// legacy developer tokens of V4-migrated accounts.
	LegacyTokenAuth bool
	// RouteLimits are V4's per-route rates, by limit name.
	RouteLimits RouteRates
	// Tokens maps a token reference (as carried by task payloads) to its
	// bearer token. "default" comes from FRAMEQ_TOKEN.
	Tokens map[string]string
	// IMSClients maps a token reference to its Adobe IMS server-to-server
	// credentials (FRAMEQ_IMS_CLIENT_ID[_<REF>], FRAMEQ_IMS_CLIENT_SECRET[_<REF>]).
	// A ref with credentials uses them rather than a static token.
	IMSClients map[string]IMSCredentials
	// SecretKey seals the user OAuth refresh chains in Redis
	// (FRAMEQ_SECRET_KEY: 32 bytes in standard base64; environment only).
	// Required when a ref has a refresh token.
	SecretKey []byte
	// IMSURL is Adobe IMS's token endpoint.
	IMSURL string
	// IMSScopes are the scopes asked for, comma-separated.
	IMSScopes string
	// UploadRoot confines which local files a worker reads.
	UploadRoot string
	// HTTPAddr is the worker's HTTP listener (health, metrics, dashboard).
	HTTPAddr string
	// FleetMetrics says whether this worker exports the fleet-wide figures
	// (queues, batches): "lease" (the one worker holding a Redis lease
	// does, so a fleet exports them once), "always" or "never".
	FleetMetrics string
	// CreateRate limits asset creation per limit scope (v2).
	CreateRate Rate
	// CallRate limits all API calls per limit scope (v2).
	CallRate Rate
	// RateMargin runs at (1-RateMargin) of each rate, for networks whose
	// jitter would otherwise push a smooth schedule over a strict limit.
	RateMargin float64
	// LimitScope is "token" (each token its own limits) or "account"
	// (tokens of one Frame.io account share limits).
	LimitScope string
	// Concurrency is the number of tasks one worker runs at once per token
	// (each token has its own slots, so one token's waits never hold
	// another's).
	Concurrency int
	// PartConcurrency is the number of parts of one file PUT at once.
	PartConcurrency int
	// MaxRetry is how many failed attempts a task gets before it is archived.
	// Rate-limit waits do not count.
	MaxRetry int
	// RetryMaxDelay caps the exponential back-off between attempts.
	RetryMaxDelay time.Duration
	// TaskTimeout bounds one attempt of one task.
	TaskTimeout time.Duration
	// CompletedRetention keeps an enqueued task in asynq's completed list
	// that long after it succeeds; 0 keeps none (enqueue).
	CompletedRetention time.Duration
	// VerifyUploads makes a file done only once Frame.io says it has
	// assembled it, not when its last part is in.
	VerifyUploads bool
	// VerifyTimeout is how long Frame.io may take to say so before the
	// file counts as failed.
	VerifyTimeout time.Duration
	// VerifyReuploads is how many times a file Frame.io failed is deleted
	// and uploaded again before it fails for good.
	VerifyReuploads int
	// Settle is how long a file that changed while it uploaded must stay
	// unchanged before it is uploaded again.
	Settle time.Duration
	// ShutdownTimeout is how long a stopping worker lets active tasks finish
	// before handing them back to the queue.
	ShutdownTimeout time.Duration
	// APITimeout bounds one Frame.io API call (not part uploads).
	APITimeout time.Duration
	// RedisWaitReplicas is how many replicas must acknowledge the progress
	// writes that guard against a duplicate create before the worker makes
	// the call they guard, and an enqueued batch before enqueue (or the
	// intake) reports it enqueued; AutoWaitReplicas (-1) means 1 with
	// Sentinel and 0 (no WAIT) otherwise. See GuardReplicas.
	RedisWaitReplicas int
	// RedisWaitTimeout bounds each such WAIT; a write not acknowledged in
	// time holds the call back and the attempt tries again later, or
	// makes enqueue fail saying so.
	RedisWaitTimeout time.Duration
	// DashboardWritable allows the dashboard's write actions (retry,
	// delete, pause); it then requires DashboardUser and DashboardPassword.
	DashboardWritable bool
	// DashboardUser and DashboardPassword protect the dashboard with basic
	// auth. The password comes from the environment only.
	DashboardUser     string
	DashboardPassword string

	// IntakeAddr is `enqueue serve`'s listener.
	IntakeAddr string
	// IntakeKeysFile names the producers' API keys file (lines
	// "name key ref1,ref2" or "name key *").
	IntakeKeysFile string
	// IntakeKey is one API key named "default" allowed every token ref;
	// from the environment only.
	IntakeKey string
	// WebhookSecret signs completion webhooks (HMAC-SHA256); from the
	// environment only.
	WebhookSecret string
	// WebhookHosts are the host[:port] patterns a callback_url may point
	// at; checked by the intake and again by the worker that delivers.
	WebhookHosts []string
}

// Rate is N events per period, written "5", "5/s", "300/m" or "100/60s".
type Rate struct {
	N   int
	Per time.Duration
}

// String formats r as N/period.
func (r Rate) String() string {
	switch r.Per {
	case time.Second:
		return fmt.Sprintf("%d/s", r.N)
	case time.Minute:
		return fmt.Sprintf("%d/m", r.N)
	case time.Hour:
		return fmt.Sprintf("%d/h", r.N)
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}

// ParseRate parses "5", "5/s", "300/m", "100/1m30s".
func ParseRate(s string) (Rate, error) {
	n, per, found := strings.Cut(strings.TrimSpace(s), "/")
	r := Rate{Per: time.Second}
	var err error
	if r.N, err = strconv.Atoi(n); err != nil || r.N <= 0 {
		return Rate{}, fmt.Errorf("rate %q: want a positive whole number of events, e.g. 5/s", s)
	}
	if !found {
		return r, nil
	}
	switch per {
	case "s":
		r.Per = time.Second
	case "m":
		r.Per = time.Minute
	case "h":
		r.Per = time.Hour
	default:
		if r.Per, err = time.ParseDuration(per); err != nil || r.Per <= 0 {
			return Rate{}, fmt.Errorf("rate %q: period must be s, m, h or a positive duration", s)
		}
	}
	return r, nil
}

// Default returns the documented defaults.
func Default() Config {
	return Config{
		LogFormat:       "json",
		LogLevel:        "info",
		APIVersion:      "v4",
		RouteLimits:     DefaultRouteLimits(),
		Tokens:          map[string]string{},
		IMSClients:      map[string]IMSCredentials{},
		IMSURL:          ims.DefaultURL,
		IMSScopes:       ims.DefaultScopes,
		HTTPAddr:        "127.0.0.1:8080",
		FleetMetrics:    "lease",
		CreateRate:      Rate{5, time.Second},
		CallRate:        Rate{50, time.Second},
		LimitScope:      "token",
		Concurrency:     16,
		PartConcurrency: 4,
		MaxRetry:        25,
		RateMargin:      0.02,
		RetryMaxDelay:   10 * time.Minute,
		TaskTimeout:     6 * time.Hour,
		// job.DefaultRetention: an hour, about 18 MiB per token at 5 files/s.
		CompletedRetention: time.Hour,
		VerifyUploads:      true,
		VerifyTimeout:      time.Hour,
		VerifyReuploads:    2,
		Settle:             5 * time.Second,
		ShutdownTimeout:    30 * time.Second,
		APITimeout:         45 * time.Second,
		RedisWaitReplicas:  AutoWaitReplicas,
		RedisWaitTimeout:   time.Second,
		IntakeAddr:         "127.0.0.1:8081",
	}
}

// Default base URLs of the two API versions.
const (
	DefaultV4URL = "https://api.frame.io/v4"
	DefaultV2URL = "https://api.frame.io/v2"
)

// APIBase is the API base URL: APIURL, or the default of APIVersion.
func (c *Config) APIBase() string {
	switch {
	case c.APIURL != "":
		return c.APIURL
	case c.APIVersion == "v2":
		return DefaultV2URL
	}
	return DefaultV4URL
}

// Limits are the shared limiter's budgets for the configured API: v2's
// calls and creates, or V4's one limit per route.
func (c *Config) Limits() map[string]throttle.Limit {
	if c.APIVersion == "v2" {
		return map[string]throttle.Limit{
			frameio.LimitCalls:   {Rate: c.CallRate.N, Per: c.CallRate.Per, Burst: 1},
			frameio.LimitCreates: {Rate: c.CreateRate.N, Per: c.CreateRate.Per, Burst: 1},
		}
	}
	out := make(map[string]throttle.Limit, len(c.RouteLimits))
	for name, r := range c.RouteLimits {
		out[name] = throttle.Limit{Rate: r.N, Per: r.Per, Burst: 1}
	}
	return out
}

// DefaultRedisURL is used by the worker and enqueue when FRAMEQ_REDIS_URL is unset.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// Group is a set of settings a command binds.
type Group int

const (
	// Redis binds FRAMEQ_REDIS_URL and logging.
	Redis Group = iota
	// Worker binds everything a worker needs to talk to Frame.io.
	Worker
	// Intake binds `enqueue serve`'s listener and API keys.
	Intake
	// Webhook binds the completion webhooks' secret and allowed hosts
	// (the intake checks callback URLs, the worker delivers).
	Webhook
	// Enqueue binds what producers set on the tasks they enqueue, and
	// FRAMEQ_SECRET_KEY when set (it seals source URLs' credentials).
	Enqueue
)

// Load fills c from environ (KEY=value pairs, usually os.Environ()), then
// from args parsed by fs (flags may follow positional arguments: see
// ParseInterspersed). Every error names the variable or flag.
func (c *Config) Load(fs *flag.FlagSet, args []string, environ []string, groups ...Group) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "FRAMEQ_") && v != "" {
			env[k] = v
		}
	}
	for _, s := range c.settings(groups) {
		if v, ok := env[s.env]; ok {
			if err := s.value.Set(v); err != nil {
				return fmt.Errorf("%s=%q: %v", s.env, v, err)
			}
		}
		fs.Var(s.value, s.flag, fmt.Sprintf("%s (env %s)", s.usage, s.env))
	}
	if err := ParseInterspersed(fs, args); err != nil {
		return err
	}
	if hasGroup(groups, Redis) {
		c.RedisPassword, c.RedisSentinelPassword = env["FRAMEQ_REDIS_PASSWORD"], env["FRAMEQ_REDIS_SENTINEL_PASSWORD"]
	}
	if err := c.validate(); err != nil {
		return err
	}
	if hasGroup(groups, Intake) {
		c.IntakeKeysFile, c.IntakeKey = env["FRAMEQ_INTAKE_KEYS_FILE"], env["FRAMEQ_INTAKE_KEY"]
	}
	if hasGroup(groups, Webhook) {
		c.WebhookSecret = env["FRAMEQ_WEBHOOK_SECRET"]
	}
	if v := env[SecretKeyVar]; v != "" && hasGroup(groups, Enqueue) {
		key, err := ParseSecretKey(v)
		if err != nil {
			return err
		}
		c.SecretKey = key
	}
	if hasGroup(groups, Worker) {
		c.DashboardPassword = env["FRAMEQ_DASHBOARD_PASSWORD"]
		return c.loadTokens(env)
	}
	return nil
}

func hasGroup(gs []Group, g Group) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
}

type setting struct {
	env, flag, usage string
	value            flag.Value
}

func (c *Config) settings(groups []Group) []setting {
	var out []setting
	if hasGroup(groups, Redis) {
		out = append(out,
			setting{"FRAMEQ_REDIS_URL", "redis-url", "Redis URL (default " + DefaultRedisURL + ")", (*stringValue)(&c.RedisURL)},
			setting{"FRAMEQ_REDIS_CLUSTER_ADDRS", "redis-cluster-addrs", "Redis Cluster seed nodes, host:port,host:port (instead of the URL)", (*addrList)(&c.RedisClusterAddrs)},
			setting{"FRAMEQ_REDIS_SENTINEL_ADDRS", "redis-sentinel-addrs", "Redis Sentinels, host:port,host:port (instead of the URL)", (*addrList)(&c.RedisSentinelAddrs)},
			setting{"FRAMEQ_REDIS_SENTINEL_MASTER", "redis-sentinel-master", "master name the Sentinels watch", (*stringValue)(&c.RedisSentinelMaster)},
			setting{"FRAMEQ_REDIS_WAIT_REPLICAS", "redis-wait-replicas", "replicas that must hold a write before it counts: a duplicate-guarding record before its API call, a batch before enqueue reports it (auto: 1 with Sentinel, else 0)", (*waitReplicasValue)(&c.RedisWaitReplicas)},
			setting{"FRAMEQ_REDIS_WAIT_TIMEOUT", "redis-wait-timeout", "how long to wait for those replicas, 1ms to 2s", (*waitTimeoutValue)(&c.RedisWaitTimeout)},
			setting{"FRAMEQ_LOG_FORMAT", "log-format", "log format: json or console", oneOf(&c.LogFormat, "json", "console")},
			setting{"FRAMEQ_LOG_LEVEL", "log-level", "log level: debug, info, warn, error", oneOf(&c.LogLevel, "debug", "info", "warn", "error")},
		)
	}
	if hasGroup(groups, Worker) {
		out = append(out,
			setting{"FRAMEQ_API_VERSION", "api-version", "Frame.io API: v4, or v2 (legacy)", oneOf(&c.APIVersion, "v4", "v2")},
			setting{"FRAMEQ_API_URL", "api-url", "Frame.io API base URL with /v4 or /v2 (default: the version's)", (*stringValue)(&c.APIURL)},
			setting{"FRAMEQ_ACCOUNT_ID", "account-id", "V4 account to upload into (default: the token's only account)", (*stringValue)(&c.AccountID)},
			setting{"FRAMEQ_LEGACY_TOKEN_AUTH", "legacy-token-auth", "V4: send x-frameio-legacy-token-auth: true (legacy developer tokens)", (*boolValue)(&c.LegacyTokenAuth)},
			setting{"FRAMEQ_IMS_URL", "ims-url", "Adobe IMS token endpoint (server-to-server credentials)", (*imsURLValue)(&c.IMSURL)},
			setting{"FRAMEQ_IMS_SCOPES", "ims-scopes", "scopes asked of Adobe IMS, comma-separated", (*scopesValue)(&c.IMSScopes)},
			setting{"FRAMEQ_ROUTE_LIMITS", "route-limits", "V4 per-route rates, e.g. file_create=5/s,folder_create=3/s (others keep their defaults)", &c.RouteLimits},
			setting{"FRAMEQ_UPLOAD_ROOT", "upload-root", "only files under this directory are read (required)", (*stringValue)(&c.UploadRoot)},
			setting{"FRAMEQ_HTTP_ADDR", "http-addr", "HTTP listener for health, metrics and dashboard", (*stringValue)(&c.HTTPAddr)},
			setting{"FRAMEQ_FLEET_METRICS", "fleet-metrics", "who exports queue and batch figures: lease (one worker of the fleet), always, never", oneOf(&c.FleetMetrics, "lease", "always", "never")},
			setting{"FRAMEQ_CREATE_RATE", "create-rate", "asset creations allowed per scope, e.g. 5/s", (*rateValue)(&c.CreateRate)},
			setting{"FRAMEQ_CALL_RATE", "call-rate", "API calls allowed per scope, e.g. 50/s", (*rateValue)(&c.CallRate)},
			setting{"FRAMEQ_RATE_MARGIN", "rate-margin", "fraction of each rate kept in reserve, 0 to 0.5", (*fractionValue)(&c.RateMargin)},
			setting{"FRAMEQ_LIMIT_SCOPE", "limit-scope", "limits counted per token or per account", oneOf(&c.LimitScope, "token", "account")},
			setting{"FRAMEQ_CONCURRENCY", "concurrency", "tasks run at once per token and lane by this worker", (*positiveInt)(&c.Concurrency)},
			setting{"FRAMEQ_PART_CONCURRENCY", "part-concurrency", "parts of one file uploaded at once", (*positiveInt)(&c.PartConcurrency)},
			setting{"FRAMEQ_MAX_RETRY", "max-retry", "failed attempts before a task is archived", (*positiveInt)(&c.MaxRetry)},
			setting{"FRAMEQ_RETRY_MAX_DELAY", "retry-max-delay", "cap of the back-off between attempts", (*durationValue)(&c.RetryMaxDelay)},
			setting{"FRAMEQ_TASK_TIMEOUT", "task-timeout", "time limit of one attempt", (*durationValue)(&c.TaskTimeout)},
			setting{"FRAMEQ_VERIFY_UPLOADS", "verify-uploads", "a file is done only once Frame.io says it is assembled", (*boolValue)(&c.VerifyUploads)},
			setting{"FRAMEQ_VERIFY_TIMEOUT", "verify-timeout", "how long Frame.io may take to assemble a file before it counts as failed", (*durationValue)(&c.VerifyTimeout)},
			setting{"FRAMEQ_VERIFY_REUPLOADS", "verify-reuploads", "times a file Frame.io failed is uploaded again before it fails for good", (*nonNegativeInt)(&c.VerifyReuploads)},
			setting{"FRAMEQ_SETTLE", "settle", "how long a file that changed while it uploaded must stay unchanged before it is uploaded again", (*durationValue)(&c.Settle)},
			setting{"FRAMEQ_SHUTDOWN_TIMEOUT", "shutdown-timeout", "grace period for active tasks on SIGTERM", (*durationValue)(&c.ShutdownTimeout)},
			setting{"FRAMEQ_API_TIMEOUT", "api-timeout", "time limit of one API call (Frame.io gives up at 30s)", (*durationValue)(&c.APITimeout)},
			setting{"FRAMEQ_DASHBOARD_WRITABLE", "dashboard-writable", "allow the dashboard's write actions (needs user and password)", (*boolValue)(&c.DashboardWritable)},
			setting{"FRAMEQ_DASHBOARD_USER", "dashboard-user", "basic-auth user of the dashboard (password: FRAMEQ_DASHBOARD_PASSWORD)", (*stringValue)(&c.DashboardUser)},
		)
	}
	if hasGroup(groups, Intake) {
		out = append(out,
			setting{"FRAMEQ_INTAKE_ADDR", "addr", "intake HTTP listen address (127.0.0.1:0 picks a free port)", (*stringValue)(&c.IntakeAddr)},
		)
	}
	if hasGroup(groups, Enqueue) {
		out = append(out,
			setting{"FRAMEQ_COMPLETED_RETENTION", "completed-retention", "how long a finished task stays in asynq's completed list (0: not at all)", (*nonNegativeDuration)(&c.CompletedRetention)},
		)
	}
	if hasGroup(groups, Webhook) {
		out = append(out,
			setting{"FRAMEQ_WEBHOOK_HOSTS", "webhook-hosts", "host[:port] patterns a callback_url may point at, e.g. hooks.example.com,*.corp.example:8443", (*hostList)(&c.WebhookHosts)},
		)
	}
	return out
}

func (c *Config) validate() error {
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") && !strings.HasPrefix(c.RedisURL, "unix://") {
		return fmt.Errorf("FRAMEQ_REDIS_URL / -redis-url: %q is not a redis://, rediss:// or unix:// URL", apierr.RedactURL(c.RedisURL))
	}
	return c.validateTopology()
}

// loadTokens reads FRAMEQ_TOKENS_FILE, then FRAMEQ_TOKEN and
// FRAMEQ_TOKEN_<REF>, which win over the file; then the IMS credentials,
// from the file's FRAMEQ_IMS_* lines and the environment (which wins).
func (c *Config) loadTokens(env map[string]string) error {
	if c.Tokens == nil {
		c.Tokens = map[string]string{}
	}
	vars := map[string]string{}
	if path := env["FRAMEQ_TOKENS_FILE"]; path != "" {
		if err := c.readTokensFile(path, vars); err != nil {
			return err
		}
	}
	for k, v := range env {
		vars[k] = v
	}
	if err := c.loadIMS(vars, env); err != nil {
		return err
	}
	for name, v := range env {
		switch {
		case name == "FRAMEQ_TOKEN":
			c.Tokens["default"] = v
		case strings.HasPrefix(name, "FRAMEQ_TOKEN_") && name != "FRAMEQ_TOKENS_FILE":
			ref := strings.ToLower(strings.TrimPrefix(name, "FRAMEQ_TOKEN_"))
			if err := ValidateRef(ref); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			c.Tokens[ref] = v
		}
	}
	return nil
}

// readTokensFile reads ref=token lines, and FRAMEQ_IMS_*=value lines into
// vars (a ref is lower case, so the two cannot be confused).
func (c *Config) readTokensFile(path string, vars map[string]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("FRAMEQ_TOKENS_FILE: %w", err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ref, tok, ok := strings.Cut(line, "=")
		ref, tok = strings.TrimSpace(ref), strings.TrimSpace(tok)
		if !ok || tok == "" {
			return fmt.Errorf("FRAMEQ_TOKENS_FILE %s line %d: want ref=token or FRAMEQ_IMS_...=value", path, i+1)
		}
		if strings.HasPrefix(ref, "FRAMEQ_IMS_CLIENT_") {
			vars[ref] = tok
			continue
		}
		if err := ValidateRef(ref); err != nil {
			return fmt.Errorf("FRAMEQ_TOKENS_FILE %s line %d: %v", path, i+1, err)
		}
		c.Tokens[ref] = tok
	}
	return nil
}

// ValidateRef checks a token reference by package ident's rule, the one
// every payload is held to: 1 to 64 of a-z, 0-9, '-' and '_'.
func ValidateRef(ref string) error {
	var e *ident.Error
	if err := ident.TokenRef(ref); errors.As(err, &e) {
		return fmt.Errorf("token ref %q: %s", ref, e.Reason)
	}
	return nil
}

// TokenRefs returns the configured refs, static tokens and IMS
// credentials together, sorted.
func (c *Config) TokenRefs() []string {
	refs := make([]string, 0, len(c.Tokens)+len(c.IMSClients))
	for r := range c.Tokens {
		refs = append(refs, r)
	}
	for r := range c.IMSClients {
		if _, dup := c.Tokens[r]; !dup {
			refs = append(refs, r)
		}
	}
	sort.Strings(refs)
	return refs
}

// AutoWaitReplicas lets GuardReplicas choose from the topology.
const AutoWaitReplicas = -1

// Durability is what WAITs for replicas: GuardReplicas, RedisWaitTimeout.
func (c *Config) Durability() records.Durability {
	return records.Durability{Replicas: c.GuardReplicas(), Timeout: c.RedisWaitTimeout}
}

// GuardReplicas is how many replicas the worker's guard writes wait for:
// RedisWaitReplicas, or when it is AutoWaitReplicas, 1 with Sentinel (the
// topology whose failovers promote a replica) and 0 otherwise.
func (c *Config) GuardReplicas() int {
	switch {
	case c.RedisWaitReplicas != AutoWaitReplicas:
		return c.RedisWaitReplicas
	case c.topology() == topologySentinel:
		return 1
	}
	return 0
}

// Redacted describes the Redis topology without its password, for logs:
// the URL, or the cluster's or Sentinels' addresses.
func (c *Config) Redacted() string {
	switch {
	case len(c.RedisClusterAddrs) > 0:
		return "cluster " + strings.Join(c.RedisClusterAddrs, ",")
	case len(c.RedisSentinelAddrs) > 0:
		return "sentinel " + c.RedisSentinelMaster + "@" + strings.Join(c.RedisSentinelAddrs, ",")
	}
	return apierr.RedactURL(c.RedisURL)
}
