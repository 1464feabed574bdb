package redistest

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestCounterCountsCommandsAndRoundTrips(t *testing.T) {
	rdb := Start(t).Client(t)
	var c Counter
	rdb.AddHook(&c)
	ctx := context.Background()
	send := func() {
		t.Helper()
		if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Get(ctx, "k")
			p.Get(ctx, "k")
			p.Get(ctx, "k")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The first round opens connections, whose handshakes are counted too.
	send()
	if c.Commands() < 4 || c.RoundTrips() < 2 {
		t.Fatalf("first round: %d commands, %d round trips; want at least 4, 2", c.Commands(), c.RoundTrips())
	}
	c.Reset()
	if c.Commands() != 0 || c.RoundTrips() != 0 {
		t.Fatalf("after Reset: %d commands, %d round trips", c.Commands(), c.RoundTrips())
	}
	send()
	if got := c.Commands(); got != 4 {
		t.Errorf("Commands = %d, want 4 (1 SET + 3 in the pipeline)", got)
	}
	if got := c.RoundTrips(); got != 2 {
		t.Errorf("RoundTrips = %d, want 2 (SET, pipeline)", got)
	}
}
