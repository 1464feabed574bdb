package upload

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/job"
)

// serve runs h under a real asynq server on srv until the test ends,
// retrying at once (asynq's whole-second schedule) so attempts come fast.
func serve(t *testing.T, srv *redistest.Server, h *Handler) {
	t.Helper()
	s := asynq.NewServerFromRedisClient(srv.Client(t), asynq.Config{
		Concurrency:              2,
		Queues:                   map[string]int{job.Queue("default"): 1, job.SmallQueue("default"): 1},
		RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 0 },
		IsFailure:                IsFailure,
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		Logger:                   quietAsynq{},
	})
	if err := s.Start(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
}

type quietAsynq struct{}

func (quietAsynq) Debug(...any) {}
func (quietAsynq) Info(...any)  {}
func (quietAsynq) Warn(...any)  {}
func (quietAsynq) Error(...any) {}
func (quietAsynq) Fatal(...any) {}

// archivedWithin waits for the one task of the default small queue to be
// archived and returns it.
func archivedWithin(t *testing.T, srv *redistest.Server, d time.Duration) *asynq.TaskInfo {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(srv.Client(t))
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if a, err := insp.ListArchivedTasks(job.SmallQueue("default")); err == nil && len(a) == 1 {
			return a[0]
		}
	}
	t.Fatalf("no task archived within %v", d)
	return nil
}

func settingsRig(t *testing.T, faults frameiosim.Faults, o Options) (*redistest.Server, *rig) {
	sim := frameiosim.StartTest(t, frameiosim.Config{PartSize: testPart, CreateLimit: 1000, CallLimit: 1000, Faults: faults})
	c, err := frameio.New(frameio.Options{BaseURL: sim.URL(), Token: frameiosim.DefaultToken, APITimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t)
	r := &rig{t: t, sim: sim, rdb: srv.Client(t), client: c, root: t.TempDir(), parent: sim.RootFolder(frameiosim.DefaultToken)}
	o.Accounts = map[string]*Account{"default": {Client: c, Scope: "token:default"}}
	o.UploadRoot, o.Log = r.root, zerolog.Nop()
	if r.h, err = NewHandler(r.rdb, o); err != nil {
		t.Fatal(err)
	}
	return srv, r
}

// FRAMEQ_MAX_RETRY is the worker's: a task enqueued with the generous
// ceiling is archived after the worker's count of retries.
func TestWorkerMaxRetryArchivesAfterItsCount(t *testing.T) {
	srv, r := settingsRig(t, frameiosim.Faults{Create500: 1}, Options{MaxRetry: 2})
	u, _ := r.file("a.bin", 10)
	if _, err := job.NewEnqueuer(r.rdb).Enqueue(context.Background(), "b", []*job.Upload{u}); err != nil {
		t.Fatal(err)
	}
	serve(t, srv, r.h)
	a := archivedWithin(t, srv, 20*time.Second)
	if a.MaxRetry != job.MaxRetryCeiling || a.Retried != 2 || !strings.Contains(a.LastErr, "500") {
		t.Errorf("archived after %d retries (task max %d), last error %q; want 2 retries under a ceiling of %d, with the 500",
			a.Retried, a.MaxRetry, a.LastErr, job.MaxRetryCeiling)
	}
}

// FRAMEQ_TASK_TIMEOUT bounds one attempt: an attempt slower than it fails
// (and with MaxRetry 1 is archived) instead of running for asynq's ceiling.
func TestWorkerTaskTimeoutStopsASlowAttempt(t *testing.T) {
	srv, r := settingsRig(t, frameiosim.Faults{Latency: 3 * time.Second}, Options{MaxRetry: 1, TaskTimeout: 500 * time.Millisecond})
	u, _ := r.file("a.bin", 10)
	if _, err := job.NewEnqueuer(r.rdb).Enqueue(context.Background(), "b", []*job.Upload{u}); err != nil {
		t.Fatal(err)
	}
	serve(t, srv, r.h)
	a := archivedWithin(t, srv, 20*time.Second)
	if !strings.Contains(a.LastErr, "deadline") {
		t.Errorf("last error %q, want the attempt's deadline", a.LastErr)
	}
}
