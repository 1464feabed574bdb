package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/job"
)

// Distinctive tokens: a hit anywhere is a leak, never a coincidence.
const (
	tokenEnv   = "sekrit-ENV-7f3a9c1e5b2d"     // FRAMEQ_TOKEN, ref default
	tokenFile  = "sekrit-FILE-4d2e8a6c0b1f"    // FRAMEQ_TOKENS_FILE, ref files
	tokenPaid  = "sekrit-PAID-9b7c5e3a1d0f"    // FRAMEQ_TOKEN_PAID: its account is over its plan (402)
	tokenWrong = "sekrit-WRONG-2c4e6a8b0d1f3e" // rejected (401) at start-up
)

// TestNoSecretLeaks: after a full run with every kind of failure (lost
// answers, failed parts, proxy pages, 403, a name refused at enqueue, a 402 that trips a token's
// breaker, a worker whose token is rejected at start), no token appears in
// any log line of any process, any CLI output, any key or value in Redis,
// any response of the worker's HTTP listener (metrics, health, dashboard
// API), nor in any worker's command line. Presigned URLs are logged
// without their query string: no X-Amz-* parameter anywhere.
func TestNoSecretLeaks(t *testing.T) { noSecretLeaks(t, v2) }

// TestV4NoSecretLeaks is TestNoSecretLeaks on V4, where the paid account's
// 402 is a 403 "Account locked".
func TestV4NoSecretLeaks(t *testing.T) { noSecretLeaks(t, v4) }

func noSecretLeaks(t *testing.T, a api) {
	t.Parallel() // mostly waiting: overlaps the other slow scenarios
	const partSize = 16 << 10
	cfg := frameiosim.Config{
		Tokens:   map[string]string{tokenEnv: "acct-env", tokenFile: "acct-file", tokenPaid: "acct-paid"},
		PartSize: partSize, Seed: 31,
	}
	r := newRig(t, cfg, rigOptions{api: a, worker: a.limits(&cfg, 50, 200)})
	rootEnv, rootFile, rootPaid := r.sim.RootFolder(tokenEnv), r.sim.RootFolder(tokenFile), r.sim.RootFolder(tokenPaid)
	locked := r.sim.MakeFolder(rootEnv, "locked")
	r.sim.SetFaults(frameiosim.Faults{
		LostCreate: 0.1, ResetCreate: 0.05, PartFail: 0.15, HTMLError: 0.05,
		ForbiddenFolders: []string{locked}, PaymentRequiredFolders: []string{rootPaid},
	})
	tokensFile := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokensFile, []byte("# frameq tokens\nfiles = "+tokenFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth := []string{"FRAMEQ_TOKEN=" + tokenEnv, "FRAMEQ_TOKENS_FILE=" + tokensFile, "FRAMEQ_TOKEN_PAID=" + tokenPaid}
	w1 := r.spawn("w1", auth...)
	w2 := r.spawn("w2", auth...)

	envTree := makeTree(t, filepath.Join(r.root, "env"), 20, partSize, func(i int) int { return 1 + i*4000 })
	writeFile(t, filepath.Join(envTree.dir, "locked", "no.bin"), 10) // 403
	badTree := filepath.Join(r.root, "bad")
	writeFile(t, filepath.Join(badTree, "bad\x01name.bin"), 10) // refused at enqueue
	fileTree := makeTree(t, filepath.Join(r.root, "file"), 10, partSize, func(i int) int { return 1 + i*5000 })
	paidTree := makeTree(t, filepath.Join(r.root, "paid"), 2, partSize, func(i int) int { return 10 })

	var outputs strings.Builder // every CLI output
	cli := func(args ...string) (string, int) {
		out, stderr, code := r.run("enqueue", nil, args...)
		fmt.Fprintf(&outputs, "$ enqueue %v\n%s%s", args, out, stderr)
		return strings.TrimSpace(out), code
	}
	envBatch, _ := cli("dir", "--parent", rootEnv, envTree.dir)
	if _, code := cli("dir", "--parent", rootEnv, badTree); code != 2 {
		t.Errorf("enqueue of a name with a control character: exit %d, want 2", code)
	}
	fileBatch, _ := cli("dir", "--token-ref", "files", "--parent", rootFile, fileTree.dir)
	cli("dir", "--token-ref", "paid", "--parent", rootPaid, paidTree.dir)
	if _, code := cli("wait", "--timeout", "3m", "--interval", "250ms", envBatch); code != 1 {
		t.Errorf("wait on the default ref's batch: exit %d, want 1 (403)", code)
	}
	if _, code := cli("wait", "--timeout", "3m", "--interval", "250ms", fileBatch); code != 0 {
		t.Errorf("wait on the tokens-file ref's batch: exit %d, want 0", code)
	}
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: r.redis.Addr()})
	defer insp.Close()
	if !pollUntil(context.Background(), time.Minute, 100*time.Millisecond, func() bool {
		q, err := insp.GetQueueInfo(job.SmallQueue("paid"))
		return err == nil && q.Paused
	}) {
		t.Error("the 402 did not trip the paid token's breaker")
	}
	for _, args := range [][]string{{"status", "--json", envBatch}, {"status", envBatch}, {"failed", envBatch}} {
		cli(args...)
	}

	// A worker whose token Frame.io rejects stops at start, saying so.
	wrong := r.spawn("wrong", "FRAMEQ_TOKEN="+tokenWrong)
	if !wrong.waitExit(time.Minute) {
		t.Fatal("a worker with a rejected token kept running")
	}
	if !strings.Contains(wrong.logText(), "401") {
		t.Errorf("rejected worker's log does not say 401:\n%s", wrong.logText())
	}

	// Everything a token or a presigned query could have leaked into.
	haystacks := map[string]string{
		"CLI output":     outputs.String(),
		"simulator log":  r.simLog.text(),
		"Redis":          dumpRedis(t, r.redis.Client(t)),
		"worker HTTP":    scrapeWorker(t, w1, []string{"default", "files", "paid"}),
		"worker cmdline": cmdline(t, w1) + cmdline(t, w2),
	}
	for _, w := range []*proc{w1, w2, wrong} {
		haystacks[w.name+" log"] = w.logText()
	}
	for where, text := range haystacks {
		for _, secret := range []string{tokenEnv, tokenFile, tokenPaid, tokenWrong, "X-Amz-", "Bearer "} {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("%s holds %q: …%s…", where, secret, text[max(0, i-120):min(len(text), i+80)])
			}
		}
	}
	// The checks looked at the right things: failures were logged with the
	// upload URL's path, and Redis holds the failure reasons.
	logs := w1.logText() + w2.logText()
	if !regexp.MustCompile(`/upload/[0-9a-f-]+/\d+`).MatchString(logs) {
		t.Error("no part failure logged with its URL path: the query-string check proved nothing")
	}
	paid := "402" // the paid account's answer
	if a == v4 {
		paid = "Account locked"
	}
	if red := haystacks["Redis"]; !strings.Contains(red, "403") || !strings.Contains(red, paid) {
		t.Errorf("Redis holds no 403 or %q reason: the error-message check proved nothing", paid)
	}
	size := 0
	for _, text := range haystacks {
		size += len(text)
	}
	t.Logf("scanned %d KiB in %d places for 4 tokens and X-Amz-*: no hit", size>>10, len(haystacks))
}

// dumpRedis renders every key and value of every type in the database.
func dumpRedis(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	keys := 0
	for iter.Next(ctx) {
		key := iter.Val()
		keys++
		typ := rdb.Type(ctx, key).Val()
		var val any
		var err error
		switch typ {
		case "string":
			val, err = rdb.Get(ctx, key).Result()
		case "hash":
			val, err = rdb.HGetAll(ctx, key).Result()
		case "list":
			val, err = rdb.LRange(ctx, key, 0, -1).Result()
		case "set":
			val, err = rdb.SMembers(ctx, key).Result()
		case "zset":
			val, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		case "stream":
			val, err = rdb.XRange(ctx, key, "-", "+").Result()
		case "none": // expired meanwhile
		default:
			t.Errorf("Redis key %q of unexpected type %q not scanned", key, typ)
		}
		if err != nil && err != redis.Nil {
			t.Fatalf("read %s %q: %v", typ, key, err)
		}
		fmt.Fprintf(&b, "%s %s = %v\n", typ, key, val)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if keys < 10 {
		t.Fatalf("only %d keys in Redis after a run", keys)
	}
	return b.String()
}

// scrapeWorker fetches what the worker's HTTP listener offers: health,
// metrics and the dashboard's read API for every queue of refs.
func scrapeWorker(t *testing.T, w *proc, refs []string) string {
	t.Helper()
	m := regexp.MustCompile(`"http":"([^"]+)"`).FindStringSubmatch(w.logText())
	if m == nil {
		t.Fatalf("%s did not log its HTTP address", w.name)
	}
	base := "http://" + m[1]
	paths := []string{"/healthz", "/readyz", "/metrics", "/monitoring/",
		"/monitoring/api/queues", "/monitoring/api/queue_stats", "/monitoring/api/servers", "/monitoring/api/redis_info"}
	for _, ref := range refs {
		for _, q := range job.Queues(ref) {
			for _, state := range []string{"active", "pending", "scheduled", "retry", "archived", "completed"} {
				paths = append(paths, "/monitoring/api/queues/"+q+"/"+state+"_tasks")
			}
		}
	}
	var b strings.Builder
	ok := 0
	for _, p := range paths {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			ok++
		}
		fmt.Fprintf(&b, "GET %s → %d\n%s\n", p, resp.StatusCode, body)
	}
	if ok < len(paths)/2 {
		t.Errorf("only %d of %d worker HTTP paths answered 200:\n%s", ok, len(paths), tail([]byte(b.String()), 2000))
	}
	return b.String()
}

// cmdline is the process's command line as ps shows it.
func cmdline(t *testing.T, w *proc) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", w.pid()))
	if err != nil {
		t.Fatalf("%s: %v", w.name, err)
	}
	return strings.ReplaceAll(string(b), "\x00", " ")
}
