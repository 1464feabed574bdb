package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
	"github.com/redis/go-redis/v9"
)

// row is one limiter's figures.
type row struct {
	impl                  string
	acqP50, acqP99        time.Duration
	waitP50, waitP99, max time.Duration
	cmdsOne, cmdsMulti    float64
	rate, pct             float64
	rateLimited, maxInWin int
	maxSent               int // most creates the limiter let through in any 1s
	maxMulti              time.Duration
}

func run(ctx context.Context, o options, w io.Writer) error {
	srv, err := redistest.New(redistest.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	var rows []row
	for i, impl := range []string{implThrottle, implRedisRate, implXRate} {
		r := row{impl: impl}
		prefix := fmt.Sprintf("bench%d", i)
		if err := measureLocal(ctx, o, srv, prefix, &r); err != nil {
			return fmt.Errorf("%s: %w", impl, err)
		}
		if err := measureProcesses(o, srv, prefix+"mp", &r); err != nil {
			return fmt.Errorf("%s: %w", impl, err)
		}
		rows = append(rows, r)
	}
	printTable(w, o, rows)
	return nil
}

// measureLocal fills the single-process columns of r.
func measureLocal(ctx context.Context, o options, srv *redistest.Server, prefix string, r *row) error {
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	cnt := &redistest.Counter{}
	rdb.AddHook(cnt)
	// Uncontended: a limit with room for every attempt, attempts spaced
	// well beyond its 10µs interval.
	free, err := newAcquirer(r.impl, rdb, prefix+"free", 100_000, 0)
	if err != nil {
		return err
	}
	lat := make([]time.Duration, 0, o.samples)
	for range o.samples {
		t0 := time.Now()
		ok, err := free.try(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("uncontended attempt %d refused", len(lat))
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(100 * time.Microsecond)
	}
	r.acqP50, r.acqP99 = quantile(lat, 0.5), quantile(lat, 0.99)

	acq, err := newAcquirer(r.impl, rdb, prefix, o.rate, o.margin)
	if err != nil {
		return err
	}
	cnt.Reset()
	waits := contend(ctx, acq, o.goroutines, o.contended)
	if len(waits) == 0 {
		return fmt.Errorf("no permit in %v", o.contended)
	}
	r.waitP50, r.waitP99, r.max = quantile(waits, 0.5), quantile(waits, 0.99), slices.Max(waits)
	r.cmdsOne = float64(cnt.Commands()) / float64(len(waits))
	return nil
}

// contend runs n goroutines calling wait for d and returns every wait.
func contend(ctx context.Context, acq acquirer, n int, d time.Duration) []time.Duration {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var waits []time.Duration
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				t0 := time.Now()
				if acq.wait(ctx) != nil {
					return
				}
				mu.Lock()
				waits = append(waits, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return waits
}

// measureProcesses fills the multi-process columns of r.
func measureProcesses(o options, srv *redistest.Server, prefix string, r *row) error {
	sim := frameiosim.New(frameiosim.Config{
		Enforcement: frameiosim.SlidingWindow, CreateLimit: o.rate, Window: time.Second,
	})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		return err
	}
	defer sim.Close()
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	start := time.Now().Add(time.Second)
	spec := childSpec{Impl: r.impl, Redis: srv.Addr(), Prefix: prefix, API: sim.URL(),
		Root: sim.RootFolder("dev-token"), Goroutines: o.goroutines, Rate: o.rate, Margin: o.margin,
		Start: start, End: start.Add(o.duration)}
	results, err := runChildren(self, o.procs, spec)
	if err != nil {
		return err
	}
	var acquired int
	var commands int64
	var sent []time.Time
	for _, c := range results {
		acquired += c.Acquired
		commands += c.Commands
		sent = append(sent, c.Sent...)
		r.maxMulti = max(r.maxMulti, c.MaxWait)
	}
	slices.SortFunc(sent, time.Time.Compare)
	r.maxSent = frameiosim.PeakInWindow(sent, time.Second)
	st := sim.Stats()
	created := len(st.CreatesByScope["dev-token"])
	r.rate = float64(created) / o.duration.Seconds()
	r.pct = 100 * r.rate / float64(o.rate)
	r.rateLimited = st.RateLimited
	r.maxInWin = sim.MaxCreatesInWindow("dev-token", time.Second)
	if acquired > 0 {
		r.cmdsMulti = float64(commands) / float64(acquired)
	}
	return nil
}

func runChildren(self string, n int, spec childSpec) ([]childResult, error) {
	results := make([]childResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		spec.ID = i
		b, err := json.Marshal(spec)
		if err != nil {
			return nil, err
		}
		wg.Go(func() {
			out, err := exec.Command(self, "-"+childFlag, string(b)).Output()
			if err == nil {
				err = json.Unmarshal(out, &results[i])
			}
			if err != nil {
				errs[i] = fmt.Errorf("worker %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func printTable(w io.Writer, o options, rows []row) {
	fmt.Fprintf(w, "limit %d creates/s; 1 proc × %d goroutines for %v; %d procs × %d goroutines for %v vs a strict sliding-window simulator; throttle Margin %v\n\n",
		o.rate, o.goroutines, o.contended, o.procs, o.goroutines, o.duration, o.margin)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "limiter\tacquire p50\tacquire p99\twait p50\twait p99\twait max\tcmds/acq 1 proc\tcmds/acq multi\twait max multi\trate/s\t% of limit\t429s\tsent max/1s\taccepted max/1s\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%v\t%v\t%v\t%v\t%v\t%.2f\t%.2f\t%v\t%.2f\t%.1f%%\t%d\t%d\t%d\t\n",
			r.impl, round(r.acqP50), round(r.acqP99), round(r.waitP50), round(r.waitP99), round(r.max),
			r.cmdsOne, r.cmdsMulti, round(r.maxMulti), r.rate, r.pct, r.rateLimited, r.maxSent, r.maxInWin)
	}
	tw.Flush()
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= time.Microsecond:
		return d.Round(100 * time.Nanosecond)
	}
	return d
}
