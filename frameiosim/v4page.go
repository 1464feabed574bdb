package frameiosim

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// V4 page sizes: the default, and the maximum of folder lists (folders,
// files) and of every other list.
const (
	v4DefaultPageSize = 50
	v4MaxFolderPage   = 500
)

// page is a parsed V4 page request. Cursors are opaque to clients: the
// list they belong to and the creation sequence number of the last item
// given, so pages stay right while items are added or deleted.
type page struct {
	key   string // the list, e.g. "files:<folder id>"
	size  int
	after uint64 // items with a larger seq; 0 from the start
}

// parsePage reads page_size and after; a size over maxSize, or a cursor
// of another list, is a 422.
func parsePage(r *http.Request, key string, maxSize int) (page, *reply) {
	q := r.URL.Query()
	p := page{key: key, size: v4DefaultPageSize}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSize {
			rep := v4Error(http.StatusUnprocessableEntity, "", "Invalid value: page_size %q is not an integer within 1…%d", v, maxSize)
			return p, &rep
		}
		p.size = n
	}
	if v := q.Get("after"); v != "" {
		seq, ok := decodeCursor(key, v)
		if !ok {
			rep := v4Error(http.StatusUnprocessableEntity, "", "Invalid value: after is not a cursor of this list")
			return p, &rep
		}
		p.after = seq
	}
	return p, nil
}

func encodeCursor(key string, seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key + "|" + strconv.FormatUint(seq, 10)))
}

func decodeCursor(key, cursor string) (uint64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, false
	}
	k, n, ok := strings.Cut(string(b), "|")
	seq, err := strconv.ParseUint(n, 10, 64)
	return seq, ok && k == key && err == nil
}

// slice returns the page of items (in seq order) and the cursor of the
// next page, "" on the last.
func (p page) slice(items []asset) ([]asset, string) {
	i := 0
	for i < len(items) && items[i].seq <= p.after {
		i++
	}
	items = items[i:]
	if len(items) <= p.size {
		return items, ""
	}
	items = items[:p.size]
	return items, encodeCursor(p.key, items[len(items)-1].seq)
}

// links is the page's links object: next is the request's path with only
// the after cursor (no page_size: clients re-append theirs), or null.
func (p page) links(r *http.Request, next string) map[string]*string {
	if next == "" {
		return map[string]*string{"next": nil}
	}
	v := r.URL.Path + "?" + url.Values{"after": {next}}.Encode()
	return map[string]*string{"next": &v}
}

// v4List answers a folder list of the given kinds ("" for both).
func (s *Server) v4List(c *call, list, kind string, maxSize int) reply {
	if _, rep := s.v4Asset(c, typeFolder); rep != nil {
		return *rep
	}
	p, rep := parsePage(c.r, list+":"+c.id, maxSize)
	if rep != nil {
		return *rep
	}
	kids, err := s.store.children(c.id)
	if err != nil {
		return v4Error(http.StatusNotFound, "", "Folder %s not found", c.id)
	}
	if kind != "" {
		kept := kids[:0]
		for _, k := range kids {
			if k.kind == kind {
				kept = append(kept, k)
			}
		}
		kids = kept
	}
	items, next := p.slice(kids)
	views := make([]any, len(items))
	for i, a := range items {
		views[i] = s.v4View(a)
	}
	return reply{status: http.StatusOK, body: v4Data{Data: views, Links: p.links(c.r, next)}}
}

func (s *Server) v4ListFolders(c *call) reply {
	return s.v4List(c, "folders", typeFolder, v4MaxFolderPage)
}

func (s *Server) v4ListFiles(c *call) reply {
	return s.v4List(c, "files", typeFile, v4MaxFolderPage)
}

func (s *Server) v4ListChildren(c *call) reply {
	return s.v4List(c, "children", "", maxPageSize)
}
