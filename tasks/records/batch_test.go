package records

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
)

func TestBatchCountsStayExactUnderConcurrentMoves(t *testing.T) {
	ctx := context.Background()
	b := NewBatches(redistest.Start(t).Client(t))
	ids := []string{"t1", "t2", "t3", "t4"}
	if err := b.Add(ctx, "B", ids); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, "B", ids[:2]); err != nil { // a second Add changes nothing
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.Set(ctx, "B", "t1", Active, nil)
			b.Set(ctx, "B", "t1", Retrying, nil)
		}()
	}
	wg.Wait()
	b.Set(ctx, "B", "t1", Done, nil)
	b.Set(ctx, "B", "t1", Active, nil) // done is final
	b.Set(ctx, "B", "t2", Failed, &Failure{Path: "x/y.mov", Class: "terminal", Reason: "403 Forbidden"})
	b.Remove(ctx, "B", "t4")
	st, err := b.Status(ctx, "B")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{Pending: 1, Active: 0, Retrying: 0, Done: 1, Failed: 1}
	for k, v := range want {
		if st.Counts[k] != v {
			t.Errorf("%s = %d, want %d (all %v)", k, st.Counts[k], v, st.Counts)
		}
	}
	if st.Total() != 3 || st.Finished() {
		t.Errorf("total %d finished %v", st.Total(), st.Finished())
	}
	fails, _ := b.Failures(ctx, "B")
	if len(fails) != 1 || fails[0].TaskID != "t2" || fails[0].Reason != "403 Forbidden" {
		t.Errorf("failures %+v", fails)
	}
	// A retried failure leaves the failure list.
	b.Set(ctx, "B", "t2", Pending, nil)
	if fails, _ := b.Failures(ctx, "B"); len(fails) != 0 {
		t.Errorf("failure kept after retry: %+v", fails)
	}
}

func TestProgressRecord(t *testing.T) {
	ctx := context.Background()
	p := NewProgresses(redistest.Start(t).Client(t))
	got, err := p.Get(ctx, "k")
	if err != nil || got.State != StateNew {
		t.Fatalf("new record: %+v %v", got, err)
	}
	p.Creating(ctx, "k", got.CreateStarted)
	p.Created(ctx, "k", "asset-1")
	p.PartDone(ctx, "k", "asset-1", 0)
	p.PartDone(ctx, "k", "asset-1", 2)
	got, _ = p.Get(ctx, "k")
	if got.State != StateUploading || got.AssetID != "asset-1" || !got.PartsDone[0] || got.PartsDone[1] || !got.PartsDone[2] {
		t.Errorf("uploading record: %+v", got)
	}
	p.Done(ctx, "k", "asset-1")
	done, err := p.IsDone(ctx, []string{"k", "other"})
	if err != nil || !done[0] || done[1] {
		t.Errorf("IsDone = %v, %v", done, err)
	}
}

// A state change renews the batch's six keys together once their TTL has
// run down by ttlSlack, and leaves a fresh TTL alone (six EXPIREs a change
// were half of the script's commands). A failures hash made by the change
// gets its TTL at once.
func TestSetRenewsTheBatchTTLOnlyOnceItRunsDown(t *testing.T) {
	ctx := t.Context()
	rdb := redistest.Start(t).Client(t)
	b := NewBatches(rdb)
	if err := b.AddSized(ctx, "B", []string{"t1", "t2", "t3"}, []int64{10, 20, 30}); err != nil {
		t.Fatal(err)
	}
	keys := batchKeys("B")
	ttls := func() []time.Duration {
		t.Helper()
		var out []time.Duration
		for _, k := range keys {
			d, err := rdb.TTL(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
		return out
	}
	fresh := batchTTL - ttlSlack/2
	for _, k := range keys {
		rdb.Expire(ctx, k, fresh)
	}
	if err := b.Set(ctx, "B", "t1", Active, nil); err != nil {
		t.Fatal(err)
	}
	for i, d := range ttls() {
		if d > fresh {
			t.Errorf("%s: TTL %v after a change within the slack, want it left at %v or less", keys[i], d, fresh)
		}
	}
	if err := b.Set(ctx, "B", "t2", Failed, &Failure{Reason: "403"}); err != nil {
		t.Fatal(err)
	}
	if d := rdb.TTL(ctx, keys[2]).Val(); d < batchTTL-time.Minute {
		t.Errorf("failures hash made by the change: TTL %v, want %v", d, batchTTL)
	}
	stale := batchTTL - 2*ttlSlack
	for _, k := range keys {
		rdb.Expire(ctx, k, stale)
	}
	if err := b.Set(ctx, "B", "t1", Done, nil); err != nil {
		t.Fatal(err)
	}
	for i, d := range ttls() {
		if d >= 0 && d < batchTTL-time.Minute {
			t.Errorf("%s: TTL %v after a change past the slack, want %v", keys[i], d, batchTTL)
		}
		if d == -1 {
			t.Errorf("%s: no TTL", keys[i])
		}
	}
}

// A state change that makes the batch's state hash (no Add before it)
// gives it a TTL: an untimed key would live forever.
func TestSetOnANewBatchGivesItsKeysATTL(t *testing.T) {
	ctx := t.Context()
	rdb := redistest.Start(t).Client(t)
	if err := NewBatches(rdb).Set(ctx, "N", "t1", Active, nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range batchKeys("N")[:2] {
		if d := rdb.TTL(ctx, k).Val(); d < batchTTL-time.Minute {
			t.Errorf("%s: TTL %v, want %v", k, d, batchTTL)
		}
	}
}
