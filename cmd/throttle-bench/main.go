// Command throttle-bench compares package throttle with
// github.com/go-redis/redis_rate/v10 and a per-process golang.org/x/time/rate
// limiter at 5 creates/s, and prints one table, every row measured in the
// same run:
//
//	go run ./cmd/throttle-bench [-duration 20s] [-contended 10s] [-procs 4] [-goroutines 8] [-margin 0.02]
//
// Columns, for each limiter:
//   - acquire p50/p99: one attempt when a permit is free (the cost added to
//     every API call), over -samples attempts in this process;
//   - wait p50/p99/max and cmds/acq (1 proc): -goroutines goroutines of this
//     process calling Wait for -contended at 5/s; max is the longest any
//     caller waited (starvation shows here);
//   - the rest: -procs worker processes × -goroutines goroutines, for
//     -duration each, acquiring then POSTing a folder to the frame.io
//     simulator enforcing a strict sliding window of 5 creates/s: achieved
//     rate, its % of the limit, 429s, the most creates sent (by the limiter)
//     and accepted (by the simulator) in any 1 s window, the longest any
//     worker waited, and Redis commands per acquire.
//
// It starts its own redis-server (from PATH) and simulator on loopback.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/frameq/frameq/cmdline"
)

// childFlag marks a worker process; its value is the JSON childSpec.
const childFlag = "child"

type options struct {
	duration, contended time.Duration
	procs, goroutines   int
	samples, rate       int
	margin              float64
}

func main() {
	var o options
	child := flag.String(childFlag, "", "internal: run as a worker process with this JSON spec")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "multi-process run per limiter")
	flag.DurationVar(&o.contended, "contended", 10*time.Second, "single-process contended run per limiter")
	flag.IntVar(&o.procs, "procs", 4, "worker processes in the multi-process run")
	flag.IntVar(&o.goroutines, "goroutines", 8, "goroutines per process")
	flag.IntVar(&o.samples, "samples", 2000, "uncontended acquire attempts per limiter")
	flag.IntVar(&o.rate, "rate", 5, "creates per second: the simulator's strict limit and every limiter's")
	flag.Float64Var(&o.margin, "margin", 0.02, "throttle's Config.Margin (room for loopback jitter against a strict window)")
	flag.CommandLine.Init("throttle-bench", flag.ContinueOnError)
	if code, ok := cmdline.Parse(flag.CommandLine, os.Args[1:], "usage: throttle-bench [flags]\n\nCompares rate limiters against the simulator's strict window. Flags:", os.Stdout); !ok {
		os.Exit(code)
	}
	if *child != "" {
		if err := runChild(*child); err != nil {
			fmt.Fprintln(os.Stderr, "throttle-bench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "throttle-bench:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "throttle-bench:", err)
		os.Exit(1)
	}
}

func (o options) validate() error {
	switch {
	case o.duration <= 0:
		return fmt.Errorf("-duration %v: must be positive", o.duration)
	case o.contended <= 0:
		return fmt.Errorf("-contended %v: must be positive", o.contended)
	case o.procs <= 0:
		return fmt.Errorf("-procs %d: must be positive", o.procs)
	case o.goroutines <= 0:
		return fmt.Errorf("-goroutines %d: must be positive", o.goroutines)
	case o.samples <= 0:
		return fmt.Errorf("-samples %d: must be positive", o.samples)
	case o.rate <= 0:
		return fmt.Errorf("-rate %d: must be positive", o.rate)
	case o.margin < 0 || o.margin >= 0.5:
		return fmt.Errorf("-margin %v: must be in [0, 0.5)", o.margin)
	}
	return nil
}
