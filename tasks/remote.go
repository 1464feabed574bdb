package tasks

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/frameq/frameq/frameio"
)

// uploadRemote creates an asset that Frame.io fills from SourceURL itself,
// with the same exactly-once bookkeeping as a local file.
func (h *Handler) uploadRemote(ctx context.Context, acct *Account, u *Upload) error {
	key := IdempotencyKey(u)
	p, err := h.progress.Get(ctx, key)
	if err != nil {
		return err
	}
	if p.State == StateDone {
		zerolog.Ctx(ctx).Info().Str("asset_id", p.AssetID).Msg("already uploaded")
		return nil
	}
	parentID, err := h.folders.EnsureChain(ctx, acct.Client, acct.Scope, u.ParentID, u.Folders())
	if err != nil {
		return err
	}
	if p.State == StateCreating {
		a, err := h.adopt(ctx, acct.Client, key, parentID, u, p.CreateStarted)
		if err != nil {
			return err
		}
		if a != nil {
			return h.progress.Done(ctx, key, a.ID)
		}
	}
	if p.State == StateUploading {
		return h.progress.Done(ctx, key, p.AssetID)
	}
	a, err := h.create(ctx, acct.Client, key, parentID, u, frameio.CreateAsset{
		Type: "file", Name: u.Name(), Filetype: filetype(u), Filesize: u.Size,
		Source: &frameio.Source{URL: u.SourceURL},
	})
	if err != nil {
		return err
	}
	return h.progress.Done(ctx, key, a.ID)
}
