package upload

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/frameq/frameq/frameio"
)

// partCacheSize bounds how many created files' upload URLs V4 remembers:
// enough for every file a worker has in flight, and a few MB at most.
const partCacheSize = 10000

// V4 drives Frame.io API V4 through frameio.V4.
//
// V4 cannot re-issue a file's upload URLs: they come once, in the
// local_upload answer. So that a retried attempt in the same process can
// PUT only the missing parts, V4 remembers the parts of the files it
// created (a bounded, least-recently-used cache by file id); GetFile gives
// them back while the file still awaits bytes. A file whose parts are not
// remembered (another process made it, or it was evicted) comes back
// without parts, and the state machine deletes it and creates it again.
type V4 struct {
	c     *frameio.V4
	parts *partCache
}

// NewV4 returns the V4 implementation of FrameIO over c, which must have
// its account set (frameio.V4.ForAccount).
func NewV4(c *frameio.V4) *V4 { return &V4{c: c, parts: newPartCache(partCacheSize)} }

var _ FrameIO = (*V4)(nil)

// fileV4 converts a V4 file. Its parts are placed by each upload URL's
// own size, never recomputed.
func fileV4(f *frameio.File) *File {
	out := &File{ID: f.ID, Name: f.Name, Size: f.FileSize, MediaType: f.MediaType, CreatedAt: f.CreatedAt, Completed: f.Uploaded()}
	for _, p := range f.Parts() {
		out.Parts = append(out.Parts, Part{Number: p.Index, Offset: p.Offset, Size: p.Size, URL: f.UploadURLs[p.Index].URL})
	}
	return out
}

// FindFolder lists parentID's subfolders and picks the oldest named name
// (ties broken by id), so every worker converges on the same one.
func (v *V4) FindFolder(ctx context.Context, parentID, name string) (string, error) {
	folders, err := v.c.ListFolders(ctx, parentID)
	if err != nil {
		return "", err
	}
	var best *frameio.Folder
	for i := range folders {
		f := &folders[i]
		if f.Name != name {
			continue
		}
		if best == nil || f.CreatedAt.Before(best.CreatedAt) || (f.CreatedAt.Equal(best.CreatedAt) && f.ID < best.ID) {
			best = f
		}
	}
	if best == nil {
		return "", nil
	}
	return best.ID, nil
}

// CreateFolder creates folder name in parentID.
func (v *V4) CreateFolder(ctx context.Context, parentID, name string) (string, error) {
	f, err := v.c.CreateFolder(ctx, parentID, name)
	if err != nil {
		return "", err
	}
	return f.ID, nil
}

// FindFiles lists folderID's files and keeps those named name.
func (v *V4) FindFiles(ctx context.Context, folderID, name string) ([]File, error) {
	files, err := v.c.ListFiles(ctx, folderID)
	if err != nil {
		return nil, err
	}
	var out []File
	for i := range files {
		if files[i].Name == name {
			out = append(out, *fileV4(&files[i]))
		}
	}
	return out, nil
}

// CreateFile creates a local upload and remembers its parts. in.MediaType
// is not sent: V4 chooses the media type from the name, and the returned
// File carries it for the part PUTs.
func (v *V4) CreateFile(ctx context.Context, folderID string, in NewFile) (*File, error) {
	f, err := v.c.LocalUpload(ctx, folderID, in.Name, in.Size)
	if err != nil {
		return nil, err
	}
	out := fileV4(f)
	v.parts.put(out.ID, out.Parts)
	return out, nil
}

// CreateRemoteFile creates a file that Frame.io fetches from in.SourceURL.
func (v *V4) CreateRemoteFile(ctx context.Context, folderID string, in NewFile) (*File, error) {
	f, err := v.c.RemoteUpload(ctx, folderID, in.Name, in.SourceURL)
	if err != nil {
		return nil, err
	}
	return fileV4(f), nil
}

// GetFile reads a file. While it still awaits bytes its parts are the
// remembered ones (none if this process did not create it); once it is
// complete they are forgotten.
func (v *V4) GetFile(ctx context.Context, id string) (*File, error) {
	f, err := v.c.GetFile(ctx, id)
	if err != nil {
		return nil, err
	}
	out := fileV4(f)
	switch {
	case out.Completed:
		v.parts.drop(id)
	case f.Status == frameio.FileCreated:
		out.Parts = v.parts.get(id)
	}
	return out, nil
}

// DeleteFile deletes a file and forgets its parts.
func (v *V4) DeleteFile(ctx context.Context, id string) error {
	err := v.c.DeleteFile(ctx, id)
	if err == nil || notFound(err) {
		v.parts.drop(id)
	}
	return err
}

// PutPart PUTs one part with the media type Frame.io chose for the file.
func (v *V4) PutPart(ctx context.Context, f *File, p Part, r io.ReaderAt) error {
	return v.c.UploadPart(ctx, p.URL, f.MediaType, r, p.Offset, p.Size)
}

// UploadStatus reads GET /files/{id}/status: upload_complete or
// upload_failed, else pending.
func (v *V4) UploadStatus(ctx context.Context, id string) (UploadState, error) {
	st, err := v.c.FileStatus(ctx, id)
	if err != nil {
		return UploadPending, fmt.Errorf("upload status of %s: %w", id, err)
	}
	switch {
	case st.UploadFailed:
		return UploadFailed, nil
	case st.UploadComplete:
		v.parts.drop(id)
		return UploadComplete, nil
	}
	return UploadPending, nil
}

// partCache remembers the parts of up to max files, evicting the least
// recently used.
type partCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *partEntry, most recently used first
	byID  map[string]*list.Element
}

type partEntry struct {
	id    string
	parts []Part
}

func newPartCache(max int) *partCache {
	return &partCache{max: max, order: list.New(), byID: map[string]*list.Element{}}
}

func (c *partCache) put(id string, parts []Part) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		el.Value.(*partEntry).parts = parts
		c.order.MoveToFront(el)
		return
	}
	c.byID[id] = c.order.PushFront(&partEntry{id: id, parts: parts})
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.byID, oldest.Value.(*partEntry).id)
	}
}

// get returns a copy of id's parts, nil when unknown.
func (c *partCache) get(id string) []Part {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[id]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return append([]Part(nil), el.Value.(*partEntry).parts...)
}

func (c *partCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.order.Remove(el)
		delete(c.byID, id)
	}
}

func (c *partCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
