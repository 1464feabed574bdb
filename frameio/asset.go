package frameio

import (
	"fmt"
	"strings"
	"time"

	"github.com/frameq/frameq/apierr"
)

// User is the owner of the token, from GET /me.
type User struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	AccountID string `json:"account_id"`
}

// Asset is a Frame.io file or folder. Printing an Asset with any fmt verb
// hides its upload URLs' query strings (they are credentials).
type Asset struct {
	ID                string     `json:"id"`
	Name              string     `json:"name"`
	Type              string     `json:"type"` // "file" | "folder"
	ParentID          string     `json:"parent_id"`
	ProjectID         string     `json:"project_id"`
	Filesize          int64      `json:"filesize"`
	Filetype          string     `json:"filetype"`
	UploadURLs        []string   `json:"upload_urls"`
	InsertedAt        time.Time  `json:"inserted_at"`
	UploadCompletedAt *time.Time `json:"upload_completed_at"`
}

// String describes a with upload URLs reduced to scheme, host and path.
func (a Asset) String() string {
	done := "<nil>"
	if a.UploadCompletedAt != nil {
		done = a.UploadCompletedAt.Format(time.RFC3339Nano)
	}
	urls := make([]string, len(a.UploadURLs))
	for i, u := range a.UploadURLs {
		urls[i] = apierr.RedactURL(u)
	}
	return fmt.Sprintf("frameio.Asset{ID:%q Name:%q Type:%q ParentID:%q ProjectID:%q Filesize:%d Filetype:%q UploadURLs:[%s] InsertedAt:%s UploadCompletedAt:%s}",
		a.ID, a.Name, a.Type, a.ParentID, a.ProjectID, a.Filesize, a.Filetype,
		strings.Join(urls, " "), a.InsertedAt.Format(time.RFC3339Nano), done)
}

// GoString is String, so %#v hides the URLs' queries too.
func (a Asset) GoString() string { return a.String() }

// Format prints String for every verb.
func (a Asset) Format(f fmt.State, verb rune) { fmt.Fprint(f, a.String()) }

// Source points Frame.io at bytes to fetch itself (a remote upload).
// Printing a Source hides its URL's query string.
type Source struct {
	URL string `json:"url"`
}

// String describes s with the URL's query and userinfo hidden.
func (s Source) String() string { return "frameio.Source{URL:" + apierr.RedactURL(s.URL) + "}" }

// GoString is String.
func (s Source) GoString() string { return s.String() }

// Format prints String for every verb.
func (s Source) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// CreateAsset is the body of POST /assets/{parent_id}/children.
type CreateAsset struct {
	Type        string         `json:"type"` // "file" | "folder"
	Name        string         `json:"name"`
	Filetype    string         `json:"filetype,omitempty"`
	Filesize    int64          `json:"filesize"` // required for files (0 allowed)
	Source      *Source        `json:"source,omitempty"`
	Description string         `json:"description,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
}

// Asset types.
const (
	TypeFile   = "file"
	TypeFolder = "folder"
)
