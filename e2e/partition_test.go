package e2e

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/job"
)

// TestV4WorkerCutOffFromRedisOnly: one of three workers runs in its own
// network namespace and loses its path to Redis, silently (packets
// dropped, no reset, no refusal), in the middle of its uploads, while it
// still reaches Frame.io. Within a few seconds it makes no API call (the
// limiter fails closed; only part PUTs and calls already holding a permit
// land), its tasks' leases run out, and the other workers take them over
// without it. When the path heals it rejoins and takes new work, and its
// stale in-flight work neither doubles nor loses a file: every file is in
// Frame.io once and intact and every task of both batches is done.
//
// It needs root and network namespaces (ip netns, veth); elsewhere it is
// skipped, saying why.
func TestV4WorkerCutOffFromRedisOnly(t *testing.T) {
	t.Parallel() // mostly waiting for leases: overlaps the other slow scenarios
	const (
		partSize = 64 << 10
		// A call that got its permit before the cut, or a part PUT (no
		// permit) already sent, may still land: one part's slow PUT
		// (partDelay) and an answer's round trip. Nothing after.
		settle = 3 * time.Second
		// The cut worker's leases end 25-30 s after the cut; the others'
		// asynq recoverers take its tasks 30 s after that (asynq's
		// clock-skew margin) on their once-a-minute tick: 55-120 s.
		recoverBound = 130 * time.Second
	)
	n := newNetns(t)
	cutDone := make(chan error, 1)
	calls := &callsBySource{cutAfter: 3, cutOn: func(c sourcedCall) bool {
		return c.ip == n.nsIP && c.method == http.MethodPost && strings.HasSuffix(c.path, "/files/local_upload")
	}}
	calls.cut = func() { cutDone <- n.cutNow() }
	r := newRig(t, frameiosim.Config{
		CreateLimit: 5, Enforcement: frameiosim.SlidingWindow, PartSize: partSize, Seed: 11,
	}, rigOptions{api: v4, partDelay: 300 * time.Millisecond, listen: n.apiIP + ":0", front: calls.wrap,
		redis:  redistest.Options{Args: []string{"--bind", "127.0.0.1", n.redisIP, "--protected-mode", "no"}},
		worker: []string{loadMargin, "FRAMEQ_CONCURRENCY=4"}})
	root := r.sim.RootFolder(frameiosim.DefaultToken)
	cutURL := fmt.Sprintf("redis://%s:%d/0", n.redisIP, r.redis.Port())
	if err := n.probe(net.JoinHostPort(n.redisIP, strconv.Itoa(r.redis.Port()))); err != nil {
		t.Fatalf("before the cut the namespace does not reach Redis: %v", err)
	}
	files := makeTree(t, filepath.Join(r.root, "cut"), 48, partSize, func(i int) int { return 2*partSize + i*1000 })
	w1, w2 := r.spawn("w1"), r.spawn("w2")
	cut := r.spawnIn([]string{"ip", "netns", "exec", n.name}, "cut", "FRAMEQ_REDIS_URL="+cutURL)
	batch := r.enqueueDir(root, files.dir)

	// Cut as the namespaced worker's third file create reaches Frame.io:
	// the file is made, but the worker cannot record it, and its other
	// uploads are under way. Whoever takes the task over finds a file
	// Frame.io made and cannot fill it (V4 gives the upload URLs once).
	var cutAt time.Time
	select {
	case err := <-cutDone:
		if err != nil {
			t.Fatal(err)
		}
		cutAt = calls.cutAt
	case <-time.After(time.Minute):
		t.Fatalf("the namespaced worker made no third create: %d calls from %s", calls.since(n.nsIP, time.Time{}, ""), n.nsIP)
	}
	n.checkCut(t, r.redis.Port(), r.api)

	// Its leases stop being extended: those tasks are the ones it holds.
	rdb := r.redis.Client(t)
	time.Sleep(10 * time.Second)
	oldLeases := cutAt.Add(31 * time.Second)
	orphans := staleLeases(t, rdb, oldLeases)
	held := 0
	for _, ids := range orphans {
		held += len(ids)
	}
	if held == 0 {
		t.Fatal("the cut worker held no task whose lease stopped being extended: the test would prove nothing")
	}
	for _, w := range []*proc{w1, w2, cut} {
		if w.exited() {
			t.Fatalf("%s exited after the cut: %v", w.name, w.err)
		}
	}

	// The others take them over while the cut lasts.
	var recoveredAt time.Time
	if !pollUntil(context.Background(), recoverBound, 250*time.Millisecond, func() bool {
		return len(stillOrphaned(t, rdb, orphans, oldLeases)) == 0
	}) {
		left := stillOrphaned(t, rdb, orphans, oldLeases)
		t.Fatalf("%d of the cut worker's %d tasks not taken over %v after the cut: %v", len(left), held, recoverBound, left)
	}
	recoveredAt = time.Now()
	lastCut := calls.last(n.nsIP)
	if after := calls.since(n.nsIP, cutAt.Add(settle), ""); after != 0 {
		t.Errorf("the cut worker made %d API calls more than %v after its path to Redis was cut (last %+.1fs): %v",
			after, settle, lastCut.Sub(cutAt).Seconds(), calls.lines(n.nsIP, cutAt.Add(settle)))
	}

	healAt := n.heal(t)
	if code, report := r.waitBatch(batch, time.Minute); code != 0 {
		t.Fatalf("enqueue wait: exit %d %v after the heal: %s", code, time.Since(healAt).Round(time.Second), report)
	}
	doneAt := time.Now()
	if st := r.status(batch); st.Counts["done"] != int64(len(files.files)) || st.Total != int64(len(files.files)) {
		t.Errorf("batch %s: %d tasks, counts %v; want all %d done", batch, st.Total, st.Counts, len(files.files))
	}

	// It rejoins: a batch enqueued now is shared with it.
	more := makeTree(t, filepath.Join(r.root, "after", "later"), 12, partSize, func(i int) int { return partSize + i*1000 })
	callsBefore := calls.since(n.nsIP, time.Time{}, "")
	batch2 := r.enqueueDir(root, filepath.Dir(more.dir))
	if code, report := r.waitBatch(batch2, time.Minute); code != 0 {
		t.Fatalf("enqueue wait (after the heal): exit %d: %s", code, report)
	}
	rejoined := calls.since(n.nsIP, time.Time{}, "") - callsBefore
	all := map[string]string{}
	for p, sum := range files.files {
		all[p] = sum
	}
	for p, sum := range more.files {
		all["later/"+p] = sum // beside the first tree's files, in a folder of its own
	}
	st := r.sim.Stats()
	checkExactlyOnce(t, st, all)
	// The file made at the cut is found by whoever runs the task next:
	// another worker cannot fill it (no upload URLs) and deletes it and
	// makes it again, once; the cut worker itself, given the task back
	// after the heal, still has the URLs and fills it.
	checkRestarts(t, v4, st.Deleted, held)
	if st2 := r.status(batch2); st2.Counts["done"] != int64(len(more.files)) {
		t.Errorf("batch %s after the heal: counts %v; want all %d done", batch2, st2.Counts, len(more.files))
	}
	if rejoined == 0 {
		t.Error("the cut worker made no API call for the batch enqueued after the heal: it did not rejoin")
	}
	for _, w := range []*proc{w1, w2, cut} {
		if w.exited() {
			t.Errorf("%s exited: %v", w.name, w.err)
		}
	}
	stale, stopped := staleWork(t, cut.logText(), healAt.Sub(cutAt))
	if len(stale) > 0 {
		t.Errorf("after the heal the cut worker finished work it began before the cut, which other workers had taken over: %q", stale)
	}
	if stopped == 0 {
		t.Error("the Guard stopped none of the cut worker's uploads: it held none past Silence, and the test proved nothing about stale work")
	}
	t.Logf("netns %s (silent drop: /32 route via a neighbour that does not exist); %d tasks held by the cut worker, %d stopped by its Guard; its last API call %+.1fs after the cut; its tasks taken over %.1fs after the cut; heal %.1fs after the cut; batch done %.1fs after the heal; after the heal it made %d of the next batch's calls; %d creates, %d deleted, %d × 429",
		n.name, held, stopped, lastCut.Sub(cutAt).Seconds(), recoveredAt.Sub(cutAt).Seconds(), healAt.Sub(cutAt).Seconds(),
		doneAt.Sub(healAt).Seconds(), rejoined, st.Creates, st.Deleted, st.RateLimited)
}

// staleWork returns the cut worker's log lines saying it finished, after
// the heal, an upload it had begun before the cut (it took longer than the
// cut lasted), and how many of its uploads the Guard stopped.
func staleWork(t *testing.T, log string, cutFor time.Duration) (stale []string, stopped int) {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		var l struct {
			Message string  `json:"message"`
			Took    float64 `json:"took"` // milliseconds
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch {
		case strings.HasPrefix(l.Message, "stopped: redis silent"):
			stopped++
		case l.Message == "uploaded" && l.Took > float64(cutFor.Milliseconds()):
			stale = append(stale, line)
		}
	}
	return stale, stopped
}

// staleLeases returns the active upload tasks, queue → ids, whose leases
// end before by (unix seconds, asynq's unit): nobody extends them.
func staleLeases(t *testing.T, rdb *redis.Client, by time.Time) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, q := range job.Queues("default") {
		ids, err := rdb.ZRangeByScore(context.Background(), "asynq:{"+q+"}:lease", &redis.ZRangeBy{
			Min: "-inf", Max: strconv.FormatInt(by.Unix(), 10),
		}).Result()
		if err != nil {
			t.Fatalf("leases of %s: %v", q, err)
		}
		if len(ids) > 0 {
			out[q] = ids
		}
	}
	return out
}

// stillOrphaned lists the tasks of orphans still active under the lease
// they had at the cut (ending by old): nobody took them.
func stillOrphaned(t *testing.T, rdb *redis.Client, orphans map[string][]string, old time.Time) []string {
	t.Helper()
	var out []string
	for q, ids := range orphans {
		for _, id := range ids {
			s, err := rdb.ZScore(context.Background(), "asynq:{"+q+"}:lease", id).Result()
			switch {
			case errors.Is(err, redis.Nil):
				continue // requeued, or done
			case err != nil:
				t.Fatalf("lease of %s: %v", id, err)
			case int64(s) <= old.Unix():
				out = append(out, id)
			}
		}
	}
	return out
}

// callsBySource records every request the simulator gets, with the
// caller's IP: the namespaced worker has its own.
type callsBySource struct {
	mu    sync.Mutex
	calls []sourcedCall
	// The cutAfter-th call for which cutOn is true has cut run before the
	// simulator answers it; cutAt is when.
	cutOn    func(sourcedCall) bool
	cutAfter int
	cut      func()
	matched  int
	cutAt    time.Time
}

type sourcedCall struct {
	at     time.Time
	ip     string
	method string
	path   string
}

func (c *callsBySource) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ip, _, _ := net.SplitHostPort(req.RemoteAddr)
		call := sourcedCall{at: time.Now(), ip: ip, method: req.Method, path: req.URL.Path}
		c.mu.Lock()
		c.calls = append(c.calls, call)
		fire := false
		if c.cutOn != nil && c.cutAt.IsZero() && c.cutOn(call) {
			c.matched++
			if fire = c.matched == c.cutAfter; fire {
				c.cutAt = time.Now()
			}
		}
		c.mu.Unlock()
		if fire {
			c.cut()
		}
		h.ServeHTTP(w, req)
	})
}

// since counts ip's calls from t on, of method if not empty.
func (c *callsBySource) since(ip string, t time.Time, method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, call := range c.calls {
		if call.ip == ip && !call.at.Before(t) && (method == "" || call.method == method) {
			n++
		}
	}
	return n
}

// last is when ip's last call arrived.
func (c *callsBySource) last(ip string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var at time.Time
	for _, call := range c.calls {
		if call.ip == ip && call.at.After(at) {
			at = call.at
		}
	}
	return at
}

// lines describes ip's calls from t on.
func (c *callsBySource) lines(ip string, t time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, call := range c.calls {
		if call.ip == ip && !call.at.Before(t) {
			out = append(out, fmt.Sprintf("%s %s %s", call.at.Format("15:04:05.000"), call.method, call.path))
		}
	}
	return out
}

// netns is a network namespace joined to the host by one veth pair. The
// host end has two addresses, one Redis listens on and one the simulator
// listens on, so the namespace's path to Redis can be cut alone.
type netns struct {
	name, hostIf, nsIf   string
	redisIP, apiIP, nsIP string
	// deadGW is a neighbour with a MAC no one has: a route via it drops
	// packets without a word, like a dead link or a firewall's DROP.
	deadGW string
}

// newNetns makes a namespace with unique names and a /24 unused here; it
// is removed at cleanup, also when the test fails. The test is skipped
// where namespaces cannot be made (not root, no ip, no netns or veth).
func newNetns(t *testing.T) *netns {
	t.Helper()
	n, why := tryNetns(t)
	if n == nil {
		t.Skip(why)
	}
	return n
}

// tryNetns is newNetns that returns why instead of skipping the test,
// for a test that runs on without its namespace (the soak).
func tryNetns(t *testing.T) (*netns, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil, "needs root: it puts a worker in its own network namespace (ip netns) to cut only its path to Redis"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, "needs the ip command (iproute2) for network namespaces: " + err.Error()
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := fmt.Sprintf("%08x", binary.BigEndian.Uint32(b[:]))
	net24 := fmt.Sprintf("10.%d.%d", 200+int(b[0])%50, b[1])
	if out, _ := exec.Command("ip", "-4", "addr").CombinedOutput(); strings.Contains(string(out), net24+".") {
		return nil, fmt.Sprintf("chose %s.0/24, which this host uses; run again", net24)
	}
	n := &netns{
		name: "fq-" + id, hostIf: "fqh" + id, nsIf: "fqn" + id,
		redisIP: net24 + ".1", apiIP: net24 + ".2", nsIP: net24 + ".3", deadGW: net24 + ".254",
	}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		return nil, fmt.Sprintf("network namespaces unavailable here (ip netns add: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		// Deleting the namespace destroys its veth end and so the pair;
		// the host end is removed too in case it never moved.
		_ = exec.Command("ip", "netns", "del", n.name).Run()
		_ = exec.Command("ip", "link", "del", n.hostIf).Run()
	})
	if out, err := exec.Command("ip", "link", "add", n.hostIf, "type", "veth", "peer", "name", n.nsIf).CombinedOutput(); err != nil {
		return nil, fmt.Sprintf("veth pairs unavailable here (ip link add type veth: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	n.ip(t, "link", "set", n.nsIf, "netns", n.name)
	n.ip(t, "addr", "add", n.redisIP+"/24", "dev", n.hostIf)
	n.ip(t, "addr", "add", n.apiIP+"/24", "dev", n.hostIf)
	n.ip(t, "link", "set", n.hostIf, "up")
	n.in(t, "link", "set", "lo", "up") // the worker serves /metrics on 127.0.0.1
	n.in(t, "addr", "add", n.nsIP+"/24", "dev", n.nsIf)
	n.in(t, "link", "set", n.nsIf, "up")
	n.in(t, "neigh", "replace", n.deadGW, "lladdr", "02:00:00:00:00:fe", "dev", n.nsIf, "nud", "permanent")
	return n, ""
}

// ip runs ip on the host.
func (n *netns) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// in runs ip inside the namespace.
func (n *netns) in(t *testing.T, args ...string) {
	t.Helper()
	n.ip(t, append([]string{"netns", "exec", n.name, "ip"}, args...)...)
}

// cutNow sends the namespace's packets for Redis to the dead neighbour,
// where they are lost: the Redis host's frames go to a MAC the host's veth
// drops. Nothing answers, so connections hang until their timeouts.
func (n *netns) cutNow() error {
	args := []string{"netns", "exec", n.name, "ip", "route", "add", n.redisIP + "/32", "via", n.deadGW, "dev", n.nsIf}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("cut: ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// heal restores the namespace's path to Redis.
func (n *netns) heal(t *testing.T) time.Time {
	t.Helper()
	n.in(t, "route", "del", n.redisIP+"/32")
	return time.Now()
}

// checkCut shows the fault is what the test says: from inside the
// namespace a connection to Redis times out (no refusal, no reset) while
// the simulator still answers.
func (n *netns) checkCut(t *testing.T, redisPort int, apiURL string) {
	t.Helper()
	err := n.probe(net.JoinHostPort(n.redisIP, strconv.Itoa(redisPort)))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("after the cut, connecting to Redis from the namespace: %v; want a timeout (packets silently lost)", err)
	}
	host := strings.TrimPrefix(apiURL, "http://")
	host = host[:strings.IndexByte(host, '/')]
	if err := n.probe(host); err != nil {
		t.Fatalf("after the cut the namespace no longer reaches the simulator at %s: %v", host, err)
	}
}

// probe connects to addr from inside the namespace, within 1.5 s. The
// dialling goroutine moves its OS thread into the namespace and never
// leaves it: it exits locked, so Go discards the thread.
func (n *netns) probe(addr string) error {
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open("/var/run/netns/" + n.name)
		if err != nil {
			res <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			res <- fmt.Errorf("setns %s: %w", n.name, err)
			return
		}
		c, err := net.DialTimeout("tcp", addr, 1500*time.Millisecond)
		if err == nil {
			c.Close()
		}
		res <- err
	}()
	return <-res
}
