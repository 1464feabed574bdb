package frameiosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	errNotFound        = errors.New("asset not found")
	errParentNotFolder = errors.New("parent is not a folder")
	errRootDelete      = errors.New("a project root cannot be deleted")
)

// call is one authenticated API request.
type call struct {
	r      *http.Request
	acct   *account
	id     string // the asset id in the path, if any
	faults Faults
}

// reply is what a handler answers; serveAPI writes it after the injected
// delays, or drops the connection instead if reset is set.
type reply struct {
	status int
	body   any
	header map[string]string
	reset  bool
}

// apiRoute is a matched API path.
type apiRoute struct {
	create bool
	id     string
	handle func(*Server, *call) reply
}

// matchRoute maps method and path to a handler. Unknown paths and methods
// still get a handler (404/405) because they are still API calls.
func matchRoute(method, path string) apiRoute {
	segs := strings.Split(strings.TrimPrefix(path, "/v2/"), "/")
	switch {
	case len(segs) == 1 && segs[0] == "me":
		return byMethod(method, "", map[string]func(*Server, *call) reply{http.MethodGet: (*Server).me})
	case len(segs) == 2 && segs[0] == "assets" && segs[1] != "":
		return byMethod(method, segs[1], map[string]func(*Server, *call) reply{
			http.MethodGet: (*Server).getAsset, http.MethodDelete: (*Server).deleteAsset})
	case len(segs) == 3 && segs[0] == "assets" && segs[1] != "" && segs[2] == "children":
		rt := byMethod(method, segs[1], map[string]func(*Server, *call) reply{
			http.MethodGet: (*Server).listChildren, http.MethodPost: (*Server).createAsset})
		rt.create = method == http.MethodPost
		return rt
	}
	return apiRoute{handle: func(*Server, *call) reply {
		return apiError(http.StatusNotFound, "no such endpoint: %s", path)
	}}
}

func byMethod(method, id string, handlers map[string]func(*Server, *call) reply) apiRoute {
	if h, ok := handlers[method]; ok {
		return apiRoute{id: id, handle: h}
	}
	allowed := make([]string, 0, len(handlers))
	for m := range handlers {
		allowed = append(allowed, m)
	}
	slices.Sort(allowed)
	return apiRoute{id: id, handle: func(*Server, *call) reply {
		rep := apiError(http.StatusMethodNotAllowed, "method %s is not allowed here; allowed: %s", method, strings.Join(allowed, ", "))
		rep.header = map[string]string{"Allow": strings.Join(allowed, ", ")}
		return rep
	}}
}

// errorBody is Frame.io's error shape.
type errorBody struct {
	Code    int           `json:"code"`
	Message string        `json:"message"`
	Errors  []errorDetail `json:"errors"`
}

type errorDetail struct {
	Code   int    `json:"code"`
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

var titles = map[int]string{
	400: "Bad Request", 401: "Unauthorized", 402: "Usage exceeded", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 422: "Invalid arguments",
	429: "Rate Limited", 500: "Server Error",
}

func apiError(status int, format string, args ...any) reply {
	title := titles[status]
	if title == "" {
		title = http.StatusText(status)
	}
	detail := fmt.Sprintf(format, args...)
	return reply{status: status, body: errorBody{Code: status, Message: title,
		Errors: []errorDetail{{Code: status, Status: status, Title: title, Detail: detail}}}}
}

// assetJSON is an asset as Frame.io shows it.
type assetJSON struct {
	ID                string          `json:"id"`
	Name              string          `json:"name"`
	Type              string          `json:"type"`
	ParentID          *string         `json:"parent_id"`
	ProjectID         string          `json:"project_id"`
	Filesize          int64           `json:"filesize"`
	Filetype          string          `json:"filetype,omitempty"`
	UploadURLs        []string        `json:"upload_urls,omitempty"`
	Source            *sourceJSON     `json:"source,omitempty"`
	Description       string          `json:"description,omitempty"`
	Properties        json.RawMessage `json:"properties,omitempty"`
	InsertedAt        time.Time       `json:"inserted_at"`
	UploadCompletedAt *time.Time      `json:"upload_completed_at"`
}

type sourceJSON struct {
	URL string `json:"url"`
}

func (s *Server) assetView(r *http.Request, a asset) assetJSON {
	v := assetJSON{ID: a.id, Name: a.name, Type: a.kind, ProjectID: a.projectID,
		Filesize: a.filesize, Filetype: a.filetype, Description: a.description,
		Properties: a.properties, InsertedAt: a.insertedAt.UTC()}
	if !a.root {
		v.ParentID = &a.parentID
	}
	if a.sourceURL != "" {
		v.Source = &sourceJSON{URL: a.sourceURL}
	}
	if a.completeAt(s.now()) {
		at := a.completedAt.UTC()
		v.UploadCompletedAt = &at
	} else if a.upload != nil && a.partsInAt.IsZero() {
		v.UploadURLs = s.uploadURLs(baseURL(r), a)
	}
	return v
}

// baseURL is the scheme and host the client reached us on, so upload URLs
// work whether the server was Started or mounted in another http.Server.
func baseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

func (s *Server) me(c *call) reply {
	return reply{status: http.StatusOK, body: map[string]string{
		"id": c.acct.userID, "name": "Simulated user of " + c.acct.id,
		"email": c.acct.id + "@frameio-sim.test", "account_id": c.acct.id,
	}}
}

// visible returns the asset if it exists and belongs to the caller's
// account, else the error reply.
func (s *Server) visible(c *call, id string) (asset, *reply) {
	a, ok := s.store.get(id)
	if !ok {
		rep := apiError(http.StatusNotFound, "asset %s not found: it was moved or deleted", id)
		return asset{}, &rep
	}
	if a.accountID != c.acct.id {
		rep := apiError(http.StatusForbidden, "you do not have access to asset %s", id)
		return asset{}, &rep
	}
	return a, nil
}

func (s *Server) getAsset(c *call) reply {
	a, rep := s.visible(c, c.id)
	if rep != nil {
		return *rep
	}
	return reply{status: http.StatusOK, body: s.assetView(c.r, a)}
}

func (s *Server) deleteAsset(c *call) reply {
	if _, rep := s.visible(c, c.id); rep != nil {
		return *rep
	}
	gone, err := s.store.remove(c.id)
	switch {
	case errors.Is(err, errRootDelete):
		return apiError(http.StatusForbidden, "asset %s is a project root and cannot be deleted", c.id)
	case err != nil:
		return apiError(http.StatusNotFound, "asset %s not found: it was moved or deleted", c.id)
	}
	s.dropParts(gone)
	return reply{status: http.StatusNoContent}
}

const (
	defaultPageSize = 50
	maxPageSize     = 100
)

func (s *Server) listChildren(c *call) reply {
	a, rep := s.visible(c, c.id)
	if rep != nil {
		return *rep
	}
	if a.kind != typeFolder {
		return apiError(http.StatusUnprocessableEntity, "id: asset %s is a file, not a folder", c.id)
	}
	page, err := queryInt(c.r, "page", 1)
	if err != nil {
		return apiError(http.StatusUnprocessableEntity, "%v", err)
	}
	size, err := queryInt(c.r, "page_size", defaultPageSize)
	if err != nil {
		return apiError(http.StatusUnprocessableEntity, "%v", err)
	}
	size = min(size, maxPageSize)
	kids, err := s.store.children(c.id)
	if err != nil {
		return apiError(http.StatusNotFound, "asset %s not found: it was moved or deleted", c.id)
	}
	views := make([]assetJSON, 0, size)
	for i := (page - 1) * size; i < len(kids) && i < page*size && i >= 0; i++ {
		views = append(views, s.assetView(c.r, kids[i]))
	}
	return reply{status: http.StatusOK, body: views, header: map[string]string{
		"page-number": strconv.Itoa(page), "per-page": strconv.Itoa(size),
		"total": strconv.Itoa(len(kids)), "total-pages": strconv.Itoa((len(kids) + size - 1) / size),
	}}
}

// queryInt reads a positive integer query parameter.
func queryInt(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1<<30 {
		return 0, fmt.Errorf("%s: %q is not a positive integer", name, v)
	}
	return n, nil
}
