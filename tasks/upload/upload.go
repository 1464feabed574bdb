package upload

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/lease"
	"github.com/frameq/frameq/tasks/records"
	"github.com/frameq/frameq/throttle"
)

// createdSkew widens the window in which an asset found after an uncertain
// create counts as ours, for clock differences between us and Frame.io.
const createdSkew = 2 * time.Minute

func (h *Handler) uploadFile(ctx context.Context, at *attempt, p *records.Progress) (string, error) {
	u := at.u
	f, info, err := h.root.open(u.File)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if p == nil || (at.unread && !versionOf(info).enqueued(u)) {
		// (A changed file's course depends on what its record holds.)
		if p, err = h.reread(ctx, at); err != nil {
			return "", err
		}
	}
	if at.version, err = h.startVersion(ctx, at, info, p); err != nil {
		return "", err
	}
	if p.State == records.StateDone {
		zerolog.Ctx(ctx).Info().Str("asset_id", p.AssetID).Msg("already uploaded")
		return p.AssetID, nil
	}
	if id, since, ok := verifyingFrom(p); ok {
		return h.verify(ctx, at, id, since)
	}
	asset, done, err := h.placeAsset(ctx, at, p)
	if err != nil {
		return "", err
	}
	if err := h.putParts(ctx, at, asset, f, done); err != nil {
		return "", err
	}
	return h.verify(ctx, at, asset.ID, time.Time{})
}

// placeAsset makes the file's folders and returns its asset with the parts
// already done.
func (h *Handler) placeAsset(ctx context.Context, at *attempt, p *records.Progress) (a *File, done map[int]bool, err error) {
	err = h.inFolder(ctx, at, p, func(p *records.Progress, parentID string) error {
		a, done, err = h.asset(ctx, at, p, parentID)
		return err
	})
	return a, done, err
}

// inFolder finds or makes the folders of at's path and runs place in the
// last one. A 404 under a folder frameq made means someone deleted it in
// Frame.io: the folder map is healed once per attempt (the chain's top
// entry and everything below it dropped), the progress read again, and the
// chain found or made anew; a second 404 takes the normal course. A 404 on
// the target folder itself (not frameq's) is terminal.
func (h *Handler) inFolder(ctx context.Context, at *attempt, p *records.Progress, place func(p *records.Progress, parentID string) error) error {
	u := at.u
	for healed := false; ; healed = true {
		ids, err := h.folders.Chain(ctx, at.api, at.acct.Scope, u.ParentID, u.Folders())
		if err == nil {
			err = place(p, records.Leaf(u.ParentID, ids))
		}
		switch {
		case !notFound(err):
			return err
		case len(ids) == 0: // the 404 was on u.ParentID
			return terminal(apierr.Terminal.String(), fmt.Sprintf(
				"target folder %s (parent_id / --parent) is gone from Frame.io, deleted or out of this token's reach: %v", u.ParentID, err))
		case healed:
			return err
		}
		if p, err = h.heal(ctx, at, ids[0], err); err != nil {
			return err
		}
	}
}

// heal drops the folder map entries of a chain a 404 showed stale, and
// returns the file's progress as the failed create or look-up left it.
func (h *Handler) heal(ctx context.Context, at *attempt, topID string, cause error) (*records.Progress, error) {
	names := at.u.Folders()
	n, err := h.folders.Drop(ctx, at.acct.Scope, at.u.ParentID, names[0], topID)
	if err != nil {
		return nil, errors.Join(cause, err)
	}
	zerolog.Ctx(ctx).Warn().Err(cause).Str("folder", names[0]).Str("folder_id", topID).Int("entries_dropped", n).
		Msg("folder deleted in Frame.io: forgetting it and what was below it, making it anew")
	return h.progress.Get(ctx, at.key)
}

// notFound reports whether err is Frame.io's 404: the asset named in the
// request is gone (deleted, or moved where the token cannot see it).
func notFound(err error) bool {
	var e *apierr.Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// asset returns the asset to PUT parts to, with the parts already done:
// the one recorded, one an uncertain create made, or a new one.
func (h *Handler) asset(ctx context.Context, at *attempt, p *records.Progress, parentID string) (*File, map[int]bool, error) {
	u := at.u
	switch p.State {
	case records.StateUploading:
		a, err := h.resume(ctx, at, p.AssetID)
		if a != nil || err != nil {
			return a, p.PartsDone, err
		}
	case records.StateCreating:
		if err := h.othersCreate(at, p); err != nil {
			return nil, nil, err
		}
		a, err := h.adopt(ctx, at, parentID, p.CreateStarted)
		if a != nil || err != nil {
			return a, map[int]bool{}, err
		}
	}
	a, err := h.create(ctx, at, func(ctx context.Context) (*File, error) {
		return at.api.CreateFile(ctx, parentID, NewFile{Name: u.Name(), Size: u.Size, MediaType: filetype(u)})
	})
	return a, map[int]bool{}, err
}

// resume fetches a recorded asset. It returns nil (start over) when the
// asset is gone or can no longer take parts; a stale one is deleted.
func (h *Handler) resume(ctx context.Context, at *attempt, assetID string) (*File, error) {
	a, err := at.api.GetFile(ctx, assetID)
	if apierr.Classify(err) == apierr.Terminal {
		zerolog.Ctx(ctx).Warn().Str("asset_id", assetID).Err(err).Msg("recorded asset is gone; creating anew")
		return nil, h.progress.Reset(ctx, at.key)
	}
	if err != nil {
		return nil, fmt.Errorf("resume asset %s: %w", assetID, err)
	}
	if a.Completed || len(a.Parts) > 0 {
		return a, nil
	}
	zerolog.Ctx(ctx).Warn().Str("asset_id", assetID).Msg("recorded asset has no upload URLs left; deleting it and creating anew")
	return nil, h.discard(ctx, at, assetID)
}

// adopt looks for the asset an uncertain create may have made (mayBeOurs).
// One is adopted, any others (from earlier lost answers) are deleted.
func (h *Handler) adopt(ctx context.Context, at *attempt, parentID string, started time.Time) (*File, error) {
	u := at.u
	children, err := at.api.FindFiles(ctx, parentID, u.Name())
	if err != nil {
		return nil, fmt.Errorf("look for asset %q after an uncertain create: %w", u.Name(), err)
	}
	var found []File
	for _, a := range children {
		if mayBeOurs(u, a, started) {
			found = append(found, a)
		}
	}
	log := zerolog.Ctx(ctx)
	if len(found) == 0 {
		log.Info().Msg("uncertain create made no asset; creating")
		return nil, nil
	}
	for _, extra := range found[1:] {
		log.Warn().Str("asset_id", extra.ID).Msg("deleting duplicate left by a lost create answer")
		if err := at.api.DeleteFile(ctx, extra.ID); err != nil && apierr.Classify(err) != apierr.Terminal {
			return nil, fmt.Errorf("delete duplicate %s: %w", extra.ID, err)
		}
	}
	log.Info().Str("asset_id", found[0].ID).Msg("adopting the asset an uncertain create made")
	if err := h.progress.Created(ctx, at.key, found[0].ID); err != nil {
		return nil, err
	}
	if u.SourceURL != "" {
		return &found[0], nil
	}
	return h.resume(ctx, at, found[0].ID)
}

// mayBeOurs reports whether file a, found by name after an uncertain create
// of u sent at started, can be what that create made: made since then
// (give or take clock skew) and, for a local file, of u's size and still
// awaiting bytes. A remote file is known by name and time alone: Frame.io
// may have fetched it already, V4's create sends no size and lists
// file_size 0 until the fetch, and u's size is only what the manifest said.
func mayBeOurs(u *job.Upload, a File, started time.Time) bool {
	if a.CreatedAt.Before(started.Add(-createdSkew)) {
		return false
	}
	return u.SourceURL != "" || (a.Size == u.Size && !a.Completed)
}

// create sends a create, recording first that it may take effect unseen:
// a claim that no other run's create of the file is in flight.
func (h *Handler) create(ctx context.Context, at *attempt, send func(context.Context) (*File, error)) (*File, error) {
	staged, err := h.claim(ctx, at)
	if err != nil {
		return nil, h.claimFailed(ctx, at, err)
	}
	a, err := send(throttle.WithStaged(ctx, staged))
	if err != nil {
		if !apierr.Ambiguous(err) && !lease.Lost(ctx) {
			// Nothing was made: the next attempt need not look for it.
			// (Unless the task may be another worker's now: its record is
			// not this attempt's to reset.)
			if rerr := h.progress.Reset(context.WithoutCancel(ctx), at.key); rerr != nil {
				zerolog.Ctx(ctx).Warn().Err(rerr).Msg("progress not reset")
			}
		} else {
			h.settle(ctx, at) // over, answer lost: a listing may judge it now
		}
		return nil, err
	}
	if err := h.progress.Created(ctx, at.key, a.ID); err != nil {
		return nil, err
	}
	return a, nil
}

// claim writes the create claim; for a record not read (at.unread), only
// on a new record, marking the task active and trying for the create's
// permit (the account's StageCreate) in the same round trip.
func (h *Handler) claim(ctx context.Context, at *attempt) (*throttle.Staged, error) {
	if !at.unread {
		return nil, h.progress.Claim(ctx, at.key, at.owner, time.Now(), h.createWindow())
	}
	var staged *throttle.Staged
	var permit func(redis.Pipeliner)
	if stage := at.acct.StageCreate; stage != nil {
		permit = func(p redis.Pipeliner) { staged = stage(ctx, p) }
	}
	err := h.progress.ClaimFirst(ctx, at.key, at.owner, time.Now(), h.createWindow(), at.u.Batch, at.taskID, permit)
	if err == nil || errors.Is(err, records.ErrPastCreating) || errors.Is(err, records.ErrNotReplicated) {
		// The pipeline ran (a WAIT falling short included): the task is
		// marked active, and a record found is read by the next try.
		at.unread = false
	}
	return staged, err
}

// claimFailed says what to do when the create claim was not had: wait for
// another run's create, or read the record again (it moved on, or was
// there unread), or (the mark not on enough replicas, so the create not
// sent) report err.
func (h *Handler) claimFailed(ctx context.Context, at *attempt, err error) error {
	var inFlight *records.CreateInFlightError
	switch {
	case errors.As(err, &inFlight): // run logs the wait (debug)
		return &waitError{wait: min(inFlight.Wait, otherCreatePoll), cause: err}
	case errors.Is(err, records.ErrPastCreating):
		return &waitError{wait: 100 * time.Millisecond, cause: err}
	case errors.Is(err, records.ErrNotReplicated):
		h.settle(ctx, at) // never sent
	}
	return err
}

// othersCreate returns a wait while p is another run's create that may
// still be in flight: a listing now could miss the file it is making.
func (h *Handler) othersCreate(at *attempt, p *records.Progress) error {
	left, ok := p.InFlight(at.owner, time.Now(), h.createWindow())
	if !ok {
		return nil
	}
	return &waitError{wait: min(left, otherCreatePoll), cause: &records.CreateInFlightError{Wait: left}}
}

// otherCreatePoll is how often a run waiting for another run's create
// reads the record again: that run records its asset as soon as it has it.
const otherCreatePoll = time.Second

// settle records that this run's create is over, best effort.
func (h *Handler) settle(ctx context.Context, at *attempt) {
	if err := h.progress.Settle(context.WithoutCancel(ctx), at.key, at.owner.Run); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("create not recorded as over: another run waits for the mark to age")
	}
}

// createWindow is how long after its mark a create is surely over.
func (h *Handler) createWindow() time.Duration {
	if h.opts.CreateWindow > 0 {
		return h.opts.CreateWindow
	}
	return defaultCreateWindow
}

// defaultCreateWindow: a limiter wait (at most 10 s, then the task is
// handed back) and an API call (45 s by default) and a margin.
const defaultCreateWindow = time.Minute

// discard deletes an asset we can no longer complete and forgets it.
func (h *Handler) discard(ctx context.Context, at *attempt, assetID string) error {
	if err := at.api.DeleteFile(ctx, assetID); err != nil && apierr.Classify(err) != apierr.Terminal {
		return fmt.Errorf("delete orphan %s: %w", assetID, err)
	}
	return h.progress.Reset(ctx, at.key)
}

// putParts uploads the parts not yet done, PartConcurrency at a time, each
// retried on its own. Every finished part is recorded, so a later attempt
// PUTs only what is missing.
func (h *Handler) putParts(ctx context.Context, at *attempt, a *File, f *os.File, done map[int]bool) error {
	if a.Completed {
		return nil
	}
	var todo []Part
	for _, part := range a.Parts {
		if !done[part.Number] {
			todo = append(todo, part)
		}
	}
	var firstErr error
	if len(todo) == 1 {
		// One part (most files): on this goroutine, whose stack is grown
		// already, rather than on a new one that grows its own.
		if _, still, _ := stillAs(f, at.version); still && ctx.Err() == nil {
			firstErr = h.putPart(ctx, at, a, f, todo[0])
		}
	} else {
		firstErr = h.putConcurrently(ctx, at, a, f, todo)
	}
	if ctx.Err() == nil {
		// After the last part and before anything records it done; a part
		// that failed may have failed because the file shrank.
		now, still, err := stillAs(f, at.version)
		if err != nil {
			return err
		}
		if !still {
			return h.changed(ctx, at, a.ID, at.version, now)
		}
	}
	if firstErr != nil {
		return h.partFailed(ctx, at, a.ID, firstErr)
	}
	return ctx.Err()
}

// putConcurrently PUTs parts PartConcurrency at a time and returns the
// first failure. It stops sending once the file is no longer at.version
// (putParts then says why).
func (h *Handler) putConcurrently(ctx context.Context, at *attempt, a *File, f *os.File, parts []Part) error {
	// The first failure stops the other parts; partFailed then runs on
	// the caller's ctx, which is not cancelled, so its delete goes out.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, h.opts.PartConcurrency)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, part := range parts {
		select {
		case sem <- struct{}{}:
		case <-pctx.Done():
		}
		if pctx.Err() != nil {
			break
		}
		if _, still, _ := stillAs(f, at.version); !still {
			break // no more bytes of a changing file; the caller's check says why
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := h.putPart(pctx, at, a, f, part); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func (h *Handler) putPart(ctx context.Context, at *attempt, a *File, f *os.File, p Part) error {
	var err error
	for try := 0; try < h.opts.PartRetries; try++ {
		if try > 0 {
			if serr := throttle.Sleep(ctx, throttle.Backoff(try, 250*time.Millisecond, 5*time.Second)); serr != nil {
				return err
			}
		}
		err = at.api.PutPart(ctx, a, p, f)
		if err == nil {
			h.opts.Observer.BytesUploaded(p.Size)
			if len(a.Parts) == 1 {
				return nil // the done record follows at once; a crash before it re-PUTs one part
			}
			return h.progress.PartDone(ctx, at.key, a.ID, p.Number)
		}
		if apierr.Classify(err) != apierr.Retryable {
			break
		}
		h.opts.Observer.PartRetry()
		zerolog.Ctx(ctx).Debug().Int("part", p.Number).Err(err).Msg("part failed, retrying")
	}
	return fmt.Errorf("part %d of %d: %w", p.Number+1, len(a.Parts), err)
}

// partFailed handles a part that will not go in. A rejected presigned URL
// (expired, or refused by storage) cannot be refreshed in API v2: the
// asset is deleted and the next attempt creates a new one.
func (h *Handler) partFailed(ctx context.Context, at *attempt, assetID string, err error) error {
	if apierr.Classify(err) == apierr.Retryable {
		return err
	}
	zerolog.Ctx(ctx).Warn().Err(err).Str("asset_id", assetID).Msg("upload URL refused; deleting the asset to start over")
	if derr := h.discard(ctx, at, assetID); derr != nil {
		return errors.Join(err, derr)
	}
	return fmt.Errorf("upload URLs refused, asset deleted, retrying with a new one: %w", &RetryError{Cause: err})
}

// filetype is the payload's MIME type, else one guessed from the name.
func filetype(u *job.Upload) string {
	if u.Filetype != "" {
		return u.Filetype
	}
	if t := mime.TypeByExtension(path.Ext(u.Name())); t != "" {
		return t
	}
	return "application/octet-stream"
}
