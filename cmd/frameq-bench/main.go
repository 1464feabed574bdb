// Command frameq-bench measures frameq against what a user would otherwise
// use and prints one table, every row measured in the same run on this
// machine:
//
//	go run ./cmd/frameq-bench          # the full run (several minutes)
//	go run ./cmd/frameq-bench -quick   # smaller sizes, about two minutes
//	go run ./cmd/frameq-bench -rows 3,4
//
// Rows:
//  1. create-rate adherence: 4 real worker processes × 16 tasks at once
//     against the simulator's strict 5 creates/s and its leaky bucket (as
//     Frame.io documents it), next to the per-process
//     x/time/rate pattern and redis_rate (measured by cmd/throttle-bench,
//     which this program builds and runs);
//  2. limiter cost: acquire latency and Redis commands per permit, ours vs
//     redis_rate (cmd/throttle-bench);
//  3. enqueue: `enqueue manifest` of N remote uploads vs sequential
//     asynq.Client.Enqueue of the same tasks;
//  4. per-task overhead: one worker process vs a bare asynq handler making
//     the same two HTTP calls, limits raised out of the way;
//  5. bytes: a large file uploaded in parts by a worker vs one raw PUT of
//     the same bytes, and the worker's peak RSS;
//  6. memory: worker RSS idle and with N queued tasks, Redis bytes per
//     queued task;
//  7. V4 tree: 4 worker processes upload 600 files in 200 folders against
//     V4's per-route limits, every route a strict window: folder creates
//     (3/s) and file creates (5/s) at once, each against its own limit;
//  8. backlog (opt-in, -rows 8): enqueue N small files and drain them with
//     4 workers, limits out of the way, at each -scale size: enqueue time,
//     drain rate, worker peak RSS, Redis bytes per queued and finished file.
//
// It starts its own redis-server processes (redistest) and simulators
// (frameiosim) on loopback and builds worker, enqueue and throttle-bench
// with `go build`, so it must run inside the frameq module.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/frameq/frameq/cmdline"
)

// bareFlag marks a child process running the bare asynq handler of row 4;
// its value is the JSON bareSpec.
const bareFlag = "bare-worker"

// options are the sizes of every scenario.
type options struct {
	quick  bool
	rows   map[int]bool
	worker string // a worker binary to use instead of building ./cmd/worker
	// baseline is row 4's second worker binary (e.g. main's build), run
	// without verification in every round beside the one under test.
	baseline string
	enqueue  string          // row 3: another enqueue binary timed beside the built one
	row1     map[string]bool // row 1's runs (adherenceRuns names, "alternatives")
	scales   []int           // row 8: backlog sizes

	adherenceFiles int           // row 1: files per frameq run
	limiterRun     time.Duration // rows 1-2: throttle-bench -duration
	limiterWait    time.Duration // row 2: throttle-bench -contended
	limiterSamples int           // row 2: throttle-bench -samples
	enqueueTasks   int           // rows 3, 6
	overheadTasks  int           // row 4
	rounds         int           // rows 3, 4, 5: alternating rounds, median ratio shown
	fileBytes      int64         // row 5
	treeFiles      int           // row 7: files, 3 to a folder
}

func defaults(quick bool) options {
	if quick {
		return options{quick: true, adherenceFiles: 30, limiterRun: 6 * time.Second,
			limiterWait: 2 * time.Second, limiterSamples: 500, enqueueTasks: 20_000,
			overheadTasks: 1000, fileBytes: 256 << 20, rounds: 3, treeFiles: 150}
	}
	return options{adherenceFiles: 150, limiterRun: 30 * time.Second,
		limiterWait: 10 * time.Second, limiterSamples: 2000, enqueueTasks: 100_000,
		overheadTasks: 4000, fileBytes: 1 << 30, rounds: 5, treeFiles: 600}
}

func main() {
	quick := flag.Bool("quick", false, "small sizes: finishes in about two minutes")
	rows := flag.String("rows", "1,2,3,4,5,6,7", "rows to measure, comma-separated")
	rounds := flag.Int("rounds", 0, "alternating rounds of rows 3-5, the median ratio shown (default 5, -quick 3)")
	row1 := flag.String("row1", "strict,leaky,nomargin,alternatives", "row 1's runs: frameq against the strict window, the leaky bucket, with no margin; throttle-bench's alternatives")
	scale := flag.String("scale", "100000,1000000", "row 8's backlog sizes, comma-separated (row 8 runs only when -rows names it)")
	worker := flag.String("worker", "", "use this worker binary instead of building ./cmd/worker (to profile a patched worker)")
	baseline := flag.String("baseline", "", "row 4: also run this worker binary (e.g. main's build) without verification in every round, for a before/after in one run")
	enq := flag.String("enqueue", "", "row 3: also time this enqueue binary's `enqueue manifest` in every round (e.g. main's build, for a before/after)")
	cpuProfile := flag.String("cpuprofile", "", "write this program's CPU profile (the simulator runs in it) to this file")
	bare := flag.String(bareFlag, "", "internal: run the bare asynq handler with this JSON spec")
	flag.CommandLine.Init("frameq-bench", flag.ContinueOnError)
	if code, ok := cmdline.Parse(flag.CommandLine, os.Args[1:], "usage: frameq-bench [flags]\n\nMeasures frameq against the simulator (docs/benchmarks.md). Flags:", os.Stdout); !ok {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *bare != "" {
		if err := runBare(ctx, *bare); err != nil {
			fmt.Fprintln(os.Stderr, "frameq-bench bare worker:", err)
			os.Exit(1)
		}
		return
	}
	o := defaults(*quick)
	o.worker, o.enqueue, o.baseline = *worker, *enq, *baseline
	if *rounds > 0 {
		o.rounds = *rounds
	}
	var err error
	if o.rows, err = parseRows(*rows); err != nil {
		fmt.Fprintln(os.Stderr, "frameq-bench:", err)
		os.Exit(2)
	}
	if o.scales, err = parseScales(*scale); err != nil {
		fmt.Fprintln(os.Stderr, "frameq-bench:", err)
		os.Exit(2)
	}
	if o.row1, err = parseRow1(*row1); err != nil {
		fmt.Fprintln(os.Stderr, "frameq-bench:", err)
		os.Exit(2)
	}
	stopProfile := func() {}
	if *cpuProfile != "" {
		if stopProfile, err = startCPUProfile(*cpuProfile); err != nil {
			fmt.Fprintln(os.Stderr, "frameq-bench:", err)
			os.Exit(2)
		}
	}
	err = run(ctx, o, os.Stdout, os.Stderr)
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "frameq-bench:", err)
		os.Exit(1)
	}
}

// startCPUProfile profiles this process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// parseRow1 reads "-row1 strict,leaky".
func parseRow1(s string) (map[string]bool, error) {
	known := map[string]bool{"alternatives": true}
	for _, r := range adherenceRuns {
		known[r.name] = true
	}
	out := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !known[f] {
			return nil, fmt.Errorf("-row1 %q: %q is none of strict, leaky, nomargin, alternatives", s, f)
		}
		out[f] = true
	}
	return out, nil
}

// parseRows reads "-rows 1,3,6".
func parseRows(s string) (map[int]bool, error) {
	out := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 8 {
			return nil, fmt.Errorf("-rows %q: want numbers from 1 to 8, comma-separated", s)
		}
		out[n] = true
	}
	return out, nil
}
