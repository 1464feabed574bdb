package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/job"
)

// The reliability tests (crash, outage, misbehave, soak, secrets, hostile)
// share this harness: a rig is an env whose worker processes can be killed,
// signalled and measured, with the simulator optionally behind slow storage.

// rigOptions shape a rig.
type rigOptions struct {
	// redis configures the private redis-server (AppendOnly for outages).
	redis redistest.Options
	// partDelay slows every part PUT, like distant storage, so uploads stay
	// active long enough to be interrupted between parts.
	partDelay time.Duration
	// worker are KEY=value settings for every worker of the rig.
	worker []string
	// api is the Frame.io API the rig's workers speak: v2 (the default)
	// or v4.
	api api
	// front, if set, wraps the simulator's handler: a test sees each
	// request as the simulator answers it (and may act right then).
	front func(http.Handler) http.Handler
	// listen, if set, is the address the simulator is served on instead of
	// a loopback port: one a network namespace can reach.
	listen string
}

// api is a Frame.io API version, as FRAMEQ_API_VERSION spells it.
type api string

const (
	v2 api = "v2"
	v4 api = "v4"
)

// limits sets cfg's limits and returns the worker settings that match
// them: on v2, creates and calls per second; on V4, creates per second
// for file and folder creates and calls per second for every other route
// counted per second (the per-minute ones keep Frame.io's defaults).
func (a api) limits(cfg *frameiosim.Config, creates, calls int) []string {
	if a != v4 {
		cfg.CreateLimit, cfg.CallLimit = creates, calls
		return []string{fmt.Sprintf("FRAMEQ_CREATE_RATE=%d/s", creates), fmt.Sprintf("FRAMEQ_CALL_RATE=%d/s", calls)}
	}
	cfg.V4Limits = map[string]frameiosim.Limit{}
	var rates []string
	for route, l := range frameiosim.DefaultV4Limits() {
		if l.Window != time.Second {
			continue
		}
		n := calls
		if route == frameiosim.RouteFileCreate || route == frameiosim.RouteFolderCreate {
			n = creates
		}
		cfg.V4Limits[route] = frameiosim.Limit{Limit: n, Window: time.Second}
		rates = append(rates, fmt.Sprintf("%s=%d/s", route, n))
	}
	return []string{"FRAMEQ_ROUTE_LIMITS=" + strings.Join(rates, ",")}
}

// rig is an env plus what the reliability tests need.
type rig struct {
	*env
	cfg    frameiosim.Config // the simulator's, as given
	apiVer api               // the API the workers speak
	api    string            // API base URL the workers use
	worker []string          // settings of every worker
	simLog *lineLog          // one line per simulator request
}

// newRig starts redis-server and the simulator. Every worker gets a 5 s
// shutdown grace, so a failing test's cleanup is quick.
func newRig(t *testing.T, cfg frameiosim.Config, o rigOptions) *rig {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("simulator config: %v", err)
	}
	if o.api == "" {
		o.api = v2
	}
	r := &rig{simLog: &lineLog{}, cfg: cfg, apiVer: o.api}
	cfg.Logf = r.simLog.printf
	e := &env{t: t, redis: redistest.Start(t, o.redis), root: t.TempDir()}
	if o.partDelay == 0 && o.front == nil && o.listen == "" {
		e.sim = frameiosim.StartTest(t, cfg)
		r.api = e.sim.URL()
		if o.api == v4 {
			r.api = e.sim.V4URL()
		}
	} else {
		// The simulator is an http.Handler and signs upload URLs for the
		// host the request came to, so a front server can slow its parts.
		e.sim = frameiosim.New(cfg)
		h := http.Handler(e.sim)
		if o.partDelay > 0 {
			h = slowParts(h, o.partDelay)
		}
		if o.front != nil {
			h = o.front(h)
		}
		front := httptest.NewUnstartedServer(h)
		if o.listen != "" {
			ln, err := net.Listen("tcp", o.listen)
			if err != nil {
				t.Fatalf("simulator on %s: %v", o.listen, err)
			}
			front.Listener.Close()
			front.Listener = ln
		}
		front.Start()
		t.Cleanup(func() { front.Close(); e.sim.Close() })
		r.api = front.URL + "/" + string(o.api)
	}
	r.env = e
	r.worker = append([]string{"FRAMEQ_SHUTDOWN_TIMEOUT=5s", "FRAMEQ_API_VERSION=" + string(o.api), "FRAMEQ_API_URL=" + r.api}, o.worker...)
	return r
}

// slowParts delays part PUTs by d before the simulator sees them.
func slowParts(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPut && strings.HasPrefix(req.URL.Path, "/upload/") {
			select {
			case <-time.After(d):
			case <-req.Context().Done():
				return
			}
		}
		h.ServeHTTP(w, req)
	})
}

// lineLog collects log lines from several goroutines.
type lineLog struct {
	mu    sync.Mutex
	lines []string
	at    []time.Time
}

func (l *lineLog) printf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.at = append(l.at, time.Now())
	l.mu.Unlock()
}

// between returns the lines logged in [from, to).
func (l *lineLog) between(from, to time.Time) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for i, at := range l.at {
		if !at.Before(from) && at.Before(to) {
			out = append(out, l.lines[i])
		}
	}
	return out
}

// leadUp returns, for every line containing match, the lines containing
// keep logged in the d before it, each with its offset from it: what led
// up to a 429 when a test must explain one. (Times are when each answer
// was logged; the line itself says how long the call took.)
func (l *lineLog) leadUp(match, keep string, d time.Duration) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for i, line := range l.lines {
		if !strings.Contains(line, match) {
			continue
		}
		for j := range i + 1 {
			if off := l.at[j].Sub(l.at[i]); off >= -d && strings.Contains(l.lines[j], keep) {
				out = append(out, fmt.Sprintf("%+.3fs %s", off.Seconds(), l.lines[j]))
			}
		}
	}
	return out
}

func (l *lineLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// count is how many lines contain s.
func (l *lineLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// proc is a worker process the test may kill, signal and measure.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	log  string // path of its combined stdout and stderr
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// spawn starts a worker with the rig's settings plus extra (later wins).
// At cleanup a running worker gets SIGINT; its log is printed on failure.
func (r *rig) spawn(name string, extra ...string) *proc {
	r.t.Helper()
	return r.spawnIn(nil, name, extra...)
}

// spawnIn is spawn with the worker run under a command prefix, such as
// "ip netns exec NS" (which execs it: the pid stays the worker's).
func (r *rig) spawnIn(prefix []string, name string, extra ...string) *proc {
	r.t.Helper()
	p := &proc{t: r.t, name: name, done: make(chan struct{}), log: filepath.Join(r.t.TempDir(), name+".log")}
	logf, err := os.Create(p.log)
	if err != nil {
		r.t.Fatal(err)
	}
	argv := append(append([]string{}, prefix...), filepath.Join(bin, "worker"))
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = r.environ(append(append([]string{}, r.worker...), extra...)...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	r.t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		<-p.done
		if r.t.Failed() {
			r.t.Logf("%s log (last 4 KiB):\n%s", name, tail([]byte(p.logText()), 4096))
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) signal(sig os.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to d for the process to end.
func (p *proc) waitExit(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// cpu is the CPU time (user + system) the process has used so far, from
// /proc/<pid>/stat.
func (p *proc) cpu() time.Duration {
	p.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid()))
	if err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
	// The command name (field 2) may hold spaces; fields after ")" are fixed.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		p.t.Fatalf("%s: parse /proc stat: %v", p.name, err)
	}
	const clockTicks = 100 // USER_HZ, fixed at 100 on Linux for /proc
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// run runs a binary from bin with the env's settings plus extra, returning
// stdout, stderr and the exit code.
func (r *rig) run(name string, extra []string, args ...string) (string, string, int) {
	r.t.Helper()
	// A command that should have refused its settings but runs is stopped.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
	cmd.Env = r.environ(extra...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		r.t.Fatalf("%s %v: %v", name, args, err)
	}
	return out.String(), errb.String(), 0
}

// enqueueDir enqueues a tree under parent and returns the batch id.
func (r *rig) enqueueDir(parent, tree string) string {
	r.t.Helper()
	out, stderr, code := r.enqueue("dir", "--parent", parent, tree)
	if code != 0 {
		r.t.Fatalf("enqueue dir: exit %d: %s", code, stderr)
	}
	return strings.TrimSpace(out)
}

// waitBatch runs enqueue wait and returns its exit code and report.
func (r *rig) waitBatch(batch string, timeout time.Duration) (int, string) {
	r.t.Helper()
	_, stderr, code := r.enqueue("wait", "--timeout", timeout.String(), "--interval", "250ms", batch)
	return code, stderr
}

// batchStatus is the JSON of enqueue status --json.
type batchStatus struct {
	Batch    string           `json:"batch"`
	Total    int64            `json:"total"`
	Counts   map[string]int64 `json:"counts"`
	Failures []struct {
		TaskID string `json:"task_id"`
		Path   string `json:"path"`
		Class  string `json:"class"`
		Reason string `json:"reason"`
	} `json:"failures"`
}

func (r *rig) status(batch string) batchStatus {
	r.t.Helper()
	out, stderr, code := r.enqueue("status", "--json", batch)
	if code != 0 {
		r.t.Fatalf("enqueue status: exit %d: %s", code, stderr)
	}
	var st batchStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		r.t.Fatalf("enqueue status --json: %v: %s", err, out)
	}
	return st
}

// tree is a set of local files to upload: path below the tree → SHA-256.
type tree struct {
	dir   string
	files map[string]string
	parts int // total part count at the rig's part size
}

// makeTree writes n files below dir/name, spread over a few folders;
// size(i) is the size of file i.
func makeTree(t *testing.T, dir string, n int, partSize int64, size func(i int) int) tree {
	t.Helper()
	tr := tree{dir: dir, files: map[string]string{}}
	folders := []string{"", "a", "a/b", "c"}
	for i := 0; i < n; i++ {
		rel := filepath.Join(folders[i%len(folders)], fmt.Sprintf("f%04d.bin", i))
		sz := size(i)
		tr.files[filepath.ToSlash(rel)] = writeFile(t, filepath.Join(dir, rel), sz)
		tr.parts += int(max(1, (int64(sz)+partSize-1)/partSize))
	}
	return tr
}

// checkExactlyOnce asserts that Frame.io holds every file of want (paths
// below the project root) complete, intact and once, nothing else, and
// that no asset was made twice: every create is a live asset or an orphan
// the worker deleted.
func checkExactlyOnce(t *testing.T, st frameiosim.Stats, want map[string]string) {
	t.Helper()
	checkExactlyOnceBeside(t, st, want, 0)
}

// checkExactlyOnceBeside is checkExactlyOnce when the test made premade
// folders itself (MakeFolder, not counted as creates).
func checkExactlyOnceBeside(t *testing.T, st frameiosim.Stats, want map[string]string, premade int) {
	t.Helper()
	got := map[string]frameiosim.File{}
	for _, f := range st.Files {
		got[f.Path] = f
		if !f.Complete {
			t.Errorf("%s: left half-uploaded (%d parts)", f.Path, f.Parts)
		}
	}
	for path, sum := range want {
		switch f, ok := got[path]; {
		case !ok:
			t.Errorf("%s: not in Frame.io", path)
		case f.SHA256 != sum:
			t.Errorf("%s: SHA-256 %s, want %s", path, f.SHA256, sum)
		}
	}
	if len(st.Files) != len(want) {
		t.Errorf("Frame.io holds %d files, want %d", len(st.Files), len(want))
	}
	if len(st.Duplicates) > 0 {
		t.Errorf("duplicates: %+v", st.Duplicates)
	}
	if live := len(st.Files) + len(st.Folders) - premade; st.Creates != live+st.Deleted {
		t.Errorf("%d creates, but %d live assets and %d deleted: something was made and lost", st.Creates, live, st.Deleted)
	}
}

// checkNeverOver asserts that the simulator answered no 429 and that the
// default token never went over its limits in any window: on v2 the
// creates, on V4 every route's own limit.
func (r *rig) checkNeverOver(t *testing.T) {
	t.Helper()
	st := r.sim.Stats()
	if st.RateLimited != 0 {
		// The calls the simulator admitted in the second before each 429
		// show whether a permit was used late or the limiter over-granted.
		t.Errorf("%d responses were 429 (V4 by route: %v); the calls in the second before each:\n%s",
			st.RateLimited, st.RateLimitedByRoute, strings.Join(r.simLog.leadUp("→ 429", "", time.Second), "\n"))
	}
	if r.apiVer != v4 {
		limit, window := cmp.Or(r.cfg.CreateLimit, frameiosim.DefaultCreateLimit), cmp.Or(r.cfg.Window, frameiosim.DefaultWindow)
		if n := r.sim.MaxCreatesInWindow(frameiosim.DefaultToken, window); n > limit {
			t.Errorf("%d creates in %v, limit %d", n, window, limit)
		}
		return
	}
	for route, l := range r.sim.V4Limits() {
		if n := r.sim.MaxInWindow(frameiosim.DefaultToken, route, l.Window); n > l.Limit {
			t.Errorf("%s: %d calls in %v, limit %d", route, n, l.Window, l.Limit)
		}
	}
}

// checkRestarts checks how many of the uploads a process left unfinished
// were started over (deleted and created again) by another process. On v2
// none: the asset gives its upload URLs again, so they resume. On V4 at
// most each of them once: Frame.io gives a file's upload URLs only in the
// create's answer, and frameq keeps them in memory, never in Redis (they
// are credentials), so another process cannot resume them.
func checkRestarts(t *testing.T, a api, deleted, interrupted int) {
	t.Helper()
	switch {
	case a != v4 && deleted != 0:
		t.Errorf("%d assets deleted: an interrupted upload started over instead of resuming", deleted)
	case a == v4 && deleted > interrupted:
		t.Errorf("%d assets deleted, but only %d uploads were interrupted", deleted, interrupted)
	}
}

// pollUntil calls ok every interval until it is true or d passes.
func pollUntil(ctx context.Context, d, interval time.Duration, ok func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(interval):
		}
	}
	return true
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// inQueues lists the tasks of both of a token's lanes with list (an
// Inspector method such as ListActiveTasks); a lane never used is empty.
func inQueues(ref string, list func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error)) ([]*asynq.TaskInfo, error) {
	var all []*asynq.TaskInfo
	for _, q := range job.Queues(ref) {
		ts, err := list(q, asynq.PageSize(1000))
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			return nil, fmt.Errorf("queue %s: %w", q, err)
		}
		all = append(all, ts...)
	}
	return all, nil
}
