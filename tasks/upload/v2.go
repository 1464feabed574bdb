package upload

import (
	"context"
	"fmt"
	"io"

	"github.com/frameq/frameq/frameio"
)

// V2 drives Frame.io API v2 through frameio.Client.
type V2 struct{ c *frameio.Client }

// NewV2 returns the v2 implementation of FrameIO over c.
func NewV2(c *frameio.Client) *V2 { return &V2{c: c} }

var _ FrameIO = (*V2)(nil)

// file converts a v2 asset; its parts are computed the way Frame.io's own
// clients split a file over its upload URLs.
func file(a *frameio.Asset) *File {
	f := &File{ID: a.ID, Name: a.Name, Size: a.Filesize, MediaType: a.Filetype, CreatedAt: a.InsertedAt, Completed: a.UploadCompletedAt != nil}
	for _, p := range frameio.Parts(a.Filesize, len(a.UploadURLs)) {
		f.Parts = append(f.Parts, Part{Number: p.Index, Offset: p.Offset, Size: p.Size, URL: a.UploadURLs[p.Index]})
	}
	return f
}

// FindFolder lists parentID's children and picks the oldest folder named
// name (ties broken by id).
func (v *V2) FindFolder(ctx context.Context, parentID, name string) (string, error) {
	children, err := v.c.ListChildren(ctx, parentID)
	if err != nil {
		return "", err
	}
	var best *frameio.Asset
	for i := range children {
		c := &children[i]
		if c.Type != "folder" || c.Name != name {
			continue
		}
		if best == nil || c.InsertedAt.Before(best.InsertedAt) || (c.InsertedAt.Equal(best.InsertedAt) && c.ID < best.ID) {
			best = c
		}
	}
	if best == nil {
		return "", nil
	}
	return best.ID, nil
}

// CreateFolder creates a folder asset.
func (v *V2) CreateFolder(ctx context.Context, parentID, name string) (string, error) {
	a, err := v.c.CreateAsset(ctx, parentID, frameio.CreateAsset{Type: "folder", Name: name})
	if err != nil {
		return "", err
	}
	return a.ID, nil
}

// FindFiles lists folderID's children and keeps the files named name.
func (v *V2) FindFiles(ctx context.Context, folderID, name string) ([]File, error) {
	children, err := v.c.ListChildren(ctx, folderID)
	if err != nil {
		return nil, err
	}
	var out []File
	for i := range children {
		if children[i].Type == "file" && children[i].Name == name {
			out = append(out, *file(&children[i]))
		}
	}
	return out, nil
}

// CreateFile creates a file asset with its upload URLs.
func (v *V2) CreateFile(ctx context.Context, folderID string, in NewFile) (*File, error) {
	return v.create(ctx, folderID, frameio.CreateAsset{Type: "file", Name: in.Name, Filetype: in.MediaType, Filesize: in.Size})
}

// CreateRemoteFile creates a file asset that Frame.io fetches from in.SourceURL.
func (v *V2) CreateRemoteFile(ctx context.Context, folderID string, in NewFile) (*File, error) {
	return v.create(ctx, folderID, frameio.CreateAsset{
		Type: "file", Name: in.Name, Filetype: in.MediaType, Filesize: in.Size,
		Source: &frameio.Source{URL: in.SourceURL},
	})
}

func (v *V2) create(ctx context.Context, folderID string, in frameio.CreateAsset) (*File, error) {
	a, err := v.c.CreateAsset(ctx, folderID, in)
	if err != nil {
		return nil, err
	}
	return file(a), nil
}

// GetFile reads an asset.
func (v *V2) GetFile(ctx context.Context, id string) (*File, error) {
	a, err := v.c.GetAsset(ctx, id)
	if err != nil {
		return nil, err
	}
	return file(a), nil
}

// DeleteFile deletes an asset.
func (v *V2) DeleteFile(ctx context.Context, id string) error { return v.c.DeleteAsset(ctx, id) }

// PutPart PUTs one part with the file's media type, as v2 storage requires.
func (v *V2) PutPart(ctx context.Context, f *File, p Part, r io.ReaderAt) error {
	return v.c.UploadPart(ctx, p.URL, f.MediaType, r, p.Offset, p.Size)
}

// UploadStatus reads the asset's upload_completed_at. v2 has no failed
// state: an asset that never completes is caught by the verify timeout.
func (v *V2) UploadStatus(ctx context.Context, id string) (UploadState, error) {
	a, err := v.c.GetAsset(ctx, id)
	if err != nil {
		return UploadPending, fmt.Errorf("upload status of %s: %w", id, err)
	}
	if a.UploadCompletedAt != nil {
		return UploadComplete, nil
	}
	return UploadPending, nil
}
