package upload

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/ident"
	"github.com/frameq/frameq/seal"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/lease"
	"github.com/frameq/frameq/tasks/records"
	"github.com/frameq/frameq/throttle"
)

// Account is what a token ref resolves to on a worker.
type Account struct {
	// Client talks to Frame.io with the token; it waits for the shared
	// limiter before every API call.
	Client *frameio.Client
	// API, if set, is what the state machine drives instead of V2 over Client.
	API FrameIO
	// Scope is the limiter scope, used to keep folder maps per account.
	Scope string
	// StageCreate, if set, queues on p a try for the permit of this
	// account's create call (throttle.Limiter.Stage). A first attempt sends
	// it with its create claim and the create under throttle.WithStaged:
	// the permit then costs no round trip of its own.
	StageCreate func(ctx context.Context, p redis.Pipeliner) *throttle.Staged
}

// frameIO is the API the state machine drives for this account.
func (a *Account) frameIO() FrameIO {
	if a.API != nil {
		return a.API
	}
	return NewV2(a.Client)
}

// Options configures a Handler.
type Options struct {
	// Accounts maps token refs to clients. A payload naming another ref is
	// archived with that reason.
	Accounts map[string]*Account
	// UploadRoot confines which files are read. Required for TypeUpload.
	UploadRoot string
	// PartConcurrency is how many parts of one file are PUT at once (default 4).
	PartConcurrency int
	// PartRetries is how many times one part is tried before the attempt
	// fails (default 4).
	PartRetries int
	// Log receives one line per task outcome, never a secret.
	Log zerolog.Logger
	// Breaker, if set, holds a token's jobs after a 401 or 402 instead of
	// archiving them; without it those jobs are archived.
	Breaker *job.Breaker
	// Observer is told what happens, for metrics. Optional.
	Observer Observer
	// MaxRetry is how many failed attempts a file gets before it is
	// archived (FRAMEQ_MAX_RETRY): the worker's setting, capped by the
	// task's own MaxRetry (a ceiling set at enqueue). Zero leaves the
	// task's own.
	MaxRetry int
	// TaskTimeout bounds one attempt (FRAMEQ_TASK_TIMEOUT); zero leaves
	// only asynq's per-task timeout.
	TaskTimeout time.Duration
	// Verify makes a file done only once Frame.io says it has assembled it
	// (FRAMEQ_VERIFY_UPLOADS); otherwise a file is done when its last part
	// is in.
	Verify bool
	// VerifyTimeout is how long Frame.io may take to say so before the file
	// counts as failed (FRAMEQ_VERIFY_TIMEOUT). Required with Verify.
	VerifyTimeout time.Duration
	// VerifyReuploads is how many times a file Frame.io failed is deleted
	// and uploaded again before it fails for good (FRAMEQ_VERIFY_REUPLOADS).
	VerifyReuploads int
	// Settle is how long a file that changed mid-upload must stay
	// unchanged before it is uploaded again (FRAMEQ_SETTLE); zero: 5 s.
	Settle time.Duration

	// CreateWindow is how long after its "creating" mark a create is surely
	// answered or abandoned: the longest limiter wait before it plus the
	// API timeout, and a margin. Until then another run of the same
	// attempt (two at once after a Sentinel failover lost asynq's dequeue)
	// waits for it instead of judging it by a listing. Zero: 1 minute.
	CreateWindow time.Duration

	// Durability makes the progress writes that guard against a duplicate
	// create wait for replicas (FRAMEQ_REDIS_WAIT_REPLICAS,
	// FRAMEQ_REDIS_WAIT_TIMEOUT); the zero value does not wait.
	Durability records.Durability
	// Settler, if set, is told a file's batch once the file reached a
	// final state (done or failed): the worker's hook for completion
	// webhooks (*notify.Notifier).
	Settler Settler
	// Box opens the sealed credentials of remote uploads' source URLs
	// (FRAMEQ_SECRET_KEY, the producers' key). Without it a sealed payload
	// is archived saying so; unsealed ones need none.
	Box *seal.Box
}

// Settler is told when a file of a batch is final. Stage queues its reads
// on the pipeline that records a file done and returns the rest, so the
// common case (no webhook due) costs no round trip of its own. Both are
// called concurrently.
type Settler interface {
	Settled(ctx context.Context, batch string) (bool, error)
	Stage(ctx context.Context, p redis.Pipeliner, batch string) func(context.Context) (bool, error)
}

// Observer receives upload events; *metrics.Metrics implements it.
type Observer interface {
	FileFinished(taskType, class string)
	// FileUploaded is told a done file's size and how long the attempt
	// that completed it took.
	FileUploaded(taskType string, size int64, took time.Duration)
	BytesUploaded(n int64)
	PartRetry()
	InFlight(delta int)
}

type noObserver struct{}

func (noObserver) FileFinished(string, string)               {}
func (noObserver) FileUploaded(string, int64, time.Duration) {}
func (noObserver) BytesUploaded(int64)                       {}
func (noObserver) PartRetry()                                {}
func (noObserver) InFlight(int)                              {}

// Handler processes upload tasks. Register it for both task types:
//
//	mux.Handle(job.TypeUpload, h)
//	mux.Handle(job.TypeRemoteUpload, h)
type Handler struct {
	opts     Options
	root     uploadRoot
	rdb      redis.UniversalClient
	progress *records.Progresses
	folders  *records.Folders
	batches  *records.Batches
}

// NewHandler returns a handler that keeps its records in rdb.
func NewHandler(rdb redis.UniversalClient, o Options) (*Handler, error) {
	if o.PartConcurrency <= 0 {
		o.PartConcurrency = 4
	}
	if o.PartRetries <= 0 {
		o.PartRetries = 4
	}
	if o.Observer == nil {
		o.Observer = noObserver{}
	}
	if o.Settle <= 0 {
		o.Settle = 5 * time.Second
	}
	if o.Verify && (o.VerifyTimeout <= 0 || o.VerifyReuploads < 0) {
		return nil, fmt.Errorf("upload: Verify needs a positive VerifyTimeout (got %v) and VerifyReuploads >= 0 (got %d)", o.VerifyTimeout, o.VerifyReuploads)
	}
	h := &Handler{opts: o, rdb: rdb, progress: records.NewProgresses(rdb).WithDurability(o.Durability), folders: records.NewFolders(rdb), batches: records.NewBatches(rdb)}
	if o.UploadRoot != "" {
		root, err := resolveRoot(o.UploadRoot)
		if err != nil {
			return nil, err
		}
		h.root = root
	}
	return h, nil
}

// maxInProcessWaits bounds how often one attempt waits out a 429 itself
// before handing the task back to the queue.
const maxInProcessWaits = 20

// ProcessTask implements asynq.Handler.
func (h *Handler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	growStack()
	taskID, _ := asynq.GetTaskID(ctx)
	try, _ := asynq.GetRetryCount(ctx)
	maxRetry, byAsynq := asynq.GetMaxRetry(ctx)
	switch {
	case !byAsynq: // called directly (tests, tools): nothing archives it
		maxRetry = max(h.opts.MaxRetry, try+1)
	case h.opts.MaxRetry > 0:
		maxRetry = min(maxRetry, h.opts.MaxRetry)
	}
	if h.opts.TaskTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.opts.TaskTimeout)
		defer cancel()
	}
	queue, _ := asynq.GetQueueName(ctx)
	log := h.opts.Log.With().Str("task_id", taskID).Int("attempt", try+1).Logger()

	u, err := job.DecodeUpload(t.Type(), t.Payload())
	if err != nil {
		log.Error().Err(err).Msg("bad payload")
		h.markBadPayload(ctx, t.Payload(), taskID, queue, err)
		return terminal(ClassInput, err.Error())
	}
	log = log.With().Str("batch", u.Batch).Str("file", u.Path).Logger()
	ctx = log.WithContext(ctx)
	at := &attempt{u: u, taskID: taskID, queue: queue, key: job.IdempotencyKey(u), last: try >= maxRetry,
		owner: records.CreateOwner{Run: newRunID(), Attempt: try}}
	var pre *records.Progress
	if try == 0 && u.SourceURL == "" {
		// A first attempt's file is almost always new: its record is not
		// read, and ClaimFirst marks the task active with the claim.
		at.unread, pre = true, &records.Progress{}
	} else {
		pre = h.begin(ctx, at)
	}

	h.opts.Observer.InFlight(1)
	defer h.opts.Observer.InFlight(-1)
	start := time.Now()
	assetID, err := h.run(ctx, at, pre)
	if lease.Lost(ctx) {
		// Cut off from Redis past the lease: the task may be another
		// worker's now, so this attempt records nothing, not even why.
		log.Warn().Err(err).Msg("stopped: redis silent for longer than the task lease is sure to last; recording nothing, another worker may run it now")
		return err
	}
	if err == nil {
		err = h.complete(ctx, at, assetID)
	}
	return h.finish(ctx, at, err, time.Since(start))
}

// taskStack is about what one attempt's goroutine needs (go-redis and
// net/http calls under the state machine).
const taskStack = 16 << 10

// growStack grows the calling goroutine's stack to hold taskStack in one
// step, while the stack is shallow. asynq runs each task on a new goroutine,
// which starts small; left to itself it would grow two or three times, deep
// in a Redis or HTTP call, each time copying and adjusting every frame
// (runtime.copystack: 8 % of the worker's CPU in row 4 of frameq-bench).
//
//go:noinline
func growStack() {
	var pad [taskStack]byte
	stackSink(pad[:])
}

//go:noinline
func stackSink([]byte) {}

// newRunID names one run of an attempt, unique across workers.
func newRunID() string { return rand.Text() }

// attempt is what one try of one task carries through the state machine.
type attempt struct {
	u      *job.Upload
	taskID string
	queue  string
	key    string // u's idempotency key, hashed once per attempt
	last   bool   // asynq archives the task if this try fails
	// owner names this run in the "creating" marks it writes.
	owner records.CreateOwner
	acct  *Account
	api   FrameIO // acct's, set once the token ref is known
	// settle finishes the Settler's check staged with the done record.
	settle func(context.Context) (bool, error)
	// version is the local file's as this attempt started.
	version version
	// current is the idempotency key of the file as it is uploaded, set
	// when that is not the version enqueued (it changed mid-upload and
	// settled): recorded done too, so enqueueing it again uploads nothing.
	current string
	// unread: the file's record was not read and the task not yet marked
	// active: the run goes on as for a new file until the create claim
	// (ClaimFirst), which does both or sends it to read the record. Any
	// step that needs the record before then reads it (reread).
	unread bool
}

// begin marks the task active and reads its progress in one round trip.
// A nil Progress (Redis trouble) makes the upload read it itself.
func (h *Handler) begin(ctx context.Context, at *attempt) *records.Progress {
	var read *redis.MapStringStringCmd
	err := h.batches.Pipelined(ctx, func(p redis.Pipeliner) {
		h.batches.Stage(ctx, p, at.u.Batch, at.taskID, records.Active, nil)
		read = p.HGetAll(ctx, records.ProgressKey(at.key))
	})
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("batch record not updated")
		return nil
	}
	return records.ParseProgress(read.Val())
}

// reread is the file's record for a step that needs it read: with the
// task marked active in the same round trip, if it is not yet.
func (h *Handler) reread(ctx context.Context, at *attempt) (*records.Progress, error) {
	if !at.unread {
		return h.progress.Get(ctx, at.key)
	}
	at.unread = false
	if p := h.begin(ctx, at); p != nil {
		return p, nil
	}
	return h.progress.Get(ctx, at.key)
}

// complete records the file done and the batch's count in one round trip.
// If that fails the upload is still safe: the next attempt finds the asset
// complete and records it then.
func (h *Handler) complete(ctx context.Context, at *attempt, assetID string) error {
	ctx = context.WithoutCancel(ctx)
	write := func() error {
		return h.batches.Pipelined(ctx, func(p redis.Pipeliner) {
			h.progress.StageDone(ctx, p, at.key, assetID)
			if at.current != "" {
				h.progress.StageDone(ctx, p, at.current, assetID)
			}
			p.Del(ctx, changingKey(at.key))
			h.batches.Stage(ctx, p, at.u.Batch, at.taskID, records.Done, nil)
			if h.opts.Settler != nil {
				at.settle = h.opts.Settler.Stage(ctx, p, at.u.Batch)
			}
		})
	}
	err := write()
	if err != nil && h.awaitRedis(ctx) {
		err = write()
	}
	if err != nil {
		return fmt.Errorf("record done: %w", err)
	}
	return nil
}

// run does the upload, waiting out rate limits in process: the state
// machine resumes where it stopped, so repeating it is safe. pre is the
// progress read by begin, used by the first try only.
func (h *Handler) run(ctx context.Context, at *attempt, pre *records.Progress) (string, error) {
	for waits, outages := 0, 0; ; waits++ {
		assetID, err := h.upload(ctx, at, pre)
		pre = nil
		if errors.Is(err, records.ErrNotReplicated) {
			// A failover now could lose the guard record: the create (or
			// the parts) must wait until replicas hold it.
			err = &waitError{wait: notReplicatedWait, cause: err}
		}
		if err != nil && ctx.Err() == nil && outages < maxOutages && h.awaitRedis(ctx) {
			outages++
			continue
		}
		wait, isWait := delayOf(err)
		if !isWait || ctx.Err() != nil {
			return assetID, err
		}
		if at.unread { // about to wait: the batch must say active meanwhile
			at.unread = false
			h.mark(ctx, at.u, at.taskID, records.Active, nil)
		}
		// Hand long waits (and every verification or breaker wait) back to the queue
		// to free this slot, unless asynq would archive the task for it (it
		// checks MaxRetry before IsFailure).
		// A held job goes back at once too: only enqueue resume releases it,
		// and while it sleeps here its batch record would say "active".
		if !at.last && (waits >= maxInProcessWaits || wait > 10*time.Second || errors.Is(err, errVerifying) || isHeld(err) || errors.Is(err, errChanging)) {
			var w *waitError
			if errors.As(err, &w) {
				return "", err
			}
			return "", &waitError{wait: wait, cause: err}
		}
		msg := "rate limited, waiting"
		switch {
		case isHeld(err):
			msg = "held by the token breaker, waiting for enqueue resume"
		case errors.Is(err, records.ErrCreateInFlight):
			msg = "another run of this file is creating it, waiting"
		}
		zerolog.Ctx(ctx).Debug().Dur("wait", wait).Err(err).Msg(msg)
		if err := throttle.Sleep(ctx, wait); err != nil {
			return "", err
		}
	}
}

// notReplicatedWait is how long an attempt waits when its guard record
// did not reach enough replicas in time (a replica down or far behind).
const notReplicatedWait = time.Second

// Redis outages an attempt rides out: up to maxOutages, each while Redis
// answers again within outageWait. The wait stays under asynq's 30 s task
// lease, so the task is still this worker's when Redis is back.
const (
	maxOutages = 3
	outageWait = 20 * time.Second
)

// awaitRedis reports whether Redis was unreachable and is back. A failure
// returned to asynq while Redis is down is lost (v0.26 retries the write
// with a context it has already cancelled), leaving the task stuck until
// lease recovery, one to two minutes later; waiting here avoids that.
func (h *Handler) awaitRedis(ctx context.Context) bool {
	rdb := h.rdb
	if rdb.Ping(ctx).Err() == nil {
		return false
	}
	log := zerolog.Ctx(ctx)
	log.Warn().Msg("redis unreachable: waiting for it before retrying")
	for deadline := time.Now().Add(outageWait); time.Now().Before(deadline); {
		if throttle.Sleep(ctx, 500*time.Millisecond) != nil {
			return false
		}
		if rdb.Ping(ctx).Err() == nil {
			log.Info().Msg("redis is back: resuming")
			return true
		}
	}
	return false
}

// upload returns the id of the completed asset; the caller records it.
func (h *Handler) upload(ctx context.Context, at *attempt, pre *records.Progress) (string, error) {
	u := at.u
	acct, ok := h.opts.Accounts[u.TokenRef]
	if !ok {
		return "", terminal(ClassInput, fmt.Sprintf("unknown token ref %q: this worker has no %s", u.TokenRef, ident.TokenVar(u.TokenRef)))
	}
	if h.opts.Breaker != nil && h.opts.Breaker.Open(ctx, u.TokenRef) {
		return "", held(u.TokenRef)
	}
	at.acct, at.api = acct, acct.frameIO()
	if u.SourceURL != "" {
		return h.uploadRemote(ctx, at, pre)
	}
	return h.uploadFile(ctx, at, pre)
}

// finish maps the outcome to asynq's vocabulary and the batch record.
func (h *Handler) finish(ctx context.Context, at *attempt, err error, took time.Duration) error {
	u, taskID, queue := at.u, at.taskID, at.queue
	log := zerolog.Ctx(ctx)
	class := classOf(err)
	if class == apierr.TokenRejected.String() && h.opts.Breaker != nil {
		reason := fmt.Sprintf("token ref %q rejected: %v", u.TokenRef, err)
		if terr := h.opts.Breaker.Trip(ctx, u.TokenRef, reason); terr != nil {
			log.Error().Err(terr).Msg("token breaker not tripped")
		} else {
			log.Error().Str("token_ref", u.TokenRef).Err(err).Msg("token rejected: breaker open, queue paused; fix the token, then run enqueue resume --token-ref " + u.TokenRef)
		}
		err = held(u.TokenRef)
	}
	var w *waitError
	switch {
	case isHeld(err):
		h.mark(ctx, u, taskID, records.Held, &records.Failure{Queue: queue, Path: u.Path, Class: apierr.TokenRejected.String(), Reason: err.Error(), TokenRef: u.TokenRef})
		log.Warn().Str("token_ref", u.TokenRef).Msg(err.Error())
		return err
	case err == nil: // complete recorded the batch's count
		h.opts.Observer.FileFinished(typeName(u), apierr.OK.String())
		h.opts.Observer.FileUploaded(typeName(u), u.Size, took)
		log.Info().Dur("took", took).Int64("bytes", u.Size).Msg("uploaded")
		h.settledStaged(ctx, at)
		return nil
	case errors.Is(err, errVerifying) && errors.As(err, &w):
		h.mark(ctx, u, taskID, records.Verifying, nil)
		log.Info().Dur("wait", w.wait).Msg("verifying: Frame.io is assembling the file; asking again later")
		return err
	case errors.Is(err, errChanging) && errors.As(err, &w):
		h.mark(ctx, u, taskID, records.Retrying, nil)
		log.Info().Dur("wait", w.wait).Msg("file changing: handed back until it is still")
		return err
	case errors.As(err, &w):
		h.mark(ctx, u, taskID, records.Retrying, nil)
		log.Info().Dur("wait", w.wait).Msg("rate limited: handed back to the queue")
		return err
	case errors.Is(err, asynq.SkipRetry), class == apierr.Terminal.String(), class == apierr.TokenRejected.String():
		h.opts.Observer.FileFinished(typeName(u), class)
		h.mark(ctx, u, taskID, records.Failed, &records.Failure{Queue: queue, Path: u.Path, Class: class, Reason: err.Error()})
		log.Error().Str("class", class).Err(err).Msg("failed: archived")
		h.settled(ctx, u.Batch)
		if errors.Is(err, asynq.SkipRetry) {
			return err
		}
		return terminal(class, err.Error())
	case at.last:
		h.opts.Observer.FileFinished(typeName(u), ClassExhausted)
		h.mark(ctx, u, taskID, records.Failed, &records.Failure{Queue: queue, Path: u.Path, Class: ClassExhausted, Reason: err.Error()})
		log.Error().Str("class", class).Err(err).Msg("failed: retries exhausted")
		h.settled(ctx, u.Batch)
		// SkipRetry: asynq archives it now, also when the worker's
		// MaxRetry is below the task's own.
		return terminal(ClassExhausted, err.Error())
	default:
		h.mark(ctx, u, taskID, records.Retrying, nil)
		log.Warn().Str("class", class).Err(err).Msg("attempt failed, will retry")
		return err
	}
}

// markBadPayload records an invalid payload's failure on its batch, if the
// payload names a usable one, so the producer sees why in enqueue status.
func (h *Handler) markBadPayload(ctx context.Context, payload []byte, taskID, queue string, err error) {
	var p struct {
		Batch string `json:"batch"`
		Path  string `json:"path"`
	}
	if json.Unmarshal(payload, &p) != nil || job.ValidateID("batch", p.Batch) != nil {
		return
	}
	f := &records.Failure{Queue: queue, Path: p.Path, Class: ClassInput, Reason: err.Error(), At: time.Now().Unix()}
	if err := h.batches.Set(context.WithoutCancel(ctx), p.Batch, taskID, records.Failed, f); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("batch record not updated")
	}
}

// mark records a batch state; a failure to do so is logged, not fatal:
// the upload itself matters more than its bookkeeping.
func (h *Handler) mark(ctx context.Context, u *job.Upload, taskID, state string, f *records.Failure) {
	if f != nil {
		f.At = time.Now().Unix()
	}
	err := h.batches.Set(context.WithoutCancel(ctx), u.Batch, taskID, state, f)
	if err != nil && h.awaitRedis(ctx) {
		// Redis went away as the task ended: record the outcome now it is
		// back, and only then hand it to asynq, whose write would be lost.
		err = h.batches.Set(context.WithoutCancel(ctx), u.Batch, taskID, state, f)
	}
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("state", state).Msg("batch record not updated")
	}
}

// settled tells the Settler that a file of batch is final.
func (h *Handler) settled(ctx context.Context, batch string) {
	if h.opts.Settler != nil {
		won, err := h.opts.Settler.Settled(context.WithoutCancel(ctx), batch)
		h.logSettled(ctx, won, err)
	}
}

// settledStaged finishes the check staged with the done record, or runs
// it whole when the record was written without it.
func (h *Handler) settledStaged(ctx context.Context, at *attempt) {
	if at.settle == nil {
		h.settled(ctx, at.u.Batch)
		return
	}
	won, err := at.settle(context.WithoutCancel(ctx))
	h.logSettled(ctx, won, err)
}

// logSettled: a failed check is only logged; the next settled file of the
// batch, on any worker, checks again.
func (h *Handler) logSettled(ctx context.Context, won bool, err error) {
	switch {
	case err != nil:
		zerolog.Ctx(ctx).Warn().Err(err).Msg("webhook not enqueued")
	case won:
		zerolog.Ctx(ctx).Info().Msg("batch finished: webhook enqueued")
	}
}

func typeName(u *job.Upload) string {
	if u.SourceURL != "" {
		return job.TypeRemoteUpload
	}
	return job.TypeUpload
}
