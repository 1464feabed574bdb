package throttle

import (
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
	"github.com/go-redis/redis_rate/v10"
	"golang.org/x/time/rate"
)

// BenchmarkAllow is the cost of one permit decision when a permit is free:
// 5/s with a burst so large the loop never waits. cmds/op counts Redis
// commands through a go-redis hook. For latency percentiles, waits under
// contention and the multi-process comparison, see cmd/throttle-bench.
func BenchmarkAllow(b *testing.B) {
	const burst = 1 << 30
	srv := redistest.Start(b)
	b.Run("throttle", func(b *testing.B) {
		rdb := srv.Client(b)
		hook := &redistest.Counter{}
		rdb.AddHook(hook)
		l, err := New(rdb, Config{Limits: map[string]Limit{"creates": {Rate: 5, Per: time.Second, Burst: burst}}})
		if err != nil {
			b.Fatal(err)
		}
		ctx := b.Context()
		if _, err := l.Allow(ctx, "warm", "creates"); err != nil {
			b.Fatal(err)
		}
		hook.Reset()
		for b.Loop() {
			if w, err := l.Allow(ctx, "s", "creates"); err != nil || w != 0 {
				b.Fatalf("Allow = %v, %v", w, err)
			}
		}
		b.ReportMetric(float64(hook.Commands())/float64(b.N), "cmds/op")
	})
	b.Run("redis_rate", func(b *testing.B) {
		rdb := srv.Client(b)
		hook := &redistest.Counter{}
		rdb.AddHook(hook)
		l := redis_rate.NewLimiter(rdb)
		limit := redis_rate.Limit{Rate: 5, Period: time.Second, Burst: burst}
		ctx := b.Context()
		if _, err := l.Allow(ctx, "warm", limit); err != nil {
			b.Fatal(err)
		}
		hook.Reset()
		for b.Loop() {
			if res, err := l.Allow(ctx, "s", limit); err != nil || res.Allowed != 1 {
				b.Fatalf("Allow = %+v, %v", res, err)
			}
		}
		b.ReportMetric(float64(hook.Commands())/float64(b.N), "cmds/op")
	})
	b.Run("x_time_rate", func(b *testing.B) {
		l := rate.NewLimiter(5, burst)
		for b.Loop() {
			if !l.Allow() {
				b.Fatal("Allow = false")
			}
		}
		b.ReportMetric(0, "cmds/op")
	})
}
