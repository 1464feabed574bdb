package frameio

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childrenServer pages n children, calling headers to decide the pagination
// headers of each page.
func childrenServer(t *testing.T, n int, headers func(w http.ResponseWriter, page, perPage, total int)) (*Client, *[]string) {
	var pages []string
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		per, _ := strconv.Atoi(r.URL.Query().Get("page_size"))
		pages = append(pages, r.URL.RawQuery)
		var items []string
		for i := (page - 1) * per; i < min(page*per, n); i++ {
			items = append(items, fmt.Sprintf(`{"id":"c%d","name":"n%d","type":"file"}`, i, i))
		}
		headers(w, page, per, n)
		writeJSON(w, 200, "["+strings.Join(items, ",")+"]")
	})
	return c, &pages
}

func fullHeaders(w http.ResponseWriter, page, per, total int) {
	w.Header().Set("Page-Number", strconv.Itoa(page))
	w.Header().Set("Per-Page", strconv.Itoa(per))
	w.Header().Set("Total", strconv.Itoa(total))
	w.Header().Set("Total-Pages", strconv.Itoa((total+per-1)/per))
}

func TestListChildrenPagination(t *testing.T) {
	noHeaders := func(http.ResponseWriter, int, int, int) {}
	tests := []struct {
		name    string
		n       int
		headers func(http.ResponseWriter, int, int, int)
		pages   int
	}{
		{"empty", 0, fullHeaders, 1},
		{"one page", 7, fullHeaders, 1},
		{"exactly one page", 100, fullHeaders, 1},
		{"three pages", 250, fullHeaders, 3},
		{"exact multiple", 300, fullHeaders, 3},
		{"no headers, short last page", 250, noHeaders, 3},
		{"no headers, exact multiple needs an empty page", 200, noHeaders, 3},
		{"malformed headers", 150, func(w http.ResponseWriter, _, _, _ int) { w.Header().Set("Total-Pages", "many") }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			befores := 0
			c, pages := childrenServer(t, tt.n, tt.headers)
			c.cfg.before = func(context.Context, Call) (func(time.Time), error) { befores++; return nil, nil }
			got, err := c.ListChildren(context.Background(), "root")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.n || len(*pages) != tt.pages || befores != tt.pages {
				t.Fatalf("got %d children in %d pages (%d BeforeCalls), want %d in %d", len(got), len(*pages), befores, tt.n, tt.pages)
			}
			for i, a := range got {
				if a.ID != fmt.Sprintf("c%d", i) {
					t.Fatalf("child %d is %s", i, a.ID)
				}
			}
			for i, q := range *pages {
				if want := fmt.Sprintf("page=%d&page_size=100", i+1); q != want {
					t.Errorf("request %d query %q, want %q", i, q, want)
				}
			}
		})
	}
}

func TestListChildrenDeduplicatesShiftedPages(t *testing.T) {
	// A child created between page fetches shifts the listing: c99 appears
	// at the end of page 1 and again at the start of page 2.
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		lo := (page-1)*100 - (page - 1)
		var items []string
		for i := lo; i < min(lo+100, 150); i++ {
			items = append(items, fmt.Sprintf(`{"id":"c%d"}`, i))
		}
		w.Header().Set("Total-Pages", "2")
		writeJSON(w, 200, "["+strings.Join(items, ",")+"]")
	})
	got, err := c.ListChildren(context.Background(), "root")
	if err != nil || len(got) != 150 {
		t.Fatalf("got %d children, %v", len(got), err)
	}
}

func TestListChildrenErrorOnLaterPage(t *testing.T) {
	c, pages := childrenServer(t, 250, func(w http.ResponseWriter, page, per, total int) {
		fullHeaders(w, page, per, total)
		if page == 2 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	got, err := c.ListChildren(context.Background(), "root")
	e := asAPIErr(t, err)
	if got != nil || e.Status != 429 || len(*pages) != 2 || !strings.Contains(err.Error(), "page 2") {
		t.Errorf("got %d children, %v", len(got), err)
	}
}

func TestListChildrenChildWithoutID(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `[{"id":"a"},{"name":"no id"}]`)
	})
	_, err := c.ListChildren(context.Background(), "root")
	if e := asAPIErr(t, err); e.Status != 200 || !strings.Contains(err.Error(), "child 1") {
		t.Errorf("got %v", err)
	}
}

func TestListChildrenEndlessPaginationStops(t *testing.T) {
	calls := 0
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Total-Pages", "999999999")
		writeJSON(w, 200, `[{"id":"same"}]`)
	})
	c.maxPages = 5
	_, err := c.ListChildren(context.Background(), "root")
	if e := asAPIErr(t, err); e.Title != "Endless pagination" || calls != 5 || !strings.Contains(err.Error(), "more than 5 pages") {
		t.Errorf("got %v after %d calls", err, calls)
	}
}
