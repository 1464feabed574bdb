package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/throttle"
	"github.com/redis/go-redis/v9"
)

// exampleRedis starts a private redis-server and a client to it; stop
// closes both.
func exampleRedis() (rdb *redis.Client, stop func(), err error) {
	srv, err := redistest.New(redistest.Options{})
	if err != nil {
		return nil, nil, err
	}
	rdb = redis.NewClient(&redis.Options{Addr: srv.Addr()})
	return rdb, func() { rdb.Close(); srv.Close() }, nil
}

func Example() {
	rdb, stop, err := exampleRedis()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	l, err := throttle.New(rdb, throttle.Config{Limits: map[string]throttle.Limit{
		"calls":   {Rate: 50, Per: time.Second},
		"creates": {Rate: 5, Per: time.Second},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	// Before each POST /assets/{id}/children.
	for range 2 {
		if err := l.Wait(ctx, "token:dev", "calls", "creates"); err != nil {
			fmt.Println(err)
			return
		}
	}
	wait, _ := l.Allow(ctx, "token:dev", "creates")
	fmt.Println("third create must wait:", wait > 0 && wait <= 200*time.Millisecond)

	// The server answered 429 with Retry-After: 2: every worker pauses.
	_ = l.Penalize(ctx, "token:dev", 2*time.Second)
	st, _ := l.State(ctx, "token:dev")
	fmt.Printf("creates now %.1f/s, on hold: %v\n", st.Rates["creates"], st.Hold > time.Second)

	// A worker that may not hold its slot for long hands the job back.
	short, _ := throttle.New(rdb, throttle.Config{
		Limits:  map[string]throttle.Limit{"creates": {Rate: 5, Per: time.Second}},
		MaxWait: time.Second,
	})
	var delay *throttle.DelayError
	fmt.Println("requeue:", errors.As(short.Wait(ctx, "token:dev", "creates"), &delay))
	// Output:
	// third create must wait: true
	// creates now 2.5/s, on hold: true
	// requeue: true
}

// A caller that writes to Redis just before its request sends the try for
// the request's permit in the same round trip.
func ExampleLimiter_Stage() {
	rdb, stop, err := exampleRedis()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	l, _ := throttle.New(rdb, throttle.Config{Limits: map[string]throttle.Limit{"creates": {Rate: 5, Per: time.Second}}})
	ctx := context.Background()

	pipe := rdb.Pipeline()
	pipe.HSet(ctx, "progress:file-1", "state", "creating") // the caller's own write
	staged, _ := l.Stage(ctx, pipe, "token:dev", "creates")
	if _, err := pipe.Exec(ctx); err != nil {
		fmt.Println(err)
		return
	}
	// The request's permit, taken from the staged try without asking Redis;
	// had Redis refused it, Wait would queue as usual.
	err = l.Wait(throttle.WithStaged(ctx, staged), "token:dev", "creates")
	fmt.Println("permit:", err == nil)
	// Output:
	// permit: true
}
