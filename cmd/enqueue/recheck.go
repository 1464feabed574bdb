package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
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
	clients map[string]*frameio.Client
}

// newRechecker reads the worker's Frame.io settings (FRAMEQ_TOKEN,
// FRAMEQ_TOKEN_<REF>, FRAMEQ_TOKENS_FILE, FRAMEQ_API_URL, FRAMEQ_CALL_RATE,
// FRAMEQ_RATE_MARGIN) from the environment only: tokens never come from flags.
func (c *cli) newRechecker(rdb redis.UniversalClient) (*rechecker, error) {
	cfg := config.Default()
	fs := flag.NewFlagSet("recheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := cfg.Load(fs, nil, c.environ, config.Worker); err != nil {
		return nil, fmt.Errorf("--recheck: %w", err)
	}
	lim, err := throttle.New(rdb, throttle.Config{
		Limits: map[string]throttle.Limit{frameio.LimitCalls: {Rate: cfg.CallRate.N, Per: cfg.CallRate.Per, Burst: 1}},
		Margin: cfg.RateMargin,
	})
	if err != nil {
		return nil, fmt.Errorf("--recheck: limiter: %w", err)
	}
	return &rechecker{cfg: cfg, limiter: lim, clients: map[string]*frameio.Client{}}, nil
}

// client returns the Frame.io client of a token ref, made on first use.
func (r *rechecker) client(ref string) (*frameio.Client, error) {
	if c, ok := r.clients[ref]; ok {
		return c, nil
	}
	token, ok := r.cfg.Tokens[ref]
	if !ok {
		return nil, fmt.Errorf("%w of ref %q: set %s", errNoToken, ref, ident.TokenVar(ref))
	}
	scope := "token:" + ref // the worker's scope with FRAMEQ_LIMIT_SCOPE=token
	c, err := frameio.New(frameio.Options{
		BaseURL: r.cfg.APIURL, Token: token, APITimeout: r.cfg.APITimeout,
		BeforeCall: func(ctx context.Context, _ frameio.Call) error { return r.wait(ctx, scope) },
	})
	if err != nil {
		return nil, fmt.Errorf("token ref %q: %w", ref, err)
	}
	r.clients[ref] = c
	return c, nil
}

// wait takes a call permit, sleeping out waits longer than the limiter's
// MaxWait (a hold after a 429): enqueue has no queue to hand work back to.
func (r *rechecker) wait(ctx context.Context, scope string) error {
	for {
		err := r.limiter.Wait(ctx, scope, frameio.LimitCalls)
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
	for i, u := range uploads { // clients first: a missing token fails before any call
		if assets[i] != "" {
			if _, err := r.client(u.TokenRef); err != nil {
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
	c, _ := r.client(u.TokenRef) // made in run
	_, err := c.GetAsset(ctx, assetID)
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
