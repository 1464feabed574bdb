package job

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// IdempotencyKey identifies one file's upload: the same file (same token,
// target, path, size and mtime) always gets the same key, so a second
// enqueue is a no-op and every attempt resumes the same progress record.
// Force adds the batch, so a forced re-upload is a new upload.
func IdempotencyKey(u *Upload) string {
	h := sha256.New()
	for _, s := range []string{
		u.TokenRef, u.ParentID, u.Path, u.File, u.SourceURL,
		strconv.FormatInt(u.Size, 10), strconv.FormatInt(u.MtimeNS, 10),
	} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if u.Force {
		h.Write([]byte("force\x00" + u.Batch))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// TaskID is the asynq task id for an upload: deterministic, so asynq itself
// refuses a second copy of a queued task.
func TaskID(u *Upload) string { return TaskIDOf(IdempotencyKey(u)) }

// TaskIDOf is TaskID for an upload whose idempotency key is already known.
// It has no "-": asynqmon's ID column shows an id up to its first "-"
// (made for UUIDs), so "up-<hex>" read "up" on every row.
func TaskIDOf(key string) string { return "up_" + key }

// legacyTaskIDOf is the id frameq gave an upload before TaskIDOf: tasks
// enqueued by older producers may still be queued under it, so the
// Enqueuer looks for both before it enqueues a file.
func legacyTaskIDOf(key string) string { return "up-" + key }
