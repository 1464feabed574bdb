package upload

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/lease"
	"github.com/frameq/frameq/tasks/records"
)

// guardFiresAtCreate is an API whose create finds the worker cut off from
// Redis past its lease: the Guard cancels the attempt, and the create
// fails without leaving (the limiter could not reach Redis).
type guardFiresAtCreate struct {
	FrameIO
	cancel context.CancelCauseFunc
	calls  int
}

func (g *guardFiresAtCreate) CreateFile(context.Context, string, NewFile) (*File, error) {
	g.calls++
	g.cancel(lease.ErrMayBeLost)
	return nil, &apierr.Error{NotSent: true, Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("i/o timeout")}}
}

// An attempt the lease Guard stopped records nothing: not why it stopped
// (a "retrying" over the batch state another worker's attempt may have
// set by now), and not the progress reset a create that never left
// otherwise makes (it would erase the record of the file the new owner is
// uploading). Found by e2e TestV4WorkerCutOffFromRedisOnly, where such
// writes, queued in unanswered commands, land when the path heals.
func TestAttemptStoppedByTheLeaseGuardRecordsNothing(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	api := &guardFiresAtCreate{FrameIO: r.api, cancel: cancel}
	h := r.handler(api, nil)
	u, _ := r.file("cut.bin", 3*testPart)
	b, _ := u.Encode()
	err := h.ProcessTask(ctx, asynq.NewTask(job.TypeUpload, b))
	if err == nil || api.calls != 1 {
		t.Fatalf("ProcessTask = %v after %d creates; want the create's error after 1", err, api.calls)
	}
	p, perr := h.progress.Get(context.Background(), job.IdempotencyKey(u))
	if perr != nil || p.State != records.StateCreating {
		t.Errorf("progress %+v, %v; want still %q (not reset)", p, perr, records.StateCreating)
	}
	// Called outside asynq, the task has no id: its batch field is "".
	state, serr := r.rdb.HGet(context.Background(), "frameq:batch:{"+u.Batch+"}:state", "").Result()
	if serr != nil || state != records.Active {
		t.Errorf("batch state %q, %v; want still %q (begin's), no outcome written", state, serr, records.Active)
	}
}
