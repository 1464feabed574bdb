package records

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
)

// Bytes move with their task's state in the same script: the total from
// Add, done and failed as tasks finish, back out of failed on a retry, and
// out of the batch with a removed task.
func TestBatchBytesFollowTheirTasks(t *testing.T) {
	ctx := context.Background()
	b := NewBatches(redistest.Start(t).Client(t))
	if err := b.AddSized(ctx, "B", []string{"a", "b", "c", "d"}, []int64{100, 20, 3, 0}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddSized(ctx, "B", []string{"a"}, []int64{999}); err != nil { // already in: no change
		t.Fatal(err)
	}
	check := func(step string, want Bytes) {
		t.Helper()
		st, err := b.Status(ctx, "B")
		if err != nil {
			t.Fatal(err)
		}
		if st.Bytes != want {
			t.Errorf("%s: bytes %+v, want %+v", step, st.Bytes, want)
		}
	}
	check("added", Bytes{Total: 123})
	b.Set(ctx, "B", "a", Active, nil)
	b.Set(ctx, "B", "a", Done, nil)
	b.Set(ctx, "B", "a", Done, nil) // a duplicate "done" adds nothing
	check("a done", Bytes{Total: 123, Done: 100})
	b.Set(ctx, "B", "b", Failed, &Failure{Reason: "403"})
	check("b failed", Bytes{Total: 123, Done: 100, Failed: 20})
	b.Set(ctx, "B", "b", Pending, nil)
	check("b retried", Bytes{Total: 123, Done: 100})
	b.Remove(ctx, "B", "c")
	check("c removed", Bytes{Total: 120, Done: 100})
	b.Set(ctx, "B", "d", Done, nil) // unknown size
	check("d done", Bytes{Total: 120, Done: 100})
}

// A batch tracking another's task counts that task's bytes too.
func TestTrackedTaskBytes(t *testing.T) {
	ctx := context.Background()
	b := NewBatches(redistest.Start(t).Client(t))
	b.AddSized(ctx, "owner", []string{"x"}, []int64{50})
	b.Track(ctx, "tracker", map[string]string{"x": "owner"})
	b.Set(ctx, "owner", "x", Done, nil)
	st, err := b.Status(ctx, "tracker")
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes != (Bytes{Total: 50, Done: 50}) || st.Counts[Done] != 1 {
		t.Errorf("tracker: %+v %v", st.Bytes, st.Counts)
	}
}

// Vanish fails an unfinished task with its reason and nothing else: a
// task a worker finished, or one not in the batch, stays as it is.
func TestVanishMovesOnlyUnfinishedTasks(t *testing.T) {
	ctx := context.Background()
	b := NewBatches(redistest.Start(t).Client(t))
	b.AddSized(ctx, "B", []string{"p", "h", "d"}, []int64{10, 20, 30})
	b.Set(ctx, "B", "h", Held, &Failure{TokenRef: "acme", Reason: "breaker open"})
	b.Set(ctx, "B", "d", Done, nil)
	un, err := b.Unfinished(ctx, "B")
	if err != nil || len(un) != 2 {
		t.Fatalf("unfinished = %v, %v", un, err)
	}
	holds, _ := b.Holds(ctx, "B")
	if len(holds) != 1 || holds[0].TokenRef != "acme" || holds[0].TaskID != "h" {
		t.Errorf("holds %+v", holds)
	}
	for _, id := range []string{"p", "h", "d", "nope"} {
		moved, err := b.Vanish(ctx, "B", id, &Failure{Class: "vanished", Reason: "gone"})
		if err != nil {
			t.Fatal(err)
		}
		if want := id == "p" || id == "h"; moved != want {
			t.Errorf("Vanish(%s) = %v, want %v", id, moved, want)
		}
	}
	st, _ := b.Status(ctx, "B")
	if st.Counts[Failed] != 2 || st.Counts[Done] != 1 || st.Total() != 3 || !st.Finished() {
		t.Errorf("counts %v", st.Counts)
	}
	if st.Bytes != (Bytes{Total: 60, Done: 30, Failed: 30}) {
		t.Errorf("bytes %+v", st.Bytes)
	}
	if holds, _ := b.Holds(ctx, "B"); len(holds) != 0 {
		t.Errorf("a vanished task is still held: %+v", holds)
	}
	fails, _ := b.Failures(ctx, "B")
	if len(fails) != 2 || fails[0].Reason != "gone" {
		t.Errorf("failures %+v", fails)
	}
	last, now, err := b.LastAdd(ctx, "B")
	if err != nil || last.IsZero() || now.Sub(last) < 0 || now.Sub(last) > time.Minute {
		t.Errorf("LastAdd = %v, now %v, %v", last, now, err)
	}
}

// Add registers in a command per 1,000 ids (add_tasks): across that
// boundary, an id listed twice counts once with its first size, a task
// already in the batch keeps its state and size, and the counts and bytes
// are those of one HSETNX per id.
func TestAddCountsEachNewTaskOnceAcrossItsCommands(t *testing.T) {
	ctx := context.Background()
	b := NewBatches(redistest.Start(t).Client(t))
	if err := b.AddSized(ctx, "B", []string{"t0001"}, []int64{5}); err != nil {
		t.Fatal(err)
	}
	b.Set(ctx, "B", "t0001", Active, nil)
	var ids []string
	var sizes []int64
	for i := range 2500 {
		ids, sizes = append(ids, fmt.Sprintf("t%04d", i)), append(sizes, int64(i%3)) // sizes 0, 1, 2
	}
	ids, sizes = append(ids, "t0002", "t2400"), append(sizes, 1000, 1000) // listed twice, the second after 1,000 ids
	if err := b.AddSized(ctx, "B", ids, sizes); err != nil {
		t.Fatal(err)
	}
	st, err := b.Status(ctx, "B")
	if err != nil {
		t.Fatal(err)
	}
	// 2,499 new tasks; t0001 keeps "active" and its 5 bytes; sizes 0,1,2 repeat.
	var want int64 = 5
	for i := 2; i < 2500; i++ {
		want += int64(i % 3)
	}
	if st.Counts[Pending] != 2499 || st.Counts[Active] != 1 || st.Total() != 2500 || st.Bytes.Total != want {
		t.Errorf("counts %v, bytes %+v; want 2499 pending, 1 active, %d bytes", st.Counts, st.Bytes, want)
	}
}
