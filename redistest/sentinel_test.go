package redistest_test

import (
	"context"
	"testing"
	"time"

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
