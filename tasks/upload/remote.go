package upload

import (
	"context"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"

	"github.com/rs/zerolog"
)

// uploadRemote creates an asset that Frame.io fills from SourceURL itself,
// with the same exactly-once bookkeeping as a local file.
func (h *Handler) uploadRemote(ctx context.Context, acct *Account, u *job.Upload, p *records.Progress) (string, error) {
	key := job.IdempotencyKey(u)
	var err error
	if p == nil {
		if p, err = h.progress.Get(ctx, key); err != nil {
			return "", err
		}
	}
	switch p.State {
	case records.StateDone:
		zerolog.Ctx(ctx).Info().Str("asset_id", p.AssetID).Msg("already uploaded")
		return p.AssetID, nil
	case records.StateUploading: // created; Frame.io fetches the bytes itself
		return p.AssetID, nil
	}
	parentID, err := h.folders.EnsureChain(ctx, acct.Client, acct.Scope, u.ParentID, u.Folders())
	if err != nil {
		return "", err
	}
	if p.State == records.StateCreating {
		a, err := h.adopt(ctx, acct.frameIO(), key, parentID, u, p.CreateStarted)
		if err != nil || a != nil {
			return assetID(a), err
		}
	}
	c := acct.frameIO()
	a, err := h.create(ctx, key, u, func() (*File, error) {
		return c.CreateRemoteFile(ctx, parentID, NewFile{Name: u.Name(), Size: u.Size, MediaType: filetype(u), SourceURL: u.SourceURL})
	})
	return assetID(a), err
}

func assetID(a *File) string {
	if a == nil {
		return ""
	}
	return a.ID
}
