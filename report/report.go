// Package report shows batch progress to people: a progress bar on a
// terminal, plain timestamped lines elsewhere (logs, CI), and the status
// table with failure reasons.
//
//	bar := report.NewProgress(os.Stderr)
//	bar.Show(status) // redraws only on change
package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/frameq/frameq/tasks/records"
)

// Status prints a batch's counts and failure reasons.
func Status(w io.Writer, st records.Status, fails []records.Failure) {
	fmt.Fprintf(w, "batch %s: %d files\n", st.Batch, st.Total())
	for _, s := range records.States {
		fmt.Fprintf(w, "  %-9s %d\n", s, st.Counts[s])
	}
	if len(fails) > 0 {
		fmt.Fprintln(w, "failures:")
	}
	for _, f := range fails {
		fmt.Fprintf(w, "  %s [%s] %s\n", f.Path, f.Class, f.Reason)
	}
}

// Progress draws a bar on a terminal, and plain lines (on change) elsewhere.
type Progress struct {
	w    io.Writer
	tty  bool
	last string
}

// NewProgress writes to w; a bar if w is a terminal.
func NewProgress(w io.Writer) *Progress {
	return &Progress{w: w, tty: IsTerminal(w)}
}

// Show draws st if it changed.
func (p *Progress) Show(st records.Status) {
	total := st.Total()
	finished := st.Counts[records.Done] + st.Counts[records.Failed] + st.Counts[records.Skipped]
	line := fmt.Sprintf("%d/%d done, %d failed, %d active, %d verifying, %d retrying, %d held, %d pending, %d skipped (already uploaded)",
		st.Counts[records.Done], total, st.Counts[records.Failed], st.Counts[records.Active], st.Counts[records.Verifying],
		st.Counts[records.Retrying], st.Counts[records.Held], st.Counts[records.Pending], st.Counts[records.Skipped])
	if line == p.last {
		return
	}
	p.last = line
	if !p.tty {
		fmt.Fprintf(p.w, "%s %s\n", time.Now().Format(time.TimeOnly), line)
		return
	}
	const width = 30
	n := 0
	if total > 0 {
		n = int(finished * width / total)
	}
	fmt.Fprintf(p.w, "\r[%s%s] %s\x1b[K", strings.Repeat("#", n), strings.Repeat(".", width-n), line)
	if finished == total {
		p.End()
	}
}

// End finishes the bar's line.
func (p *Progress) End() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
