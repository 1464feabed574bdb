package frameiosim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// legacyHeader lets a legacy (v2 developer) token call V4.
const legacyHeader = "x-frameio-legacy-token-auth"

// v4Route is a matched V4 path: the limit it draws on, the account and
// resource ids in the path, and its handler.
type v4Route struct {
	limit   string // "" for an unknown endpoint: no limit, no headers
	account string // account id in the path; "" for /me and /accounts
	id      string // folder or file id in the path
	handle  func(*Server, *call) reply
}

type v4Handlers map[string]struct {
	limit  string
	handle func(*Server, *call) reply
}

// matchV4 maps method and path to a route. A known path with another
// method answers 405 under the limit of the path's first route.
func matchV4(method, path string) v4Route {
	segs := strings.Split(strings.TrimPrefix(path, "/v4/"), "/")
	if slices.Contains(segs, "") {
		return v4NotFound(path)
	}
	var hs v4Handlers
	var acct, id string
	if len(segs) >= 4 && segs[0] == "accounts" {
		acct, id = segs[1], segs[3]
	}
	switch {
	case len(segs) == 1 && segs[0] == "me":
		hs = v4Handlers{http.MethodGet: {RouteAccount, (*Server).v4Me}}
	case len(segs) == 1 && segs[0] == "accounts":
		hs = v4Handlers{http.MethodGet: {RouteAccount, (*Server).v4Accounts}}
	case acct == "":
		return v4NotFound(path)
	case len(segs) == 4 && segs[2] == "folders":
		hs = v4Handlers{http.MethodGet: {RouteShowFolder, (*Server).v4ShowFolder}}
	case len(segs) == 5 && segs[2] == "folders" && segs[4] == "folders":
		hs = v4Handlers{http.MethodGet: {RouteListFolders, (*Server).v4ListFolders},
			http.MethodPost: {RouteFolderCreate, (*Server).v4CreateFolder}}
	case len(segs) == 5 && segs[2] == "folders" && segs[4] == "files":
		hs = v4Handlers{http.MethodGet: {RouteListFiles, (*Server).v4ListFiles}}
	case len(segs) == 5 && segs[2] == "folders" && segs[4] == "children":
		hs = v4Handlers{http.MethodGet: {RouteListChildren, (*Server).v4ListChildren}}
	case len(segs) == 6 && segs[2] == "folders" && segs[4] == "files" && segs[5] == "local_upload":
		hs = v4Handlers{http.MethodPost: {RouteFileCreate, (*Server).v4LocalUpload}}
	case len(segs) == 6 && segs[2] == "folders" && segs[4] == "files" && segs[5] == "remote_upload":
		hs = v4Handlers{http.MethodPost: {RouteFileCreate, (*Server).v4RemoteUpload}}
	case len(segs) == 4 && segs[2] == "files":
		hs = v4Handlers{http.MethodGet: {RouteShowFile, (*Server).v4ShowFile},
			http.MethodDelete: {RouteFileDelete, (*Server).v4DeleteFile}}
	case len(segs) == 5 && segs[2] == "files" && segs[4] == "status":
		hs = v4Handlers{http.MethodGet: {RouteFileStatus, (*Server).v4FileStatus}}
	default:
		return v4NotFound(path)
	}
	return v4ByMethod(method, acct, id, hs)
}

func v4ByMethod(method, acct, id string, hs v4Handlers) v4Route {
	if h, ok := hs[method]; ok {
		return v4Route{limit: h.limit, account: acct, id: id, handle: h.handle}
	}
	allowed := sortedKeys(hs)
	allow := strings.Join(allowed, ", ")
	return v4Route{limit: hs[allowed[0]].limit, account: acct, id: id, handle: func(*Server, *call) reply {
		rep := v4Error(http.StatusMethodNotAllowed, "", "Method %s is not allowed here; allowed: %s", method, allow)
		rep.header = map[string]string{"Allow": allow}
		return rep
	}}
}

func v4NotFound(path string) v4Route {
	return v4Route{handle: func(*Server, *call) reply {
		return v4Error(http.StatusNotFound, "", "No such endpoint: %s", path)
	}}
}

// serveV4 runs one V4 call: proxy fault, auth, the route's limit, locked
// account, account in the path, handler, delays, answer.
func (s *Server) serveV4(w *statusWriter, r *http.Request) {
	f := s.faults()
	if s.chance(f.HTMLError) {
		writeProxyError(w)
		return
	}
	rt := matchV4(r.Method, r.URL.Path)
	acct, scope, rep := s.authenticateV4(r)
	if rep != nil {
		writeReply(w, *rep)
		return
	}
	acct, known := s.pathAccount(r, acct, rt.account)
	var out reply
	if rt.limit == "" {
		out = rt.handle(s, nil)
	} else {
		v := s.lim.admitRoute(scope, rt.limit)
		setRateHeaders(w.Header(), v)
		switch {
		case !v.ok:
			out = s.rateLimitedV4(v)
		case !known:
			out = v4Error(http.StatusNotFound, "", "Account %s not found", rt.account)
		case slices.Contains(f.LockedAccounts, acct.id):
			out = accountLocked()
		default:
			out = rt.handle(s, &call{r: r, acct: acct, id: rt.id, faults: f})
		}
	}
	if !s.delay(r.Context(), f) {
		return // the client gave up; nobody to answer
	}
	if out.reset {
		dropConnection(w)
		return
	}
	writeReply(w, out)
}

// pathAccount is the account a V4 call acts on: the one in its path if the
// token's user belongs to it (known false otherwise), else the token's.
func (s *Server) pathAccount(r *http.Request, own *account, inPath string) (acct *account, known bool) {
	if inPath == "" || inPath == own.id {
		return own, true
	}
	if slices.Contains(s.more[bearerToken(r)], inPath) {
		return s.store.account(inPath), true
	}
	return own, false
}

// authenticateV4 is authenticate plus the legacy-token rule: a legacy
// token needs the legacy header; the header is ignored with other tokens.
func (s *Server) authenticateV4(r *http.Request) (*account, string, *reply) {
	acct, scope, rep := s.authenticate(r)
	if rep != nil {
		out := v4Error(rep.status, "", "%s", rep.body.(errorBody).Errors[0].Detail)
		return nil, "", &out
	}
	if s.legacy[bearerToken(r)] && !strings.EqualFold(r.Header.Get(legacyHeader), "true") {
		out := v4Error(http.StatusUnauthorized, "", "This is a legacy developer token: send the header %s: true to use it on V4", legacyHeader)
		return nil, "", &out
	}
	return acct, scope, nil
}

func (s *Server) rateLimitedV4(v verdict) reply {
	rep := v4Error(http.StatusTooManyRequests, "", "You have hit the rate limit of this endpoint (%d per %d ms)", v.limit, v.window.Milliseconds())
	if !s.cfg.NoRetryAfter {
		secs := max(1, int64((v.wait+time.Second-1)/time.Second))
		rep.header = map[string]string{"Retry-After": fmt.Sprint(secs)}
	}
	return rep
}

func accountLocked() reply {
	return reply{status: http.StatusForbidden, body: v4ErrorBody{Errors: []v4ErrorItem{{
		Title:  "Account locked",
		Detail: "This account is locked. Contact your account admin or upgrade your plan.",
	}}}}
}

// v4ErrorBody is V4's error shape.
type v4ErrorBody struct {
	Errors []v4ErrorItem `json:"errors"`
}

type v4ErrorItem struct {
	Title  string    `json:"title"`
	Detail string    `json:"detail"`
	Source *v4Source `json:"source,omitempty"`
}

type v4Source struct {
	Pointer string `json:"pointer"`
}

var v4Titles = map[int]string{
	401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
	422: "Invalid request", 429: "Too Many Requests", 500: "Internal Server Error",
}

// v4Error is a V4 error answer; pointer, if set, names the request field.
func v4Error(status int, pointer, format string, args ...any) reply {
	title := v4Titles[status]
	if title == "" {
		title = http.StatusText(status)
	}
	e := v4ErrorItem{Title: title, Detail: fmt.Sprintf(format, args...)}
	if pointer != "" {
		e.Source = &v4Source{Pointer: pointer}
	}
	return reply{status: status, body: v4ErrorBody{Errors: []v4ErrorItem{e}}}
}

// v4Data wraps a resource in "data", with optional links.
type v4Data struct {
	Data  any `json:"data"`
	Links any `json:"links,omitempty"`
}

// v4Time formats times as V4 does: RFC 3339, UTC, microseconds.
func v4Time(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

func v4TimePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	v := v4Time(t)
	return &v
}

type v4FolderJSON struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	ParentID    *string `json:"parent_id"`
	ProjectID   string  `json:"project_id"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
	CoverFileID *string `json:"cover_file_id"`
	ViewURL     string  `json:"view_url"`
}

type v4FileJSON struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Type       string        `json:"type"`
	ParentID   string        `json:"parent_id"`
	ProjectID  string        `json:"project_id"`
	CreatedAt  string        `json:"created_at"`
	UpdatedAt  string        `json:"updated_at"`
	FileSize   int64         `json:"file_size"`
	MediaType  string        `json:"media_type"`
	Status     string        `json:"status"`
	ViewURL    string        `json:"view_url"`
	UploadURLs []v4UploadURL `json:"upload_urls,omitempty"`
}

type v4UploadURL struct {
	Size int64  `json:"size"`
	URL  string `json:"url"`
}

type v4StatusJSON struct {
	ID                string  `json:"id"`
	Filetype          string  `json:"filetype"`
	UploadedAt        *string `json:"uploaded_at"`
	UploadCompletedAt *string `json:"upload_completed_at"`
	UploadComplete    bool    `json:"upload_complete"`
	UploadFailed      bool    `json:"upload_failed"`
}

func viewURL(a asset) string {
	return "https://next.frame.io/project/" + a.projectID + "/view/" + a.id
}

// v4View is a file or folder as V4 shows it (never with upload_urls).
func (s *Server) v4View(a asset) any {
	if a.kind == typeFolder {
		v := v4FolderJSON{ID: a.id, Name: a.name, Type: typeFolder, ProjectID: a.projectID,
			CreatedAt: v4Time(a.insertedAt), UpdatedAt: v4Time(a.insertedAt), ViewURL: viewURL(a)}
		if !a.root {
			v.ParentID = &a.parentID
		}
		return v
	}
	now := s.now()
	v := v4FileJSON{ID: a.id, Name: a.name, Type: typeFile, ParentID: a.parentID, ProjectID: a.projectID,
		CreatedAt: v4Time(a.insertedAt), UpdatedAt: v4Time(a.insertedAt), FileSize: a.filesize,
		MediaType: a.filetype, Status: "created", ViewURL: viewURL(a)}
	if a.completeAt(now) {
		v.Status, v.UpdatedAt = "uploaded", v4Time(a.completedAt)
	}
	return v
}

// v4UploadView is a new file with its presigned part URLs.
func (s *Server) v4UploadView(r *http.Request, a asset) v4FileJSON {
	v := s.v4View(a).(v4FileJSON)
	urls := s.uploadURLs(baseURL(r), a)
	v.UploadURLs = make([]v4UploadURL, len(urls))
	for i, u := range urls {
		v.UploadURLs[i] = v4UploadURL{Size: a.upload.partLen(i), URL: u}
	}
	return v
}

// v4Asset returns the live asset of the caller's account of kind, or a
// 404 (another account's ids do not exist for the caller).
func (s *Server) v4Asset(c *call, kind string) (asset, *reply) {
	a, ok := s.store.get(c.id)
	if !ok || a.accountID != c.acct.id || a.kind != kind {
		rep := v4Error(http.StatusNotFound, "", "%s %s not found", strings.ToUpper(kind[:1])+kind[1:], c.id)
		return asset{}, &rep
	}
	return a, nil
}

func (s *Server) v4Me(c *call) reply {
	return reply{status: http.StatusOK, body: v4Data{Data: map[string]string{
		"id": c.acct.userID, "name": "Simulated user of " + c.acct.id,
		"email": c.acct.id + "@frameio-sim.test",
	}}}
}

type v4AccountJSON struct {
	ID           string   `json:"id"`
	DisplayName  string   `json:"display_name"`
	CreatedAt    string   `json:"created_at"`
	UpdatedAt    string   `json:"updated_at"`
	Roles        []string `json:"roles"`
	StorageUsage int64    `json:"storage_usage"`
	StorageLimit *int64   `json:"storage_limit"`
}

func (s *Server) v4Accounts(c *call) reply {
	p, rep := parsePage(c.r, "accounts", maxPageSize)
	if rep != nil {
		return *rep
	}
	ids := append([]string{c.acct.id}, s.more[bearerToken(c.r)]...)
	items := make([]asset, 0, len(ids))
	for i, id := range ids {
		if a := s.store.account(id); a != nil && !slices.ContainsFunc(items, func(x asset) bool { return x.id == id }) {
			root, _ := s.store.get(a.rootID)
			items = append(items, asset{id: id, seq: uint64(i + 1), insertedAt: root.insertedAt})
		}
	}
	page, next := p.slice(items)
	out := make([]v4AccountJSON, len(page))
	for i, a := range page {
		out[i] = v4AccountJSON{ID: a.id, DisplayName: "Simulated account " + a.id,
			CreatedAt: v4Time(a.insertedAt), UpdatedAt: v4Time(a.insertedAt), Roles: []string{"admin"}}
	}
	return reply{status: http.StatusOK, body: v4Data{Data: out, Links: p.links(c.r, next)}}
}

func (s *Server) v4ShowFolder(c *call) reply {
	a, rep := s.v4Asset(c, typeFolder)
	if rep != nil {
		return *rep
	}
	return reply{status: http.StatusOK, body: v4Data{Data: s.v4View(a)}}
}

func (s *Server) v4ShowFile(c *call) reply {
	a, rep := s.v4Asset(c, typeFile)
	if rep != nil {
		return *rep
	}
	return reply{status: http.StatusOK, body: v4Data{Data: s.v4View(a)}}
}

func (s *Server) v4FileStatus(c *call) reply {
	a, rep := s.v4Asset(c, typeFile)
	if rep != nil {
		return *rep
	}
	v := v4StatusJSON{ID: a.id, Filetype: a.filetype, UploadedAt: v4TimePtr(a.partsInAt), UploadFailed: a.failed}
	if a.completeAt(s.now()) {
		v.UploadComplete, v.UploadCompletedAt = true, v4TimePtr(a.completedAt)
	}
	return reply{status: http.StatusOK, body: v4Data{Data: v}}
}

func (s *Server) v4DeleteFile(c *call) reply {
	if _, rep := s.v4Asset(c, typeFile); rep != nil {
		return *rep
	}
	gone, err := s.store.remove(c.id)
	if err != nil {
		return v4Error(http.StatusNotFound, "", "File %s not found", c.id)
	}
	s.dropParts(gone)
	return reply{status: http.StatusNoContent}
}

// V4RouteOf is the V4 route (a Route* name) a call of method on path
// draws on, or "" for a path the simulator does not know. For tools that
// count calls the simulator never saw, such as packets on the wire.
func V4RouteOf(method, path string) string {
	return matchV4(method, path).limit
}
