package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/redistest"
)

// fleetProc is one simulated worker process: its own Redis connections,
// lease and metrics.
type fleetProc struct {
	rdb   *redis.Client
	lease *Lease
	m     *Metrics
	stop  context.CancelFunc
	done  chan struct{}
}

func startFleetProc(t *testing.T, srv *redistest.Server, ttl time.Duration, batches BatchFunc) *fleetProc {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	lease, err := NewLease(rdb, ttl)
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	m := New()
	m.WatchQueues(insp)
	m.WatchBatches(batches)
	m.ExportFleetWhen(lease.Held)
	ctx, cancel := context.WithCancel(context.Background())
	p := &fleetProc{rdb: rdb, lease: lease, m: m, stop: cancel, done: make(chan struct{})}
	go func() { defer close(p.done); lease.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-p.done })
	return p
}

// sums gathers every live process and adds up each series across them, as
// sum() over the fleet's scrapes does.
func sums(t *testing.T, procs []*fleetProc) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, p := range procs {
		for k, v := range values(t, p.m.Registry()) {
			out[k] += v
		}
	}
	return out
}

// holders returns the indexes of the processes holding the lease.
func holders(procs []*fleetProc) []int {
	var out []int
	for i, p := range procs {
		if p.lease.Held() {
			out = append(out, i)
		}
	}
	return out
}

// TestFleetFiguresExportedOnce: three processes over one real Redis; the
// sum of their scrapes is the true queue and batch figures (one exports,
// two export nothing), and when the exporter dies without releasing the
// lease (its Redis connection gone) another takes over once the lease
// lapses; one that stops cleanly hands over at once.
func TestFleetFiguresExportedOnce(t *testing.T) {
	srv := redistest.Start(t)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: srv.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	for range 5 {
		if _, err := client.Enqueue(asynq.NewTask("x", nil), asynq.Queue("upload:a")); err != nil {
			t.Fatal(err)
		}
	}
	batches := func(context.Context) (map[string]map[string]int64, error) {
		return map[string]map[string]int64{"b1": {"done": 7, "pending": 3}}, nil
	}
	// A TTL of seconds: renewals every second stay on time on a loaded
	// machine, so the stable phase sees no spurious hand-over.
	const ttl = 3 * time.Second
	procs := []*fleetProc{
		startFleetProc(t, srv, ttl, batches),
		startFleetProc(t, srv, ttl, batches),
		startFleetProc(t, srv, ttl, batches),
	}
	waitFor(t, func() bool { return len(holders(procs)) == 1 })
	first := holders(procs)[0]

	want := map[string]float64{
		`frameq_queue_tasks{queue="upload:a",state="pending"}`: 5,
		`frameq_batch_files{batch="b1",state="done"}`:          7,
		`frameq_batch_files{batch="b1",state="pending"}`:       3,
		`frameq_fleet_exporter`:                                1,
	}
	expect(t, sums(t, procs), want)
	for i, p := range procs {
		got := values(t, p.m.Registry())
		_, has := got[`frameq_queue_tasks{queue="upload:a",state="pending"}`]
		if has != (i == first) {
			t.Errorf("process %d (holder %d) exports queue figures: %v", i, first, has)
		}
		if got[`frameq_fleet_exporter`] != boolValue(i == first) {
			t.Errorf("process %d: frameq_fleet_exporter = %v", i, got[`frameq_fleet_exporter`])
		}
	}

	// The holder dies: its connection closes, so it cannot release the lease.
	dead := procs[first]
	_ = dead.rdb.Close()
	dead.stop()
	<-dead.done
	if dead.lease.Held() {
		t.Error("a stopped process still counts itself the exporter")
	}
	alive := append(append([]*fleetProc{}, procs[:first]...), procs[first+1:]...)
	if owner := srv.Client(t).Get(context.Background(), LeaseKey).Val(); owner != dead.lease.id {
		t.Fatalf("lease owner %q right after the crash, want the dead holder's (it could not release)", owner)
	}
	waitFor(t, func() bool { return len(holders(alive)) == 1 })
	expect(t, sums(t, alive), want)

	// The new holder stops cleanly: it releases, and the last one takes over
	// at its next renewal instead of after the TTL.
	second := alive[holders(alive)[0]]
	second.stop()
	<-second.done
	if owner := srv.Client(t).Get(context.Background(), LeaseKey).Val(); owner == second.lease.id {
		t.Fatal("a cleanly stopped holder left its lease in Redis")
	}
	last := alive[0]
	if last == second {
		last = alive[1]
	}
	waitFor(t, last.lease.Held)
	expect(t, sums(t, []*fleetProc{last}), want)
}

// TestLeaseLapsesWithoutRedis: a holder that cannot renew (Redis gone)
// stops counting itself the exporter by the TTL, without any call
// succeeding, since another process may take the lease then.
func TestLeaseLapsesWithoutRedis(t *testing.T) {
	srv := redistest.Start(t)
	p := startFleetProc(t, srv, time.Second, func(context.Context) (map[string]map[string]int64, error) {
		return map[string]map[string]int64{"b1": {"done": 1}}, nil
	})
	waitFor(t, p.lease.Held)
	srv.Stop()
	waitFor(t, func() bool { return !p.lease.Held() })
	got := values(t, p.m.Registry())
	if _, ok := got[`frameq_batch_files{batch="b1",state="done"}`]; ok || got[`frameq_fleet_exporter`] != 0 {
		t.Errorf("a process whose lease lapsed still exports the fleet figures: %v", got)
	}
}

// TestExportFleetWhen: without a gate a process exports the fleet figures
// (one process, or FRAMEQ_FLEET_METRICS=always); a nil gate never does.
func TestExportFleetWhen(t *testing.T) {
	fn := func(context.Context) (map[string]map[string]int64, error) {
		return map[string]map[string]int64{"b1": {"done": 1}}, nil
	}
	m := New()
	m.WatchBatches(fn)
	expect(t, values(t, m.Registry()), map[string]float64{
		`frameq_batch_files{batch="b1",state="done"}`: 1,
		`frameq_fleet_exporter`:                       1,
	})
	m.ExportFleetWhen(nil)
	got := values(t, m.Registry())
	if _, ok := got[`frameq_batch_files{batch="b1",state="done"}`]; ok || got[`frameq_fleet_exporter`] != 0 {
		t.Errorf("ExportFleetWhen(nil) still exports: %v", got)
	}
	if got[`frameq_scrape_errors_total{collector="batches"}`] != 0 {
		t.Error("a process that exports no fleet figures counts scrape errors")
	}
}
