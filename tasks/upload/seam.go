package upload

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/frameq/frameq/tasks/records"
)

// FrameIO is everything the upload state machine asks of Frame.io. The
// state machine knows nothing else of the API it drives: V2 implements it
// over frameio.Client today, and a V4 client can sit beside it.
// Errors are classified with apierr, whichever API produced them.
type FrameIO interface {
	// FindFolder and CreateFolder keep the folder map (records.Folders).
	records.FolderAPI
	// FindFiles lists the files (not folders) named name in folderID.
	FindFiles(ctx context.Context, folderID, name string) ([]File, error)
	// CreateFile creates an empty file to PUT parts to; the returned File
	// carries its Parts and the MediaType every part must be sent with.
	CreateFile(ctx context.Context, folderID string, in NewFile) (*File, error)
	// CreateRemoteFile creates a file that Frame.io fills from in.SourceURL.
	CreateRemoteFile(ctx context.Context, folderID string, in NewFile) (*File, error)
	// GetFile reads a file, its parts included while it can take them.
	GetFile(ctx context.Context, id string) (*File, error)
	// DeleteFile deletes a file.
	DeleteFile(ctx context.Context, id string) error
	// PutPart sends part p of f, read from r at p.Offset.
	PutPart(ctx context.Context, f *File, p Part, r io.ReaderAt) error
	// UploadStatus says whether Frame.io has assembled file id from its
	// parts (UploadComplete), gave up on it (UploadFailed) or is still at
	// it (UploadPending). Only UploadComplete makes a file done.
	UploadStatus(ctx context.Context, id string) (UploadState, error)
}

// UploadState is Frame.io's verdict on a file's bytes after its last part.
type UploadState int

// The upload states.
const (
	// UploadPending: not assembled yet; ask again later.
	UploadPending UploadState = iota
	// UploadComplete: every byte is in and Frame.io accepted the file.
	UploadComplete
	// UploadFailed: Frame.io could not assemble or process the upload; the
	// file must be deleted and uploaded again.
	UploadFailed
)

// String names s for logs and reasons.
func (s UploadState) String() string {
	switch s {
	case UploadComplete:
		return "complete"
	case UploadFailed:
		return "failed"
	default:
		return "pending"
	}
}

// NewFile describes a file to create.
type NewFile struct {
	Name      string
	Size      int64
	MediaType string
	// SourceURL is set for remote files only; it may carry a secret.
	SourceURL string
}

// File is a file as the state machine sees it.
type File struct {
	ID        string
	Name      string
	Size      int64
	MediaType string
	CreatedAt time.Time
	// Completed: all bytes are in (known without a call when the API says so).
	Completed bool
	// Parts are the uploads still to make; empty when none can be made.
	Parts []Part
}

// Part is one presigned upload: bytes [Offset, Offset+Size) go to URL.
// Number is its 0-based index, the one recorded in the progress record.
type Part struct {
	Number       int
	Offset, Size int64
	// URL is presigned: a secret, never logged.
	URL string
}

// String hides the presigned URL.
func (p Part) String() string { return "upload.Part{Number:" + strconv.Itoa(p.Number) + "}" }
