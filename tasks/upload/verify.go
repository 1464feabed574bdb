package upload

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/frameq/frameq/tasks/records"
	"github.com/frameq/frameq/throttle"
)

// ClassUploadFailed: Frame.io failed to assemble a file (or never said it
// had) as often as the worker re-uploads it.
const ClassUploadFailed = "upload_failed"

// How a pending verdict is asked again: a few short polls in process
// (Frame.io usually answers within a second or two), then the task goes back
// to the queue with a delay that grows with the time already spent, so a
// slow assembly holds no worker slot and costs few status calls.
const (
	verifyInProcess = 3 * time.Second
	verifyMinDelay  = 2 * time.Second
	verifyMaxDelay  = time.Minute
)

// errVerifying is the cause of a task handed back to wait for Frame.io's
// verdict; finish records the batch state "verifying" for it.
var errVerifying = errors.New("verifying: Frame.io has all the bytes and has not yet said the file is assembled")

// verify makes a file done only when Frame.io says so. It returns the file
// id once Frame.io has it; a *waitError to ask again later; a RetryError
// after deleting a file Frame.io failed (the next attempt uploads it anew);
// or a terminal error once that has happened more than VerifyReuploads times.
func (h *Handler) verify(ctx context.Context, at *attempt, fileID string, since time.Time) (string, error) {
	if !h.opts.Verify {
		return fileID, nil
	}
	recorded := !since.IsZero()
	if !recorded {
		since = time.Now()
	}
	for pause := 500 * time.Millisecond; ; pause *= 2 {
		st, err := at.api.UploadStatus(ctx, fileID)
		switch {
		case notFound(err):
			zerolog.Ctx(ctx).Warn().Str("asset_id", fileID).Msg("file deleted in Frame.io before it was verified; uploading again")
			if rerr := h.progress.Reset(ctx, at.key); rerr != nil {
				return "", errors.Join(err, rerr)
			}
			return "", &RetryError{Cause: fmt.Errorf("file %s vanished before Frame.io verified it: %w", fileID, err)}
		case err != nil:
			return "", fmt.Errorf("verify %s: %w", fileID, err)
		case st == UploadComplete:
			return fileID, nil
		case st == UploadFailed:
			return "", h.reupload(ctx, at, fileID, "Frame.io reported the upload failed")
		}
		waited := time.Since(since)
		if waited >= h.opts.VerifyTimeout {
			return "", h.reupload(ctx, at, fileID, fmt.Sprintf("Frame.io did not finish the file within %v (FRAMEQ_VERIFY_TIMEOUT)", h.opts.VerifyTimeout))
		}
		if !recorded {
			// Only a file that must wait is recorded: one Frame.io
			// completes at once costs no Redis write, and a crash before
			// this record resumes the upload, which finds every part in.
			if err := h.progress.Verifying(ctx, at.key, fileID, since); err != nil {
				return "", err
			}
			recorded = true
		}
		if waited+pause > verifyInProcess {
			return "", &waitError{wait: min(max(waited, verifyMinDelay), verifyMaxDelay), cause: errVerifying}
		}
		if err := throttle.Sleep(ctx, pause); err != nil {
			return "", err
		}
	}
}

// reupload deletes a file Frame.io will not complete, so that the next
// attempt uploads it afresh, up to VerifyReuploads times; after that the
// file fails with why.
func (h *Handler) reupload(ctx context.Context, at *attempt, fileID, why string) error {
	n, err := h.progress.Reuploaded(ctx, at.key)
	if err != nil {
		return err
	}
	if derr := h.discard(ctx, at, fileID); derr != nil {
		return fmt.Errorf("%s: %w", why, derr)
	}
	if n > int64(h.opts.VerifyReuploads) {
		return terminal(ClassUploadFailed, fmt.Sprintf("%s for %s, %d times; the file was deleted from Frame.io each time (FRAMEQ_VERIFY_REUPLOADS=%d)",
			why, at.u.Path, n, h.opts.VerifyReuploads))
	}
	zerolog.Ctx(ctx).Warn().Str("asset_id", fileID).Int64("reupload", n).Msg(why + ": deleted it, uploading again")
	return &RetryError{Cause: fmt.Errorf("%s (file %s deleted; upload %d of %d follows): %w",
		why, fileID, n+1, h.opts.VerifyReuploads+1, errReupload)}
}

// errReupload marks the retry after a failed verification.
var errReupload = errors.New("re-uploading")

// verifyingFrom reports where a recorded upload stands for verification:
// the file id and since when, when p is verifying.
func verifyingFrom(p *records.Progress) (string, time.Time, bool) {
	if p.State != records.StateVerifying {
		return "", time.Time{}, false
	}
	return p.AssetID, p.VerifySince, true
}
