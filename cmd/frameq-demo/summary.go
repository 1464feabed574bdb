package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/records"
)

// busyRate is the rate of calls while they were being made: n calls span
// n-1 intervals, from the first to the last, so start-up and the tail of
// other work do not dilute it. Zero for fewer than two calls.
func busyRate(times []time.Time) float64 {
	n := len(times)
	if n < 2 {
		return 0
	}
	d := times[n-1].Sub(times[0]).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(n-1) / d
}

// routeLine is "N at X/s while creating vs L/s (P%)" for one V4 route.
func routeLine(times []time.Time, limit int) string {
	r := busyRate(times)
	return fmt.Sprintf("%d at %.2f/s while creating vs %d/s (%.0f%%)", len(times), r, limit, 100*r/float64(limit))
}

// limited lists every V4 route the workers called with its 429 count.
func limited(st frameiosim.Stats) (int, string) {
	routes := make([]string, 0, len(st.CallsByRoute))
	for r := range st.CallsByRoute {
		routes = append(routes, r)
	}
	for r := range st.RateLimitedByRoute {
		if _, ok := st.CallsByRoute[r]; !ok {
			routes = append(routes, r)
		}
	}
	slices.Sort(routes)
	total, parts := 0, make([]string, 0, len(routes))
	for _, r := range routes {
		total += st.RateLimitedByRoute[r]
		parts = append(parts, fmt.Sprintf("%s %d", r, st.RateLimitedByRoute[r]))
	}
	return total, strings.Join(parts, ", ")
}

// summaryV4 prints what the V4 simulator saw: each create route's rate
// against its own limit, 429s by route, verification, and whether every
// file arrived exactly once and intact.
func summaryV4(out io.Writer, sim *frameiosim.Server, st records.Status, sums map[string]string, size int64, took time.Duration, fileLimit int, asks *statusAsks) error {
	stats := sim.Stats()
	intact := 0
	for _, f := range stats.Files {
		if f.API == "v4" && f.Complete && sums[f.Path] == f.SHA256 {
			intact++
		}
	}
	folders := sim.RouteCalls(frameiosim.DefaultToken, frameiosim.RouteFolderCreate)
	files := sim.RouteCalls(frameiosim.DefaultToken, frameiosim.RouteFileCreate)
	n429, byRoute := limited(stats)
	done := st.Counts[records.Done]
	fmt.Fprintf(out, "\nsummary (Frame.io V4)\n")
	fmt.Fprintf(out, "  files           %d done, %d failed, %d of %d arrived with identical SHA-256\n", done, st.Counts[records.Failed], intact, len(sums))
	fmt.Fprintf(out, "  bytes           %s\n", mib(size))
	fmt.Fprintf(out, "  elapsed         %s\n", took.Round(time.Millisecond))
	fmt.Fprintf(out, "  folder creates  %s\n", routeLine(folders, folderLimit))
	fmt.Fprintf(out, "  file creates    %s; %.2f/s over the whole run\n", routeLine(files, fileLimit), float64(len(files))/took.Seconds())
	fmt.Fprintf(out, "  429s            %d (%s)\n", n429, byRoute)
	fmt.Fprintf(out, "  verified        %d files done only once Frame.io said upload_complete; %d of them were still being assembled at the first ask and waited for it (%d status calls)\n",
		done, asks.waited(), stats.CallsByRoute[frameiosim.RouteFileStatus])
	fmt.Fprintf(out, "  re-uploaded     %d files Frame.io reported upload_failed: deleted and uploaded again\n", len(stats.FailedUploads))
	fmt.Fprintf(out, "  retries         %d creates retried after a 500, %d lost create answers resolved by adopting the asset, %d part PUTs retried\n",
		stats.FailedCreates, stats.LostCreates, stats.PartsFailed)
	fmt.Fprintf(out, "  duplicates      %d (orphans deleted: %d)\n", len(stats.Duplicates), stats.Deleted)
	if intact != len(sums) || len(stats.Duplicates) > 0 || st.Counts[records.Failed] > 0 {
		return errors.New("the upload was not exact: see the summary")
	}
	return nil
}

// statusAsks counts, from the simulator's request log, the answered
// upload-status calls per V4 file id: a file asked more than once was still
// being assembled when a worker first asked, and went through verification
// (waited for Frame.io's verdict) before it was done.
type statusAsks struct {
	mu     sync.Mutex
	byFile map[string]int
}

// logf is the simulator's Config.Logf. Lines look like
// "frameio-sim: GET /v4/accounts/A/files/ID/status → 200 in 1ms".
func (s *statusAsks) logf(format string, args ...any) {
	f := strings.Fields(fmt.Sprintf(format, args...))
	if len(f) < 5 || f[1] != http.MethodGet || f[4] != "200" {
		return
	}
	parts := strings.Split(f[2], "/")
	n := len(parts)
	if n < 3 || parts[n-1] != "status" || parts[n-3] != "files" {
		return
	}
	s.mu.Lock()
	s.byFile[parts[n-2]]++
	s.mu.Unlock()
}

// waited is how many files were asked more than once.
func (s *statusAsks) waited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.byFile {
		if c > 1 {
			n++
		}
	}
	return n
}
