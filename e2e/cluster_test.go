package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
	"github.com/frameq/frameq/tasks/upload"
	"github.com/frameq/frameq/throttle"
)

// clusterSettings point worker and enqueue at a Redis Cluster.
func clusterSettings(c *redistest.Cluster) []string {
	return []string{"FRAMEQ_REDIS_CLUSTER_ADDRS=" + strings.Join(c.Addrs(), ",")}
}

// TestRedisPathsOnCluster runs every path of frameq's own Redis code
// against a real 3-master cluster: each Lua script (limiter acquire,
// penalize, observe, state; batch add/set/remove; folder unlock) must keep
// its keys in one hash slot, or the cluster answers CROSSSLOT. Pipelines
// across slots (batch add, done checks) are split by the cluster client.
func TestRedisPathsOnCluster(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cl := redistest.StartCluster(t, 3)
	rdb := cl.Client(t)

	t.Run("limiter", func(t *testing.T) {
		lim, err := throttle.New(rdb, throttle.Config{Limits: map[string]throttle.Limit{
			"calls": {Rate: 200, Per: time.Second, Burst: 1}, "creates": {Rate: 50, Per: time.Second, Burst: 1},
		}})
		if err != nil {
			t.Fatal(err)
		}
		for _, scope := range []string{"token:a", "token:b", "account:c", "token:d"} {
			// Concurrent waiters: reservations and the shared ticket queue.
			var wg sync.WaitGroup
			errs := make(chan error, 10)
			for range 10 {
				wg.Go(func() { errs <- lim.Wait(ctx, scope, "calls", "creates") })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("%s: Wait: %v", scope, err)
				}
			}
			if _, err := lim.Allow(ctx, scope, "calls"); err != nil {
				t.Errorf("%s: Allow: %v", scope, err)
			}
			if err := lim.Penalize(ctx, scope, 20*time.Millisecond); err != nil {
				t.Errorf("%s: Penalize: %v", scope, err)
			}
			if err := lim.Observe(ctx, scope, "creates", 40, time.Second); err != nil {
				t.Errorf("%s: Observe: %v", scope, err)
			}
			if _, err := lim.State(ctx, scope); err != nil {
				t.Errorf("%s: State: %v", scope, err)
			}
			if err := lim.Wait(ctx, scope, "creates"); err != nil {
				t.Errorf("%s: Wait after a penalty: %v", scope, err)
			}
		}
	})

	t.Run("batches", func(t *testing.T) {
		b := records.NewBatches(rdb)
		for _, batch := range []string{"b1", "b2", "b3", "b4"} {
			ids := []string{"up-1", "up-2", "up-3"}
			// The first Add meets a node without the script (NOSCRIPT in a pipeline).
			if err := b.Add(ctx, batch, ids); err != nil {
				t.Fatalf("Add: %v", err)
			}
			steps := []struct {
				id, state string
				f         *records.Failure
			}{{"up-1", records.Active, nil}, {"up-1", records.Done, nil}, {"up-2", records.Failed, &records.Failure{Class: "input", Reason: "x"}}}
			for _, s := range steps {
				if err := b.Set(ctx, batch, s.id, s.state, s.f); err != nil {
					t.Fatalf("Set: %v", err)
				}
			}
			if err := b.Remove(ctx, batch, "up-3"); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			st, err := b.Status(ctx, batch)
			if err != nil || st.Counts[records.Done] != 1 || st.Counts[records.Failed] != 1 || st.Total() != 2 {
				t.Errorf("%s: status %v, %v", batch, st.Counts, err)
			}
			if fs, err := b.Failures(ctx, batch); err != nil || len(fs) != 1 {
				t.Errorf("%s: failures %v, %v", batch, fs, err)
			}
		}
		if recent, err := b.Recent(ctx, time.Hour, 10); err != nil || len(recent) != 4 {
			t.Errorf("Recent: %d batches, %v", len(recent), err)
		}
	})

	t.Run("progress", func(t *testing.T) {
		p := records.NewProgresses(rdb)
		var keys []string
		for i := range 20 {
			k := fmt.Sprintf("key%02d", i)
			keys = append(keys, k)
			steps := []error{
				p.Creating(ctx, k, time.Now()), p.Created(ctx, k, "asset-"+k), p.PartDone(ctx, k, "asset-"+k, 0),
			}
			if i%2 == 0 {
				steps = append(steps, p.Done(ctx, k, "asset-"+k))
			}
			for _, err := range steps {
				if err != nil {
					t.Fatalf("%s: %v", k, err)
				}
			}
		}
		done, err := p.IsDone(ctx, keys) // one pipeline over many slots
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range done {
			if d != (i%2 == 0) {
				t.Errorf("%s: done %t", keys[i], d)
			}
		}
		if err := p.Reset(ctx, keys[0]); err != nil {
			t.Error(err)
		}
		if got, err := p.Get(ctx, keys[1]); err != nil || got.AssetID != "asset-"+keys[1] || !got.PartsDone[0] {
			t.Errorf("Get: %+v, %v", got, err)
		}
	})

	t.Run("folders", func(t *testing.T) {
		sim := frameiosim.StartTest(t, frameiosim.Config{CreateLimit: 100, CallLimit: 500})
		api, err := frameio.New(frameio.Options{BaseURL: sim.URL(), Token: frameiosim.DefaultToken})
		if err != nil {
			t.Fatal(err)
		}
		f := records.NewFolders(rdb)
		root := sim.RootFolder(frameiosim.DefaultToken)
		ids := make(chan string, 8)
		var wg sync.WaitGroup
		for range 8 { // the lock and its unlock script, under contention
			wg.Go(func() {
				id, err := f.EnsureChain(ctx, upload.NewV2(api), "token:default", root, []string{"x", "y", "z"})
				if err != nil {
					t.Errorf("EnsureChain: %v", err)
				}
				ids <- id
			})
		}
		wg.Wait()
		close(ids)
		first := <-ids
		for id := range ids {
			if id != first {
				t.Errorf("folder ids differ: %s, %s", first, id)
			}
		}
		if n := len(sim.Stats().Folders); n != 3 {
			t.Errorf("%d folders made, want 3", n)
		}
	})

	t.Run("breaker and enqueue", func(t *testing.T) {
		dir := t.TempDir()
		for i := range 5 {
			writeFile(t, filepath.Join(dir, fmt.Sprintf("f%d.bin", i)), 10+i)
		}
		uploads, err := job.FromDir(dir, "parent", "acme", false)
		if err != nil {
			t.Fatal(err)
		}
		res, err := job.NewEnqueuer(rdb).Enqueue(ctx, "eb", uploads)
		if err != nil || res.Enqueued != 5 {
			t.Fatalf("Enqueue: %+v, %v", res, err)
		}
		br := job.NewBreaker(rdb)
		if err := br.Trip(ctx, "acme", "401 from GET /me"); err != nil {
			t.Fatalf("Trip: %v", err)
		}
		insp := asynq.NewInspectorFromRedisClient(rdb)
		q, err := insp.GetQueueInfo(job.SmallQueue("acme"))
		if err != nil || !q.Paused || q.Size != 5 {
			t.Errorf("small lane after Trip: %+v, %v; want 5 tasks, paused", q, err)
		}
		if reason, err := br.Reason(ctx, "acme"); err != nil || !strings.Contains(reason, "401") {
			t.Errorf("Reason: %q, %v", reason, err)
		}
		if err := br.Resume(ctx, "acme"); err != nil {
			t.Fatalf("Resume: %v", err)
		}
		if br.Open(ctx, "acme") {
			t.Error("breaker open after Resume")
		}
	})

	// The keys really are spread: every master holds some.
	for _, n := range cl.Nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr()})
		if k, err := c.DBSize(ctx).Result(); err != nil || k == 0 {
			t.Errorf("master %s holds %d keys (%v): the test did not spread over the cluster", n.Addr(), k, err)
		}
		c.Close()
	}
}

// TestBatchOnRedisCluster: worker and enqueue processes given only
// FRAMEQ_REDIS_CLUSTER_ADDRS upload three tokens' batches through a
// 3-master cluster, under lost create answers and failed parts: every
// file arrives once and intact, never over the create limit.
func TestBatchOnRedisCluster(t *testing.T) {
	t.Parallel() // mostly waiting on the cluster and the create limit
	const (
		tokens   = 3
		files    = 30
		partSize = 16 << 10
	)
	cl := redistest.StartCluster(t, 3)
	r := newTopoRig(t, frameiosim.Config{
		Tokens: manyTokens(tokens), CreateLimit: 20, CallLimit: 100, Enforcement: frameiosim.SlidingWindow,
		PartSize: partSize, Seed: 5, Faults: frameiosim.Faults{LostCreate: 0.1, Create500: 0.05, PartFail: 0.05},
	}, rigOptions{worker: append([]string{"FRAMEQ_CREATE_RATE=20/s", "FRAMEQ_CALL_RATE=100/s"}, tokenSettings(seq(tokens)...)...)},
		clusterSettings(cl)...)
	want := map[string]string{}
	var batches []string
	r.spawn("w1")
	r.spawn("w2")
	for i := range tokens {
		dir, w := tokenTree(t, r.root, i, files, []string{"", "a", "a/b"}, func(j int) int { return j * partSize / 4 })
		for k, v := range w {
			want[k] = v
		}
		batches = append(batches, r.enqueueDir(tokenRef(i), r.sim.RootFolder(tokenOf(i)), dir))
	}
	for _, b := range batches {
		r.wait(b, 3*time.Minute)
	}
	st := r.sim.Stats()
	checkExactlyOnce(t, st, want)
	for i := range tokens {
		if m := r.sim.MaxCreatesInWindow(tokenOf(i), time.Second); m > 20 {
			t.Errorf("%s: %d creates in one second, limit 20", tokenOf(i), m)
		}
	}
	if st.LostCreates == 0 {
		t.Error("no lost create answer: the adopt path was not exercised")
	}
	r.checkUnused()
	for _, n := range cl.Nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr()})
		k, err := c.DBSize(t.Context()).Result()
		c.Close()
		if err != nil || k == 0 {
			t.Errorf("master %s holds %d keys (%v)", n.Addr(), k, err)
		}
	}
	t.Logf("%d files over %d tokens; %d creates (%d lost answers), %d orphans deleted", len(st.Files), tokens, st.Creates, st.LostCreates, st.Deleted)
}

// TestBadTopologySettingsExitTwo: contradictory Redis settings stop worker
// and enqueue at once with exit 2 and a message naming the variables.
func TestBadTopologySettingsExitTwo(t *testing.T) {
	r := newRig(t, frameiosim.Config{}, rigOptions{})
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"FRAMEQ_REDIS_CLUSTER_ADDRS=127.0.0.1:1"}, "FRAMEQ_REDIS_URL and FRAMEQ_REDIS_CLUSTER_ADDRS"},
		{[]string{"FRAMEQ_REDIS_URL=", "FRAMEQ_REDIS_SENTINEL_ADDRS=127.0.0.1:1"}, "FRAMEQ_REDIS_SENTINEL_MASTER"},
		{[]string{"FRAMEQ_REDIS_URL=", "FRAMEQ_REDIS_CLUSTER_ADDRS=nohost"}, "FRAMEQ_REDIS_CLUSTER_ADDRS"},
	}
	for _, c := range cases {
		for _, cmd := range [][]string{{"worker"}, {"enqueue", "status", "b"}} {
			_, stderr, code := r.run(cmd[0], c.env, cmd[1:]...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("%s with %v: exit %d, %q; want 2 naming %s", cmd[0], c.env, code, strings.TrimSpace(stderr), c.want)
			}
		}
	}
}
