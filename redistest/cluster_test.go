package redistest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/frameq/frameq/redistest"
)

// TestClusterServesEverySlot: a key in each master's share of the slots is
// written and read back through the cluster client, and a multi-key
// command across slots is refused, so the cluster is a real one.
func TestClusterServesEverySlot(t *testing.T) {
	ctx := context.Background()
	c := redistest.StartCluster(t, 3)
	rdb := c.Client(t)
	owners := map[string]bool{}
	for i := 0; i < 30; i++ {
		k := fmt.Sprintf("k%d", i)
		if err := rdb.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
		node, err := rdb.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		owners[node.Options().Addr] = true
	}
	if len(owners) != 3 {
		t.Errorf("30 keys landed on %d masters, want 3", len(owners))
	}
	err := rdb.Do(ctx, "MSET", "{a}x", 1, "{b}y", 2).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Errorf("MSET across slots: %v; want CROSSSLOT", err)
	}
}
