package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
// 20 times; each time the Sentinel promotes the replica and the killed
// master comes back as the new master's replica (a restart policy would),
// so that WAIT has a replica to count and the next round a master to kill.
// The writes of the last 100 ms are gone with the master: the "creating"
// mark of that file among them unless the worker waited for a replica to
// hold it (FRAMEQ_REDIS_WAIT_REPLICAS, auto = 1 with Sentinel), and often
// asynq's dequeue of a task another worker then runs a second time at once
// (the create claim, tasks/records, keeps that second run from creating
// too). Every round first checks that its kill really dropped
// unreplicated writes; in the end every file is in Frame.io once and
// intact. TestSentinelFailoverRightAfterCreatesWithoutWait shows the same
// rounds make duplicates without WAIT.
//
// 90-140 s on the shared 2-core machine (20 rounds of 2.7-5 s: 0.5-2 s
// until the new master, 0.6-1.3 s until the old one has rejoined; then
// 20-65 s until asynq's completions lost at the kills come back from
// lease recovery), so opt-in (FRAMEQ_FAILOVER_E2E=1) rather than part of
// CI's e2e run, which has no room for it. Figures: docs/reliability.md. The mechanism itself is proved in CI by tasks/records
// TestGuardRecordSurvivesAFailoverOnlyWhenWaitedFor and
// TestCreateClaimKeepsTwoRunsOfOneAttemptFromCreatingTogether, and
// tasks/upload TestSecondRunOfAnAttemptWaitsForTheFirstsCreate.
func TestSentinelFailoverRightAfterCreates(t *testing.T) {
	if os.Getenv("FRAMEQ_FAILOVER_E2E") != "1" {
		t.Skip("set FRAMEQ_FAILOVER_E2E=1 to run (90-140 s: see the comment)")
	}
	st, want := failoverRightAfterCreates(t, nil)
	checkExactlyOnce(t, st, want)
}

// TestSentinelFailoverRightAfterCreatesWithoutWait: the same failovers with
// the guard writes not waiting for a replica (FRAMEQ_REDIS_WAIT_REPLICAS=0)
// make some file twice: the test above can fail, and WAIT is what passes it.
func TestSentinelFailoverRightAfterCreatesWithoutWait(t *testing.T) {
	if os.Getenv("FRAMEQ_FAILOVER_E2E") != "1" {
		t.Skip("set FRAMEQ_FAILOVER_E2E=1 to run (90-140 s)")
	}
	st, _ := failoverRightAfterCreates(t, []string{"FRAMEQ_REDIS_WAIT_REPLICAS=0"})
	if len(st.Duplicates) == 0 {
		t.Error("no file made twice in 20 failovers without WAIT: the test does not tell WAIT from its absence")
	}
}

// failoverRightAfterCreates runs the 20 rounds with the workers' extra
// settings and returns what Frame.io holds once every batch is done, and
// the files (path → SHA-256) it should hold once each.
func failoverRightAfterCreates(t *testing.T, extra []string) (frameiosim.Stats, map[string]string) {
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
	workers := []*proc{r.spawn("w1"), r.spawn("w2")}

	want := map[string]string{}
	var batches, dirs []string
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
		// The create that trips the kill may be a retry of an earlier
		// round's file made while this enqueue runs: the one-shot command
		// does not ride out a failover and is run again after it.
		batch, enqueueErr := r.tryEnqueueDir("default", root, dir)
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
		if enqueueErr != nil {
			t.Logf("round %d: enqueue met the failover (%v): again", round, enqueueErr)
			batch = r.enqueueDir("default", root, dir)
		}
		batches = append(batches, batch)
		dirs = append(dirs, dir)
		took = append(took, time.Since(roundStart))
		t.Logf("round %d: master killed %v after the enqueue (create %d), %d bytes dropped, new master in %v, old one rejoined in %v: %v",
			round, ms(rep.at.Sub(roundStart)), rep.creates, s.Lost()-lost0, ms(failedOver.Sub(rep.at)), ms(time.Since(failedOver)), ms(took[len(took)-1]))
	}
	failovers := time.Since(start)
	// A completion asynq wrote to the master just before a kill is lost
	// with it: the task stays active until its lease ends and the
	// workers' lease recovery (tasks/lease, 30 s after the lease) hands it
	// back, to find the file done.
	for i, b := range batches {
		if waitVanished(t, r, b, 3*time.Minute) {
			// The kill took the enqueue's own writes (asynq's tasks; the
			// batch record had reached the replica): the tasks never
			// run, wait calls them vanished, and docs/deployment.md's
			// remedy is to run the same enqueue again.
			t.Logf("%s: the failover lost its tasks; enqueued again", dirs[i])
			waitLong(t, r, r.enqueueDir("default", root, dirs[i]), 3*time.Minute)
		}
	}
	st := r.sim.Stats()
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
	return st, want
}

// waitVanished waits up to d for a batch to finish and reports whether
// its only failures are tasks that vanished from the queue; any other
// failure fails the test.
func waitVanished(t *testing.T, r *topoRig, batch string, d time.Duration) bool {
	t.Helper()
	var stderr string
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		var code int
		if _, stderr, code = r.enqueue("wait", "--timeout", "45s", "--interval", "250ms", batch); code == 0 {
			return false
		}
		out, _, scode := r.enqueue("status", "--json", batch)
		var st batchStatus
		if scode != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Failures) == 0 {
			continue // not finished, or Redis trouble
		}
		for _, f := range st.Failures {
			if f.Class != "vanished" {
				t.Fatalf("batch %s: %s failed: %s: %s", batch, f.Path, f.Class, f.Reason)
			}
		}
		return true
	}
	t.Fatalf("batch %s not done after %v: %s", batch, d, tail([]byte(stderr), 2000))
	return false
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

// tryEnqueueDir is enqueueDir that returns the command's failure.
func (r *topoRig) tryEnqueueDir(ref, parent, tree string) (string, error) {
	r.t.Helper()
	out, stderr, code := r.enqueue("dir", "--token-ref", ref, "--parent", parent, tree)
	if code != 0 {
		return "", fmt.Errorf("enqueue dir %s: exit %d: %s", tree, code, tail([]byte(stderr), 300))
	}
	return strings.TrimSpace(out), nil
}

// createTrip kills the Redis master once the simulator has answered a file
// create, when armed: the failover comes right after Frame.io made a file,
// before the worker has its answer.
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

// arm makes the next file create trip the kill.
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
