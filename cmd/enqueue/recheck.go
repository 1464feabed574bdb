package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/config"
	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/ident"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
	"github.com/frameq/frameq/throttle"
)

// recheckConcurrency is how many asset look-ups are in flight; the shared
// limiter paces them, this only hides the round-trip time.
const recheckConcurrency = 8

// errNoToken: --recheck calls Frame.io, so it needs the workers' token.
var errNoToken = errors.New("--recheck needs the token")

// rechecker asks Frame.io whether the assets of done records still exist.
type rechecker struct {
	cfg     config.Config
	limiter *throttle.Limiter
	lookups map[string]lookup
}

// lookup asks Frame.io for one recorded asset (v2 GET /assets/{id}, V4 GET
// /files/{id}): nil if it is there.
type lookup func(ctx context.Context, assetID string) error

// newRechecker reads the worker's Frame.io settings (FRAMEQ_TOKEN,
// FRAMEQ_TOKEN_<REF>, FRAMEQ_TOKENS_FILE, FRAMEQ_API_VERSION,
// FRAMEQ_API_URL, FRAMEQ_ACCOUNT_ID, FRAMEQ_LEGACY_TOKEN_AUTH, the rates
// and FRAMEQ_RATE_MARGIN) from the environment only: tokens never come
// from flags. Its calls draw on the workers' limits: v2's calls, V4's
// show_file and account.
func (c *cli) newRechecker(rdb redis.UniversalClient) (*rechecker, error) {
	cfg := config.Default()
	fs := flag.NewFlagSet("recheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := cfg.Load(fs, nil, c.environ, config.Worker); err != nil {
		return nil, fmt.Errorf("--recheck: %w", err)
	}
	limits := map[string]throttle.Limit{frameio.LimitCalls: {Rate: cfg.CallRate.N, Per: cfg.CallRate.Per, Burst: 1}}
	if cfg.APIVersion != "v2" {
		limits = map[string]throttle.Limit{}
		for _, name := range []string{frameio.LimitShowFile, frameio.LimitAccount} {
			r := cfg.RouteLimits[name]
			limits[name] = throttle.Limit{Rate: r.N, Per: r.Per, Burst: 1}
		}
	}
	lim, err := throttle.New(rdb, throttle.Config{Limits: limits, Margin: cfg.RateMargin})
	if err != nil {
		return nil, fmt.Errorf("--recheck: limiter: %w", err)
	}
	return &rechecker{cfg: cfg, limiter: lim, lookups: map[string]lookup{}}, nil
}

// lookup returns the asset look-up of a token ref, made on first use. On
// V4 that asks which account the token uploads into, as the worker does.
func (r *rechecker) lookup(ctx context.Context, ref string) (lookup, error) {
	if l, ok := r.lookups[ref]; ok {
		return l, nil
	}
	token, ok := r.cfg.Tokens[ref]
	if !ok {
		return nil, fmt.Errorf("%w of ref %q: set %s", errNoToken, ref, ident.TokenVar(ref))
	}
	scope := "token:" + ref // the worker's scope with FRAMEQ_LIMIT_SCOPE=token
	o := frameio.Options{
		BaseURL: r.cfg.APIBase(), Token: token, APITimeout: r.cfg.APITimeout, LegacyTokenAuth: r.cfg.LegacyTokenAuth,
		BeforeCall: func(ctx context.Context, c frameio.Call) error { return r.wait(ctx, scope, c.Limits) },
	}
	var l lookup
	if r.cfg.APIVersion == "v2" {
		c, err := frameio.New(o)
		if err != nil {
			return nil, fmt.Errorf("token ref %q: %w", ref, err)
		}
		l = func(ctx context.Context, id string) error { _, err := c.GetAsset(ctx, id); return err }
	} else {
		v4, err := frameio.NewV4(o)
		if err != nil {
			return nil, fmt.Errorf("token ref %q: %w", ref, err)
		}
		account, err := r.account(ctx, ref, v4)
		if err != nil {
			return nil, err
		}
		files := v4.ForAccount(account)
		l = func(ctx context.Context, id string) error { _, err := files.GetFile(ctx, id); return err }
	}
	r.lookups[ref] = l
	return l, nil
}

// account is the V4 account ref's token uploads into: FRAMEQ_ACCOUNT_ID if
// the token has it, else the token's only one. A file of another account
// is a 404, so a wrong account would take every file for deleted: the
// choice is checked, never assumed.
func (r *rechecker) account(ctx context.Context, ref string, v4 *frameio.V4) (string, error) {
	accounts, err := v4.Accounts(ctx)
	if err != nil {
		return "", fmt.Errorf("token ref %q: GET /accounts: %w", ref, err)
	}
	ids := make([]string, len(accounts))
	for i, a := range accounts {
		ids[i] = a.ID
		if a.ID == r.cfg.AccountID || (r.cfg.AccountID == "" && len(accounts) == 1) {
			return a.ID, nil
		}
	}
	if r.cfg.AccountID != "" {
		return "", fmt.Errorf("token ref %q: FRAMEQ_ACCOUNT_ID %s is not one of the token's accounts: %s", ref, r.cfg.AccountID, strings.Join(ids, ", "))
	}
	return "", fmt.Errorf("token ref %q: the token has %d accounts; choose one with FRAMEQ_ACCOUNT_ID: %s", ref, len(accounts), strings.Join(ids, ", "))
}

// wait takes a permit of limits, sleeping out waits longer than the
// limiter's MaxWait (a hold after a 429): enqueue has no queue to hand
// work back to.
func (r *rechecker) wait(ctx context.Context, scope string, limits []string) error {
	for {
		err := r.limiter.Wait(ctx, scope, limits...)
		var d *throttle.DelayError
		if !errors.As(err, &d) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.Wait):
		}
	}
}

// run resets the done record of every upload whose asset is gone from
// Frame.io, so Enqueue queues it again, and returns how many it reset. Any
// other error stops it, naming the file.
func (r *rechecker) run(ctx context.Context, p *records.Progresses, uploads []*job.Upload) (int, error) {
	keys := make([]string, len(uploads))
	for i, u := range uploads {
		keys[i] = job.IdempotencyKey(u)
	}
	assets, err := p.DoneAssets(ctx, keys)
	if err != nil {
		return 0, err
	}
	for i, u := range uploads { // look-ups first: a missing token fails before any asset call
		if assets[i] != "" {
			if _, err := r.lookup(ctx, u.TokenRef); err != nil {
				return 0, err
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		reset    int
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for w := 0; w < recheckConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				gone, err := r.gone(ctx, p, uploads[i], keys[i], assets[i])
				mu.Lock()
				if gone {
					reset++
				}
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range uploads {
		if assets[i] == "" {
			continue
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return reset, firstErr
}

// gone looks up one recorded asset and, if Frame.io says 404, forgets the
// done record.
func (r *rechecker) gone(ctx context.Context, p *records.Progresses, u *job.Upload, key, assetID string) (bool, error) {
	l := r.lookups[u.TokenRef] // made in run
	err := l(ctx, assetID)
	var e *apierr.Error
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &e) && e.Status == http.StatusNotFound:
		if err := p.Reset(ctx, key); err != nil {
			return false, fmt.Errorf("%s: %w", u.Path, err)
		}
		return true, nil
	}
	return false, fmt.Errorf("recheck %s (asset %s): %w", u.Path, assetID, err)
}
