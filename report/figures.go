package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/frameq/frameq/tasks/records"
)

// Figures are what a progress line says about a batch: where its files
// are, how many bytes are in, how fast, and how long until it finishes.
type Figures struct {
	records.Status
	// Finished counts the files done, failed or skipped.
	Finished int64
	// Permille is how far the batch is, in tenths of a percent: by bytes
	// when their total is known, else by files. It reaches 1000 only when
	// every file is finished.
	Permille int64
	// Elapsed is the time since the first sample.
	Elapsed time.Duration
	// FilesPerSec and BytesPerSec are the averages since the first sample.
	FilesPerSec, BytesPerSec float64
	// ETA is the time left at those rates; negative when unknown.
	ETA time.Duration
}

// sample is one reading of a batch's status and when it was taken.
type sample struct {
	at       time.Time
	finished int64
	bytes    int64 // done and failed
}

func sampleOf(st records.Status, at time.Time) sample {
	return sample{at: at, finished: finishedOf(st), bytes: st.Bytes.Done + st.Bytes.Failed}
}

func finishedOf(st records.Status) int64 {
	return st.Counts[records.Done] + st.Counts[records.Failed] + st.Counts[records.Skipped]
}

// figures computes st's Figures, with rates measured from first (taken
// at first.at) to now. Rates are averages over the whole watch, so one
// slow second does not swing the ETA.
func figures(st records.Status, first sample, now time.Time) Figures {
	f := Figures{Status: st, Finished: finishedOf(st), Elapsed: now.Sub(first.at), ETA: -1}
	total := st.Total()
	settled := st.Bytes.Done + st.Bytes.Failed
	switch {
	case st.Finished():
		f.Permille = 1000
	case st.Bytes.Total > 0:
		f.Permille = min(999, settled*1000/st.Bytes.Total)
	case total > 0:
		f.Permille = min(999, f.Finished*1000/total)
	}
	if secs := f.Elapsed.Seconds(); secs >= 1 {
		f.FilesPerSec = float64(f.Finished-first.finished) / secs
		f.BytesPerSec = float64(settled-first.bytes) / secs
	}
	switch {
	case st.Finished():
		f.ETA = 0
	case st.Bytes.Total > 0 && f.BytesPerSec > 0 && settled*100 >= st.Bytes.Total:
		// by bytes once 1 % is in: the first files done may be tiny
		f.ETA = time.Duration(float64(st.Bytes.Total-settled) / f.BytesPerSec * float64(time.Second))
	case f.FilesPerSec > 0:
		f.ETA = time.Duration(float64(total-f.Finished) / f.FilesPerSec * float64(time.Second))
	}
	return f
}

// Bytes formats n in binary units: "512 B", "11.6 MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, exp := float64(n)/unit, 0
	for v >= unit && exp < 5 {
		v /= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}

// bytesOf formats done of total, the unit once when they share it:
// "11.6/27.5 MiB", "512.0 KiB/1.2 GiB".
func bytesOf(done, total int64) string {
	d, t := Bytes(done), Bytes(total)
	if i, j := strings.LastIndexByte(d, ' '), strings.LastIndexByte(t, ' '); d[i:] == t[j:] {
		return d[:i] + "/" + t
	}
	return d + "/" + t
}

// duration formats d to the second, for people: "42s", "3m07s", "2h05m".
func duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// segment is one figure of the progress line; when the line is too wide,
// the segments with the highest drop are left out first.
type segment struct {
	text string
	drop int
}

// Drop order of the line's figures: bytes and files stay; then failed
// and held files (why a batch is stuck), the ETA, the rates, the time.
const (
	keep = iota
	dropStuck
	dropETA
	dropByteRate
	dropFileRate
	dropElapsed
	dropStates // + the state's place in the list
)

func (f Figures) eta() string {
	if f.ETA < 0 {
		return "ETA ?"
	}
	return "ETA " + duration(f.ETA)
}

// segments lists the line's figures in display order. Every state with
// files in it is named, so the counts add up to the total.
func (f Figures) segments() []segment {
	segs := []segment{
		{bytesOf(f.Bytes.Done, f.Bytes.Total), keep},
		{fmt.Sprintf("%d/%d files", f.Finished, f.Total()), keep},
		{fmt.Sprintf("%.1f files/s", f.FilesPerSec), dropFileRate},
		{fmt.Sprintf("%.1f MiB/s", f.BytesPerSec/(1<<20)), dropByteRate},
		{f.eta(), dropETA},
		{duration(f.Elapsed), dropElapsed},
	}
	for i, s := range []string{records.Failed, records.Held, records.Verifying, records.Active, records.Retrying, records.Pending, records.Skipped} {
		if n := f.Counts[s]; n > 0 {
			drop := dropStates + i
			if s == records.Failed || s == records.Held {
				drop = dropStuck
			}
			segs = append(segs, segment{fmt.Sprintf("%d %s", n, s), drop})
		}
	}
	return segs
}

// line joins the segments that fit in width columns (0: all of them),
// leaving out the least needed first.
func (f Figures) line(width int) string {
	segs := f.segments()
	for {
		parts := make([]string, len(segs))
		for i, s := range segs {
			parts[i] = s.text
		}
		out := strings.Join(parts, "  ")
		if width <= 0 || len([]rune(out)) <= width {
			return out
		}
		worst := 0
		for i, s := range segs {
			if s.drop >= segs[worst].drop {
				worst = i
			}
		}
		if segs[worst].drop == keep {
			return out // bytes and files, however narrow
		}
		segs = append(segs[:worst], segs[worst+1:]...)
	}
}

// plain is the line for logs: the percent, bytes, every state, the rates.
func (f Figures) plain() string {
	c := f.Counts
	return fmt.Sprintf("%d.%d%% %s, %d/%d done, %d failed, %d active, %d verifying, %d retrying, %d held, %d pending, %d skipped (already uploaded); %.1f files/s, %.1f MiB/s, %s, elapsed %s",
		f.Permille/10, f.Permille%10, bytesOf(f.Bytes.Done, f.Bytes.Total),
		c[records.Done], f.Total(), c[records.Failed], c[records.Active], c[records.Verifying],
		c[records.Retrying], c[records.Held], c[records.Pending], c[records.Skipped],
		f.FilesPerSec, f.BytesPerSec/(1<<20), f.eta(), duration(f.Elapsed))
}
