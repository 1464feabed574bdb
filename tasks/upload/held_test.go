package upload

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
)

// A job held by the token breaker says so, and how to release it, in every
// place it shows: the error asynq stores as the task's last error, the
// batch's held record (enqueue status and wait), and the worker's log.
// Never "rate limited".
func TestHeldJobSaysBreakerAndHowToRelease(t *testing.T) {
	const want = "enqueue resume --token-ref default"
	r := newV4Rig(t, frameiosim.Config{})
	ctx := context.Background()
	breaker := job.NewBreaker(r.rdb)
	var logs bytes.Buffer
	h, err := NewHandler(r.rdb, Options{
		Accounts:   map[string]*Account{"default": {API: r.api, Scope: "token:default"}},
		UploadRoot: r.root, Log: zerolog.New(&logs), Breaker: breaker,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	u, _ := r.file("a.bin", 10)
	batches := records.NewBatches(r.rdb)
	batches.AddSized(ctx, u.Batch, []string{""}, []int64{10}) // ProcessTask outside asynq: task id ""
	for _, step := range []struct {
		name   string
		faults frameiosim.Faults
	}{
		{"tripped by this job", frameiosim.Faults{LockedAccounts: []string{r.acct}}},
		{"already open", frameiosim.Faults{}}, // held before any call
	} {
		name := step.name
		r.sim.SetFaults(step.faults)
		logs.Reset()
		err := r.run(u)
		if !isHeld(err) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "token breaker") ||
			strings.Contains(err.Error(), "rate limited") {
			t.Errorf("%s: task error %q, want held by the breaker naming %q", name, err, want)
		}
		if IsFailure(err) {
			t.Errorf("%s: a held job counts as a failure", name)
		}
		if !strings.Contains(logs.String(), want) || strings.Contains(logs.String(), "rate limited") {
			t.Errorf("%s: log %s lacks %q", name, logs.String(), want)
		}
		holds, _ := batches.Holds(ctx, u.Batch)
		if len(holds) != 1 || holds[0].TokenRef != "default" || !strings.Contains(holds[0].Reason, want) {
			t.Errorf("%s: held records %+v", name, holds)
		}
		if st, _ := batches.Status(ctx, u.Batch); st.Counts[records.Held] != 1 {
			t.Errorf("%s: counts %v, want 1 held", name, st.Counts)
		}
	}
}
