package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/records"
)

func TestSettledEnqueuesOneWebhookOnlyOnceFinishedAndSealed(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st, b := NewStore(rdb), records.NewBatches(rdb)
	n := NewNotifier(rdb)
	defer n.Close()
	if err := st.Open(ctx, "b1", "acme", "http://127.0.0.1:1/hook"); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, "b1", []string{"t1", "t2"}); err != nil {
		t.Fatal(err)
	}
	b.Set(ctx, "b1", "t1", records.Done, nil)
	b.Set(ctx, "b1", "t2", records.Failed, &records.Failure{Path: "x", Class: "terminal", Reason: "nope"})
	if won, err := n.Settled(ctx, "b1"); won || err != nil {
		t.Fatalf("unsealed batch: won %v err %v, want neither", won, err)
	}
	if err := st.Seal(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 { // twenty workers settling at once: one enqueues
		wg.Go(func() {
			n := NewNotifier(rdb)
			defer n.Close()
			won, err := n.Settled(ctx, "b1")
			if err != nil {
				t.Error(err)
			}
			if won {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d enqueues, want 1", wins.Load())
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	if info, err := insp.GetTaskInfo(Queue, TaskID("b1")); err != nil || info.Type != TypeWebhook {
		t.Fatalf("webhook task: %v %v", info, err)
	}
	// Without the notified mark (a worker died between enqueue and mark)
	// the task id still refuses a second webhook.
	rdb.HDel(ctx, metaKey("b1"), "notified")
	if won, err := n.Settled(ctx, "b1"); won || err != nil {
		t.Errorf("second notice: won %v err %v, want the task id to refuse it", won, err)
	}
	b.Add(ctx, "b2", []string{"t"})
	if won, _ := n.Settled(ctx, "b2"); won {
		t.Error("a batch without callback was notified")
	}
}

func TestDeliverySignsAndRetriesUntil2xx(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	secret := []byte("whsec-test")
	var fails atomic.Int32
	fails.Store(2)
	var got struct {
		sig  string
		body []byte
	}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fails.Add(-1) >= 0 {
			http.Error(w, "down", 503)
			return
		}
		got.sig = r.Header.Get(SignatureHeader)
		got.body, _ = io.ReadAll(r.Body)
	}))
	defer recv.Close()
	st, b := NewStore(rdb), records.NewBatches(rdb)
	st.Open(ctx, "b1", "acme", recv.URL+"/hook?token=abc")
	b.Skip(ctx, "b1", 2)
	b.Add(ctx, "b1", []string{"t1"})
	b.Set(ctx, "b1", "t1", records.Failed, &records.Failure{Path: "x.mov", Class: "terminal", Reason: "403"})
	hosts, _ := ParseHosts([]string{"127.0.0.1"})
	d := NewDeliverer(rdb, secret, hosts)
	task := asynq.NewTask(TypeWebhook, []byte(`{"batch":"b1","since":1700000000}`))
	d.now = func() time.Time { return time.Unix(1700000000, 0).Add(time.Hour) }
	for i := 0; i < 2; i++ {
		err := d.ProcessTask(ctx, task)
		if err == nil || errors.Is(err, asynq.SkipRetry) || strings.Contains(err.Error(), "token=abc") {
			t.Fatalf("attempt %d on a 503: %v, want a retryable error without the URL", i, err)
		}
	}
	if err := d.ProcessTask(ctx, task); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	ts, mac, ok := strings.Cut(strings.TrimPrefix(got.sig, "t="), ",v1=")
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts + "." + string(got.body)))
	if !ok || ts != "1700003600" || mac != hex.EncodeToString(h.Sum(nil)) {
		t.Fatalf("signature %q does not verify", got.sig)
	}
	var s Summary
	if err := json.Unmarshal(got.body, &s); err != nil {
		t.Fatal(err)
	}
	if s.Batch != "b1" || s.Files != 3 || s.Skipped != 2 || s.Failed != 1 || s.Done != 0 || len(s.Failures) != 1 || s.FinishedAt != "2023-11-14T22:13:20Z" {
		t.Errorf("summary %+v", s)
	}

	// Past the window a failure is final; a host no longer allowed is refused at once.
	fails.Store(1)
	d.now = func() time.Time { return time.Unix(1700000000, 0).Add(DeliveryWindow + time.Minute) }
	if err := d.ProcessTask(ctx, task); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("after 24 h: %v, want SkipRetry", err)
	}
	d.hosts, _ = ParseHosts([]string{"hooks.example.com"})
	if err := d.ProcessTask(ctx, task); !errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), "FRAMEQ_WEBHOOK_HOSTS") {
		t.Errorf("host not allowed: %v", err)
	}
}

func TestHostsCheck(t *testing.T) {
	h, err := ParseHosts([]string{"hooks.example.com", "*.corp.example:8443", "127.0.0.1:9000"})
	if err != nil {
		t.Fatal(err)
	}
	for url, ok := range map[string]bool{
		"https://hooks.example.com/x":         true,
		"http://HOOKS.example.com:8080/x":     true,
		"https://a.corp.example:8443/x":       true,
		"https://corp.example:8443/x":         false,
		"https://a.corp.example/x":            false,
		"http://127.0.0.1:9000/h":             true,
		"http://127.0.0.1:9001/h":             false,
		"https://user:pw@hooks.example.com/":  false,
		"ftp://hooks.example.com/":            false,
		"https://evil.com/?hooks.example.com": false,
	} {
		if why := h.Check(url); (why == "") != ok {
			t.Errorf("%s: %q, want allowed=%v", url, why, ok)
		}
	}
	if why := Hosts(nil).Check("https://hooks.example.com/"); !strings.Contains(why, "FRAMEQ_WEBHOOK_HOSTS") {
		t.Errorf("no hosts: %q", why)
	}
	if _, err := ParseHosts([]string{"a/b"}); err == nil {
		t.Error("a/b accepted")
	}
}

func TestRetryDelayReachesAnHourAndStays(t *testing.T) {
	if RetryDelay(0) != time.Second || RetryDelay(3) != 8*time.Second || RetryDelay(12) != time.Hour || RetryDelay(199) != time.Hour {
		t.Errorf("delays %v %v %v %v", RetryDelay(0), RetryDelay(3), RetryDelay(12), RetryDelay(199))
	}
	var total time.Duration
	for n := 0; n < maxRetry; n++ {
		total += RetryDelay(n)
	}
	if total < DeliveryWindow {
		t.Errorf("%d attempts span %v, less than the %v window", maxRetry, total, DeliveryWindow)
	}
}

// A batch whose files another batch had queued finishes when the owner's
// files do, and the worker only ever tells the owner: the watcher is woken.
func TestWatcherIsNotifiedWhenTheOwnersFilesSettle(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st, b := NewStore(rdb), records.NewBatches(rdb)
	n := NewNotifier(rdb)
	defer n.Close()
	b.Add(ctx, "owner", []string{"t1"}) // enqueued by the CLI: no callback
	st.Open(ctx, "w", "acme", "http://127.0.0.1:1/hook")
	b.Track(ctx, "w", map[string]string{"t1": "owner"})
	owners, err := b.Owners(ctx, "w")
	if err != nil || len(owners) != 1 || owners[0] != "owner" {
		t.Fatalf("owners %v %v", owners, err)
	}
	if err := st.Watch(ctx, "w", owners); err != nil {
		t.Fatal(err)
	}
	st.Seal(ctx, "w")
	if won, err := n.Settled(ctx, "w"); won || err != nil {
		t.Fatalf("before the owner's file is done: won %v %v", won, err)
	}
	b.Set(ctx, "owner", "t1", records.Done, nil)
	if _, err := n.Settled(ctx, "owner"); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	if _, err := insp.GetTaskInfo(Queue, TaskID("w")); err != nil {
		t.Fatalf("watcher not notified: %v", err)
	}
	if _, err := insp.GetTaskInfo(Queue, TaskID("owner")); err == nil {
		t.Error("the owner, without callback, got a webhook")
	}
}

// Stage reads on the pipeline that records the last file done; its
// remainder then enqueues the webhook.
func TestStageFinishesSettledAfterThePipeline(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st, b := NewStore(rdb), records.NewBatches(rdb)
	n := NewNotifier(rdb)
	defer n.Close()
	st.Open(ctx, "b1", "acme", "http://127.0.0.1:1/hook")
	b.Add(ctx, "b1", []string{"t1"})
	st.Seal(ctx, "b1")
	var after func(context.Context) (bool, error)
	if err := b.Pipelined(ctx, func(p redis.Pipeliner) {
		b.Stage(ctx, p, "b1", "t1", records.Done, nil)
		after = n.Stage(ctx, p, "b1")
	}); err != nil {
		t.Fatal(err)
	}
	if won, err := after(ctx); !won || err != nil {
		t.Fatalf("staged check: won %v, %v; want the webhook enqueued", won, err)
	}
	if won, _ := n.Settled(ctx, "b1"); won {
		t.Error("a second check enqueued again")
	}
}
