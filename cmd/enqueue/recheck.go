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
	"github.com/frameq/frameq/ims"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
	"github.com/frameq/frameq/tasks/upload"
	"github.com/frameq/frameq/throttle"
)

// recheckConcurrency is how many asset look-ups are in flight; the shared
// limiter paces them, this only hides the round-trip time.
const recheckConcurrency = 8

// errNoToken: --recheck calls Frame.io, so it needs the workers' token.
var errNoToken = errors.New("--recheck needs the token")

// rechecker asks Frame.io whether the files of done records still exist.
type rechecker struct {
	cfg     config.Config
	limiter *throttle.Limiter
	apis    map[string]upload.FrameIO // by token ref
}

// newRechecker reads the worker's Frame.io settings (FRAMEQ_TOKEN,
// FRAMEQ_TOKEN_<REF>, FRAMEQ_TOKENS_FILE, FRAMEQ_API_VERSION, FRAMEQ_API_URL,
// FRAMEQ_ACCOUNT_ID, the rates) from the environment only: tokens never come
// from flags.
func (c *cli) newRechecker(rdb redis.UniversalClient) (*rechecker, error) {
	cfg := config.Default()
	fs := flag.NewFlagSet("recheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := cfg.Load(fs, nil, c.environ, config.Worker); err != nil {
		return nil, fmt.Errorf("--recheck: %w", err)
	}
	lim, err := throttle.New(rdb, throttle.Config{Limits: cfg.Limits(), Margin: cfg.RateMargin})
	if err != nil {
		return nil, fmt.Errorf("--recheck: limiter: %w", err)
	}
	return &rechecker{cfg: cfg, limiter: lim, apis: map[string]upload.FrameIO{}}, nil
}

// api returns the Frame.io API of a token ref, made on first use, the way
// the worker makes it: the same version, account and shared limits.
func (r *rechecker) api(ctx context.Context, ref string) (upload.FrameIO, error) {
	if a, ok := r.apis[ref]; ok {
		return a, nil
	}
	scope := scopeOf(ref)
	o := frameio.Options{
		BaseURL: r.cfg.APIBase(), APITimeout: r.cfg.APITimeout, LegacyTokenAuth: r.cfg.LegacyTokenAuth,
		Permit: func(ctx context.Context, c frameio.Call) (func(time.Time), error) {
			p, err := r.reserve(ctx, scope, c.Limits)
			if err != nil {
				return nil, err
			}
			ctx = context.WithoutCancel(ctx)
			return func(at time.Time) { go p.Sent(ctx, at) }, nil // as the worker: the write loop must not wait on Redis
		},
	}
	if creds, ok := r.cfg.IMSClients[ref]; ok { // as the worker: IMS credentials win
		src, err := ims.New(ims.Config{Ref: ref, URL: r.cfg.IMSURL, Scopes: r.cfg.IMSScopes,
			ClientID: creds.ClientID, ClientSecret: creds.ClientSecret})
		if err != nil {
			return nil, err
		}
		o.Tokens = src
	} else if o.Token = r.cfg.Tokens[ref]; o.Token == "" {
		return nil, fmt.Errorf("%w of ref %q: set %s (or %s and %s)", errNoToken, ref, ident.TokenVar(ref),
			config.IMSVar("FRAMEQ_IMS_CLIENT_ID", ref), config.IMSVar("FRAMEQ_IMS_CLIENT_SECRET", ref))
	}
	var a upload.FrameIO
	if r.cfg.APIVersion == "v2" {
		c, err := frameio.New(o)
		if err != nil {
			return nil, fmt.Errorf("token ref %q: %w", ref, err)
		}
		a = upload.NewV2(c)
	} else {
		v, err := frameio.NewV4(o)
		if err != nil {
			return nil, fmt.Errorf("token ref %q: %w", ref, err)
		}
		id, err := v.ChooseAccount(ctx, r.cfg.AccountID)
		if err != nil {
			return nil, fmt.Errorf("token ref %q: %w", ref, err)
		}
		a = upload.NewV4(v.ForAccount(id))
	}
	r.apis[ref] = a
	return a, nil
}

// reserve takes a permit of every limit a call draws on, sleeping out
// waits longer than the limiter's MaxWait (a hold after a 429): enqueue
// has no queue to hand work back to. The permit is told when its request
// left (Permit.Sent), as the worker's are: a late write pushes the shared
// schedule back.
func (r *rechecker) reserve(ctx context.Context, scope string, limits []string) (*throttle.Permit, error) {
	for {
		p, err := r.limiter.Reserve(ctx, scope, limits...)
		var d *throttle.DelayError
		if !errors.As(err, &d) {
			return p, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
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
			if _, err := r.api(ctx, u.TokenRef); err != nil {
				return 0, fmt.Errorf("recheck %s: %w", u.Path, err)
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
	api := r.apis[u.TokenRef] // made in run
	_, err := r.getFile(ctx, api, scopeOf(u.TokenRef), assetID)
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

// recheckRetries bounds the tries of one lookup on a retryable error (5xx,
// network); a 429 spends none: the limiter holds every caller of the scope
// for the server's wait, and the lookup goes again.
const recheckRetries = 4

// getFile asks for one asset as the worker would: 429s wait out the server's
// Retry-After (held for the whole scope through the shared limiter), 5xx and
// network errors back off and try again a few times; anything else is the
// answer.
func (r *rechecker) getFile(ctx context.Context, api upload.FrameIO, scope, assetID string) (*upload.File, error) {
	for tries := 1; ; {
		f, err := api.GetFile(ctx, assetID)
		var wait time.Duration
		switch apierr.Classify(err) {
		case apierr.RateLimited:
			if perr := r.limiter.Penalize(ctx, scope, apierr.WaitOf(err)); perr != nil {
				return nil, errors.Join(err, perr)
			}
			continue // the next permit waits out the hold
		case apierr.Retryable:
			if tries >= recheckRetries || ctx.Err() != nil {
				return nil, err
			}
			wait = time.Duration(1<<tries) * 250 * time.Millisecond
			tries++
		default:
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// scopeOf is the limiter scope of a token ref's calls: the worker's with
// FRAMEQ_LIMIT_SCOPE=token.
func scopeOf(ref string) string { return "token:" + ref }
