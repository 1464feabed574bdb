package frameio

import (
	"fmt"
	"strings"
	"time"

	"github.com/frameq/frameq/apierr"
)

// Profile is the token's user, from V4's GET /me. It carries no account
// id: Accounts lists those.
type Profile struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Account is a V4 account the token's user belongs to.
type Account struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"display_name"`
	Roles       []string  `json:"roles"`
	CreatedAt   time.Time `json:"created_at"`
}

// Folder is a V4 folder.
type Folder struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"` // "folder"
	ParentID  string    `json:"parent_id"`
	ProjectID string    `json:"project_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ViewURL   string    `json:"view_url"`
}

// V4 file statuses: a file is FileCreated until every part is in.
const (
	FileCreated    = "created"
	FileUploaded   = "uploaded"
	FileTranscoded = "transcoded"
)

// File is a V4 file. UploadURLs are set only in a local upload's answer.
// Printing a File with any fmt verb hides the upload URLs' query strings
// (they are credentials).
type File struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Type       string      `json:"type"` // "file"
	ParentID   string      `json:"parent_id"`
	ProjectID  string      `json:"project_id"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
	FileSize   int64       `json:"file_size"`
	MediaType  string      `json:"media_type"`
	Status     string      `json:"status"` // FileCreated, FileUploaded or FileTranscoded
	ViewURL    string      `json:"view_url"`
	UploadURLs []UploadURL `json:"upload_urls,omitempty"`
}

// Uploaded reports whether every byte of f is in (status uploaded or
// transcoded).
func (f File) Uploaded() bool { return f.Status == FileUploaded || f.Status == FileTranscoded }

// Parts places f's upload URLs in the file: part i is UploadURLs[i].Size
// bytes at the sum of the earlier sizes. Frame.io decides each size; it is
// never recomputed.
func (f File) Parts() []Part {
	parts := make([]Part, len(f.UploadURLs))
	var off int64
	for i, u := range f.UploadURLs {
		parts[i] = Part{Index: i, Offset: off, Size: u.Size}
		off += u.Size
	}
	return parts
}

// String describes f with upload URLs reduced to scheme, host and path.
func (f File) String() string {
	urls := make([]string, len(f.UploadURLs))
	for i, u := range f.UploadURLs {
		urls[i] = u.String()
	}
	return fmt.Sprintf("frameio.File{ID:%q Name:%q Type:%q ParentID:%q ProjectID:%q CreatedAt:%s UpdatedAt:%s FileSize:%d MediaType:%q Status:%q ViewURL:%q UploadURLs:[%s]}",
		f.ID, f.Name, f.Type, f.ParentID, f.ProjectID, f.CreatedAt.Format(time.RFC3339Nano), f.UpdatedAt.Format(time.RFC3339Nano),
		f.FileSize, f.MediaType, f.Status, f.ViewURL, strings.Join(urls, " "))
}

// GoString is String, so %#v hides the URLs' queries too.
func (f File) GoString() string { return f.String() }

// Format prints String for every verb.
func (f File) Format(s fmt.State, verb rune) { fmt.Fprint(s, f.String()) }

// UploadURL is one presigned part upload of a V4 file. Printing it with any
// fmt verb hides the URL's query string.
type UploadURL struct {
	Size int64  `json:"size"`
	URL  string `json:"url"`
}

// String describes u with the URL's query hidden.
func (u UploadURL) String() string {
	return fmt.Sprintf("{Size:%d URL:%s}", u.Size, apierr.RedactURL(u.URL))
}

// GoString is String.
func (u UploadURL) GoString() string { return u.String() }

// Format prints String for every verb.
func (u UploadURL) Format(s fmt.State, verb rune) { fmt.Fprint(s, u.String()) }

// UploadStatus is V4's verdict on a file's upload, from GET
// /files/{id}/status.
type UploadStatus struct {
	ID                string     `json:"id"`
	Filetype          string     `json:"filetype"`
	UploadedAt        *time.Time `json:"uploaded_at"`
	UploadCompletedAt *time.Time `json:"upload_completed_at"`
	UploadComplete    bool       `json:"upload_complete"`
	UploadFailed      bool       `json:"upload_failed"`
}

// Rate is a limit of N calls per Per.
type Rate struct {
	N   int
	Per time.Duration
}

// V4DefaultLimits returns every V4 limit name with the rate Frame.io
// documents for it (per account user). The worker's limiter starts from
// these and lowers them from the servers' x-ratelimit-* answers.
func V4DefaultLimits() map[string]Rate {
	return map[string]Rate{
		LimitFileCreate:   {5, time.Second},
		LimitFolderCreate: {3, time.Second},
		LimitListFolders:  {5, time.Second},
		LimitListFiles:    {5, time.Second},
		LimitShowFile:     {10, time.Second},
		LimitShowFolder:   {10, time.Second},
		LimitFileStatus:   {5, time.Second},
		LimitFileDelete:   {100, time.Minute},
		LimitAccount:      {100, time.Minute},
	}
}
