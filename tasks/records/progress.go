package records

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Upload states recorded in a Progress.
const (
	// StateNew: nothing was sent to Frame.io yet.
	StateNew = ""
	// StateCreating: a create was sent and its answer not recorded; the asset
	// may exist. The next attempt looks for it before creating again.
	StateCreating = "creating"
	// StateUploading: the asset exists (AssetID); parts are being PUT.
	StateUploading = "uploading"
	// StateVerifying: every part is in (or a remote file was created);
	// Frame.io has not yet said the file is assembled. The next attempt
	// only asks again.
	StateVerifying = "verifying"
	// StateDone: Frame.io has the file (or, with verification off, every
	// part is in). A re-run skips the file.
	StateDone = "done"
)

// doneTTL keeps completion records long enough that re-running the same
// enqueue weeks later still skips finished files, without keeping them forever.
const doneTTL = 90 * 24 * time.Hour

// Progress is what is known about one file's upload, kept in Redis under the
// task's idempotency key so that every attempt, on any worker, resumes it.
type Progress struct {
	State string
	// AssetID is the created asset (uploading, done).
	AssetID string
	// CreateStarted is when the uncertain create was sent.
	CreateStarted time.Time
	// CreateRun and CreateAttempt name the run that wrote the "creating"
	// mark (Claim; empty for Creating); CreateSettled says that its create
	// is over. See InFlight.
	CreateRun     string
	CreateAttempt int
	CreateSettled bool
	// PartsDone holds the indexes of parts already PUT.
	PartsDone map[int]bool
	// VerifySince is when the file entered StateVerifying.
	VerifySince time.Time
}

// Progresses stores Progress records.
type Progresses struct {
	rdb redis.UniversalClient
	dur Durability
}

// NewProgresses returns a store on rdb.
func NewProgresses(rdb redis.UniversalClient) *Progresses { return &Progresses{rdb: rdb} }

// WithDurability returns a store on the same client whose guard writes
// (Creating, Created) wait for d.Replicas replicas.
func (s *Progresses) WithDurability(d Durability) *Progresses {
	return &Progresses{rdb: s.rdb, dur: d}
}

// ProgressKey names a file's record: one hash per file; the hash tag keeps it in one slot.
func ProgressKey(idemKey string) string { return "frameq:up:{" + idemKey + "}" }

// Get reads a record; a missing record is StateNew.
func (s *Progresses) Get(ctx context.Context, idemKey string) (*Progress, error) {
	m, err := s.rdb.HGetAll(ctx, ProgressKey(idemKey)).Result()
	if err != nil {
		return nil, fmt.Errorf("read progress: %w", err)
	}
	return ParseProgress(m), nil
}

// ParseProgress reads a record from its hash fields (as HGETALL returns them).
func ParseProgress(m map[string]string) *Progress {
	p := &Progress{State: m["state"], AssetID: m["asset_id"], PartsDone: map[int]bool{}}
	if ms, err := strconv.ParseInt(m["create_started_ms"], 10, 64); err == nil {
		p.CreateStarted = time.UnixMilli(ms)
	}
	parseClaim(p, m)
	if ms, err := strconv.ParseInt(m["verify_since_ms"], 10, 64); err == nil {
		p.VerifySince = time.UnixMilli(ms)
	}
	for k := range m {
		if i, ok := strings.CutPrefix(k, "part:"); ok {
			if n, err := strconv.Atoi(i); err == nil {
				p.PartsDone[n] = true
			}
		}
	}
	return p
}

// Creating records that a create is about to be sent. It is the record
// that stops a later attempt from creating the file again, so with
// Durability on it returns only once replicas hold it (else an error
// matching ErrNotReplicated: do not send the create).
func (s *Progresses) Creating(ctx context.Context, idemKey string, at time.Time) error {
	if err := s.replace(ctx, ProgressKey(idemKey), "state", StateCreating, "create_started_ms", at.UnixMilli()); err != nil {
		return fmt.Errorf("record create: %w", err)
	}
	return nil
}

// Created records the asset a create made (or that was adopted). With
// Durability on it returns only once replicas hold it: once parts go in,
// the asset may complete, and a complete asset is no longer adopted by a
// later attempt that saw only the "creating" mark.
func (s *Progresses) Created(ctx context.Context, idemKey, assetID string) error {
	if err := s.replace(ctx, ProgressKey(idemKey), "state", StateUploading, "asset_id", assetID); err != nil {
		return fmt.Errorf("record asset %s: %w", assetID, err)
	}
	return nil
}

// partDone records a finished part of the asset the record names.
//
//	KEYS[1]  the progress hash
//	ARGV[1]  the asset id the part went to, ARGV[2] its field (part:N)
//
// Returns 1 when recorded, 0 when the record names another asset.
const partDone = `if redis.call('HGET', KEYS[1], 'asset_id') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], 1)
return 1`

var partDoneScript = redis.NewScript(partDone)

// ErrAssetReplaced is returned by PartDone when the file's record names
// another asset than the one the part went to: another run started the
// file over since (or the write is a cut-off worker's, landing late).
var ErrAssetReplaced = errors.New("progress names another asset: this run's upload is stale")

// PartDone records one finished part of asset assetID, only while the
// record names that asset: a part of an asset the record has moved on
// from must never count for the one it names now.
func (s *Progresses) PartDone(ctx context.Context, idemKey, assetID string, part int) error {
	n, err := partDoneScript.Run(ctx, s.rdb, []string{ProgressKey(idemKey)}, assetID, "part:"+strconv.Itoa(part)).Int()
	if err != nil {
		return fmt.Errorf("record part %d: %w", part, err)
	}
	if n == 0 {
		return fmt.Errorf("record part %d of %s: %w", part, assetID, ErrAssetReplaced)
	}
	return nil
}

// Verifying records that asset assetID has all its bytes sent and awaits
// Frame.io's verdict since at.
func (s *Progresses) Verifying(ctx context.Context, idemKey, assetID string, at time.Time) error {
	err := s.rdb.HSet(ctx, ProgressKey(idemKey), "state", StateVerifying, "asset_id", assetID, "verify_since_ms", at.UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("record verifying %s: %w", assetID, err)
	}
	return nil
}

// reuploadsKey counts how often Frame.io failed a file's upload. It is a
// key of its own because every new create starts the progress hash afresh;
// the hash tag keeps both in one slot.
func reuploadsKey(idemKey string) string { return ProgressKey(idemKey) + ":reuploads" }

// Reuploaded counts one more failed upload of the file and returns the
// count so far.
func (s *Progresses) Reuploaded(ctx context.Context, idemKey string) (int64, error) {
	key := reuploadsKey(idemKey)
	var n *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, key)
		p.Expire(ctx, key, doneTTL)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count reupload: %w", err)
	}
	return n.Val(), nil
}

// Done records completion; it is kept for doneTTL.
func (s *Progresses) Done(ctx context.Context, idemKey, assetID string) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		s.StageDone(ctx, p, idemKey, assetID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record done: %w", err)
	}
	return nil
}

// StageDone queues Done's commands on p. One HSET makes the record done
// atomically; leftover part fields go with the TTL.
func (s *Progresses) StageDone(ctx context.Context, p redis.Pipeliner, idemKey, assetID string) {
	key := ProgressKey(idemKey)
	p.HSet(ctx, key, "state", StateDone, "asset_id", assetID)
	p.Expire(ctx, key, doneTTL)
	p.Del(ctx, reuploadsKey(idemKey))
}

// Reset forgets a record, so the next attempt starts from scratch.
func (s *Progresses) Reset(ctx context.Context, idemKey string) error {
	if err := s.rdb.Del(ctx, ProgressKey(idemKey)).Err(); err != nil {
		return fmt.Errorf("reset progress: %w", err)
	}
	return nil
}

// IsDone reports whether each key is recorded done, in one round trip.
func (s *Progresses) IsDone(ctx context.Context, idemKeys []string) ([]bool, error) {
	cmds := make([]*redis.StringCmd, len(idemKeys))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range idemKeys {
			cmds[i] = p.HGet(ctx, ProgressKey(k), "state")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read progress: %w", err)
	}
	out := make([]bool, len(idemKeys))
	for i, c := range cmds {
		out[i] = c.Val() == StateDone
	}
	return out, nil
}

// DoneAssets returns, for each key, the asset id its done record names, or
// "" where the file is not recorded done; one round trip. It serves
// enqueue --recheck, which asks Frame.io whether those assets still exist.
func (s *Progresses) DoneAssets(ctx context.Context, idemKeys []string) ([]string, error) {
	cmds := make([]*redis.SliceCmd, len(idemKeys))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range idemKeys {
			cmds[i] = p.HMGet(ctx, ProgressKey(k), "state", "asset_id")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read progress: %w", err)
	}
	out := make([]string, len(idemKeys))
	for i, c := range cmds {
		v := c.Val()
		if len(v) == 2 && v[0] == StateDone {
			out[i], _ = v[1].(string)
		}
	}
	return out, nil
}
