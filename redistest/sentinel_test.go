package redistest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/redistest"
)

// TestSentinelFailsOver: a write the replica acknowledged (WAIT) survives
// the master's death, the Sentinel promotes the replica, and the failover
// client writes to it without being told.
func TestSentinelFailsOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := redistest.StartSentinel(t, redistest.SentinelOptions{})
	rdb := s.Client(t)
	if err := rdb.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1: %d replicas, %v", n, err)
	}
	old, err := s.KillMaster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	addr, err := s.WaitFailover(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("failover %s → %s in %s", old, addr, time.Since(start).Round(time.Millisecond))
	if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "before" {
		t.Errorf("after failover: %q, %v; want the replicated write", got, err)
	}
	if err := rdb.Set(ctx, "k", "after", 0).Err(); err != nil {
		t.Errorf("write after failover: %v", err)
	}
}

// TestLaggedSentinelLosesTheLastWritesUnlessWaitedFor: with replication held
// back by the lag proxies, a failover loses what the master took in its last
// moments, but not a write WAIT saw on a replica; the killed master rejoins
// as a replica and a second failover promotes it back.
func TestLaggedSentinelLosesTheLastWritesUnlessWaitedFor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := redistest.StartSentinel(t, redistest.SentinelOptions{Lag: 300 * time.Millisecond})
	rdb := s.Client(t)
	for round := range 2 {
		old, err := s.Master(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var acked *redis.Cmd
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "waited", round, 0)
			acked = p.Do(ctx, "wait", 1, 2000)
			return nil
		}); err != nil || acked.Val() != int64(1) {
			t.Fatalf("round %d: WAIT: %v %v", round, acked.Val(), err)
		}
		if err := rdb.Set(ctx, "unwaited", round, 0).Err(); err != nil {
			t.Fatal(err)
		}
		lost := s.Lost()
		if _, err := s.KillMaster(ctx); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		next, err := s.Failover(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: failed over in %v", round, time.Since(t0))
		if s.Lost() == lost {
			t.Errorf("round %d: the lag proxy dropped nothing at the kill", round)
		}
		if got, err := rdb.Get(ctx, "waited").Int(); err != nil || got != round {
			t.Errorf("round %d: waited write on %s: %v %v, want %d", round, next, got, err, round)
		}
		if got, err := rdb.Get(ctx, "unwaited").Result(); !errors.Is(err, redis.Nil) {
			t.Errorf("round %d: unwaited write survived the failover: %q %v", round, got, err)
		}
		t0 = time.Now()
		if err := s.Rejoin(ctx, old); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: rejoined in %v", round, time.Since(t0))
	}
}
