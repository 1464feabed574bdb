package upload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
)

// A file can change while it uploads: a camera card still being copied, an
// export still being written. Its parts would then carry bytes of two
// versions. The check is an fstat of the open file — size, mtime and ctime
// (a copier may set mtime back, as cp -p does; nobody sets ctime) — before
// each part and after the last, so an upload whose file changed before its
// last part went in never becomes done: its half-made file is deleted and
// the task waits until the file has been still for Settle, then uploads
// the file as it is then. A file renamed over ours is not a change: the
// open descriptor keeps reading the version it started with.

// maxChanging bounds how long a file may keep changing: after an hour
// since frameq first saw it change it is archived with the reason. An
// export or a card copy that takes longer should be enqueued once done.
const maxChanging = time.Hour

// errChanging is the cause of a task handed back until its file settles.
var errChanging = errors.New("file is changing: waiting for it to stay unchanged")

// version is what tells two states of a file apart without reading it.
type version struct {
	size, mtimeNS, ctimeNS int64
}

func versionOf(info os.FileInfo) version {
	return version{size: info.Size(), mtimeNS: info.ModTime().UnixNano(), ctimeNS: ctimeNS(info)}
}

// lastChange is when the file was last written or its metadata changed.
func (v version) lastChange() time.Time { return time.Unix(0, max(v.mtimeNS, v.ctimeNS)) }

// enqueued reports whether v is the version u was enqueued with (ctime
// is not in the payload).
func (v version) enqueued(u *job.Upload) bool {
	return v.size == u.Size && (u.MtimeNS == 0 || v.mtimeNS == u.MtimeNS)
}

// changingKey holds when frameq first saw a file change mid-upload and how
// often; it shares the progress record's hash tag.
func changingKey(idemKey string) string { return "frameq:changing:{" + idemKey + "}" }

// changingTTL outlives maxChanging and any retry back-off between sightings.
const changingTTL = 24 * time.Hour

// sawChange records a change of at's file and returns since when it has
// been changing and how many changes were seen.
func (h *Handler) sawChange(ctx context.Context, at *attempt) (time.Time, int64, error) {
	key := changingKey(at.key)
	var n *redis.IntCmd
	var since *redis.StringCmd
	_, err := h.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSetNX(ctx, key, "since", strconv.FormatInt(time.Now().UnixNano(), 10))
		since = p.HGet(ctx, key, "since")
		n = p.HIncrBy(ctx, key, "n", 1)
		p.Expire(ctx, key, changingTTL)
		return nil
	})
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("record file change: %w", err)
	}
	ns, err := since.Int64()
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("read file change: %w", err)
	}
	return time.Unix(0, ns), n.Val(), nil
}

// changedBefore reports whether frameq saw at's file change mid-upload.
func (h *Handler) changedBefore(ctx context.Context, at *attempt) (bool, error) {
	n, err := h.rdb.Exists(ctx, changingKey(at.key)).Result()
	if err != nil {
		return false, fmt.Errorf("read file change: %w", err)
	}
	return n == 1, nil
}

// changed handles a file found changed mid-upload: it deletes the
// half-made file (assetID, if any), records the change, and returns the
// wait until the file may be still, or a terminal error past maxChanging.
func (h *Handler) changed(ctx context.Context, at *attempt, assetID string, was, now version) error {
	if assetID != "" {
		if err := h.discard(ctx, at, assetID); err != nil {
			return err
		}
	} else if err := h.progress.Reset(ctx, at.key); err != nil {
		return err
	}
	since, n, err := h.sawChange(ctx, at)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Warn().Str("asset_id", assetID).Int64("size_was", was.size).Int64("size", now.size).Int64("changes", n).
		Msg("file changed while uploading: deleted what was sent, uploading again once it is still")
	return h.settleOrGiveUp(at, now, since, n)
}

// settleOrGiveUp returns the wait until v has been still for Settle, or
// a terminal error once the file has been changing for maxChanging.
func (h *Handler) settleOrGiveUp(at *attempt, v version, since time.Time, n int64) error {
	if time.Since(since) > maxChanging {
		return terminal(ClassInput, fmt.Sprintf("file %s kept changing for over %v (%d changes seen while uploading, now %d bytes): enqueue it again once it is complete",
			at.u.File, maxChanging, n, v.size))
	}
	wait := h.opts.Settle - time.Since(v.lastChange())
	return &waitError{wait: max(wait, time.Second), cause: errChanging}
}

// startVersion checks the file against its payload as an attempt starts.
// The version enqueued is uploaded. A file that changed since is refused
// (enqueue it again), unless frameq saw it change mid-upload: then a
// half-made file is deleted, and the file is uploaded as it is once it has
// been still for Settle. A file whose bytes are all in (verifying, done)
// is not looked at: what was sent is one version.
func (h *Handler) startVersion(ctx context.Context, at *attempt, info os.FileInfo, p *records.Progress) (version, error) {
	v := versionOf(info)
	if v.enqueued(at.u) || p.State == records.StateDone || p.State == records.StateVerifying {
		return v, nil
	}
	seen, err := h.changedBefore(ctx, at)
	if err != nil {
		return v, err
	}
	if p.State == records.StateCreating && p.AssetID == "" {
		// A create whose answer was lost may have made a file: forgetting
		// the record would leave it half-made beside the one uploaded next.
		if err := h.dropUncertain(ctx, at, p); err != nil {
			return v, err
		}
	}
	if p.State == records.StateUploading || p.State == records.StateCreating {
		// Parts of the enqueued version may be in: never mix them.
		return v, h.changed(ctx, at, p.AssetID, version{size: at.u.Size, mtimeNS: at.u.MtimeNS}, v)
	}
	if !seen {
		return v, terminal(ClassInput, fmt.Sprintf("file %s changed since it was enqueued (size %d, enqueued %d): enqueue it again", at.u.File, v.size, at.u.Size))
	}
	if time.Since(v.lastChange()) < h.opts.Settle {
		since, n, err := h.sawChange(ctx, at)
		if err != nil {
			return v, err
		}
		return v, h.settleOrGiveUp(at, v, since, n)
	}
	cur := *at.u
	cur.Size, cur.MtimeNS = v.size, v.mtimeNS
	at.u, at.current = &cur, job.IdempotencyKey(&cur)
	zerolog.Ctx(ctx).Info().Int64("size", v.size).Msg("file still since it changed: uploading it as it is now")
	return v, nil
}

// stillAs reports whether the open file f is still version v.
func stillAs(f *os.File, v version) (version, bool, error) {
	info, err := f.Stat()
	if err != nil {
		return version{}, false, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	now := versionOf(info)
	return now, now == v, nil
}

// dropUncertain deletes what an uncertain create of at's file may have
// made: a file of its name in its folder, made since the create was sent
// (give or take clock skew) and still awaiting bytes. Unlike adopt, any
// size: the create may have been of either version, the one enqueued or
// the one uploaded "as it is now" after an earlier change.
func (h *Handler) dropUncertain(ctx context.Context, at *attempt, p *records.Progress) error {
	return h.inFolder(ctx, at, p, func(p *records.Progress, parentID string) error {
		files, err := at.api.FindFiles(ctx, parentID, at.u.Name())
		if err != nil {
			return fmt.Errorf("look for asset %q after an uncertain create: %w", at.u.Name(), err)
		}
		for _, a := range files {
			if a.Completed || a.CreatedAt.Before(p.CreateStarted.Add(-createdSkew)) {
				continue
			}
			zerolog.Ctx(ctx).Warn().Str("asset_id", a.ID).Msg("deleting the file an uncertain create made: the file changed since")
			if err := at.api.DeleteFile(ctx, a.ID); err != nil && apierr.Classify(err) != apierr.Terminal {
				return fmt.Errorf("delete orphan %s: %w", a.ID, err)
			}
		}
		return nil
	})
}
