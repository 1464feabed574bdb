package upload

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/frameq/frameq/tasks/records"
)

// uploadRemote creates an asset that Frame.io fills from SourceURL itself,
// with the same exactly-once bookkeeping as a local file.
func (h *Handler) uploadRemote(ctx context.Context, at *attempt, p *records.Progress) (string, error) {
	u := at.u
	var err error
	if p == nil {
		if p, err = h.progress.Get(ctx, at.key); err != nil {
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
	parentID, err := h.folders.EnsureChain(ctx, at.acct.Client, at.acct.Scope, u.ParentID, u.Folders())
	if err != nil {
		return "", err
	}
	if p.State == records.StateCreating {
		a, err := h.adopt(ctx, at, parentID, p.CreateStarted)
		if err != nil || a != nil {
			return assetID(a), err
		}
	}
	a, err := h.create(ctx, at, func() (*File, error) {
		return at.api.CreateRemoteFile(ctx, parentID, NewFile{Name: u.Name(), Size: u.Size, MediaType: filetype(u), SourceURL: u.SourceURL})
	})
	return assetID(a), err
}

func assetID(a *File) string {
	if a == nil {
		return ""
	}
	return a.ID
}
