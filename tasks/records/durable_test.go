package records

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
)

func TestGuardWritesAreOnTheReplicaWhenTheyReturn(t *testing.T) {
	ctx := context.Background()
	master, reps := redistest.StartReplicated(t, 1, redistest.Options{})
	p := NewProgresses(master.Client(t)).WithDurability(Durability{Replicas: 1, Timeout: time.Second})
	replica := reps[0].Client(t)
	for i := range 50 {
		key := "k" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if err := p.Creating(ctx, key, time.UnixMilli(1000)); err != nil {
			t.Fatal(err)
		}
		// Read straight from the replica: WAIT returned only once it
		// acknowledged the offset, i.e. applied the write.
		if got := ParseProgress(replica.HGetAll(ctx, ProgressKey(key)).Val()); got.State != StateCreating {
			t.Fatalf("%s: replica holds %+v after Creating returned", key, got)
		}
		if err := p.Created(ctx, key, "asset-"+key); err != nil {
			t.Fatal(err)
		}
		got := ParseProgress(replica.HGetAll(ctx, ProgressKey(key)).Val())
		if got.State != StateUploading || got.AssetID != "asset-"+key || !got.CreateStarted.IsZero() {
			t.Fatalf("%s: replica holds %+v after Created returned (want uploading, the asset, no create time)", key, got)
		}
	}
}

func TestGuardWriteNotReplicatedInTimeIsAnError(t *testing.T) {
	ctx := context.Background()
	master, reps := redistest.StartReplicated(t, 1, redistest.Options{})
	p := NewProgresses(master.Client(t)).WithDurability(Durability{Replicas: 1, Timeout: 200 * time.Millisecond})
	if err := reps[0].Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reps[0].Resume() })
	start := time.Now()
	err := p.Creating(ctx, "k", time.Now())
	took := time.Since(start)
	var nr *NotReplicatedError
	if !errors.Is(err, ErrNotReplicated) || !errors.As(err, &nr) || nr.Acked != 0 || nr.Wanted != 1 {
		t.Fatalf("Creating with the replica paused: %v, want ErrNotReplicated with 0 of 1 acked", err)
	}
	if took < 200*time.Millisecond {
		t.Errorf("returned after %v, before the 200ms timeout", took)
	}
	if err := reps[0].Resume(); err != nil {
		t.Fatal(err)
	}
	if err := p.Creating(ctx, "k", time.Now()); err != nil {
		t.Fatalf("Creating once the replica is back: %v", err)
	}
}

func TestGuardWritesWithoutReplicasFailWhenAskedAndPassWhenNot(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	want := NewProgresses(rdb).WithDurability(Durability{Replicas: 1, Timeout: 50 * time.Millisecond})
	if err := want.Created(ctx, "k", "a1"); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("Created on a lone master, 1 replica wanted: %v, want ErrNotReplicated", err)
	}
	plain := NewProgresses(rdb)
	if err := plain.Creating(ctx, "k", time.UnixMilli(5)); err != nil {
		t.Fatal(err)
	}
	if err := plain.Created(ctx, "k", "a2"); err != nil {
		t.Fatal(err)
	}
	if got, err := plain.Get(ctx, "k"); err != nil || got.State != StateUploading || got.AssetID != "a2" || !got.CreateStarted.IsZero() {
		t.Fatalf("record %+v, %v: want uploading a2, the creating fields gone", got, err)
	}
}

// BenchmarkGuardWrites measures the guard writes of one file (the create
// claim, then Created) against a master with one replica on loopback,
// without and with WAIT 1: the cost per file of durable guard records; and,
// for the claim's own cost, the plain Creating mark it replaced.
func BenchmarkGuardWrites(b *testing.B) {
	ctx := context.Background()
	master, _ := redistest.StartReplicated(b, 1, redistest.Options{})
	rdb := master.Client(b)
	seq := 0 // keys stay fresh across -count runs on one server
	for _, c := range []struct {
		name  string
		dur   Durability
		claim bool
	}{
		{"unclaimed-no-wait", Durability{}, false},
		{"no-wait", Durability{}, true},
		{"wait-1-replica", Durability{Replicas: 1, Timeout: time.Second}, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := NewProgresses(rdb).WithDurability(c.dur)
			owner := CreateOwner{Run: "bench"}
			for b.Loop() {
				// As the worker writes them: the create claim (or the plain
				// mark it replaced), then the asset.
				seq++
				key := "bench" + strconv.Itoa(seq)
				var err error
				if c.claim {
					err = p.Claim(ctx, key, owner, time.Now(), time.Minute)
				} else {
					err = p.Creating(ctx, key, time.Now())
				}
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Created(ctx, key, "asset"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestGuardRecordSurvivesAFailoverOnlyWhenWaitedFor: a Sentinel whose
// replica lags by 300 ms (redistest's lag proxy) fails over right after a
// Creating mark is written. Without WAIT the mark is gone on the promoted
// replica: the fault that makes the next attempt create a file again. With
// WAIT it is there (and the record written after the create, unwaited, is
// lost: the next attempt adopts the file by listing its folder).
func TestGuardRecordSurvivesAFailoverOnlyWhenWaitedFor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := redistest.StartSentinel(t, redistest.SentinelOptions{Lag: 300 * time.Millisecond})
	rdb := s.Client(t)
	for round, dur := range []Durability{{}, {Replicas: 1, Timeout: time.Second}, {}, {Replicas: 1, Timeout: time.Second}} {
		p := NewProgresses(rdb).WithDurability(dur)
		key := "file" + string(rune('0'+round))
		if err := p.Creating(ctx, key, time.UnixMilli(42)); err != nil {
			t.Fatal(err)
		}
		// The create is sent; the failover comes before the answer's
		// record (written without waiting) reaches the replica.
		if err := NewProgresses(rdb).Created(ctx, key, "asset"); err != nil {
			t.Fatal(err)
		}
		lost := s.Lost()
		old, err := s.KillMaster(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Failover(ctx, old); err != nil {
			t.Fatal(err)
		}
		if s.Lost() == lost {
			t.Fatalf("round %d: the kill dropped no unreplicated write: the test proves nothing", round)
		}
		got, err := p.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case dur.Replicas == 0 && got.State != StateNew:
			t.Errorf("round %d, no WAIT: the mark survived (%q); the fault did not happen", round, got.State)
		case dur.Replicas > 0 && got.State != StateCreating:
			t.Errorf("round %d, WAIT 1: the mark was lost in the failover (state %q)", round, got.State)
		}
		if err := s.Rejoin(ctx, old); err != nil {
			t.Fatal(err)
		}
	}
}
