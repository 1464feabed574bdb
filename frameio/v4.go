package frameio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/frameq/frameq/apierr"
)

// DefaultV4BaseURL is Frame.io's V4 API, NewV4's default.
const DefaultV4BaseURL = "https://api.frame.io/v4"

// V4 routes, as Call.Route reports them (templated: low-cardinality metric
// labels). Part PUTs report RouteUpload, as in v2.
const (
	RouteV4Me           = "GET /me"
	RouteV4Accounts     = "GET /accounts"
	RouteV4GetFolder    = "GET /accounts/:a/folders/:id"
	RouteV4CreateFolder = "POST /accounts/:a/folders/:id/folders"
	RouteV4ListFolders  = "GET /accounts/:a/folders/:id/folders"
	RouteV4ListFiles    = "GET /accounts/:a/folders/:id/files"
	RouteV4LocalUpload  = "POST /accounts/:a/folders/:id/files/local_upload"
	RouteV4RemoteUpload = "POST /accounts/:a/folders/:id/files/remote_upload"
	RouteV4GetFile      = "GET /accounts/:a/files/:id"
	RouteV4FileStatus   = "GET /accounts/:a/files/:id/status"
	RouteV4DeleteFile   = "DELETE /accounts/:a/files/:id"
)

// V4 limit names: Frame.io limits each V4 route on its own, and every V4
// call draws on exactly one of these budgets of the shared limiter.
// V4DefaultLimits gives their documented rates.
const (
	LimitFileCreate   = "file_create" // local_upload and remote_upload together
	LimitFolderCreate = "folder_create"
	LimitListFolders  = "list_folders"
	LimitListFiles    = "list_files"
	LimitShowFile     = "show_file"
	LimitShowFolder   = "show_folder"
	LimitFileStatus   = "file_status"
	LimitFileDelete   = "file_delete"
	LimitAccount      = "account" // GET /me and GET /accounts together
)

// Page sizes: V4 allows up to 500 on folder listings, 100 elsewhere.
const (
	V4FolderPageSize  = 500
	V4AccountPageSize = 100
)

// maxV4FileSize is the largest file V4 accepts (5 TB).
const maxV4FileSize = 5_000_000_000_000

// errNoAccount refuses an account-scoped call on a V4 without an account.
var errNoAccount = errors.New("no account id: call ForAccount first")

// V4 calls the Frame.io V4 API with one bearer token, over the same
// transport, hooks and redaction as Client. Calls under /accounts/{a} use
// the account ForAccount chose. It is safe for concurrent use. Printing a
// V4 with any fmt verb hides the token.
type V4 struct {
	c       *Client
	account string
}

// NewV4 returns a V4 client for o (BaseURL defaults to DefaultV4BaseURL),
// or an error naming the first invalid field. Call ForAccount before any
// account-scoped call.
func NewV4(o Options) (*V4, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultV4BaseURL
	}
	c, err := New(o)
	if err != nil {
		return nil, err
	}
	return &V4{c: c}, nil
}

// ForAccount returns a V4 sharing v's transport whose calls address
// account id (GET /me and GET /accounts need none).
func (v *V4) ForAccount(id string) *V4 { return &V4{c: v.c, account: id} }

// AccountID is the account ForAccount chose ("" before).
func (v *V4) AccountID() string { return v.account }

// String describes v with the token hidden.
func (v V4) String() string {
	if v.c == nil {
		return "frameio.V4{}"
	}
	return fmt.Sprintf("frameio.V4{Account:%q Client:%s}", v.account, v.c.String())
}

// GoString is String, so %#v hides the token too.
func (v V4) GoString() string { return v.String() }

// Format prints String for every verb.
func (v V4) Format(f fmt.State, verb rune) { fmt.Fprint(f, v.String()) }

func v4Call(method, route, limit string, kind Kind) Call {
	return Call{Method: method, Route: route, Kind: kind, Limits: []string{limit}}
}

// Me returns the token's user: the cheap call to check a token at start-up.
func (v *V4) Me(ctx context.Context) (*Profile, error) {
	var out envelope[Profile]
	_, err := v.c.api(ctx, request{
		call:  v4Call(http.MethodGet, RouteV4Me, LimitAccount, KindRead),
		path:  "/me",
		check: func() error { return requireID(out.Data.ID) },
	}, &out)
	if err != nil {
		return nil, fmt.Errorf("get me: %w", err)
	}
	return &out.Data, nil
}

// Accounts returns every account of the token's user, all pages.
func (v *V4) Accounts(ctx context.Context) ([]Account, error) {
	call := v4Call(http.MethodGet, RouteV4Accounts, LimitAccount, KindRead)
	all, err := listAll(ctx, v, call, "/accounts", V4AccountPageSize, func(a Account) string { return a.ID })
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return all, nil
}

// GetFolder returns folder id.
func (v *V4) GetFolder(ctx context.Context, id string) (*Folder, error) {
	call := v4Call(http.MethodGet, RouteV4GetFolder, LimitShowFolder, KindRead)
	p, err := v.path(call, "folders", id, "")
	if err != nil {
		return nil, fmt.Errorf("get folder %q: %w", id, err)
	}
	var out envelope[Folder]
	if _, err := v.c.api(ctx, request{call: call, path: p, check: func() error { return requireID(out.Data.ID) }}, &out); err != nil {
		return nil, fmt.Errorf("get folder %q: %w", id, err)
	}
	return &out.Data, nil
}

// CreateFolder creates folder name in parentID.
//
// There is no idempotency key: when apierr.Ambiguous(err) is true the
// folder may exist anyway.
func (v *V4) CreateFolder(ctx context.Context, parentID, name string) (*Folder, error) {
	call := v4Call(http.MethodPost, RouteV4CreateFolder, LimitFolderCreate, KindCreate)
	p, err := v.path(call, "folders", parentID, "/folders")
	if err == nil {
		err = v.checkName(call, p, name)
	}
	if err != nil {
		return nil, fmt.Errorf("create folder %q: %w", name, err)
	}
	var out envelope[Folder]
	_, err = v.c.api(ctx, request{
		call:  call,
		path:  p,
		body:  envelope[folderCreate]{Data: folderCreate{Name: name}},
		check: func() error { return requireID(out.Data.ID) },
	}, &out)
	if err != nil {
		return nil, fmt.Errorf("create folder %q: %w", name, err)
	}
	return &out.Data, nil
}

// ListFolders returns every subfolder of folder id (not its files), all
// pages.
func (v *V4) ListFolders(ctx context.Context, id string) ([]Folder, error) {
	call := v4Call(http.MethodGet, RouteV4ListFolders, LimitListFolders, KindRead)
	p, err := v.path(call, "folders", id, "/folders")
	if err != nil {
		return nil, fmt.Errorf("list folders of %q: %w", id, err)
	}
	all, err := listAll(ctx, v, call, p, V4FolderPageSize, func(f Folder) string { return f.ID })
	if err != nil {
		return nil, fmt.Errorf("list folders of %q: %w", id, err)
	}
	return all, nil
}

// ListFiles returns every file in folder id (not its subfolders), all
// pages. Listed files carry no upload URLs.
func (v *V4) ListFiles(ctx context.Context, id string) ([]File, error) {
	call := v4Call(http.MethodGet, RouteV4ListFiles, LimitListFiles, KindRead)
	p, err := v.path(call, "folders", id, "/files")
	if err != nil {
		return nil, fmt.Errorf("list files of %q: %w", id, err)
	}
	all, err := listAll(ctx, v, call, p, V4FolderPageSize, func(f File) string { return f.ID })
	if err != nil {
		return nil, fmt.Errorf("list files of %q: %w", id, err)
	}
	return all, nil
}

// CreateLimits are the limiter budgets LocalUpload and RemoteUpload draw
// on, for a caller that asks for their permit ahead
// (throttle.Limiter.Stage).
func (v *V4) CreateLimits() []string { return []string{LimitFileCreate} }

// LocalUpload creates file name of size bytes in folderID and returns it
// with its UploadURLs (see File.Parts and UploadPart) and the media type
// Frame.io chose for it, which every part must be sent with. V4 refuses
// empty files.
//
// There is no idempotency key: when apierr.Ambiguous(err) is true the
// file may exist anyway.
func (v *V4) LocalUpload(ctx context.Context, folderID, name string, size int64) (*File, error) {
	call := v4Call(http.MethodPost, RouteV4LocalUpload, LimitFileCreate, KindCreate)
	p, err := v.path(call, "folders", folderID, "/files/local_upload")
	if err == nil {
		err = v.checkName(call, p, name)
	}
	if err == nil && (size < 1 || size > maxV4FileSize) {
		err = v.refuseAt(call, p, fmt.Errorf("%w: size %d: Frame.io V4 takes files of 1 byte to 5 TB", apierr.ErrInvalidInput, size))
	}
	if err != nil {
		return nil, fmt.Errorf("create file %q: %w", name, err)
	}
	var out envelope[File]
	_, err = v.c.api(ctx, request{
		call:  call,
		path:  p,
		body:  envelope[localUpload]{Data: localUpload{Name: name, FileSize: size}},
		check: func() error { return checkUploadFile(&out.Data, size) },
	}, &out)
	if err != nil {
		return nil, fmt.Errorf("create file %q: %w", name, err)
	}
	return &out.Data, nil
}

// RemoteUpload creates file name in folderID for Frame.io to fetch from
// sourceURL itself (up to 50 GB). The URL may carry a credential: it never
// appears in an error.
//
// There is no idempotency key: when apierr.Ambiguous(err) is true the
// file may exist anyway.
func (v *V4) RemoteUpload(ctx context.Context, folderID, name, sourceURL string) (*File, error) {
	call := v4Call(http.MethodPost, RouteV4RemoteUpload, LimitFileCreate, KindCreate)
	p, err := v.path(call, "folders", folderID, "/files/remote_upload")
	if err == nil {
		err = v.checkName(call, p, name)
	}
	if err == nil {
		if u, perr := url.Parse(sourceURL); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			err = v.refuseAt(call, p, fmt.Errorf("%w: source URL must be absolute http(s)", apierr.ErrInvalidInput))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("create remote file %q: %w", name, err)
	}
	var out envelope[File]
	_, err = v.c.api(ctx, request{
		call:  call,
		path:  p,
		body:  envelope[remoteUpload]{Data: remoteUpload{Name: name, SourceURL: sourceURL}},
		check: func() error { return requireID(out.Data.ID) },
	}, &out)
	if err != nil {
		redactErr(err, sourceURL)
		return nil, fmt.Errorf("create remote file %q: %w", name, err)
	}
	return &out.Data, nil
}

// GetFile returns file id (without upload URLs: V4 never re-issues them).
func (v *V4) GetFile(ctx context.Context, id string) (*File, error) {
	call := v4Call(http.MethodGet, RouteV4GetFile, LimitShowFile, KindRead)
	p, err := v.path(call, "files", id, "")
	if err != nil {
		return nil, fmt.Errorf("get file %q: %w", id, err)
	}
	var out envelope[File]
	if _, err := v.c.api(ctx, request{call: call, path: p, check: func() error { return requireID(out.Data.ID) }}, &out); err != nil {
		return nil, fmt.Errorf("get file %q: %w", id, err)
	}
	return &out.Data, nil
}

// FileStatus returns whether Frame.io has assembled file id from its parts
// (UploadComplete) or given up on it (UploadFailed).
func (v *V4) FileStatus(ctx context.Context, id string) (*UploadStatus, error) {
	call := v4Call(http.MethodGet, RouteV4FileStatus, LimitFileStatus, KindRead)
	p, err := v.path(call, "files", id, "/status")
	if err != nil {
		return nil, fmt.Errorf("file status of %q: %w", id, err)
	}
	var out envelope[UploadStatus]
	if _, err := v.c.api(ctx, request{call: call, path: p, check: func() error { return requireID(out.Data.ID) }}, &out); err != nil {
		return nil, fmt.Errorf("file status of %q: %w", id, err)
	}
	return &out.Data, nil
}

// DeleteFile deletes file id.
func (v *V4) DeleteFile(ctx context.Context, id string) error {
	call := v4Call(http.MethodDelete, RouteV4DeleteFile, LimitFileDelete, KindDelete)
	p, err := v.path(call, "files", id, "")
	if err == nil {
		_, err = v.c.api(ctx, request{call: call, path: p}, nil)
	}
	if err != nil {
		return fmt.Errorf("delete file %q: %w", id, err)
	}
	return nil
}

// UploadPart PUTs part bytes to a presigned upload URL, as Client's
// UploadPart does; mediaType must be the file's MediaType (storage checks
// it on every part). No Authorization or legacy-auth header is sent.
func (v *V4) UploadPart(ctx context.Context, rawURL, mediaType string, r io.ReaderAt, off, n int64) error {
	return v.c.UploadPart(ctx, rawURL, mediaType, r, off, n)
}

// path is /accounts/{a}/{kind}/{id}{suffix}, escaped, or an error when the
// account or id would address another endpoint.
func (v *V4) path(call Call, kind, id, suffix string) (string, error) {
	if v.account == "" {
		return "", v.c.refuse(call, v.c.cfg.base, fmt.Errorf("%w: %w", apierr.ErrInvalidInput, errNoAccount))
	}
	if err := v.c.checkID(call, "account", v.account); err != nil {
		return "", err
	}
	field := "folder id"
	if kind == "files" {
		field = "file id"
	}
	if err := v.c.checkID(call, field, id); err != nil {
		return "", err
	}
	return "/accounts/" + url.PathEscape(v.account) + "/" + kind + "/" + url.PathEscape(id) + suffix, nil
}

// checkName refuses a name V4 would answer 422 to, without spending a call
// of a tight limit on it; p is the request's path.
func (v *V4) checkName(call Call, p, name string) error {
	var why string
	switch {
	case name == "":
		why = "is empty"
	case len([]rune(name)) > 255:
		why = "is longer than 255 characters"
	case !validName(name):
		why = `contains "/" or a control character`
	default:
		return nil
	}
	return v.refuseAt(call, p, fmt.Errorf("%w: name %q %s", apierr.ErrInvalidInput, truncName(name), why))
}

// refuseAt refuses call to path p (below the base URL) without sending it.
// The error names the request it would have been, as a sent one does, so
// that an archived job's reason says which call its input could not make.
func (v *V4) refuseAt(call Call, p string, err error) error {
	u, uerr := v.c.endpoint(p, nil)
	if uerr != nil {
		u = v.c.cfg.base
	}
	return v.c.refuse(call, u, err)
}

func validName(name string) bool {
	for _, r := range name {
		if r == '/' || r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

func truncName(name string) string {
	if r := []rune(name); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return name
}

// redactErr hides a secret of the request (a remote upload's source URL)
// that a server may echo in its error.
func redactErr(err error, secret string) {
	var e *apierr.Error
	if errors.As(err, &e) {
		e.Redact(secret)
	}
}

// checkUploadFile validates a local upload's answer: an id, a media type,
// and upload URLs that are absolute http(s), each at least a byte long,
// together exactly size bytes.
func checkUploadFile(f *File, size int64) error {
	if err := requireID(f.ID); err != nil {
		return err
	}
	if f.MediaType == "" {
		return errors.New("response has no media_type")
	}
	if f.FileSize != size {
		return fmt.Errorf("response file_size %d, asked for %d", f.FileSize, size)
	}
	if len(f.UploadURLs) == 0 {
		return errors.New("response has no upload_urls")
	}
	var sum int64
	for i, u := range f.UploadURLs {
		if u.Size < 1 {
			return fmt.Errorf("upload_urls[%d].size is %d, want at least 1", i, u.Size)
		}
		if pu, err := url.Parse(u.URL); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return fmt.Errorf("upload_urls[%d].url is not an absolute http(s) URL", i)
		}
		sum += u.Size
	}
	if sum != size {
		return fmt.Errorf("upload_urls sizes sum to %d, file_size is %d", sum, size)
	}
	return nil
}

// envelope is V4's body: the resource in data, page links beside it.
type envelope[T any] struct {
	Data  T      `json:"data"`
	Links *links `json:"links,omitempty"`
}

type links struct {
	Next *string `json:"next"`
}

type folderCreate struct {
	Name string `json:"name"`
}

type localUpload struct {
	Name     string `json:"name"`
	FileSize int64  `json:"file_size"`
}

type remoteUpload struct {
	Name      string `json:"name"`
	SourceURL string `json:"source_url"`
}
