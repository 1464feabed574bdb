package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
)

// TestSentinelFailoverRightAfterCreates: Redis replicates asynchronously,
// so a Sentinel failover loses what the master acknowledged and had not yet
// sent to its replica. Here replication lags by 100 ms (redistest's lag
// proxy) and the master is killed the moment the simulator has made a file,
// 20 times: the writes of the last 100 ms are gone with it, the "creating"
// mark of that file among them unless the worker waited for a replica to
// hold it (FRAMEQ_REDIS_WAIT_REPLICAS, auto = 1 with Sentinel). Without the
// wait the next attempt finds no record and creates the file again.
// Every round first checks that its kill really dropped unreplicated
// writes; in the end every file is in Frame.io once and intact.
//
// Unfinished, so opt-in (FRAMEQ_FAILOVER_E2E=1): on the shared 2-core
// machine some rounds stall for up to a minute (workers meet EOF from
// the killed master's address long after the failover, and outcomes asynq
// could not write wait for lease recovery), and once the Sentinel found no
// fit replica and postponed the failover by 20 s. The mechanism itself is
// proved by tasks/records TestGuardRecordSurvivesAFailoverOnlyWhenWaitedFor.
func TestSentinelFailoverRightAfterCreates(t *testing.T) {
	if os.Getenv("FRAMEQ_FAILOVER_E2E") != "1" {
		t.Skip("set FRAMEQ_FAILOVER_E2E=1 to run (unfinished: see the comment)")
	}
	failoverRightAfterCreates(t, nil)
}

func failoverRightAfterCreates(t *testing.T, extra []string) {
	t.Parallel() // mostly waiting for failovers
	const (
		rounds   = 20
		perRound = 3
		lag      = 100 * time.Millisecond
		partSize = 16 << 10
	)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	s := redistest.StartSentinel(t, redistest.SentinelOptions{Lag: lag})
	trip := &createTrip{kill: func() (string, error) { return s.KillMaster(ctx) }, tripped: make(chan tripReport, 1)}
	r := newTopoRig(t, frameiosim.Config{CreateLimit: 20, CallLimit: 200, PartSize: partSize, Seed: 15},
		rigOptions{front: trip.wrap, worker: append([]string{
			"FRAMEQ_CREATE_RATE=20/s", "FRAMEQ_CALL_RATE=200/s", "FRAMEQ_CONCURRENCY=2", "FRAMEQ_VERIFY_UPLOADS=false",
		}, extra...)},
		"FRAMEQ_REDIS_SENTINEL_ADDRS="+s.Addr(), "FRAMEQ_REDIS_SENTINEL_MASTER="+s.MasterName())
	root := r.sim.RootFolder(frameiosim.DefaultToken)
	workers := []*proc{r.spawn("w1", "FRAMEQ_LOG_LEVEL=debug"), r.spawn("w2", "FRAMEQ_LOG_LEVEL=debug")}
	if d := os.Getenv("FO_DEBUG_DIR"); d != "" {
		t.Cleanup(func() {
			for _, w := range workers {
				_ = os.WriteFile(filepath.Join(d, w.name+".log"), []byte(w.logText()), 0o644)
			}
			_ = os.WriteFile(filepath.Join(d, "sim.log"), []byte(r.simLog.text()), 0o644)
		})
		t.Cleanup(func() { _ = os.WriteFile(filepath.Join(d, "sentinel.log"), []byte(s.DebugLog()), 0o644) })
	}

	want := map[string]string{}
	var batches []string
	var lost []int64
	var took []time.Duration
	start := time.Now()
	for round := 0; len(lost) < rounds; round++ {
		if round == rounds+rounds/2 {
			t.Fatalf("only %d of %d rounds dropped unreplicated writes at the kill: the test proves too little", len(lost), round)
		}
		dir := filepath.Join(r.root, fmt.Sprintf("round%02d", round))
		for i := range perRound {
			name := fmt.Sprintf("r%02d-f%d.bin", round, i)
			want[name] = writeFile(t, filepath.Join(dir, name), partSize/2+round*perRound+i)
		}
		lost0 := s.Lost()
		trip.arm()
		roundStart := time.Now()
		batches = append(batches, r.enqueueDir("default", root, dir))
		var rep tripReport
		select {
		case rep = <-trip.tripped:
		case <-ctx.Done():
			t.Fatalf("round %d: no file create reached the simulator", round)
		}
		if rep.err != nil {
			t.Fatalf("round %d: kill the master: %v", round, rep.err)
		}
		if _, err := s.Failover(ctx, rep.master); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		failedOver := time.Now()
		// The fault: the kill dropped writes the replica never had. A
		// round whose kill found nothing in flight does not count.
		if n := s.Lost() - lost0; n > 0 {
			lost = append(lost, n)
		}
		if err := s.Rejoin(ctx, rep.master); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		took = append(took, time.Since(roundStart))
		t.Logf("round %d: master killed %v after the enqueue (create %d), %d bytes dropped, new master in %v, old one rejoined in %v: %v",
			round, ms(rep.at.Sub(roundStart)), rep.creates, s.Lost()-lost0, ms(failedOver.Sub(rep.at)), ms(time.Since(failedOver)), ms(took[len(took)-1]))
	}
	failovers := time.Since(start)
	// An outcome asynq could not write while the master was away waits
	// for its lease recovery (about a minute, docs/reliability.md).
	for _, b := range batches {
		waitLong(t, r, b, 3*time.Minute)
	}
	st := r.sim.Stats()
	checkExactlyOnce(t, st, want)
	for _, w := range workers {
		if w.exited() {
			t.Errorf("%s exited: %v", w.name, w.err)
		}
	}
	r.checkUnused()
	t.Logf("%d failovers, each right after a file create, in %v (rounds %v); %d dropped unreplicated writes, bytes per kill: %v",
		len(took), failovers.Round(100*time.Millisecond), roundDurations(took), len(lost), lost)
	t.Logf("%d files: %d creates, %d deleted, %d duplicate names, %d 429s; all done %v after the last failover",
		len(want), st.Creates, st.Deleted, len(st.Duplicates), st.RateLimited, (time.Since(start) - failovers).Round(100*time.Millisecond))
}

// waitLong waits up to d for a batch to succeed, in enqueue waits shorter
// than the minute r.run allows a command.
func waitLong(t *testing.T, r *topoRig, batch string, d time.Duration) {
	t.Helper()
	var stderr string
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		var code int
		if _, stderr, code = r.enqueue("wait", "--timeout", "45s", "--interval", "250ms", batch); code == 0 {
			return
		}
	}
	t.Fatalf("batch %s not done after %v: %s", batch, d, tail([]byte(stderr), 2000))
}

// createTrip kills the Redis master once the simulator has answered a file
// create, when armed: the failover comes right after Frame.io made a file.
type createTrip struct {
	kill    func() (string, error)
	armed   atomic.Bool
	creates atomic.Int64
	tripped chan tripReport
	mu      sync.Mutex
}

type tripReport struct {
	master  string
	at      time.Time
	creates int64
	err     error
}

func (c *createTrip) arm() { c.armed.Store(true) }

func (c *createTrip) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.Body == nil {
			next.ServeHTTP(w, req)
			return
		}
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(rec, req)
		if !bytes.Contains(body, []byte(`"type":"file"`)) || rec.status >= 300 {
			return
		}
		n := c.creates.Add(1)
		if c.armed.CompareAndSwap(true, false) {
			c.mu.Lock()
			master, err := c.kill()
			c.mu.Unlock()
			c.tripped <- tripReport{master: master, at: time.Now(), creates: n, err: err}
		}
	})
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func roundDurations(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Round(100 * time.Millisecond).String()
	}
	return out
}
