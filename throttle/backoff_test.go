package throttle

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBackoffEqualJitterCapped(t *testing.T) {
	for n := 0; n <= 40; n++ {
		want := min(time.Second<<min(n, 10), time.Minute)
		for range 50 {
			if d := Backoff(n, time.Second, time.Minute); d < want/2 || d > want {
				t.Fatalf("Backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on a cancelled ctx = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Sleep on a cancelled ctx took %v", el)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep(1ms) = %v", err)
	}
}
