package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Batch states of one task. They outlive asynq's own records (which vanish
// when a task succeeds), so status and wait work for as long as the batch is kept.
const (
	Pending  = "pending"
	Active   = "active"
	Retrying = "retrying"
	// Held: the token's breaker is open; the job waits for enqueue resume.
	Held = "held"
	// Verifying: every byte is sent; Frame.io has not yet said the file is
	// assembled. The task asks again later without holding a worker slot.
	Verifying = "verifying"
	Done      = "done"
	Failed    = "failed"
	// Skipped counts files of the batch that were already uploaded when it
	// was enqueued: accounted for, so they count as finished.
	Skipped = "skipped"
)

// States lists the batch states in display order.
var States = []string{Pending, Active, Retrying, Held, Verifying, Done, Failed, Skipped}

// batchTTL is how long a batch's records live after their last change.
const batchTTL = 30 * 24 * time.Hour

// ttlSlack is how far a batch's TTL may run down before a change renews
// it: renewing the six keys on every change was 6 of the ~13 commands of
// each state change, twice per file. A batch lives batchTTL less at most
// ttlSlack after its last change.
const ttlSlack = time.Hour

// Failure is why one task of a batch gave up.
type Failure struct {
	TaskID string `json:"task_id"`
	Queue  string `json:"queue"`
	Path   string `json:"path"`
	Class  string `json:"class"`
	Reason string `json:"reason"`
	At     int64  `json:"at"`
	// TokenRef names the token whose breaker holds the task (held records).
	TokenRef string `json:"token_ref,omitempty"`
}

// Status counts a batch's tasks by state, and their bytes.
type Status struct {
	Batch  string
	Counts map[string]int64
	Bytes  Bytes
}

// Bytes sums the sizes of a batch's files that have a known size: all of
// them, those done and those failed. Files skipped as already uploaded
// are not in them (nothing is sent for them).
type Bytes struct {
	Total  int64 `json:"total"`
	Done   int64 `json:"done"`
	Failed int64 `json:"failed"`
}

// Total is the number of tasks in the batch.
func (s Status) Total() int64 {
	var n int64
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Finished reports whether every file of the batch is accounted for: done,
// failed or skipped (already uploaded). A batch of only skipped files is
// finished at once.
func (s Status) Finished() bool {
	return s.Total() > 0 && s.Counts[Done]+s.Counts[Failed]+s.Counts[Skipped] == s.Total()
}

// Batches records each task's state per batch, with counters kept exact by
// moving a task between states in one script.
type Batches struct {
	rdb redis.UniversalClient
}

// NewBatches returns a batch store on rdb.
func NewBatches(rdb redis.UniversalClient) *Batches { return &Batches{rdb: rdb} }

// batchKeys are a batch's keys, one hash slot: state (task id → state),
// counts (state → tasks), failed (task id → Failure), sizes (task id →
// bytes, for tasks with a known size), bytes (total, done, failed and the
// time of the last Add) and held (task id → why it is held).
func batchKeys(batch string) []string {
	p := "frameq:batch:{" + batch + "}:"
	return []string{p + "state", p + "counts", p + "failed", p + "sizes", p + "bytes", p + "held"}
}

// Fields of a batch's bytes hash.
const (
	bytesTotal  = "total"
	bytesDone   = "done"
	bytesFailed = "failed"
	lastAdd     = "last_add"
)

// trackedKey maps the tasks a batch tracks but does not own (they were
// already queued by another batch when it was enqueued) to their owner.
//
// Design: a task's payload names one batch, and the worker updates only
// that one. Rather than make the worker fan out to every batch that asked
// for the file (racy: a batch could register after the task finished), a
// tracking batch reads the task's state from its owner's record when its
// status is read. That join needs no writes from the worker, so it cannot
// miss a transition however enqueue and completion interleave.
func trackedKey(batch string) string { return "frameq:batch:{" + batch + "}:tracked" }

// setStateScript moves task ARGV[1] to state ARGV[2]. ARGV[3] is the
// record kept for "failed" (the failure) and "held" (why). ARGV[4] is the
// mode: "1" only adds a task not yet in the batch, "2" moves it only if it
// is in the batch and not finished (vanished tasks), anything else always.
// ARGV[5] is the TTL in seconds. "done" is final: a late duplicate cannot
// undo it. A task's size moves with it into and out of the bytes done and
// failed, in the same script, so bytes and counts never disagree.
// The six keys are renewed together, and only once the state hash's TTL
// has run down by ttlSlack (or it has none: it was just made), so they
// expire together; the failures and held hashes, made lazily, get their
// TTL when first written.
// Returns 1 if the state changed.
const setStateScript = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[4] == '1' and old then return 0 end
if ARGV[4] == '2' and (not old or old == 'done' or old == 'failed') then return 0 end
if old == ARGV[2] or old == 'done' then return 0 end
if old then redis.call('HINCRBY', KEYS[2], old, -1) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if ARGV[2] == 'failed' then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  redis.call('EXPIRE', KEYS[3], ARGV[5])
elseif old == 'failed' then
  redis.call('HDEL', KEYS[3], ARGV[1])
end
if ARGV[2] == 'held' then
  redis.call('HSET', KEYS[6], ARGV[1], ARGV[3])
  redis.call('EXPIRE', KEYS[6], ARGV[5])
elseif old == 'held' then
  redis.call('HDEL', KEYS[6], ARGV[1])
end
if ARGV[2] == 'done' or ARGV[2] == 'failed' or old == 'failed' then
  local size = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
  if size > 0 then
    if ARGV[2] == 'done' or ARGV[2] == 'failed' then redis.call('HINCRBY', KEYS[5], ARGV[2], size) end
    if old == 'failed' then redis.call('HINCRBY', KEYS[5], 'failed', -size) end
  end
end
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[5]) - %d then
  for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
end
return 1`

// removeScript takes task ARGV[1] out of the batch, and its size out of
// the batch's bytes.
const removeScript = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], old, -1)
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[6], ARGV[1])
local size = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
if size > 0 then
  redis.call('HINCRBY', KEYS[5], 'total', -size)
  if old == 'done' or old == 'failed' then redis.call('HINCRBY', KEYS[5], old, -size) end
end
redis.call('HDEL', KEYS[4], ARGV[1])
return 1`

// AddTasksLua defines the Lua function add_tasks(k, ttl, state, ids,
// sizes, total), which registers tasks ids in state unless already in the
// batch, all in one call: a script per task made Redis the bottleneck of a
// 100,000-file enqueue. sizes[i] is ids[i]'s size in bytes, in canonical
// decimal ("0": unknown), total the sum of sizes; the sizes of the added
// tasks go into the batch's total (total less those not added: Lua's
// tonumber goes through strtod, about 2 % of Redis's work in a large
// enqueue if run for every task). k are the
// batch's keys (ScriptKeys), ttl their TTL in seconds. It stamps the
// batch's last Add with Redis's clock (the grace before a missing task
// counts as vanished). Returns how many were added. addScript calls it;
// package job's enqueue script calls it in the same call as it enqueues.
const AddTasksLua = `
local function add_tasks(k, ttl, state, ids, sizes, total)
  local added, bytes = 0, total
  -- A command per 1,000 ids, not per id: within Lua's limit on unpack.
  for first = 1, #ids, 1000 do
    local part = {}
    for i = first, math.min(first + 999, #ids) do part[#part + 1] = ids[i] end
    local old = redis.call('HMGET', k[1], unpack(part))
    local set, sized, seen = {}, {}, {}
    for j, id in ipairs(part) do
      local size = sizes[first + j - 1]
      if not old[j] and not seen[id] then
        seen[id] = true
        set[#set + 1], set[#set + 2] = id, state
        added = added + 1
        if size ~= '0' then sized[#sized + 1], sized[#sized + 2] = id, size end
      elseif size ~= '0' then
        bytes = bytes - tonumber(size)
      end
    end
    if #set > 0 then redis.call('HSET', k[1], unpack(set)) end
    if #sized > 0 then redis.call('HSET', k[4], unpack(sized)) end
  end
  redis.call('HSET', k[5], 'last_add', redis.call('TIME')[1])
  if added > 0 then
    redis.call('HINCRBY', k[2], state, added)
    if bytes > 0 then redis.call('HINCRBY', k[5], 'total', bytes) end
  end
  for i = 1, 6 do redis.call('EXPIRE', k[i], ttl) end
  return added
end
`

// SkipLua defines the Lua function skip_done(k, batch, now, ttl, n), which
// is Skip in a script: k are ScriptKeys(batch), now the Unix time that
// indexes a new batch.
const SkipLua = `
local function skip_done(k, batch, now, ttl, n)
  if n <= 0 then return end
  redis.call('ZADD', k[7], 'NX', now, batch)
  redis.call('HINCRBY', k[2], '` + Skipped + `', n)
  redis.call('EXPIRE', k[2], ttl)
end
`

// ScriptKeys are the keys AddTasksLua and SkipLua take, in this order:
// the batch's six keys (batchKeys) and the index of recent batches. All
// but the last share the batch's hash slot.
func ScriptKeys(batch string) []string { return append(batchKeys(batch), recentKey) }

// addScript registers tasks in state ARGV[2] (add_tasks). KEYS are
// batchKeys; ARGV[1] is the TTL in seconds, ARGV[3] the sum of the sizes,
// ARGV[4..] pairs of task id and size in bytes. Returns how many were
// added.
const addScript = AddTasksLua + `
local ids, sizes = {}, {}
for i = 4, #ARGV, 2 do
  ids[#ids + 1] = ARGV[i]
  sizes[#sizes + 1] = ARGV[i+1]
end
return add_tasks(KEYS, ARGV[1], ARGV[2], ids, sizes, tonumber(ARGV[3]))`

var (
	setState   = redis.NewScript(fmt.Sprintf(setStateScript, int(ttlSlack.Seconds()))) // %d: the slack
	removeTask = redis.NewScript(removeScript)
	addTasks   = redis.NewScript(addScript)
)

// recentKey indexes batches by creation time, for metrics and listings.
const recentKey = "frameq:batches"

// Add registers tasks of unknown size as pending (see AddSized).
func (b *Batches) Add(ctx context.Context, batch string, taskIDs []string) error {
	return b.AddSized(ctx, batch, taskIDs, nil)
}

// AddSized registers tasks as pending, in one script call, and adds the
// sizes of the new ones (sizes[i] for taskIDs[i]; missing or 0: unknown) to
// the batch's bytes total. Tasks already in the batch keep their state.
func (b *Batches) AddSized(ctx context.Context, batch string, taskIDs []string, sizes []int64) error {
	if err := b.index(ctx, batch); err != nil {
		return err
	}
	if len(taskIDs) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(taskIDs)+3)
	args = append(args, strconv.Itoa(int(batchTTL.Seconds())), Pending, 0)
	var total int64
	for i, id := range taskIDs {
		var size int64
		if i < len(sizes) {
			size = max(sizes[i], 0)
		}
		args = append(args, id, size)
		total += size
	}
	args[2] = total
	if err := addTasks.Run(ctx, b.rdb, batchKeys(batch), args...).Err(); err != nil {
		return fmt.Errorf("batch %s: add %d tasks: %w", batch, len(taskIDs), err)
	}
	return nil
}

// index adds batch to the recent batches, if it is not there yet. A
// command of its own: the index and the batch's keys are in different hash
// slots, which a transaction cannot span on a Cluster.
func (b *Batches) index(ctx context.Context, batch string) error {
	if err := b.rdb.ZAddNX(ctx, recentKey, redis.Z{Score: float64(time.Now().Unix()), Member: batch}).Err(); err != nil {
		return fmt.Errorf("batch %s: index: %w", batch, err)
	}
	return nil
}

// Remove takes a task out of a batch (e.g. it was already queued elsewhere).
func (b *Batches) Remove(ctx context.Context, batch, taskID string) error {
	if err := removeTask.Run(ctx, b.rdb, batchKeys(batch), taskID).Err(); err != nil && err != redis.Nil {
		return fmt.Errorf("batch %s: remove %s: %w", batch, taskID, err)
	}
	return nil
}

// Skip records n files of the batch as already uploaded. It also creates
// the batch's record when nothing else was enqueued, so status and wait
// know the batch.
func (b *Batches) Skip(ctx context.Context, batch string, n int) error {
	if n <= 0 {
		return nil
	}
	if err := b.index(ctx, batch); err != nil {
		return err
	}
	key := batchKeys(batch)[1]
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, key, Skipped, int64(n))
		p.Expire(ctx, key, batchTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("batch %s: skip %d: %w", batch, n, err)
	}
	return nil
}

// Track makes batch follow tasks owned by other batches: owners maps task
// id to its owner batch. One round trip for all of them.
func (b *Batches) Track(ctx context.Context, batch string, owners map[string]string) error {
	if len(owners) == 0 {
		return nil
	}
	if err := b.index(ctx, batch); err != nil {
		return err
	}
	key := trackedKey(batch)
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, owners)
		p.Expire(ctx, key, batchTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("batch %s: track %d tasks: %w", batch, len(owners), err)
	}
	return nil
}

// trackedCounts adds to st the owner-side state and bytes of every task
// batch tracks. A task its owner no longer records counts as pending, so a
// wait never reports a file finished that is not.
func (b *Batches) trackedCounts(ctx context.Context, batch string, st *Status) error {
	owners, err := b.rdb.HGetAll(ctx, trackedKey(batch)).Result()
	if err != nil || len(owners) == 0 {
		return err
	}
	ids := make([]string, 0, len(owners))
	states := make([]*redis.StringCmd, 0, len(owners))
	sizes := make([]*redis.StringCmd, 0, len(owners))
	_, err = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for id, owner := range owners {
			ids = append(ids, id)
			keys := batchKeys(owner)
			states = append(states, p.HGet(ctx, keys[0], id))
			sizes = append(sizes, p.HGet(ctx, keys[3], id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for i := range ids {
		state, err := states[i].Result()
		if err != nil || state == "" {
			state = Pending
		}
		st.Counts[state]++
		size, _ := sizes[i].Int64()
		st.Bytes.add(state, size)
	}
	return nil
}

// add counts a task of size bytes in state into b.
func (b *Bytes) add(state string, size int64) {
	b.Total += size
	switch state {
	case Done:
		b.Done += size
	case Failed:
		b.Failed += size
	}
}

// Stage queues Set's script on p, for callers that batch it with other writes.
func (b *Batches) Stage(ctx context.Context, p redis.Pipeliner, batch, taskID, state string, f *Failure) {
	setState.EvalSha(ctx, p, batchKeys(batch), taskID, state, failureRecord(taskID, f), "0", ttlArg())
}

// pipelined runs fn's commands in one round trip. The scripts go by SHA;
// on a Redis that has not seen them yet (NOSCRIPT) they are loaded and the
// pipeline sent again, which is safe: every command in it is idempotent.
func (b *Batches) Pipelined(ctx context.Context, fn func(redis.Pipeliner)) error {
	run := func() error {
		_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error { fn(p); return nil })
		if errors.Is(err, redis.Nil) {
			return nil
		}
		return err
	}
	err := run()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		if err = setState.Load(ctx, b.rdb).Err(); err == nil {
			err = run()
		}
	}
	return err
}

func failureRecord(taskID string, f *Failure) string {
	if f == nil {
		return ""
	}
	f.TaskID = taskID
	js, _ := json.Marshal(f)
	return string(js)
}

// ScriptTTL is the TTL argument, in seconds, of AddTasksLua and SkipLua.
func ScriptTTL() string { return ttlArg() }

func ttlArg() string { return strconv.Itoa(int(batchTTL.Seconds())) }

// Set moves a task to state; f is recorded for Failed (why it failed) and
// Held (why it is held).
func (b *Batches) Set(ctx context.Context, batch, taskID, state string, f *Failure) error {
	err := setState.Run(ctx, b.rdb, batchKeys(batch), taskID, state, failureRecord(taskID, f), "0", ttlArg()).Err()
	if err != nil && err != redis.Nil {
		return fmt.Errorf("batch %s: set %s %s: %w", batch, taskID, state, err)
	}
	return nil
}

// Vanish records task taskID failed with f, but only if the batch still
// has it unfinished (pending, active, retrying, held or verifying): the
// caller found no such task in asynq, and a worker that finished it
// meanwhile wins. It reports whether the task moved.
func (b *Batches) Vanish(ctx context.Context, batch, taskID string, f *Failure) (bool, error) {
	n, err := setState.Run(ctx, b.rdb, batchKeys(batch), taskID, Failed, failureRecord(taskID, f), "2", ttlArg()).Int()
	if err != nil && err != redis.Nil {
		return false, fmt.Errorf("batch %s: vanish %s: %w", batch, taskID, err)
	}
	return n == 1, nil
}

// Unfinished lists the batch's own tasks (not those it tracks) that are
// not done or failed.
func (b *Batches) Unfinished(ctx context.Context, batch string) ([]string, error) {
	var out []string
	var cursor uint64
	for {
		kv, next, err := b.rdb.HScan(ctx, batchKeys(batch)[0], cursor, "", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("batch %s: unfinished tasks: %w", batch, err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != Done && kv[i+1] != Failed {
				out = append(out, kv[i])
			}
		}
		if cursor = next; cursor == 0 {
			return out, nil
		}
	}
}

// LastAdd returns when tasks were last added to the batch (by Redis's
// clock), and Redis's time now; zero if never.
func (b *Batches) LastAdd(ctx context.Context, batch string) (last, now time.Time, err error) {
	var at *redis.StringCmd
	var clock *redis.TimeCmd
	_, err = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		at = p.HGet(ctx, batchKeys(batch)[4], lastAdd)
		clock = p.Time(ctx)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return time.Time{}, time.Time{}, fmt.Errorf("batch %s: last add: %w", batch, err)
	}
	if sec, err := at.Int64(); err == nil {
		last = time.Unix(sec, 0)
	}
	return last, clock.Val(), nil
}

// Holds lists why the batch's held tasks are held, oldest first.
func (b *Batches) Holds(ctx context.Context, batch string) ([]Failure, error) {
	return b.records(ctx, batch, batchKeys(batch)[5])
}

// Status reads a batch's counters.
func (b *Batches) Status(ctx context.Context, batch string) (Status, error) {
	keys := batchKeys(batch)
	var counts, bytes *redis.MapStringStringCmd
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		counts = p.HGetAll(ctx, keys[1])
		bytes = p.HGetAll(ctx, keys[4])
		return nil
	})
	if err != nil {
		return Status{}, fmt.Errorf("batch %s: %w", batch, err)
	}
	s := Status{Batch: batch, Counts: map[string]int64{}}
	for _, st := range States {
		s.Counts[st] = 0
	}
	for k, v := range counts.Val() {
		n, _ := strconv.ParseInt(v, 10, 64)
		s.Counts[k] = n
	}
	bm := bytes.Val()
	s.Bytes.Total, _ = strconv.ParseInt(bm[bytesTotal], 10, 64)
	s.Bytes.Done, _ = strconv.ParseInt(bm[bytesDone], 10, 64)
	s.Bytes.Failed, _ = strconv.ParseInt(bm[bytesFailed], 10, 64)
	if err := b.trackedCounts(ctx, batch, &s); err != nil {
		return Status{}, fmt.Errorf("batch %s: tracked tasks: %w", batch, err)
	}
	return s, nil
}

// Recent returns the counts of up to n batches created within d, newest
// first, for metrics: bounded so a long-lived deployment keeps few series.
func (b *Batches) Recent(ctx context.Context, d time.Duration, n int) (map[string]map[string]int64, error) {
	since := strconv.FormatInt(time.Now().Add(-d).Unix(), 10)
	ids, err := b.rdb.ZRevRangeByScore(ctx, recentKey, &redis.ZRangeBy{Min: since, Max: "+inf", Count: int64(n)}).Result()
	if err != nil {
		return nil, fmt.Errorf("recent batches: %w", err)
	}
	out := make(map[string]map[string]int64, len(ids))
	for _, id := range ids {
		st, err := b.Status(ctx, id)
		if err != nil {
			return nil, err
		}
		out[id] = st.Counts
	}
	return out, nil
}

// Failures lists a batch's failed tasks, oldest first.
func (b *Batches) Failures(ctx context.Context, batch string) ([]Failure, error) {
	return b.records(ctx, batch, batchKeys(batch)[2])
}

// records reads a hash of Failure records (failed or held), oldest first.
func (b *Batches) records(ctx context.Context, batch, key string) ([]Failure, error) {
	m, err := b.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("batch %s records: %w", batch, err)
	}
	out := make([]Failure, 0, len(m))
	for id, js := range m {
		var f Failure
		if err := json.Unmarshal([]byte(js), &f); err != nil {
			f = Failure{TaskID: id, Reason: "unreadable failure record"}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].At < out[j].At || out[i].At == out[j].At && out[i].TaskID < out[j].TaskID
	})
	return out, nil
}

// Report is a batch's status as `enqueue status --json` and the intake's
// GET /v1/batches/{id} print it: one shape for every reader.
type Report struct {
	Batch    string           `json:"batch"`
	Total    int64            `json:"total"`
	Skipped  int64            `json:"skipped"`
	Finished bool             `json:"finished"`
	Counts   map[string]int64 `json:"counts"`
	// Bytes sums the sizes of the files with a known size: all, done, failed.
	Bytes    Bytes     `json:"bytes"`
	Failures []Failure `json:"failures"`
}

// NewReport builds a batch's Report from its status and failures.
func NewReport(st Status, fails []Failure) Report {
	if fails == nil {
		fails = []Failure{}
	}
	return Report{Batch: st.Batch, Total: st.Total(), Skipped: st.Counts[Skipped], Finished: st.Finished(), Counts: st.Counts, Bytes: st.Bytes, Failures: fails}
}

// Owners lists the batches that own tasks batch tracks (see trackedKey),
// each once.
func (b *Batches) Owners(ctx context.Context, batch string) ([]string, error) {
	vals, err := b.rdb.HVals(ctx, trackedKey(batch)).Result()
	if err != nil {
		return nil, fmt.Errorf("batch %s: tracked owners: %w", batch, err)
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out, nil
}
