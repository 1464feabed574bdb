package frameio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/frameq/frameq/apierr"
)

// PageSize is how many children ListChildren asks for per page.
const PageSize = 100

// maxPages stops ListChildren on a server whose pagination never ends
// (a million children at PageSize).
const maxPages = 10000

// errNoID rejects a 2xx body without an id: carrying on with an empty id
// would address the wrong endpoint.
var errNoID = errors.New("response has no id")

// Me returns the token's user: the cheap call to check a token at start-up.
func (c *Client) Me(ctx context.Context) (*User, error) {
	var u User
	_, err := c.api(ctx, request{
		call:  Call{Method: http.MethodGet, Route: RouteMe, Kind: KindRead, Limits: callLimits},
		path:  "/me",
		check: func() error { return requireID(u.ID) },
	}, &u)
	if err != nil {
		return nil, fmt.Errorf("get me: %w", err)
	}
	return &u, nil
}

// GetAsset returns one asset.
func (c *Client) GetAsset(ctx context.Context, id string) (*Asset, error) {
	var a Asset
	call := Call{Method: http.MethodGet, Route: RouteGetAsset, Kind: KindRead, Limits: callLimits}
	if err := c.checkID(call, "id", id); err != nil {
		return nil, fmt.Errorf("get asset %q: %w", id, err)
	}
	_, err := c.api(ctx, request{
		call:  call,
		path:  "/assets/" + url.PathEscape(id),
		check: func() error { return requireID(a.ID) },
	}, &a)
	if err != nil {
		return nil, fmt.Errorf("get asset %q: %w", id, err)
	}
	return &a, nil
}

// ListChildren returns every child of folder id, following pagination
// (page, page_size=PageSize) with one BeforeCall per page. It stops after
// the page the total-pages header calls last, or, without that header, after
// a short page. A child listed twice because the folder changed between
// pages is returned once.
func (c *Client) ListChildren(ctx context.Context, id string) ([]Asset, error) {
	call := Call{Method: http.MethodGet, Route: RouteListChildren, Kind: KindRead, Limits: callLimits}
	if err := c.checkID(call, "id", id); err != nil {
		return nil, fmt.Errorf("list children of %q: %w", id, err)
	}
	var (
		all  []Asset
		seen = map[string]bool{}
	)
	for page := 1; ; page++ {
		if page > c.maxPages {
			return nil, fmt.Errorf("list children of %q: %w", id, &apierr.Error{
				Method: call.Method, Path: c.cfg.base.EscapedPath() + "/assets/" + url.PathEscape(id) + "/children",
				Status: http.StatusOK, Title: "Endless pagination",
				Detail: fmt.Sprintf("more than %d pages", c.maxPages),
			})
		}
		var batch []Asset
		h, err := c.api(ctx, request{
			call:  call,
			path:  "/assets/" + url.PathEscape(id) + "/children",
			query: url.Values{"page": {strconv.Itoa(page)}, "page_size": {strconv.Itoa(PageSize)}},
			check: func() error { return requireIDs(batch) },
		}, &batch)
		if err != nil {
			return nil, fmt.Errorf("list children of %q, page %d: %w", id, page, err)
		}
		for _, a := range batch {
			if !seen[a.ID] {
				seen[a.ID] = true
				all = append(all, a)
			}
		}
		if lastPage(h, page, len(batch)) {
			return all, nil
		}
	}
}

// lastPage decides from the pagination headers, or failing them from the
// page's length, whether page was the last one.
func lastPage(h http.Header, page, n int) bool {
	if n == 0 {
		return true
	}
	if total, err := strconv.Atoi(h.Get("Total-Pages")); err == nil && total >= 0 {
		return page >= total
	}
	perPage := PageSize
	if pp, err := strconv.Atoi(h.Get("Per-Page")); err == nil && pp > 0 {
		perPage = pp
	}
	return n < perPage
}

// CreateLimits are the limiter budgets CreateAsset draws on, for a caller
// that asks for its permit ahead (throttle.Limiter.Stage).
func (c *Client) CreateLimits() []string { return slices.Clone(createLimits) }

// CreateAsset creates a file, folder or remote upload under parentID. A
// file's UploadURLs say where to PUT its parts (see Parts and UploadPart).
//
// Frame.io has no idempotency key: when apierr.Ambiguous(err) is true the
// asset may exist anyway, and calling again may make a duplicate.
func (c *Client) CreateAsset(ctx context.Context, parentID string, in CreateAsset) (*Asset, error) {
	var a Asset
	call := Call{Method: http.MethodPost, Route: RouteCreateChildren, Kind: KindCreate, Limits: createLimits}
	if err := c.checkID(call, "parentID", parentID); err != nil {
		return nil, fmt.Errorf("create asset %q: %w", in.Name, err)
	}
	_, err := c.api(ctx, request{
		call:  call,
		path:  "/assets/" + url.PathEscape(parentID) + "/children",
		body:  in,
		check: func() error { return requireID(a.ID) },
	}, &a)
	if err != nil {
		return nil, fmt.Errorf("create asset %q: %w", in.Name, err)
	}
	return &a, nil
}

// DeleteAsset deletes an asset (a folder with its contents).
func (c *Client) DeleteAsset(ctx context.Context, id string) error {
	call := Call{Method: http.MethodDelete, Route: RouteDeleteAsset, Kind: KindDelete, Limits: callLimits}
	if err := c.checkID(call, "id", id); err != nil {
		return fmt.Errorf("delete asset %q: %w", id, err)
	}
	_, err := c.api(ctx, request{call: call, path: "/assets/" + url.PathEscape(id)}, nil)
	if err != nil {
		return fmt.Errorf("delete asset %q: %w", id, err)
	}
	return nil
}

// checkID refuses ids that would address another endpoint once in a path.
func (c *Client) checkID(call Call, field, id string) error {
	if id == "" || id == "." || id == ".." {
		return c.refuse(call, c.cfg.base, fmt.Errorf("%w: %s %q is not an asset id", apierr.ErrInvalidInput, field, id))
	}
	return nil
}

func requireID(id string) error {
	if id == "" {
		return errNoID
	}
	return nil
}

func requireIDs(as []Asset) error {
	for i := range as {
		if as[i].ID == "" {
			return fmt.Errorf("child %d: %w", i, errNoID)
		}
	}
	return nil
}
