package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/frameq/frameq/seal"
	"github.com/frameq/frameq/tasks/records"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Queue is the asynq queue of a token ref's bulk tasks. Queues per token let
// a worker stop a token's work (pause its queues) without touching others.
func Queue(tokenRef string) string { return "upload:" + tokenRef }

// SmallQueue is the token's lane for small batches. Workers serve it with
// slots of its own, beside the bulk lane's, so ten files enqueued behind a
// hundred thousand are done in seconds, not after them.
func SmallQueue(tokenRef string) string { return Queue(tokenRef) + ":small" }

// Queues are both lanes of a token.
func Queues(tokenRef string) []string { return []string{Queue(tokenRef), SmallQueue(tokenRef)} }

// DefaultSmallBatch is the largest batch that goes to the small lane.
const DefaultSmallBatch = 100

// NewBatchID returns a fresh batch id: sortable by time, unique.
func NewBatchID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "b" + time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// Ceilings set on every task at enqueue. The limits that apply are the
// worker's (FRAMEQ_MAX_RETRY, FRAMEQ_TASK_TIMEOUT, package config): asynq
// keeps MaxRetry and Timeout in the task, so a producer cannot know them,
// and a worker can only lower them.
const (
	MaxRetryCeiling = 1000
	TimeoutCeiling  = 7 * 24 * time.Hour
)

// DefaultRetention is how long a completed upload task stays in asynq's
// completed list. An hour shows what a running batch has finished, with
// each task's payload, for about 18 MiB per token at V4's 5 creates/s
// (about 1 KiB a task, docs/benchmarks.md); a day would be 24 times that,
// and enqueue status answers "is it done?" for 30 days anyway.
const DefaultRetention = time.Hour

// NewTask wraps an upload in an asynq task with its deterministic id,
// queue (one of Queues(u.TokenRef)) and retry settings. A source URL with
// credentials must have been sealed (Check does it).
func NewTask(u *Upload, queue string, maxRetry int, timeout time.Duration) (*asynq.Task, error) {
	if err := u.Validate(u.taskType()); err != nil {
		return nil, err
	}
	return newTask(keyed{u, IdempotencyKey(u)}, queue, maxRetry, timeout, 0)
}

// keyed is an upload with its idempotency key, hashed once per enqueue.
type keyed struct {
	u   *Upload
	key string
}

// newTask is NewTask for a validated upload; retention keeps the task in
// asynq's completed list that long after it succeeds (0: not at all).
func newTask(k keyed, queue string, maxRetry int, timeout, retention time.Duration) (*asynq.Task, error) {
	b, err := payloadOf(k.u)
	if err != nil {
		return nil, err
	}
	opts := []asynq.Option{asynq.TaskID(TaskIDOf(k.key)), asynq.Queue(queue),
		asynq.MaxRetry(maxRetry), asynq.Timeout(timeout)}
	if retention > 0 {
		opts = append(opts, asynq.Retention(retention))
	}
	return asynq.NewTask(k.u.taskType(), b, opts...), nil
}

// payloadOf is the task payload of u, refusing a source URL whose
// credentials are not sealed.
func payloadOf(u *Upload) ([]byte, error) {
	if u.SourceSealed == "" {
		if _, secret := PublicURL(u.SourceURL); secret {
			// Check seals or refuses these; this guards the last step to Redis.
			return nil, errors.New("payload field source_url: carries credentials that are not sealed (use Check with a key)")
		}
	}
	return u.Encode()
}

// taskType is the task type an upload is enqueued as.
func (u *Upload) taskType() string {
	if u.SourceURL != "" {
		return TypeRemoteUpload
	}
	return TypeUpload
}

// Enqueuer puts uploads into Redis: fast (concurrent, pipelined batch
// records) and idempotent (a file already queued or done is skipped).
type Enqueuer struct {
	rdb      redis.UniversalClient
	client   *asynq.Client
	inspect  *asynq.Inspector
	batches  *records.Batches
	progress *records.Progresses
	// MaxRetry and Timeout are set on every task: ceilings only, since the
	// worker's FRAMEQ_MAX_RETRY and FRAMEQ_TASK_TIMEOUT govern below them.
	MaxRetry int
	Timeout  time.Duration
	// Retention keeps a finished task in asynq's completed list (the
	// dashboard's Completed tab) that long (FRAMEQ_COMPLETED_RETENTION);
	// 0 keeps none.
	Retention time.Duration
	// Box seals the credentials of source URLs (FRAMEQ_SECRET_KEY) in
	// Enqueue; nil refuses URLs that carry any.
	Box *seal.Box
	// Concurrency is how many enqueue calls are in flight (default 64).
	Concurrency int
	// SmallBatch is the largest batch sent to the small lane (SmallQueue).
	SmallBatch int
	// Durability makes Enqueue return only once replicas hold the batch
	// (a *records.NotReplicatedError if they do not in time: what was
	// enqueued stays, and enqueueing again adds nothing twice). On a
	// Cluster, whose writes span several masters, it is not waited for.
	Durability records.Durability
	// scripted: rdb is a single Redis, where a chunk is enqueued in one
	// script call (enqueueChunkScript); a Cluster goes task by task.
	scripted bool
}

// NewEnqueuer returns an Enqueuer on rdb.
func NewEnqueuer(rdb redis.UniversalClient) *Enqueuer {
	return &Enqueuer{
		rdb:      rdb,
		client:   asynq.NewClientFromRedisClient(autoPipelined(rdb)),
		inspect:  asynq.NewInspectorFromRedisClient(rdb),
		batches:  records.NewBatches(rdb),
		progress: records.NewProgresses(rdb),
		MaxRetry: MaxRetryCeiling, Timeout: TimeoutCeiling, Retention: DefaultRetention,
		Concurrency: 64, SmallBatch: DefaultSmallBatch,
		scripted: isSingle(rdb),
	}
}

// isSingle reports whether rdb talks to one Redis (a plain client, or a
// Sentinel failover client, which is one too), where a script may touch
// keys of any hash slot.
func isSingle(rdb redis.UniversalClient) bool {
	_, ok := rdb.(*redis.Client)
	return ok
}

// autoPipelined returns rdb's autopipeliner, which sends the commands of
// concurrent callers in shared pipelines: asynq enqueues with one script
// call per task, and a round trip each made syscalls most of a large
// enqueue's cost. It is closed with rdb. A client that cannot autopipeline
// is returned as it is.
func autoPipelined(rdb redis.UniversalClient) redis.UniversalClient {
	c, ok := rdb.(*redis.Client)
	if !ok {
		return rdb
	}
	ap, err := c.AutoPipeline()
	if err != nil {
		return rdb
	}
	return ap
}

// Result counts what Enqueue did.
type Result struct {
	Batch string `json:"batch"`
	// Enqueued tasks are new in this batch.
	Enqueued int `json:"enqueued"`
	// Queued tasks were already waiting in the queue (another batch).
	Queued int `json:"already_queued"`
	// Done files were uploaded before (use Force to upload again).
	Done int `json:"already_done"`
}

// InvalidError refuses a request because of the uploads it lists, each by
// its index in the request; nothing was enqueued.
type InvalidError struct {
	Items []ItemError
}

// ItemError is one refused upload: Err names the field.
type ItemError struct {
	Index int
	Path  string
	Err   error
}

// maxItemErrors bounds what Validate collects: enough to fix a bad
// manifest in one go, not a copy of a million-line one.
const maxItemErrors = 100

// Error lists the refused uploads by path.
func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d invalid upload(s), nothing enqueued", len(e.Items))
	for _, it := range e.Items {
		fmt.Fprintf(&b, "; %s: %v", it.Path, it.Err)
	}
	return b.String()
}

// Validate checks every upload for its task type and returns an
// *InvalidError listing each bad one (up to 100), or nil.
func Validate(uploads []*Upload) error {
	return invalid(eachUpload(uploads, func(u *Upload) error { return u.Validate(u.taskType()) }))
}

// invalid is an *InvalidError of items, or nil if there are none.
func invalid(items []ItemError) error {
	if len(items) == 0 {
		return nil
	}
	return &InvalidError{Items: items}
}

// eachUpload applies f to every upload and returns the first 100 errors,
// in upload order. The uploads are split over the CPUs: a large manifest
// is checked whole before anything is enqueued, so this is time nothing
// else overlaps.
func eachUpload(uploads []*Upload, f func(*Upload) error) []ItemError {
	part := max(1024, (len(uploads)+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0))
	found := make([][]ItemError, (len(uploads)+part-1)/part)
	var wg sync.WaitGroup
	for p := range found {
		wg.Go(func() {
			for i := p * part; i < min((p+1)*part, len(uploads)); i++ {
				if err := f(uploads[i]); err != nil && len(found[p]) < maxItemErrors {
					found[p] = append(found[p], ItemError{Index: i, Path: uploads[i].Path, Err: err})
				}
			}
		})
	}
	wg.Wait()
	var items []ItemError
	for _, f := range found {
		items = append(items, f[:min(len(f), maxItemErrors-len(items))]...)
	}
	return items
}

// chunk is how many uploads share one round of batch writes.
const chunk = 1000

// Enqueue adds every upload to batch, sealing source URLs with e.Box (see
// Check). On error, what was enqueued stays enqueued and is counted in the
// Result.
func (e *Enqueuer) Enqueue(ctx context.Context, batch string, uploads []*Upload) (Result, error) {
	req, err := Check(batch, uploads, e.Box)
	if err != nil {
		return Result{Batch: batch}, err
	}
	return e.EnqueueChecked(ctx, req)
}

// Checked is a batch whose every upload passed Check: the only thing
// EnqueueChecked takes, so a producer that checks first (to report errors
// its own way before touching anything) does not pay for a second check.
type Checked struct {
	batch   string
	uploads []*Upload
}

// Check sets every upload's batch, validates them all, and seals the
// credentials of source URLs with box (FRAMEQ_SECRET_KEY), or refuses
// them when box is nil: a refused payload must not leave the batch waiting
// for a task that never was, nor half a batch enqueued. The error is an
// *InvalidError. Checking a checked batch again changes nothing but its id.
func Check(batch string, uploads []*Upload, box *seal.Box) (*Checked, error) {
	for _, u := range uploads {
		u.Batch = batch
	}
	if err := Validate(uploads); err != nil {
		return nil, err
	}
	if err := invalid(eachUpload(uploads, func(u *Upload) error { return u.sealSource(box) })); err != nil {
		return nil, err
	}
	return &Checked{batch: batch, uploads: uploads}, nil
}

// EnqueueChecked is Enqueue for a checked batch.
func (e *Enqueuer) EnqueueChecked(ctx context.Context, c *Checked) (Result, error) {
	batch, uploads := c.batch, c.uploads
	res := Result{Batch: batch}
	small := len(uploads) <= e.SmallBatch
	if e.scripted {
		if err := e.enqueueScripted(ctx, batch, uploads, small, &res); err != nil {
			return res, err
		}
		return res, e.batches.Replicated(ctx, batch, e.Durability)
	}
	for start := 0; start < len(uploads); start += chunk {
		part := uploads[start:min(start+chunk, len(uploads))]
		if err := e.enqueueChunkPerTask(ctx, batch, part, small, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// enqueueChunkPerTask is enqueueChunk in round trips that each stay in one
// hash slot: the done-check, Skip, Add, the legacy-id lookup, then asynq's
// enqueue task by task (concurrent, autopipelined on a single Redis).
func (e *Enqueuer) enqueueChunkPerTask(ctx context.Context, batch string, uploads []*Upload, small bool, res *Result) error {
	keys := make([]string, len(uploads))
	for i, u := range uploads {
		keys[i] = IdempotencyKey(u)
	}
	done, err := e.progress.IsDone(ctx, keys)
	if err != nil {
		return err
	}
	var todo []keyed
	var ids []string
	for i, u := range uploads {
		if done[i] {
			res.Done++
			continue
		}
		todo = append(todo, keyed{u, keys[i]})
		ids = append(ids, TaskIDOf(keys[i]))
	}
	if err := e.batches.Skip(ctx, batch, len(uploads)-len(todo)); err != nil {
		return err
	}
	// Registered before enqueueing, so a worker's "active" can't be overwritten by "pending".
	if err := e.batches.AddSized(ctx, batch, ids, sizesOf(todo)); err != nil {
		return err
	}
	fresh, queued, other, err := e.splitLegacy(ctx, todo, small)
	if err != nil {
		return err
	}
	fresh, queued = e.splitOtherLane(other, small, fresh, queued)
	return e.settleQueued(ctx, batch, fresh, queued, small, res)
}

// splitOtherLane sorts the uploads queued under their id in their token's
// other lane (asynq's id check is per queue, so this is frameq's): a
// retained completed task there is history, dropped, and the upload joins
// fresh; any other is already queued, and joins queued.
func (e *Enqueuer) splitOtherLane(other []keyed, small bool, fresh []keyed, queued []queuedAs) ([]keyed, []queuedAs) {
	for _, k := range other {
		if e.dropCompleted(e.queueOf(k.u, !small), TaskIDOf(k.key)) {
			fresh = append(fresh, k)
			continue
		}
		queued = append(queued, queuedAs{k, TaskIDOf(k.key)})
	}
	return fresh, queued
}

// settleQueued enqueues fresh through asynq's client (a retained completed
// task under the same id is dropped first, see dropCompleted) and hands
// the files asynq already holds, and those queued, over to their owner
// batch (trackQueued).
func (e *Enqueuer) settleQueued(ctx context.Context, batch string, fresh []keyed, queued []queuedAs, small bool, res *Result) error {
	var err error
	if len(fresh) > 0 {
		var enqueued int
		var conflicts []queuedAs
		enqueued, conflicts, err = e.enqueueAll(ctx, fresh, small)
		queued = append(queued, conflicts...)
		res.Enqueued += enqueued
	}
	res.Queued += len(queued)
	if terr := e.trackQueued(ctx, batch, queued); terr != nil {
		err = errors.Join(err, terr)
	}
	return err
}

// queuedAs is an upload asynq already holds, under the id it holds it as:
// TaskIDOf its key, or legacyTaskIDOf when an older producer queued it.
type queuedAs struct {
	keyed
	id string
}

// splitLegacy sets apart the uploads still queued under their legacy id,
// in either lane and any state (pending, scheduled, retry, archived,
// active), so a file is never queued twice across the change of id form,
// and then those queued under their id in the other lane (other: see
// splitOtherLane). It reads asynq's task keys directly: asynq has no
// lookup of many ids at once, and one pipelined round trip per chunk keeps
// enqueue fast.
func (e *Enqueuer) splitLegacy(ctx context.Context, todo []keyed, small bool) (fresh []keyed, legacy []queuedAs, other []keyed, err error) {
	if len(todo) == 0 {
		return nil, nil, nil, nil
	}
	cmds := make([][3]*redis.IntCmd, len(todo))
	_, err = e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range todo {
			// One EXISTS per key: the lanes hash to different Cluster slots.
			for j, q := range Queues(k.u.TokenRef) {
				cmds[i][j] = p.Exists(ctx, asynqTaskKey(q, legacyTaskIDOf(k.key)))
			}
			cmds[i][2] = p.Exists(ctx, asynqTaskKey(e.queueOf(k.u, !small), TaskIDOf(k.key)))
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("look for tasks queued under legacy ids or in the other lane: %w", err)
	}
	fresh = make([]keyed, 0, len(todo))
	for i, k := range todo {
		switch {
		case cmds[i][0].Val()+cmds[i][1].Val() > 0:
			legacy = append(legacy, queuedAs{k, legacyTaskIDOf(k.key)})
		case cmds[i][2].Val() > 0:
			other = append(other, k)
		default:
			fresh = append(fresh, k)
		}
	}
	return fresh, legacy, other, nil
}

// asynqTaskKey is the Redis key of task id in queue qname, as asynq
// (internal/base.TaskKey) writes it; TestLegacyIDIsFoundInEveryState
// fails if an asynq upgrade moves it.
func asynqTaskKey(qname, id string) string { return "asynq:{" + qname + "}:t:" + id }

// trackQueued hands the tasks that another batch already queued over to
// that batch's record: this batch tracks them (see trackedKey), under the
// id they are queued as, instead of holding a pending entry no worker
// would ever update. It costs a lookup per already-queued file only;
// fresh files pay nothing.
func (e *Enqueuer) trackQueued(ctx context.Context, batch string, queued []queuedAs) error {
	if len(queued) == 0 {
		return nil
	}
	owners := map[string]string{}
	var gone []*Upload
	var errs []error
	for _, q := range queued {
		own := TaskIDOf(q.key)
		owner, found := e.ownerOf(q.u.TokenRef, q.id)
		if found && owner == batch && q.id == own {
			continue // listed twice in this batch: its own entry stays
		}
		if err := e.batches.Remove(ctx, batch, own); err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case !found:
			gone = append(gone, q.u)
		case owner != batch:
			owners[q.id] = owner
		}
	}
	if err := e.batches.Track(ctx, batch, owners); err != nil {
		errs = append(errs, err)
	}
	if err := e.accountGone(ctx, batch, gone); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ownerOf finds the batch named by queued task id's payload, in either
// lane of its token.
func (e *Enqueuer) ownerOf(tokenRef, id string) (string, bool) {
	for _, q := range Queues(tokenRef) {
		info, err := e.inspect.GetTaskInfo(q, id)
		if err != nil {
			continue
		}
		var p struct {
			Batch string `json:"batch"`
		}
		if json.Unmarshal(info.Payload, &p) == nil && p.Batch != "" {
			return p.Batch, true
		}
	}
	return "", false
}

// accountGone settles tasks that finished between the conflict and the
// owner lookup (asynq drops a task when it succeeds): uploaded files are
// skipped; any other is recorded failed, so the batch still finishes.
func (e *Enqueuer) accountGone(ctx context.Context, batch string, gone []*Upload) error {
	if len(gone) == 0 {
		return nil
	}
	keys := make([]string, len(gone))
	for i, u := range gone {
		keys[i] = IdempotencyKey(u)
	}
	done, err := e.progress.IsDone(ctx, keys)
	if err != nil {
		return err
	}
	skipped := 0
	var errs []error
	for i, u := range gone {
		if done[i] {
			skipped++
			continue
		}
		f := &records.Failure{Queue: Queue(u.TokenRef), Path: u.Path, Class: "vanished",
			Reason: "already queued by another batch, then no longer found; retry it", At: time.Now().Unix()}
		errs = append(errs, e.batches.Set(ctx, batch, TaskID(u), records.Failed, f))
	}
	errs = append(errs, e.batches.Skip(ctx, batch, skipped))
	return errors.Join(errs...)
}

// enqueueAll enqueues concurrently; it returns how many were enqueued and
// the uploads that asynq already had.
func (e *Enqueuer) enqueueAll(ctx context.Context, uploads []keyed, small bool) (int, []queuedAs, error) {
	var (
		mu       sync.Mutex
		enqueued int
		queued   []queuedAs
		errs     []error
		wg       sync.WaitGroup
		next     = make(chan keyed)
	)
	for w := 0; w < max(1, e.Concurrency); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				err := e.enqueueOne(ctx, k, small)
				mu.Lock()
				switch {
				case err == nil:
					enqueued++
				case errors.Is(err, asynq.ErrTaskIDConflict):
					queued = append(queued, queuedAs{k, TaskIDOf(k.key)})
				default:
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, u := range uploads {
		next <- u
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		return enqueued, queued, fmt.Errorf("%d of %d not enqueued, first: %w", len(errs), len(uploads), errs[0])
	}
	return enqueued, queued, nil
}

func (e *Enqueuer) enqueueOne(ctx context.Context, k keyed, small bool) error {
	u := k.u
	queue := e.queueOf(u, small)
	t, err := newTask(k, queue, e.MaxRetry, e.Timeout, e.Retention)
	if err != nil {
		return fmt.Errorf("%s: %w", u.Path, err)
	}
	_, err = e.client.EnqueueContext(ctx, t)
	if errors.Is(err, asynq.ErrTaskIDConflict) && e.dropCompleted(queue, TaskIDOf(k.key)) {
		_, err = e.client.EnqueueContext(ctx, t)
	}
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", u.Path, err)
	}
	return nil
}

// dropCompleted deletes task id from queue if asynq holds it only as a
// retained completed task (FRAMEQ_COMPLETED_RETENTION), and reports whether
// it did. Enqueue only gets here for a file that is not recorded done
// (enqueue --recheck found its asset gone, or --force), so the finished task
// is history and must not pass for "already queued".
func (e *Enqueuer) dropCompleted(queue, id string) bool {
	info, err := e.inspect.GetTaskInfo(queue, id)
	if err != nil || info.State != asynq.TaskStateCompleted {
		return false
	}
	return e.inspect.DeleteTask(queue, id) == nil
}
