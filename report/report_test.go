package report

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/tasks/records"
)

func status(counts map[string]int64, b records.Bytes) records.Status {
	st := records.Status{Batch: "b", Counts: map[string]int64{}, Bytes: b}
	for _, s := range records.States {
		st.Counts[s] = counts[s]
	}
	return st
}

// The figures: percent by bytes (never 100 % before every file is
// finished), rates averaged since the first sample, ETA from the bytes
// left at that rate, files by count when no size is known.
func TestFigures(t *testing.T) {
	t0 := time.Unix(1000, 0)
	first := sampleOf(status(map[string]int64{records.Pending: 10}, records.Bytes{Total: 1000 << 20}), t0)

	st := status(map[string]int64{records.Done: 4, records.Failed: 1, records.Held: 2, records.Verifying: 1, records.Pending: 2},
		records.Bytes{Total: 1000 << 20, Done: 400 << 20, Failed: 100 << 20})
	f := figures(st, first, t0.Add(10*time.Second))
	if f.Permille != 500 || f.Finished != 5 || f.Elapsed != 10*time.Second {
		t.Errorf("permille %d finished %d elapsed %v; want 500, 5, 10s", f.Permille, f.Finished, f.Elapsed)
	}
	if f.FilesPerSec != 0.5 || f.BytesPerSec != 50<<20 || f.ETA != 10*time.Second {
		t.Errorf("%.2f files/s, %.0f B/s, ETA %v; want 0.5, 50 MiB/s, 10s", f.FilesPerSec, f.BytesPerSec, f.ETA)
	}

	// Every byte in, a file still verifying: not 100 %.
	st = status(map[string]int64{records.Done: 9, records.Verifying: 1}, records.Bytes{Total: 10, Done: 10})
	if f := figures(st, first, t0.Add(time.Second)); f.Permille != 999 {
		t.Errorf("permille %d with a file verifying, want 999", f.Permille)
	}
	// No sizes known (remote files): by files.
	st = status(map[string]int64{records.Done: 1, records.Pending: 3}, records.Bytes{})
	f = figures(st, sampleOf(status(map[string]int64{records.Pending: 4}, records.Bytes{}), t0), t0.Add(4*time.Second))
	if f.Permille != 250 || f.FilesPerSec != 0.25 || f.ETA != 12*time.Second {
		t.Errorf("no sizes: permille %d, %.2f files/s, ETA %v; want 250, 0.25, 12s", f.Permille, f.FilesPerSec, f.ETA)
	}
	// Nothing moved yet: ETA unknown, said so.
	if f := figures(first.status(), first, t0.Add(3*time.Second)); f.ETA >= 0 || !strings.Contains(f.line(0), "ETA ?") {
		t.Errorf("no progress: ETA %v, line %q", f.ETA, f.line(0))
	}
	// Finished: 100 %, ETA 0.
	st = status(map[string]int64{records.Done: 3, records.Skipped: 1}, records.Bytes{Total: 30, Done: 30})
	if f := figures(st, first, t0.Add(time.Second)); f.Permille != 1000 || f.ETA != 0 {
		t.Errorf("finished: permille %d ETA %v", f.Permille, f.ETA)
	}
}

// status rebuilds a Status with a sample's figures, for a still batch.
func (s sample) status() records.Status {
	return status(map[string]int64{records.Pending: 10}, records.Bytes{Total: 1000 << 20})
}

func TestBytesAndDurations(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 27.5 * (1 << 20): "27.5 MiB", 3 << 40: "3.0 TiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	for pair, want := range map[[2]int64]string{{0, 0}: "0/0 B", {3 << 20, 5 << 20}: "3.0/5.0 MiB", {512 << 10, 5 << 30}: "512.0 KiB/5.0 GiB"} {
		if got := bytesOf(pair[0], pair[1]); got != want {
			t.Errorf("bytesOf(%d, %d) = %q, want %q", pair[0], pair[1], got, want)
		}
	}
	for d, want := range map[time.Duration]string{42 * time.Second: "42s", 187 * time.Second: "3m07s", 2*time.Hour + 5*time.Minute: "2h05m"} {
		if got := duration(d); got != want {
			t.Errorf("duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// The terminal line fits its width, dropping the least needed figures
// first; bytes and files stay.
func TestLineFitsTheWidth(t *testing.T) {
	st := status(map[string]int64{records.Done: 400, records.Failed: 3, records.Held: 12, records.Verifying: 5, records.Active: 16,
		records.Retrying: 2, records.Pending: 9000, records.Skipped: 7}, records.Bytes{Total: 3 << 40, Done: 17 << 30})
	t0 := time.Unix(0, 0)
	f := figures(st, sampleOf(status(map[string]int64{records.Pending: 9445}, records.Bytes{Total: 3 << 40}), t0), t0.Add(90*time.Second))
	full := f.line(0)
	for _, want := range []string{"17.0 GiB/3.0 TiB", "410/9445 files", "files/s", "MiB/s", "ETA ", "1m30s", "3 failed", "12 held", "5 verifying", "16 active", "2 retrying", "9000 pending", "7 skipped"} {
		if !strings.Contains(full, want) {
			t.Errorf("line %q lacks %q", full, want)
		}
	}
	for _, width := range []int{200, 80, 60, 40, 20} {
		got := f.line(width)
		if len([]rune(got)) > width && width >= 40 {
			t.Errorf("line(%d) is %d wide: %q", width, len([]rune(got)), got)
		}
		if !strings.Contains(got, "17.0 GiB/3.0 TiB") || !strings.Contains(got, "410/9445 files") {
			t.Errorf("line(%d) = %q lost bytes or files", width, got)
		}
	}
	if got := f.line(60); !strings.Contains(got, "12 held") || !strings.Contains(got, "3 failed") || strings.Contains(got, "pending") {
		t.Errorf("line(60) = %q: want held and failed kept, pending dropped", got)
	}
}

// Every state a batch can hold appears in the plain line, so its numbers
// add up to the total and a stuck batch shows where its files are.
func TestPlainLineCountsEveryState(t *testing.T) {
	counts := map[string]int64{}
	for i, s := range records.States {
		counts[s] = int64(i + 1)
	}
	st := status(counts, records.Bytes{Total: 5 << 20, Done: 1 << 20})
	var buf bytes.Buffer
	p := NewProgress(&buf)
	p.Show(st, nil)
	line := buf.String()
	for _, s := range records.States {
		want := strconv.FormatInt(st.Counts[s], 10) + " " + s
		if s == records.Done {
			want = strconv.FormatInt(st.Counts[s], 10) + "/" + strconv.FormatInt(st.Total(), 10) + " done"
		}
		if !strings.Contains(line, want) {
			t.Errorf("plain line %q lacks %q", line, want)
		}
	}
	var sum int64
	for _, m := range regexp.MustCompile(`(\d+)(/\d+)? (pending|active|retrying|held|verifying|done|failed|skipped)`).FindAllStringSubmatch(line, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		sum += n
	}
	if sum != st.Total() {
		t.Errorf("plain line %q adds up to %d, want %d", line, sum, st.Total())
	}
	for _, want := range []string{"1.0/5.0 MiB", "%", "files/s", "MiB/s", "ETA", "elapsed"} {
		if !strings.Contains(line, want) {
			t.Errorf("plain line %q lacks %q", line, want)
		}
	}
	if strings.ContainsAny(line, "\r\x1b") {
		t.Errorf("plain line has terminal codes: %q", line)
	}
}

// Plain output: a line when something changes, and a heartbeat when
// nothing does; a held reason once, however many polls see it.
func TestPlainLinesOnChangeAndHeldReasonOnce(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf)
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	st := status(map[string]int64{records.Pending: 2}, records.Bytes{})
	holds := []records.Failure{{TaskID: "t1", Reason: "held by the token breaker of token ref \"acme\": run enqueue resume --token-ref acme"}}
	for i := 0; i < 5; i++ {
		p.Show(st, holds)
		now = now.Add(time.Second)
	}
	st.Counts[records.Pending], st.Counts[records.Done] = 1, 1
	p.Show(st, append(holds, records.Failure{TaskID: "t2", Reason: holds[0].Reason}))
	now = now.Add(heartbeat)
	p.Show(st, nil)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want held reason + first + changed + heartbeat:\n%s", len(lines), buf.String())
	}
	if n := strings.Count(buf.String(), "enqueue resume --token-ref acme"); n != 1 || !strings.Contains(lines[0], "held 1 file: held by the token breaker") {
		t.Errorf("held reason said %d times, first line %q", n, lines[0])
	}
}

func TestStatusSaysWhyHeldAndFailed(t *testing.T) {
	st := status(map[string]int64{records.Held: 2, records.Failed: 1}, records.Bytes{Total: 3 << 20, Failed: 1 << 20})
	holds := []records.Failure{{TaskID: "a", Reason: "held by X: run enqueue resume --token-ref x"}, {TaskID: "b", Reason: "held by X: run enqueue resume --token-ref x"}}
	fails := []records.Failure{{Path: "d/f.mov", Class: "terminal", Reason: "403"}, {TaskID: "t9", Class: "vanished", Reason: "vanished from the queue: deleted outside frameq?"}}
	var buf bytes.Buffer
	Status(&buf, st, holds, fails)
	for _, want := range []string{"3 files, 0 B/3.0 MiB uploaded, 1.0 MiB failed", "held:\n  2 files: held by X: run enqueue resume --token-ref x",
		"failures:\n  d/f.mov [terminal] 403\n  task t9 [vanished] vanished from the queue"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, buf.String())
		}
	}
}
