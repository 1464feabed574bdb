package throttle_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/throttle"
	"github.com/redis/go-redis/v9"
)

// Environment of a child process of TestMultiProcess.
const (
	envChild    = "FRAMEQ_THROTTLE_CHILD" // marker: run as a child
	envDuration = "FRAMEQ_THROTTLE_DURATION"
	resultMark  = "THROTTLE-CHILD-RESULT "
)

// childSpec is what the parent tells each child, as JSON in envChild.
type childSpec struct {
	ID         int
	Redis      string
	API        string
	Root       string
	Start, End time.Time
	Goroutines int
	Margin     float64
}

// childResult is what a child reports on stdout.
type childResult struct {
	Created, RateLimited, Other int
	Errors                      []string
	MaxWait, MaxStall           time.Duration
}

// The proof: ≥4 OS processes × 8 goroutines share one limiter
// through Redis against the simulator enforcing a strict sliding window of
// 5 creates/s. Zero 429s, never more than 5 creates in any 1 s window, and
// at least 97% of the limit used. Duration: FRAMEQ_THROTTLE_DURATION
// (default 30s; 10s with -short).
func TestMultiProcess(t *testing.T) {
	if spec := os.Getenv(envChild); spec != "" {
		runChild(t, spec)
		return
	}
	const (
		procs      = 4
		goroutines = 8
		limit      = 5
	)
	run := 30 * time.Second
	if testing.Short() {
		run = 10 * time.Second
	}
	if v := os.Getenv(envDuration); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", envDuration, v, err)
		}
		run = d
	}
	// A proof of 200ms timing needs a machine that keeps 200ms timing. When
	// a run fails and some process of it stalled (another test suite hogging
	// both cores), the run says nothing about the limiter: measure once more.
	for attempt := 1; ; attempt++ {
		failures, stall := measureProcesses(t, procs, goroutines, limit, run)
		if len(failures) == 0 {
			return
		}
		if attempt == 2 || stall < stallLimit {
			for _, f := range failures {
				t.Error(f)
			}
			return
		}
		t.Logf("run %d failed while the machine stalled %v (> %v): measuring again. Failures: %v", attempt, stall, stallLimit, failures)
	}
}

// stallLimit is the scheduling stall beyond which a failed multi-process
// run is attributed to the machine and repeated once.
const stallLimit = 50 * time.Millisecond

// measureProcesses runs the children against a fresh Redis and simulator
// and returns what failed and the longest stall any process saw.
func measureProcesses(t *testing.T, procs, goroutines, limit int, run time.Duration) ([]string, time.Duration) {
	srv := redistest.Start(t)
	defer srv.Close()
	sim := frameiosim.New(frameiosim.Config{
		Enforcement: frameiosim.SlidingWindow, CreateLimit: limit, Window: time.Second,
	})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	start := time.Now().Add(2 * time.Second) // every child is up by then
	spec := childSpec{
		Redis: srv.Addr(), API: sim.URL(), Root: sim.RootFolder("dev-token"),
		Start: start, End: start.Add(run), Goroutines: goroutines, Margin: 0.02,
	}
	stall := stallMeter(start.Add(run))
	results := runChildren(t, procs, spec)

	total := childResult{MaxStall: stall()}
	for _, r := range results {
		total.Created += r.Created
		total.RateLimited += r.RateLimited
		total.Other += r.Other
		total.Errors = append(total.Errors, r.Errors...)
		total.MaxWait = max(total.MaxWait, r.MaxWait)
		total.MaxStall = max(total.MaxStall, r.MaxStall)
	}
	st := sim.Stats()
	created := len(st.CreatesByScope["dev-token"])
	maxWin := sim.MaxCreatesInWindow("dev-token", time.Second)
	util := float64(created) / (float64(limit) * run.Seconds())
	t.Logf("%d procs × %d goroutines, %v: %d creates (%.1f%% of %d/s), %d 429s, max %d in any 1s window, max Wait %v, longest stall %v",
		procs, goroutines, run, created, 100*util, limit, st.RateLimited, maxWin, total.MaxWait, total.MaxStall)
	var failures []string
	fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }
	if len(total.Errors) > 0 {
		fail("child errors: %v", total.Errors)
	}
	if st.RateLimited != 0 || total.RateLimited != 0 {
		fail("429s: simulator %d, clients %d; want 0", st.RateLimited, total.RateLimited)
	}
	if maxWin > limit {
		fail("max creates in a 1s window = %d, limit %d", maxWin, limit)
	}
	if util < 0.97 {
		fail("utilisation %.1f%%, want >= 97%%", 100*util)
	}
	if total.Created != created || total.Other != 0 {
		fail("clients saw %d creates and %d other answers, simulator %d creates", total.Created, total.Other, created)
	}
	if len(failures) > 0 {
		logGaps(t, st.CreatesByScope["dev-token"], time.Second/time.Duration(limit))
	}
	return failures, total.MaxStall
}

// stallMeter measures, until end, the longest a 5ms ticker of this process
// fired late: how long the process was kept off the CPU. The returned func
// waits for end and reports it.
func stallMeter(end time.Time) func() time.Duration {
	const tick = 5 * time.Millisecond
	done := make(chan time.Duration, 1)
	go func() {
		tk := time.NewTicker(tick)
		defer tk.Stop()
		prev, worst := time.Now(), time.Duration(0)
		for now := range tk.C {
			worst = max(worst, now.Sub(prev)-tick)
			prev = now
			if now.After(end) {
				break
			}
		}
		done <- worst
	}()
	return func() time.Duration { return <-done }
}

// logGaps shows where arrivals at the simulator strayed from the interval:
// a long stall of the machine shows up here, not in the limiter.
func logGaps(t *testing.T, times []time.Time, interval time.Duration) {
	for i := 1; i < len(times); i++ {
		if g := times[i].Sub(times[i-1]); g < interval*9/10 || g > interval*12/10 {
			t.Logf("creates %d and %d arrived %v apart", i-1, i, g)
		}
	}
}

// runChildren re-executes the test binary n times as children and returns
// their results.
func runChildren(t *testing.T, n int, spec childSpec) []childResult {
	t.Helper()
	results := make([]childResult, n)
	var wg sync.WaitGroup
	for i := range n {
		spec.ID = i
		b, err := json.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestMultiProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), envChild+"="+string(b))
		wg.Go(func() {
			out, err := cmd.CombinedOutput()
			r, perr := parseResult(out)
			if err != nil || perr != nil {
				t.Errorf("child %d: %v %v\n%s", i, err, perr, out)
				return
			}
			results[i] = r
		})
	}
	wg.Wait()
	return results
}

func parseResult(out []byte) (childResult, error) {
	var r childResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), resultMark); ok {
			return r, json.Unmarshal([]byte(line), &r)
		}
	}
	return r, errors.New("no result line")
}

// runChild is one process: goroutines that each Wait for a "calls" and a
// "creates" permit, then create a folder.
func runChild(t *testing.T, raw string) {
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatalf("child spec: %v", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: spec.Redis})
	defer rdb.Close()
	l, err := throttle.New(rdb, throttle.Config{
		Limits: map[string]throttle.Limit{
			"calls":   {Rate: 50, Per: time.Second},
			"creates": {Rate: 5, Per: time.Second},
		},
		Margin: spec.Margin,
	})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 35 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: spec.Goroutines}}
	stall := stallMeter(spec.End)
	time.Sleep(time.Until(spec.Start))
	ctx, cancel := context.WithDeadline(context.Background(), spec.End)
	defer cancel()

	var mu sync.Mutex
	var res childResult
	var wg sync.WaitGroup
	for g := range spec.Goroutines {
		wg.Go(func() {
			for n := 0; ; n++ {
				began := time.Now()
				if err := l.Wait(ctx, "token:dev", "calls", "creates"); err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						res.Errors = append(res.Errors, err.Error())
						mu.Unlock()
					}
					return
				}
				waited := time.Since(began)
				status, err := createFolder(client, spec, fmt.Sprintf("n-%d-%d-%d", spec.ID, g, n))
				mu.Lock()
				res.MaxWait = max(res.MaxWait, waited)
				switch {
				case err != nil:
					res.Errors = append(res.Errors, err.Error())
				case status == http.StatusCreated || status == http.StatusOK:
					res.Created++
				case status == http.StatusTooManyRequests:
					res.RateLimited++
				default:
					res.Other++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.MaxStall = stall()
	b, _ := json.Marshal(res)
	fmt.Printf("\n%s%s\n", resultMark, b)
}

func createFolder(c *http.Client, spec childSpec, name string) (int, error) {
	body := strconv.Quote(name)
	req, err := http.NewRequest(http.MethodPost, spec.API+"/assets/"+spec.Root+"/children",
		strings.NewReader(`{"type":"folder","name":`+body+`}`))
	if err != nil {
		return 0, fmt.Errorf("create folder %q: %w", name, err)
	}
	req.Header.Set("Authorization", "Bearer dev-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("create folder %q: %w", name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
