package upload

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/frameq/frameq/tasks/records"
)

// uploadRemote creates an asset that Frame.io fills from SourceURL itself,
// with the same exactly-once bookkeeping as a local file.
func (h *Handler) uploadRemote(ctx context.Context, at *attempt, p *records.Progress) (string, error) {
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
	case records.StateVerifying:
		return h.verify(ctx, at, p.AssetID, p.VerifySince)
	case records.StateUploading: // created; Frame.io fetches the bytes itself
		return h.verify(ctx, at, p.AssetID, time.Time{})
	}
	var a *File
	err = h.inFolder(ctx, at, p, func(p *records.Progress, parentID string) error {
		a, err = h.placeRemote(ctx, at, p, parentID)
		return err
	})
	if err != nil {
		return "", err
	}
	return h.verify(ctx, at, a.ID, time.Time{})
}

// placeRemote adopts the file an uncertain create left in parentID, or
// creates it.
func (h *Handler) placeRemote(ctx context.Context, at *attempt, p *records.Progress, parentID string) (*File, error) {
	if p.State == records.StateCreating {
		if err := h.othersCreate(at, p); err != nil {
			return nil, err
		}
		a, err := h.adopt(ctx, at, parentID, p.CreateStarted)
		if err != nil || a != nil {
			return a, err
		}
	}
	u := at.u
	// Unsealed only here, for the create: the whole URL is never logged,
	// recorded or handed back to Redis.
	src, err := u.Source(h.opts.Box)
	if err != nil {
		return nil, terminal(ClassInput, err.Error())
	}
	return h.create(ctx, at, func(ctx context.Context) (*File, error) {
		return at.api.CreateRemoteFile(ctx, parentID, NewFile{Name: u.Name(), Size: u.Size, MediaType: filetype(u), SourceURL: src})
	})
}
