package records

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
	"github.com/redis/go-redis/v9"
)

// TestCreateClaimKeepsTwoRunsOfOneAttemptFromCreatingTogether: the second
// run of an attempt (a failover lost asynq's dequeue, so the task was
// handed out twice) neither claims nor judges the first run's mark while
// that create may be in flight; it may once the first run says its create
// is over, once the mark is older than a create can take, or when it is
// a later attempt. A record past creating is never claimed.
func TestCreateClaimKeepsTwoRunsOfOneAttemptFromCreatingTogether(t *testing.T) {
	ctx := context.Background()
	p := NewProgresses(redistest.Start(t).Client(t))
	const window = time.Minute
	first, second := CreateOwner{Run: "run-a", Attempt: 2}, CreateOwner{Run: "run-b", Attempt: 2}
	now := time.UnixMilli(time.Now().UnixMilli()) // records keep ms
	if err := p.Claim(ctx, "k", first, now, window); err != nil {
		t.Fatal(err)
	}
	var inFlight *CreateInFlightError
	err := p.Claim(ctx, "k", second, now.Add(10*time.Second), window)
	if !errors.Is(err, ErrCreateInFlight) || !errors.As(err, &inFlight) || inFlight.Wait != 50*time.Second {
		t.Fatalf("second run's claim 10 s after the first: %v, want in flight for 50s", err)
	}
	got, _ := p.Get(ctx, "k")
	if left, ok := got.InFlight(second, now.Add(10*time.Second), window); !ok || left != 50*time.Second {
		t.Errorf("the mark as the second run reads it: in flight %v for %v, want true for 50s", ok, left)
	}
	if _, ok := got.InFlight(first, now, window); ok {
		t.Error("a run's own mark reads as another's create in flight")
	}
	if _, ok := got.InFlight(CreateOwner{Run: "run-c", Attempt: 3}, now, window); ok {
		t.Error("a later attempt reads an earlier attempt's mark as in flight: that attempt is over")
	}
	if err := p.Claim(ctx, "k", first, now.Add(time.Second), window); err != nil {
		t.Errorf("the owner claims again: %v", err)
	}
	if err := p.Claim(ctx, "k", second, now.Add(window+2*time.Second), window); err != nil {
		t.Errorf("claim of a mark older than the window: %v", err)
	}

	// Settled: the owner's create answered ambiguously (or was never sent).
	if err := p.Claim(ctx, "s", first, now, window); err != nil {
		t.Fatal(err)
	}
	if err := p.Settle(ctx, "s", "someone-else"); err != nil {
		t.Fatal(err)
	}
	if err := p.Claim(ctx, "s", second, now, window); !errors.Is(err, ErrCreateInFlight) {
		t.Fatalf("another run settled a mark not its own: claim %v, want in flight", err)
	}
	if err := p.Settle(ctx, "s", first.Run); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.Get(ctx, "s"); !got.CreateSettled {
		t.Fatalf("settled mark reads %+v", got)
	}
	if err := p.Claim(ctx, "s", second, now, window); err != nil {
		t.Fatalf("claim of a settled mark: %v", err)
	}
	if got, _ := p.Get(ctx, "s"); got.CreateRun != second.Run || got.CreateSettled || got.State != StateCreating {
		t.Fatalf("after the second run's claim: %+v, want its own unsettled mark", got)
	}

	// Past creating: the first run recorded its asset after the second read.
	if err := p.Created(ctx, "s", "asset"); err != nil {
		t.Fatal(err)
	}
	if err := p.Claim(ctx, "s", first, now, window); !errors.Is(err, ErrPastCreating) {
		t.Fatalf("claim over a recorded asset: %v, want ErrPastCreating", err)
	}
	if got, _ := p.Get(ctx, "s"); got.State != StateUploading || got.AssetID != "asset" {
		t.Fatalf("a refused claim changed the record: %+v", got)
	}
}

// TestGuardWritesRunOnARedisThatLostItsScripts: the claim and the asset
// record go by SHA; on a Redis without the scripts (a restart, a failover
// to a replica that never ran them, SCRIPT FLUSH) each is loaded and the
// write made once, with the claim's answer intact.
func TestGuardWritesRunOnARedisThatLostItsScripts(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	p := NewProgresses(rdb)
	owner := CreateOwner{Run: "run-a", Attempt: 0}
	now := time.UnixMilli(time.Now().UnixMilli())
	for i, key := range []string{"a", "b"} {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := p.Claim(ctx, key, owner, now, time.Minute); err != nil {
			t.Fatalf("claim %d after SCRIPT FLUSH: %v", i, err)
		}
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := p.Claim(ctx, key, CreateOwner{Run: "run-b", Attempt: 0}, now, time.Minute); !errors.Is(err, ErrCreateInFlight) {
			t.Fatalf("another run's claim %d after SCRIPT FLUSH: %v, want in flight", i, err)
		}
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := p.Created(ctx, key, "asset-"+key); err != nil {
			t.Fatalf("record asset %d after SCRIPT FLUSH: %v", i, err)
		}
		got, err := p.Get(ctx, key)
		if err != nil || got.State != StateUploading || got.AssetID != "asset-"+key || got.CreateRun != "" {
			t.Fatalf("record %d: %+v, %v; want uploading asset-%s, the mark replaced", i, got, err, key)
		}
	}
}

// TestClaimFirstClaimsOnlyANewRecord: a first run that did not read the
// record claims it only if nobody else wrote it, marking the task active
// in its batch in the same round trip; any other record (a stale or
// settled mark, an asset) is left as it was for the caller to read: a
// stale mark must be judged by a listing, never overwritten unread. After
// SCRIPT FLUSH the same holds.
func TestClaimFirstClaimsOnlyANewRecord(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	p, b := NewProgresses(rdb), NewBatches(rdb)
	const window = time.Minute
	me, other := CreateOwner{Run: "run-a"}, CreateOwner{Run: "run-b"}
	now := time.UnixMilli(time.Now().UnixMilli())
	for _, flush := range []bool{false, true} {
		batch := fmt.Sprintf("b-%v", flush)
		key := func(k string) string { return fmt.Sprintf("%s-%v", k, flush) }
		if err := b.Add(ctx, batch, []string{"t1", "t2", "t3"}); err != nil {
			t.Fatal(err)
		}
		if flush {
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.ClaimFirst(ctx, key("new"), me, now, window, batch, "t1", nil); err != nil {
			t.Fatalf("flush %v: claim of a new record: %v", flush, err)
		}
		if got, _ := p.Get(ctx, key("new")); got.State != StateCreating || got.CreateRun != me.Run {
			t.Errorf("flush %v: new record after the claim: %+v", flush, got)
		}
		if err := p.ClaimFirst(ctx, key("new"), me, now, window, batch, "t1", nil); err != nil {
			t.Errorf("flush %v: the run's own claim again (a pipeline sent twice): %v", flush, err)
		}

		// Another run's mark, settled: Claim would take it over, ClaimFirst
		// leaves it for the caller to read and judge by a listing.
		if err := p.Claim(ctx, key("stale"), other, now.Add(-2*window), window); err != nil {
			t.Fatal(err)
		}
		if err := p.Settle(ctx, key("stale"), other.Run); err != nil {
			t.Fatal(err)
		}
		if err := p.ClaimFirst(ctx, key("stale"), me, now, window, batch, "t2", nil); !errors.Is(err, ErrPastCreating) {
			t.Errorf("flush %v: claim over another run's unread mark: %v, want ErrPastCreating", flush, err)
		}
		if got, _ := p.Get(ctx, key("stale")); got.CreateRun != other.Run || !got.CreateSettled {
			t.Errorf("flush %v: a refused claim changed the record: %+v", flush, got)
		}
		if err := p.Created(ctx, key("made"), "asset"); err != nil {
			t.Fatal(err)
		}
		if err := p.ClaimFirst(ctx, key("made"), me, now, window, batch, "t3", nil); !errors.Is(err, ErrPastCreating) {
			t.Errorf("flush %v: claim over a recorded asset: %v, want ErrPastCreating", flush, err)
		}
		if got, _ := p.Get(ctx, key("made")); got.State != StateUploading || got.AssetID != "asset" {
			t.Errorf("flush %v: a refused claim changed the record: %+v", flush, got)
		}
		st, err := b.Status(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if st.Counts[Active] != 3 || st.Counts[Pending] != 0 {
			t.Errorf("flush %v: batch counts %v, want all 3 tasks active (claimed or not)", flush, st.Counts)
		}
	}
}

// TestPartOfAReplacedAssetIsNotRecorded: a part finished for an asset the
// record no longer names (another run started the file over; or a cut-off
// worker's write landing after the path healed) is refused, and the
// record of the asset it names now is left as it was: the new upload must
// PUT that part itself.
func TestPartOfAReplacedAssetIsNotRecorded(t *testing.T) {
	ctx := context.Background()
	p := NewProgresses(redistest.Start(t).Client(t))
	if err := p.Created(ctx, "k", "asset-old"); err != nil {
		t.Fatal(err)
	}
	if err := p.PartDone(ctx, "k", "asset-old", 0); err != nil {
		t.Fatal(err)
	}
	if err := p.Created(ctx, "k", "asset-new"); err != nil { // started over
		t.Fatal(err)
	}
	if err := p.PartDone(ctx, "k", "asset-old", 1); !errors.Is(err, ErrAssetReplaced) {
		t.Errorf("a part of the replaced asset: %v, want ErrAssetReplaced", err)
	}
	if err := p.PartDone(ctx, "k", "asset-new", 2); err != nil {
		t.Fatal(err)
	}
	got, _ := p.Get(ctx, "k")
	if got.AssetID != "asset-new" || got.PartsDone[0] || got.PartsDone[1] || !got.PartsDone[2] {
		t.Errorf("record %+v: want asset-new with part 2 only", got)
	}
}

// The caller's commands (the create's permit) ride in the claim's round
// trip, and their failure is theirs: the claim stands.
func TestClaimFirstCarriesTheCallersCommands(t *testing.T) {
	ctx := t.Context()
	rdb := redistest.Start(t).Client(t)
	var hook redistest.Counter
	rdb.AddHook(&hook)
	p, b := NewProgresses(rdb), NewBatches(rdb)
	if err := b.Add(ctx, "B", []string{"t1"}); err != nil {
		t.Fatal(err)
	}
	if err := p.ClaimFirst(ctx, "warm", CreateOwner{Run: "w"}, time.Now(), time.Minute, "B", "t0", nil); err != nil {
		t.Fatal(err)
	}
	hook.Reset()
	var set, broken redis.Cmder
	also := func(pipe redis.Pipeliner) {
		set = pipe.Set(ctx, "caller:key", "1", 0)
		broken = pipe.EvalSha(ctx, "0000000000000000000000000000000000000000", nil)
	}
	if err := p.ClaimFirst(ctx, "k", CreateOwner{Run: "r"}, time.Now(), time.Minute, "B", "t1", also); err != nil {
		t.Fatalf("claim with a failing command of the caller's: %v, want it to stand", err)
	}
	if n := hook.RoundTrips(); n != 1 {
		t.Errorf("%d round trips, want 1", n)
	}
	if set.Err() != nil || !redis.HasErrorPrefix(broken.Err(), "NOSCRIPT") {
		t.Errorf("the caller's commands: set %v, evalsha %v; want ok and NOSCRIPT", set.Err(), broken.Err())
	}
	if got, _ := p.Get(ctx, "k"); got.State != StateCreating || got.CreateRun != "r" {
		t.Errorf("record after the claim: %+v", got)
	}
}
