// Package worker assembles one frameq worker process: an asynq server
// running the upload handler, one Frame.io client per configured token ref
// (a static token, or access tokens minted by Adobe IMS from
// server-to-server credentials: package ims, or from a user OAuth refresh
// chain the fleet shares through Redis: package ims/chain) behind the shared Redis
// limiter, and an HTTP listener for operations.
//
//	w, err := worker.New(cfg, rdb, log)
//	if err != nil { ... }
//	if err := w.CheckTokens(ctx); err != nil { ... } // first IMS mint; V4 GET /accounts (v2 GET /me) per token
//	err = w.Run(ctx)                                   // until ctx ends, then a graceful stop
package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/config"
	"github.com/frameq/frameq/dashboard"
	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/ims"
	"github.com/frameq/frameq/ims/chain"
	"github.com/frameq/frameq/metrics"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/lease"
	"github.com/frameq/frameq/tasks/notify"
	"github.com/frameq/frameq/tasks/records"
	"github.com/frameq/frameq/tasks/upload"
	"github.com/frameq/frameq/throttle"
)

// Version is reported in the User-Agent.
var version = "dev"

// Worker is one worker process's parts.
type Worker struct {
	cfg      config.Config
	rdb      redis.UniversalClient
	log      zerolog.Logger
	limiter  *throttle.Limiter
	accounts map[string]*upload.Account
	handler  *upload.Handler
	// notifier enqueues a batch's webhook when a file of it settles;
	// deliverer runs those tasks.
	notifier  *notify.Notifier
	deliverer *notify.Deliverer
	breaker   *job.Breaker
	metrics   *metrics.Metrics
	// lease elects the one worker that exports the fleet-wide figures
	// (FRAMEQ_FLEET_METRICS=lease); nil otherwise.
	lease *metrics.Lease
	insp  *asynq.Inspector
	// guard cancels the tasks under way when Redis has been silent for
	// longer than their leases are sure to last (a worker cut off).
	guard *lease.Guard
	dash  http.Handler
	srvs  []*asynq.Server // one per lane of each token, and the webhooks': see newServers
	ln    net.Listener
	http  *http.Server

	v4  map[string]*frameio.V4         // by token ref, before CheckTokens picks the account
	ims map[string]frameio.TokenSource // by token ref, for refs with IMS credentials
	// chains are the ims refs on user OAuth (a subset of ims).
	chains map[string]*chain.Source

	mu       sync.Mutex
	observed map[string]frameio.RateLimit // last header figures per scope/limit
	tokensOK error                        // result of the last CheckTokens (errNotChecked before it)
}

// New builds a worker from cfg. It listens on cfg.HTTPAddr at once, so that
// Addr is known (":0" picks a free port) before Run.
func New(cfg config.Config, rdb redis.UniversalClient, log zerolog.Logger) (*Worker, error) {
	if len(cfg.TokenRefs()) == 0 {
		return nil, errors.New("no tokens: set FRAMEQ_TOKEN (ref \"default\") or FRAMEQ_TOKEN_<REF>, or IMS credentials FRAMEQ_IMS_CLIENT_ID and FRAMEQ_IMS_CLIENT_SECRET (_<REF>)")
	}
	lim, err := throttle.New(rdb, throttle.Config{Limits: cfg.Limits(), Margin: cfg.RateMargin})
	if err != nil {
		return nil, fmt.Errorf("limiter: %w", err)
	}
	w := &Worker{
		cfg: cfg, rdb: rdb, log: log, limiter: lim, metrics: metrics.New(),
		insp:     asynq.NewInspectorFromRedisClient(rdb),
		accounts: map[string]*upload.Account{}, observed: map[string]frameio.RateLimit{},
		v4: map[string]*frameio.V4{}, ims: map[string]frameio.TokenSource{}, chains: map[string]*chain.Source{},
		tokensOK: errNotChecked, guard: lease.NewGuard(),
	}
	rdb.AddHook(w.guard) // asynq shares rdb: its dequeues and heartbeats count as answers too
	w.breaker = job.NewBreaker(rdb)
	w.breaker.OnChange = w.breakerChanged
	for _, ref := range cfg.TokenRefs() {
		acct, err := w.newAccount(ref)
		if err != nil {
			return nil, err
		}
		w.accounts[ref] = acct
	}
	hosts, err := notify.ParseHosts(cfg.WebhookHosts)
	if err != nil {
		return nil, &ConfigError{"FRAMEQ_WEBHOOK_HOSTS: " + err.Error()}
	}
	w.notifier = notify.NewNotifier(rdb)
	w.deliverer = notify.NewDeliverer(rdb, []byte(cfg.WebhookSecret), hosts)
	box, err := cfg.Box()
	if err != nil {
		return nil, &ConfigError{err.Error()}
	}
	w.deliverer.Box = box
	if w.handler, err = upload.NewHandler(rdb, upload.Options{
		Settler:  w.notifier,
		Accounts: w.accounts, UploadRoot: cfg.UploadRoot,
		PartConcurrency: cfg.PartConcurrency, Log: log,
		Breaker: w.breaker, Observer: w.metrics,
		MaxRetry: cfg.MaxRetry, TaskTimeout: cfg.TaskTimeout,
		Verify: cfg.VerifyUploads, VerifyTimeout: cfg.VerifyTimeout, VerifyReuploads: cfg.VerifyReuploads,
		Box:        box,
		Settle:     cfg.Settle,
		Durability: cfg.Durability(),
		// A create goes out within one limiter wait (longer ones are
		// handed back) and is over within the API timeout.
		CreateWindow: cfg.APITimeout + throttle.DefaultMaxWait + 5*time.Second,
	}); err != nil {
		return nil, err
	}
	if err := w.watch(); err != nil {
		return nil, err
	}
	if err := w.fleetMetrics(); err != nil {
		return nil, err
	}
	w.srvs = w.newServers()
	if w.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("FRAMEQ_HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	w.http = &http.Server{Handler: w.routes(), ReadHeaderTimeout: 10 * time.Second}
	return w, nil
}

// newAccount makes ref's client for the configured API: with ref's IMS
// credentials if it has them, else its static token. A V4 account is only
// usable once CheckTokens has found its account id.
func (w *Worker) newAccount(ref string) (*upload.Account, error) {
	acct := &upload.Account{Scope: "token:" + ref}
	o := frameio.Options{
		BaseURL:         w.cfg.APIBase(),
		UserAgent:       "frameq/" + version,
		APITimeout:      w.cfg.APITimeout,
		LegacyTokenAuth: w.cfg.LegacyTokenAuth,
		// The permit learns when its request really left: a worker starved
		// between the permit and the write pushes the schedule back then
		// (in its own goroutine: the transport's write loop calls sent, and
		// must not wait on Redis).
		Permit: func(ctx context.Context, c frameio.Call) (func(time.Time), error) {
			start := time.Now()
			p, err := w.limiter.Reserve(ctx, acct.Scope, c.Limits...)
			if err != nil {
				return nil, err
			}
			if len(c.Limits) > 0 {
				w.metrics.LimiterWait(acct.Scope, c.Limits[len(c.Limits)-1], time.Since(start))
			}
			ctx = context.WithoutCancel(ctx)
			return func(at time.Time) { go p.Sent(ctx, at) }, nil
		},
		AfterCall: func(ctx context.Context, c frameio.Call, r frameio.Result) {
			w.afterCall(ctx, acct.Scope, c, r)
		},
	}
	if creds, ok := w.cfg.IMSClients[ref]; ok {
		if w.cfg.Tokens[ref] != "" {
			w.log.Warn().Str("token_ref", ref).Msg("the ref has IMS credentials and a static token: the credentials are used, the token is ignored")
		}
		user, err := w.isUser(ref, creds)
		if err != nil {
			return nil, err
		}
		var src frameio.TokenSource
		if user {
			var c *chain.Source
			c, err = w.newChain(ref, creds)
			w.chains[ref], src = c, c
		} else {
			src, err = w.newIMSSource(ref, creds)
		}
		if err != nil {
			return nil, err
		}
		w.ims[ref], o.Tokens = src, src
	} else {
		o.Token = w.cfg.Tokens[ref]
	}
	var err error
	var create []string
	if w.cfg.APIVersion == "v2" {
		acct.Client, err = frameio.New(o)
		if err == nil {
			create = acct.Client.CreateLimits()
		}
	} else {
		w.v4[ref], err = frameio.NewV4(o)
		if err == nil {
			create = w.v4[ref].CreateLimits()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("token ref %q: %w", ref, err)
	}
	acct.StageCreate = func(ctx context.Context, p redis.Pipeliner) *throttle.Staged {
		s, _ := w.limiter.Stage(ctx, p, acct.Scope, create...) // on an error (Redis down) the create waits as usual
		return s
	}
	return acct, nil
}

// newIMSSource makes ref's Adobe IMS token source: minted tokens counted in
// frameq_ims_mints_total, failed mints logged (never with the secret).
func (w *Worker) newIMSSource(ref string, creds config.IMSCredentials) (*ims.Source, error) {
	log := w.log.With().Str("token_ref", ref).Str("client_id", creds.ClientID).Logger()
	src, err := ims.New(ims.Config{
		Ref: ref, URL: w.cfg.IMSURL, Scopes: w.cfg.IMSScopes,
		ClientID: creds.ClientID, ClientSecret: creds.ClientSecret,
		OnMint: func(m ims.Mint) {
			if m.Err != nil {
				log.Warn().Err(m.Err).Dur("took", m.Took).Msg("IMS token request failed")
				return
			}
			w.metrics.IMSMint(ref)
			log.Debug().Dur("lifetime", m.Lifetime).Dur("took", m.Took).Msg("IMS access token minted")
		},
	})
	if err != nil {
		return nil, fmt.Errorf("token ref %q: %w", ref, err)
	}
	return src, nil
}

// isUser reports whether ref uses user OAuth: it has a bootstrap refresh
// token, or (imported with enqueue auth import) Redis holds its chain.
func (w *Worker) isUser(ref string, creds config.IMSCredentials) (bool, error) {
	if creds.User() {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ok, err := chain.Exists(ctx, w.rdb, ref)
	if err != nil {
		return false, fmt.Errorf("token ref %q: looking for a user OAuth chain: %w", ref, err)
	}
	return ok, nil
}

// newChain makes ref's user OAuth source on the fleet's shared refresh
// chain: refreshes counted in frameq_ims_mints_total, the refresh token's
// days left in frameq_ims_refresh_token_days_left (with a warning under
// 3), failures logged (never a secret).
func (w *Worker) newChain(ref string, creds config.IMSCredentials) (*chain.Source, error) {
	if len(w.cfg.SecretKey) == 0 {
		return nil, &ConfigError{fmt.Sprintf("token ref %q uses user OAuth: %v", ref, errNoKey())}
	}
	log := w.log.With().Str("token_ref", ref).Str("client_id", creds.ClientID).Logger()
	src, err := chain.New(chain.Config{
		Client: ims.RefreshConfig{Ref: ref, URL: w.cfg.IMSURL, ClientID: creds.ClientID, ClientSecret: creds.ClientSecret},
		Redis:  w.rdb, Key: w.cfg.SecretKey, Bootstrap: creds.RefreshToken,
		OnRefresh: func(r chain.Refresh) {
			if r.Err != nil {
				log.Warn().Err(r.Err).Dur("took", r.Took).Msg("IMS refresh failed")
				return
			}
			w.metrics.IMSMint(ref)
			w.chainDaysLeft(ref, r.Chain)
			log.Debug().Dur("lifetime", r.Lifetime).Dur("took", r.Took).Msg("IMS access token refreshed (user OAuth)")
		},
	})
	if err != nil {
		return nil, &ConfigError{err.Error()}
	}
	return src, nil
}

// errNoKey says why user OAuth cannot start without FRAMEQ_SECRET_KEY.
func errNoKey() error {
	_, err := config.ParseSecretKey("")
	return err
}

// chainDaysLeft publishes a chain's refresh token days left, warning under
// 3 days.
func (w *Worker) chainDaysLeft(ref string, s chain.Summary) {
	now := time.Now()
	days := s.DaysLeft(now)
	w.metrics.IMSRefreshDaysLeft(ref, days)
	if days < 3 {
		w.log.Warn().Str("token_ref", ref).Float64("days_left", days).Time("login_at", s.LoginAt).
			Msg("the user OAuth refresh token lapses soon: log in again and run enqueue auth import --token-ref " + ref)
	}
}

// watchChains refreshes the days-left figure of every user OAuth ref from
// the shared chain, whichever worker last refreshed it.
func (w *Worker) watchChains(ctx context.Context) {
	if len(w.chains) == 0 {
		return
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		for ref, c := range w.chains {
			if s, err := c.Status(ctx); err == nil && s != nil {
				w.chainDaysLeft(ref, *s)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// afterCall feeds what the server said back to the shared limiter: a 429
// pauses every worker on the scope; a lower advertised limit is adopted;
// the room left (x-ratelimit-remaining) tells a server that absorbs jitter
// (a leaky bucket) from a strict window, which needs Margin.
func (w *Worker) afterCall(ctx context.Context, scope string, c frameio.Call, r frameio.Result) {
	w.metrics.APIResponse(c.Route, r.Status, r.Duration)
	if len(c.Limits) == 0 { // part uploads: presigned, not rate limited
		return
	}
	ctx = context.WithoutCancel(ctx)
	if r.Status == http.StatusTooManyRequests {
		w.metrics.RateLimited(scope)
		if err := w.limiter.Penalize(ctx, scope, apierr.WaitOf(r.Err)); err != nil {
			w.log.Warn().Err(err).Str("scope", scope).Msg("429 not shared with other workers")
		}
	}
	if !r.RateLimit.Present {
		return
	}
	name := c.Limits[len(c.Limits)-1]
	key := scope + "/" + name
	w.mu.Lock()
	last, seen := w.observed[key]
	changed := !seen || last.Limit != r.RateLimit.Limit || last.Window != r.RateLimit.Window
	w.observed[key] = r.RateLimit
	w.mu.Unlock()
	if changed {
		if err := w.limiter.Observe(ctx, scope, name, r.RateLimit.Limit, r.RateLimit.Window); err != nil {
			w.log.Warn().Err(err).Str("scope", scope).Msg("advertised limit not recorded")
		}
	}
	if err := w.limiter.ObserveRemaining(ctx, scope, name, r.RateLimit.Limit, r.RateLimit.Remaining); err != nil {
		w.log.Warn().Err(err).Str("scope", scope).Msg("remaining room not recorded")
	}
}

// newServers gives each token's two lanes their own asynq servers, each
// with Concurrency slots. A task holds its slot while it waits for its
// token's permits, and asynq hands each free slot to a random non-empty
// queue: with one server for all tokens, a token slowed by 429s gathers the
// slots and paces every other token, and even at equal rates a token often
// has no task ready for its next permit (e2e/scale_test.go). Idle servers
// cost a Redis call a second, nothing per file.
//
// A queue to itself per server, because asynq's processor tries a server's
// queues one Redis call each, in a random order by weight, until one hands
// out a task: with the small lane (weight 4) beside the bulk lane (1) every
// file of a bulk batch cost 1.8 dequeue calls on average, an empty small
// lane asked first 4 times in 5 (row 4 of frameq-bench). On a server of its
// own the small lane has slots no bulk file can take, so a small batch
// behind a large one starts at once instead of on 4 of 5 freed slots.
// Webhooks have a server of their own too, so no token's outage holds them.
func (w *Worker) newServers() []*asynq.Server {
	refs := w.cfg.TokenRefs()
	srvs := make([]*asynq.Server, 0, 2*len(refs)+1)
	for _, ref := range refs {
		for _, q := range job.Queues(ref) {
			srvs = append(srvs, w.newServer(q, w.log.With().Str("component", "asynq").Str("token_ref", ref).Str("queue", q).Logger()))
		}
	}
	return append(srvs, w.newServer(notify.Queue, w.log.With().Str("component", "asynq").Str("queue", notify.Queue).Logger()))
}

// newServer is an asynq server with Concurrency slots for queue.
func (w *Worker) newServer(queue string, log zerolog.Logger) *asynq.Server {
	return asynq.NewServerFromRedisClient(w.rdb, asynq.Config{
		Concurrency:     w.cfg.Concurrency,
		Queues:          map[string]int{queue: 1},
		IsFailure:       upload.IsFailure,
		RetryDelayFunc:  retryDelay(upload.RetryDelay(w.cfg.RetryMaxDelay)),
		ShutdownTimeout: w.cfg.ShutdownTimeout,
		// Due retries and held jobs move to pending within a second,
		// not asynq's default 5: most of our retries wait 1-2 s.
		DelayedTaskCheckInterval: time.Second,
		Logger:                   asynqLogger{log},
		LogLevel:                 asynq.WarnLevel,
	})
}

// queues are the asynq queues this worker's servers serve.
func (w *Worker) queues() []string {
	qs := []string{notify.Queue}
	for _, ref := range w.cfg.TokenRefs() {
		qs = append(qs, job.Queues(ref)...)
	}
	return qs
}

// retryDelay is uploads' back-off for their tasks, the webhook's (longer,
// for a receiver down for hours) for webhooks.
func retryDelay(uploads asynq.RetryDelayFunc) asynq.RetryDelayFunc {
	return func(n int, err error, t *asynq.Task) time.Duration {
		if t.Type() == notify.TypeWebhook {
			return notify.RetryDelay(n)
		}
		return uploads(n, err, t)
	}
}

// stopServers stops every server together, so that the grace period is
// ShutdownTimeout in all, not per token or lane.
func (w *Worker) stopServers() {
	var wg sync.WaitGroup
	for _, srv := range w.srvs {
		srv.Stop()
		wg.Go(srv.Shutdown)
	}
	wg.Wait()
}

// Addr is the HTTP listener's address.
func (w *Worker) Addr() string { return w.ln.Addr().String() }

// CheckTokens gets every IMS ref's first access token, then asks Frame.io
// who every token is (v2: GET /me; V4: GET /accounts, which also picks the
// account), and fails naming the first ref whose credentials IMS refuses or
// whose token Frame.io rejects. While IMS cannot be reached it waits (with
// back-off) until ctx ends. Errors that are the operator's to fix (no such
// account, several to choose from) are *ConfigError. A 5xx or network
// error is retried a few times first (see checkToken).
func (w *Worker) CheckTokens(ctx context.Context) error {
	var err error
	for _, ref := range w.cfg.TokenRefs() {
		if err = w.checkToken(ctx, ref); err != nil {
			break
		}
	}
	w.setTokensErr(err)
	return err
}

// setTokensErr records what /readyz reports about the tokens (nil: ready).
func (w *Worker) setTokensErr(err error) {
	w.mu.Lock()
	w.tokensOK = err
	w.mu.Unlock()
}

func (w *Worker) tokensErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tokensOK
}

// Pauses between rounds of token checks at start while Frame.io (or the
// network to it) cannot be reached. A worker that exited instead would be
// restarted by its supervisor into the same outage, over and over, and
// never say why; waiting, it says on /readyz and in its log.
const (
	awaitBackoff    = 2 * time.Second
	awaitMaxBackoff = time.Minute
)

// errNotChecked is /readyz's reason before the first token check ends.
var errNotChecked = errors.New("tokens not checked yet")

// awaitTokens runs CheckTokens (unless it passed already) until it passes,
// with back-off while Frame.io is unreachable, answers 5xx or 429. It
// returns the error that is the operator's to fix: a token or credentials
// rejected, a *ConfigError; or ctx's end.
func (w *Worker) awaitTokens(ctx context.Context) error {
	if w.tokensErr() == nil {
		return nil
	}
	pause := awaitBackoff
	for {
		err := w.CheckTokens(ctx)
		if err == nil || !unreachable(err) || ctx.Err() != nil {
			return err
		}
		w.log.Warn().Err(err).Dur("retry_in", pause).Msg("not ready: Frame.io cannot be reached to check the tokens; retrying")
		if throttle.Sleep(ctx, pause) != nil {
			return ctx.Err()
		}
		pause = min(2*pause, awaitMaxBackoff)
	}
}

// unreachable says err tells nothing about the token: a network error, a
// 5xx or a 429, worth waiting out.
func unreachable(err error) bool {
	var cerr *ConfigError
	if errors.As(err, &cerr) {
		return false
	}
	c := apierr.Classify(err)
	return c == apierr.Retryable || c == apierr.RateLimited
}

// Tries of one token check and the first pause between them (doubling):
// a 502 from a proxy or a dropped connection at start-up says nothing
// about the token, and a worker that exits for it (a supervisor restarts
// it into the same blip) never starts while the API hiccups.
const (
	checkTries   = 5
	checkBackoff = 500 * time.Millisecond
)

// checkToken checks ref's token, retrying what apierr calls Retryable
// (never a *ConfigError: the answer was clear).
func (w *Worker) checkToken(ctx context.Context, ref string) error {
	pause := checkBackoff
	for try := 1; ; try++ {
		err := w.checkTokenOnce(ctx, ref)
		var cerr *ConfigError
		if err == nil || errors.As(err, &cerr) || apierr.Classify(err) != apierr.Retryable || try == checkTries || ctx.Err() != nil {
			return err
		}
		w.setTokensErr(err) // /readyz says why, at once
		w.log.Warn().Err(err).Str("token_ref", ref).Int("try", try).Dur("retry_in", pause).Msg("token check failed; retrying")
		if throttle.Sleep(ctx, pause) != nil {
			return err
		}
		pause *= 2
	}
}

// checkTokenOnce asks Frame.io once who ref's token is.
func (w *Worker) checkTokenOnce(ctx context.Context, ref string) error {
	acct := w.accounts[ref]
	var accountID string
	var err error
	if src := w.ims[ref]; src != nil {
		// The first mint: credentials IMS refuses stop the worker here.
		if _, err = src.Token(ctx); err != nil {
			return err
		}
	}
	if v4 := w.v4[ref]; v4 != nil {
		accountID, err = w.pickAccount(ctx, ref, v4)
		if err == nil {
			acct.API = upload.NewV4(v4.ForAccount(accountID))
		}
		var e *apierr.Error
		if errors.As(err, &e) && e.Status == http.StatusUnauthorized && !w.cfg.LegacyTokenAuth {
			// V4 answers a legacy developer token sent without the
			// header like any bad token: say what may be missing.
			err = fmt.Errorf("%w (a legacy developer token needs FRAMEQ_LEGACY_TOKEN_AUTH=true)", err)
		}
	} else {
		var me *frameio.User
		if me, err = acct.Client.Me(ctx); err != nil {
			err = fmt.Errorf("token ref %q: GET /me: %w", ref, err)
		} else {
			accountID = me.AccountID
		}
	}
	if err != nil {
		return err
	}
	if w.cfg.LimitScope == "account" && accountID != "" {
		acct.Scope = "account:" + accountID
	}
	w.log.Info().Str("token_ref", ref).Str("auth", w.authKind(ref)).Str("account_id", accountID).Str("scope", acct.Scope).Msg("token accepted")
	return nil
}

// authKind says where ref's tokens come from, for logs.
func (w *Worker) authKind(ref string) string {
	if w.chains[ref] != nil {
		return "ims-user"
	}
	if w.ims[ref] != nil {
		return "ims-s2s"
	}
	return "static"
}

// ConfigError is a start-up failure the operator fixes in the
// configuration (cmd/worker exits 2 for it), not a rejected token.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// pickAccount is FRAMEQ_ACCOUNT_ID if the token has it, else the token's
// only V4 account.
func (w *Worker) pickAccount(ctx context.Context, ref string, v4 *frameio.V4) (string, error) {
	id, err := v4.ChooseAccount(ctx, w.cfg.AccountID)
	switch {
	case errors.Is(err, frameio.ErrAccountChoice):
		return "", &ConfigError{fmt.Sprintf("token ref %q: %v (FRAMEQ_ACCOUNT_ID or --account-id)", ref, err)}
	case err != nil:
		return "", fmt.Errorf("token ref %q: %w", ref, err)
	}
	return id, nil
}

// Run serves HTTP, waits for the tokens to pass their check (CheckTokens,
// retried with back-off while Frame.io cannot be reached; /readyz says
// why meanwhile), then processes tasks until ctx ends, then stops taking
// tasks, lets active ones finish for ShutdownTimeout and requeues the rest.
// A token rejected, or a *ConfigError, ends it with that error; ctx ending
// before the tokens passed, with nil.
func (w *Worker) Run(ctx context.Context) error {
	mux := asynq.NewServeMux()
	mux.Use(w.guard.Middleware)
	mux.Handle(job.TypeUpload, w.handler)
	mux.Handle(job.TypeRemoteUpload, w.handler)
	mux.Handle(notify.TypeWebhook, w.deliverer)
	httpErr := make(chan error, 1)
	go func() { httpErr <- w.http.Serve(w.ln) }()
	// /readyz answers (not ready, and why) while the tokens wait for
	// Frame.io; no task is taken before they pass.
	if err := w.awaitTokens(ctx); err != nil {
		_ = w.http.Close()
		w.closeWatchers()
		if ctx.Err() != nil {
			w.log.Info().Msg("worker stopped before its tokens were checked")
			return nil
		}
		return err
	}
	for i, srv := range w.srvs {
		if err := srv.Start(mux); err != nil {
			for _, started := range w.srvs[:i] {
				started.Shutdown()
			}
			_ = w.http.Close()
			w.closeWatchers()
			return fmt.Errorf("start asynq server: %w", err)
		}
	}
	w.log.Info().Str("http", w.Addr()).Int("concurrency", w.cfg.Concurrency).Msg("worker started")
	w.declareSeries()
	if w.lease != nil {
		go w.lease.Run(ctx)
	}
	go w.followBreakers(ctx)
	go w.watchChains(ctx)
	go lease.New(w.rdb, w.queues(), w.log.With().Str("component", "lease").Logger()).Run(ctx)
	go w.guard.Run(ctx)
	var err error
	select {
	case <-ctx.Done():
	case err = <-httpErr:
		err = fmt.Errorf("http listener: %w", err)
	}
	w.log.Info().Dur("grace", w.cfg.ShutdownTimeout).Msg("stopping: finishing active tasks")
	w.stopServers()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = w.http.Shutdown(sctx)
	w.closeWatchers()
	w.log.Info().Msg("worker stopped")
	return err
}

// closeWatchers closes the dashboard, inspector and notifier.
func (w *Worker) closeWatchers() {
	if c, ok := w.dash.(interface{ Close() error }); ok {
		_ = c.Close()
	}
	_ = w.insp.Close()
	_ = w.notifier.Close()
}

// watch sets up what operators see: queue and batch figures in /metrics,
// breaker state, and the dashboard.
func (w *Worker) watch() error {
	w.metrics.WatchQueues(w.insp)
	batches := records.NewBatches(w.rdb)
	w.metrics.WatchBatches(func(ctx context.Context) (map[string]map[string]int64, error) {
		return batches.Recent(ctx, 24*time.Hour, 50)
	})
	for ref := range w.accounts {
		w.breaker.Open(context.Background(), ref) // reports the current state
	}
	opt, err := w.cfg.AsynqRedis()
	if err != nil {
		return err
	}
	w.dash, err = dashboard.New(dashboard.Options{
		Redis: opt, Writable: w.cfg.DashboardWritable,
		User: w.cfg.DashboardUser, Password: w.cfg.DashboardPassword,
	})
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}

// followBreakers keeps this worker's view (metrics, logs) of every token's
// breaker current, even while the paused queue gives it no task to notice.
func (w *Worker) followBreakers(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for ref := range w.accounts {
				w.breaker.Open(ctx, ref)
			}
		}
	}
}

func (w *Worker) breakerChanged(ref string, open bool) {
	w.metrics.TokenBreaker(ref, open)
	if open {
		w.log.Error().Str("token_ref", ref).Msg("token breaker open: its queue is paused and its jobs held")
	} else {
		w.log.Info().Str("token_ref", ref).Msg("token breaker closed")
	}
}
