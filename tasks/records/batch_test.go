package records

import (
	"context"
	"sync"
	"testing"

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
