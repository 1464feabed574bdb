package frameio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/frameq/frameq/apierr"
)

// listAll fetches path and every page its links.next leads to, one
// BeforeCall per page, and returns the items once each (by key: an item
// listed twice because the folder changed between pages counts once).
//
// The next link is followed as given: resolved against the base URL's
// origin, with page_size appended when it lacks one; a cursor is never
// built. A next link to another host, or one repeating the page just read,
// ends the listing with an error, and so does a listing longer than
// maxPages.
func listAll[T any](ctx context.Context, v *V4, call Call, path string, pageSize int, key func(T) string) ([]T, error) {
	var (
		all  []T
		seen = map[string]bool{}
		next *url.URL
	)
	first := url.Values{"page_size": {strconv.Itoa(pageSize)}}
	for page := 1; ; page++ {
		if page > v.c.maxPages {
			return nil, v.pageError(call, next, fmt.Sprintf("more than %d pages", v.c.maxPages))
		}
		var out envelope[[]T]
		_, err := v.c.api(ctx, request{
			call: call, path: path, query: first, next: next,
			check: func() error { return checkPage(out, key) },
		}, &out)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", page, err)
		}
		for _, it := range out.Data {
			if k := key(it); !seen[k] {
				seen[k] = true
				all = append(all, it)
			}
		}
		link := ""
		if out.Links != nil && out.Links.Next != nil {
			link = *out.Links.Next
		}
		if link == "" {
			return all, nil
		}
		u, err := v.nextURL(link, pageSize)
		if err == nil && next != nil && u.String() == next.String() {
			err = errors.New("links.next repeats the page just read")
		}
		if err != nil {
			return nil, v.pageError(call, next, fmt.Sprintf("page %d: %v", page, err))
		}
		next = u
	}
}

// checkPage requires a data array whose items all have an id.
func checkPage[T any](out envelope[[]T], key func(T) string) error {
	if out.Data == nil {
		return errors.New("response has no data array")
	}
	for i, it := range out.Data {
		if key(it) == "" {
			return fmt.Errorf("data[%d]: %w", i, errNoID)
		}
	}
	return nil
}

// nextURL resolves a links.next against the base URL's origin and adds
// page_size when the link lacks it. The rest of the link, its opaque
// cursor included, is kept byte for byte.
func (v *V4) nextURL(link string, pageSize int) (*url.URL, error) {
	ref, err := url.Parse(link)
	if err != nil {
		return nil, errors.New("links.next does not parse")
	}
	base := v.c.cfg.base
	u := base.ResolveReference(ref)
	switch {
	case u.Scheme != base.Scheme || u.Host != base.Host:
		return nil, fmt.Errorf("links.next leads to another host (%s://%s), not %s://%s", u.Scheme, u.Host, base.Scheme, base.Host)
	case u.User != nil:
		return nil, errors.New("links.next carries credentials")
	}
	u.Fragment, u.RawFragment = "", ""
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errors.New("links.next has a malformed query")
	}
	if !q.Has("page_size") {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += "page_size=" + strconv.Itoa(pageSize)
	}
	return u, nil
}

// pageError reports a listing that cannot go on; at (the page that led
// there) may be nil for the first page.
func (v *V4) pageError(call Call, at *url.URL, detail string) error {
	p := v.c.cfg.base.EscapedPath()
	if at != nil {
		p = at.EscapedPath()
	}
	return &apierr.Error{Method: call.Method, Path: p, Status: http.StatusOK, Title: "Bad pagination", Detail: detail}
}
