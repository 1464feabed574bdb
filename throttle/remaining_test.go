package throttle

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
)

// fastLimits are 5 creates per 500ms: a window of room passes quickly, and
// a schedule (TAT) key lives long enough (100ms) to be read back.
func fastLimits() map[string]Limit {
	return map[string]Limit{"creates": {Rate: 5, Per: 500 * time.Millisecond}}
}

func TestRoomForAWholeWindowDropsMarginAndNoRoomRestoresIt(t *testing.T) {
	srv := redistest.Start(t)
	a, _ := newLimiter(t, srv, Config{Limits: fastLimits(), Margin: 0.2}, nil)
	b, _ := newLimiter(t, srv, Config{Limits: fastLimits(), Margin: 0.2}, nil)
	ctx := t.Context()
	rate := func() float64 {
		t.Helper()
		st, err := b.State(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		return st.Rates["creates"]
	}
	if got := rate(); got != 8 {
		t.Fatalf("rate before any report = %v/s, want 8 (10 less Margin 0.2)", got)
	}
	// Callers queue (room is evidence), though not for so long that the
	// one report of room below goes stale (two windows) before b's turn.
	book(t, srv, "creates", 300*time.Millisecond)
	if err := a.ObserveRemaining(ctx, "s", "creates", 5, 3); err != nil {
		t.Fatal(err)
	}
	if got := rate(); got != 8 {
		t.Fatalf("rate right after a first report of room = %v/s, want 8: room must last a window", got)
	}
	time.Sleep(510 * time.Millisecond)
	if got := rate(); got != 10 {
		t.Fatalf("rate after a window of room = %v/s, want 10 (no Margin)", got)
	}
	// Any process's answer with less room restores Margin for every one.
	if err := b.Wait(ctx, "s", "creates"); err != nil {
		t.Fatal(err)
	}
	before := tat(t, srv, "creates")
	if err := a.ObserveRemaining(ctx, "s", "creates", 5, 2); err != nil {
		t.Fatal(err)
	}
	if got := rate(); got != 8 {
		t.Fatalf("rate after an answer without room = %v/s, want 8 (Margin back)", got)
	}
	// The schedule moved back by the slack Margin leaves in a window.
	if d := tat(t, srv, "creates") - before; d != 100_000 {
		t.Fatalf("schedule moved %dµs when Margin came back, want 100000 (0.2 × 500ms)", d)
	}
}

// A lone call's answer has room on any server ("9 of 10 left" from a strict
// window too): room while nobody queues for the limit must not drop Margin,
// or the next burst runs at the full rate into a strict window. (Seen: a
// recheck's burst of show_file calls after sparse ones got a 429.)
func TestRoomWhileIdleKeepsMargin(t *testing.T) {
	srv := redistest.Start(t)
	l, _ := newLimiter(t, srv, Config{Limits: fastLimits(), Margin: 0.2}, nil)
	ctx := t.Context()
	for range 3 {
		if err := l.Wait(ctx, "s", "creates"); err != nil {
			t.Fatal(err)
		}
		if err := l.ObserveRemaining(ctx, "s", "creates", 5, 4); err != nil {
			t.Fatal(err)
		}
		time.Sleep(260 * time.Millisecond) // over a window in all, idle between calls
		l.forgetRoom(l.key("s", "adapt") + "\x00r:creates")
	}
	st, err := l.State(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Rates["creates"]; got != 8 {
		t.Fatalf("rate after room reported only while idle = %v/s, want 8 (Margin kept)", got)
	}
}

// book moves limit's schedule ahead of Redis TIME by ahead, as callers
// queueing for it would.
func book(t *testing.T, srv *redistest.Server, limit string, ahead time.Duration) {
	t.Helper()
	rdb := srv.Client(t)
	now, err := rdb.Time(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	at := now.Add(ahead).UnixMicro()
	if err := rdb.Set(t.Context(), DefaultPrefix+":{s}:"+limit, at, ahead+time.Second).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestNoRoomBeforeAWholeWindowKeepsTheSchedule(t *testing.T) {
	srv := redistest.Start(t)
	l, _ := newLimiter(t, srv, Config{Limits: fastLimits(), Margin: 0.2}, nil)
	ctx := t.Context()
	// A strict window's first answers: room, room, then none, all within
	// one window. Margin never went off, so nothing moves.
	if err := l.Wait(ctx, "s", "creates"); err != nil {
		t.Fatal(err)
	}
	before := tat(t, srv, "creates")
	for _, left := range []int{4, 3, 1} {
		if err := l.ObserveRemaining(ctx, "s", "creates", 5, left); err != nil {
			t.Fatal(err)
		}
	}
	if d := tat(t, srv, "creates") - before; d != 0 {
		t.Fatalf("schedule moved %dµs, want 0", d)
	}
}

func TestObserveRemainingRejectsBadInput(t *testing.T) {
	srv := redistest.Start(t)
	l, _ := newLimiter(t, srv, Config{Limits: fastLimits()}, nil)
	ctx := t.Context()
	for _, tc := range []struct {
		scope, limit string
		left         int
		want         string
	}{
		{"", "creates", 1, "scope"},
		{"s", "nope", 1, `"nope"`},
		{"s", "creates", -1, "x-ratelimit-remaining -1"},
	} {
		err := l.ObserveRemaining(ctx, tc.scope, tc.limit, 5, tc.left)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ObserveRemaining(%q, %q, %d) = %v, want an error naming %s", tc.scope, tc.limit, tc.left, err, tc.want)
		}
	}
}

// tat reads a limit's theoretical arrival time (µs) in scope "s".
func tat(t *testing.T, srv *redistest.Server, limit string) int64 {
	t.Helper()
	v, err := srv.Client(t).Get(t.Context(), DefaultPrefix+":{s}:"+limit).Result()
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A late permit moves back only the limits the server reports no room on:
// here creates has had room for a window, calls has not.
func TestLatePermitLeavesRoomyLimitsAlone(t *testing.T) {
	srv := redistest.Start(t)
	l, _ := newLimiter(t, srv, Config{Limits: limits(1), Margin: 0.02}, nil)
	ctx := t.Context()
	book(t, srv, "creates", 3*time.Second) // busy: the room counts
	if err := l.ObserveRemaining(ctx, "s", "creates", 10, 9); err != nil {
		t.Fatal(err)
	}
	if err := srv.Client(t).Del(ctx, l.key("s", "creates")).Err(); err != nil { // the schedule as if idle again
		t.Fatal(err)
	}
	time.Sleep(1010 * time.Millisecond)
	r, err := l.newRequest("s", []string{"calls", "creates"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.acquire(ctx, r, true, time.Time{})
	if err != nil || !res.granted {
		t.Fatalf("acquire = %+v, %v", res, err)
	}
	if res.roomy != 2 { // limits are sorted: calls is bit 0, creates bit 1
		t.Fatalf("roomy mask %b, want 10 (creates only)", res.roomy)
	}
	calls, creates := tat(t, srv, "calls"), tat(t, srv, "creates")
	if err := l.takeReserved(ctx, r, res, time.Now().Add(-60*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if d := tat(t, srv, "creates") - creates; d != 0 {
		t.Fatalf("creates (room to spare) pushed back %dµs, want 0", d)
	}
	if d := tat(t, srv, "calls") - calls; d < 40_000 {
		t.Fatalf("calls (no report of room) pushed back %dµs, want about 50ms", d)
	}
}

// Room reported just before a silence (a Redis outage: the adapt hash
// survives on the append-only file; or a limit left idle) says nothing
// about the silence. Counting the silence as a window of room dropped
// Margin, and the late push-back, for the calls that rushed in after it,
// into a server that may be a strict window. Room must be reported again
// for a whole window after the silence before Margin goes.
func TestRoomBeforeASilenceKeepsMarginAfterIt(t *testing.T) {
	srv := redistest.Start(t)
	l, _ := newLimiter(t, srv, Config{Limits: fastLimits(), Margin: 0.2}, nil)
	ctx := t.Context()
	rate := func() float64 {
		t.Helper()
		st, err := l.State(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		return st.Rates["creates"]
	}
	room := func() {
		t.Helper()
		book(t, srv, "creates", time.Second) // callers queue: room is evidence
		l.forgetRoom(l.key("s", "adapt") + "\x00r:creates")
		if err := l.ObserveRemaining(ctx, "s", "creates", 5, 3); err != nil {
			t.Fatal(err)
		}
	}
	room()
	time.Sleep(1100 * time.Millisecond) // over two windows without an answer
	if got := rate(); got != 8 {
		t.Fatalf("rate after a silence of two windows that followed one report of room = %v/s, want 8 (Margin kept)", got)
	}
	room() // the first answer after the silence starts a new window of room
	if got := rate(); got != 8 {
		t.Fatalf("rate at the first report of room after the silence = %v/s, want 8", got)
	}
	time.Sleep(260 * time.Millisecond)
	room()
	time.Sleep(260 * time.Millisecond)
	if got := rate(); got != 10 {
		t.Fatalf("rate after a window of room reported throughout = %v/s, want 10 (no Margin)", got)
	}
}
