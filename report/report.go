// Package report shows batch progress to people: a progress line on a
// terminal, plain timestamped lines elsewhere (logs, CI), and the status
// table with the reasons files failed or are held.
//
//	bar := report.NewProgress(os.Stderr)
//	bar.Show(status, holds) // once a second or so
//	bar.End()
package report

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/frameq/frameq/tasks/records"
)

// Status prints a batch's counts and bytes, why files are held, and why
// files failed.
func Status(w io.Writer, st records.Status, holds, fails []records.Failure) {
	failed := ""
	if st.Bytes.Failed > 0 {
		failed = ", " + Bytes(st.Bytes.Failed) + " failed"
	}
	fmt.Fprintf(w, "batch %s: %d files, %s uploaded%s\n", st.Batch, st.Total(), bytesOf(st.Bytes.Done, st.Bytes.Total), failed)
	for _, s := range records.States {
		fmt.Fprintf(w, "  %-9s %d\n", s, st.Counts[s])
	}
	if len(holds) > 0 {
		fmt.Fprintln(w, "held:")
	}
	for _, h := range heldGroups(holds) {
		fmt.Fprintf(w, "  %s\n", h)
	}
	if len(fails) > 0 {
		fmt.Fprintln(w, "failures:")
	}
	for _, f := range fails {
		name := f.Path
		if name == "" { // a vanished task's payload went with it
			name = "task " + f.TaskID
		}
		fmt.Fprintf(w, "  %s [%s] %s\n", name, f.Class, f.Reason)
	}
}

// heldGroup is one reason files are held (in practice one per token ref)
// and how many files it holds.
type heldGroup struct {
	files  int
	reason string
}

func (g heldGroup) String() string {
	return fmt.Sprintf("%d %s: %s", g.files, plural(g.files, "file", "files"), g.reason)
}

func heldGroups(holds []records.Failure) []heldGroup {
	n := map[string]int{}
	for _, h := range holds {
		n[h.Reason]++
	}
	out := make([]heldGroup, 0, len(n))
	for reason, k := range n {
		out = append(out, heldGroup{k, reason})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].reason < out[j].reason })
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Progress shows a batch's progress: on a terminal one line redrawn in
// place, fitted to the terminal's width; elsewhere a plain timestamped
// line on change (and at least every heartbeat), with no escape codes.
//
// The terminal line is drawn by schollz/progressbar rather than
// vbauerster/mpb: one bar fed absolute figures from Redis, drawn when we
// poll, is what it does (mpb's strength, many bars on a render loop of its
// own, is not needed here), and it shrinks the bar to the terminal width.
type Progress struct {
	w     io.Writer
	tty   bool
	width func() int // the terminal's columns
	now   func() time.Time

	first   *sample
	bar     *progressbar.ProgressBar
	last    string    // plain: the figures last printed
	lastAt  time.Time // plain: when
	said    map[string]bool
	stopped bool
}

// heartbeat is how often a plain line is printed when nothing changed, so
// a log shows the watch is alive.
const heartbeat = 30 * time.Second

// NewProgress writes to w; a redrawn line if w is a terminal.
func NewProgress(w io.Writer) *Progress {
	p := &Progress{w: w, tty: IsTerminal(w), now: time.Now, said: map[string]bool{}}
	p.width = func() int { return Width(w) }
	return p
}

// Show draws st. holds are the batch's held records: each reason is said
// once, on its own line, so a stuck batch says why.
func (p *Progress) Show(st records.Status, holds []records.Failure) {
	now := p.now()
	if p.first == nil {
		s := sampleOf(st, now)
		p.first = &s
	}
	f := figures(st, *p.first, now)
	for _, h := range heldGroups(holds) {
		if !p.said[h.reason] { // the count changes; the reason is news once
			p.said[h.reason] = true
			p.say("held " + h.String())
		}
	}
	if p.tty {
		p.draw(f)
		return
	}
	line := f.plain()
	state := fmt.Sprint(st.Counts, st.Bytes)
	if state == p.last && now.Sub(p.lastAt) < heartbeat {
		return
	}
	p.last, p.lastAt = state, now
	fmt.Fprintf(p.w, "%s %s\n", now.Format(time.TimeOnly), line)
}

// say prints a line of its own, above the progress line on a terminal.
func (p *Progress) say(msg string) {
	if p.tty && p.bar != nil {
		fmt.Fprint(p.w, "\r\x1b[2K")
	}
	if !p.tty {
		msg = p.now().Format(time.TimeOnly) + " " + msg
	}
	fmt.Fprintln(p.w, msg)
}

// Fixed parts of the terminal line: "100% " before the bar, its two ends,
// the spaces around the figures, and one column kept free so the line
// never touches the terminal's last column (some wrap there).
const (
	fixedColumns = 5 + 2 + 2 + 1
	minBar       = 8
)

// draw redraws the terminal line. The figures get the width left beside
// a bar of at least minBar columns; the library shrinks the bar to fit.
func (p *Progress) draw(f Figures) {
	cols := p.width()
	text := f.line(cols - fixedColumns - minBar - 1)
	if p.bar == nil {
		p.bar = progressbar.NewOptions64(1000,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetWidth(max(minBar, cols/3)),
			progressbar.OptionUseANSICodes(true),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetDescription(text),
		)
	}
	p.bar.Describe(text)
	_ = p.bar.Set64(f.Permille)
	if f.Permille == 1000 {
		p.End()
	}
}

// End finishes the terminal line, once.
func (p *Progress) End() {
	if p.tty && p.bar != nil && !p.stopped {
		p.stopped = true
		fmt.Fprintln(p.w)
	}
}
