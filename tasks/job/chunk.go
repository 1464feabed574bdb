package job

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/frameq/frameq/tasks/records"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"
)

// enqueueChunkScript does on a single Redis, in one call per chunk, what
// the per-task path does in several round trips and a script per task:
// the done-check, Skip, the batch registration (records.AddSized), the
// legacy-id lookup and asynq's own enqueue. Its keys span many hash slots
// (progress records, batch records, queues), so a Cluster takes the
// per-task path (enqueueChunkPerTask).
//
// For each upload, in order: recorded done: skipped ('d'). Otherwise it is
// registered in the batch, and then: queued under its legacy id in either
// lane, in any state ('l'); queued under its id in its queue, in any state
// ('q': the caller decides, as asynq's conflict would make it, whether it
// is a retained completed task to drop and enqueue again); queued under
// its id in its token's other lane only ('o': asynq checks an id per
// queue, so this lookup is frameq's; the caller decides as for 'q'); else enqueued
// exactly as asynq v0.26's Client.Enqueue does (internal/rdb enqueueCmd:
// the task hash with msg, state and pending_since, its id pushed on the
// queue's pending list, the queue in asynq:queues) ('e'). The key names
// and the message mirror asynq's internal/base;
// TestScriptedEnqueueWritesWhatAsynqWrites compares them with what asynq
// writes, so an asynq upgrade that changes them fails it.
//
// The per-file key names are built in the script from the prefixes Go
// passes (records.ProgressKey, asynqTaskKey, TaskIDOf, legacyTaskIDOf stay
// their one definition): a string passed in costs Redis a little more
// (the protocol, an argument object, then Lua's copy) than one Lua makes
// (0.6 k instructions per task, docs/benchmarks.md), and the script only
// runs on a single Redis, where it may touch any key.
//
// KEYS[1..7]  records.ScriptKeys(batch)
// KEYS[8]     asynq:queues
// KEYS[9..]   the pending list of each queue (n of them)
// ARGV[1] batch, ARGV[2] batch TTL in seconds, ARGV[3] now in Unix
// seconds (indexes a new batch), ARGV[4] now in Unix nanoseconds (asynq's
// pending_since), ARGV[5..6] a progress record's key before and after the
// idempotency key, ARGV[7..8] a task id before the idempotency key
// (TaskIDOf, legacyTaskIDOf), ARGV[9] n, ARGV[10] the sum of the uploads'
// sizes; then 3 per queue: its name, its task keys' prefix, its token's
// other lane's task keys' prefix; then per upload: the index (1..n) of its queue (only when n > 1), its
// idempotency key, asynq's encoded task message, its size in bytes (0:
// unknown).
// Returns one letter per upload, as above.
const enqueueChunkScript = records.AddTasksLua + records.SkipLua + `
local nq = tonumber(ARGV[9])
local kq, qa, au = 8, 10, 10 + 3 * nq
local stride = 3
if nq > 1 then stride = 4 end
local n = (#ARGV - au) / stride
local pp, ps, cur, leg, total = ARGV[5], ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[10])
-- ks: 5 keys per upload: its progress record, its task under its id in its
-- queue, under its id in the other lane, under its legacy id in its queue,
-- in the other lane.
local ks, tids, qof = {}, {}, {}
for i = 1, n do
  local a, q = au + stride * (i - 1), 1
  if stride == 4 then
    q = tonumber(ARGV[a + 1])
    a = a + 1
  end
  local key, own, other = ARGV[a + 1], ARGV[qa + 3 * q - 1], ARGV[qa + 3 * q]
  local id, j = cur .. key, 5 * (i - 1)
  ks[j + 1], ks[j + 2], ks[j + 3] = pp .. key .. ps, own .. id, other .. id
  ks[j + 4], ks[j + 5] = own .. leg .. key, other .. leg .. key
  tids[i], qof[i] = id, q
end
local codes, ids, sizes, pending = {}, {}, {}, {}
local done = 0
-- Most chunks are new files only: one EXISTS over every key of the chunk
-- (5,000 at most a call: within Lua's limit on unpack) says so, instead of
-- one call per file. A file listed twice in such a chunk is then told by
-- the task its first listing wrote (written).
local fresh, written = true, {}
for first = 1, 5 * n, 5000 do
  if redis.call('EXISTS', unpack(ks, first, math.min(first + 4999, 5 * n))) > 0 then
    fresh = false
    break
  end
end
for i = 1, n do
  local j, a, q, id = 5 * (i - 1), au + stride * i, qof[i], tids[i]
  local seen
  if fresh then
    seen = written[id]
  else
    seen = redis.call('EXISTS', unpack(ks, j + 1, j + 5)) > 0
  end
  if seen and redis.call('HGET', ks[j + 1], 'state') == '` + records.StateDone + `' then
    codes[i] = 'd'
    done = done + 1
    if ARGV[a] ~= '0' then total = total - tonumber(ARGV[a]) end
  else
    ids[#ids + 1] = id
    sizes[#sizes + 1] = ARGV[a]
    if not seen or redis.call('EXISTS', unpack(ks, j + 2, j + 5)) == 0 then
      redis.call('HSET', ks[j + 2], 'msg', ARGV[a - 1], 'state', 'pending', 'pending_since', ARGV[4])
      if fresh then written[id] = true end
      local list = pending[q]
      if not list then
        list = {}
        pending[q] = list
      end
      list[#list + 1] = id
      codes[i] = 'e'
    elseif redis.call('EXISTS', ks[j + 4], ks[j + 5]) > 0 then
      codes[i] = 'l'
    elseif redis.call('EXISTS', ks[j + 2]) > 0 then
      pending[q] = pending[q] or {}
      codes[i] = 'q'
    else
      codes[i] = 'o'
    end
  end
end
-- One LPUSH per queue leaves the list as one per task would, in order.
for q, list in pairs(pending) do
  redis.call('SADD', KEYS[8], ARGV[qa + 3 * q - 2])
  if #list > 0 then redis.call('LPUSH', KEYS[kq + q], unpack(list)) end
end
skip_done(KEYS, ARGV[1], ARGV[3], ARGV[2], done)
redis.call('ZADD', KEYS[7], 'NX', ARGV[3], ARGV[1])
if #ids > 0 then add_tasks(KEYS, ARGV[2], '` + records.Pending + `', ids, sizes, total) end
return table.concat(codes)`

var enqueueChunkCmd = redis.NewScript(enqueueChunkScript)

// asynqQueuesKey is asynq's set of queue names (internal/base.AllQueues).
const asynqQueuesKey = "asynq:queues"

// asynqPendingKey is queue qname's pending list (internal/base.PendingKey).
func asynqPendingKey(qname string) string { return "asynq:{" + qname + "}:pending" }

// enqueueScripted enqueues uploads chunk by chunk, one script call
// (enqueueChunkScript) each, on a single Redis. The next chunk's call is
// built (hashing, payloads, task messages) while Redis runs the current
// one: on two cores that overlaps the two halves of the work. Chunks still
// reach Redis one after another, in order, as on the per-task path.
func (e *Enqueuer) enqueueScripted(ctx context.Context, batch string, uploads []*Upload, small bool, res *Result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan *scriptedChunk, 1)
	go func() {
		defer close(ready)
		for start := 0; start < len(uploads); start += chunk {
			c := e.prepareChunk(batch, uploads[start:min(start+chunk, len(uploads))], small)
			select {
			case ready <- c:
			case <-ctx.Done():
				return
			}
			if c.err != nil {
				return
			}
		}
	}()
	for c := range ready {
		if c.err != nil {
			return c.err
		}
		if err := e.runChunk(ctx, batch, c, small, res); err != nil {
			return err
		}
	}
	return nil
}

// scriptedChunk is one chunk's enqueueChunkScript call, ready to send.
type scriptedChunk struct {
	todo []keyed
	keys []string
	args []any
	err  error
}

// prepareChunk builds the script call of a chunk (see enqueueChunkScript
// for its KEYS and ARGV).
func (e *Enqueuer) prepareChunk(batch string, uploads []*Upload, small bool) *scriptedChunk {
	now := time.Now()
	c := &scriptedChunk{todo: make([]keyed, len(uploads))}
	c.keys = append(records.ScriptKeys(batch), asynqQueuesKey)
	pp, ps, _ := strings.Cut(records.ProgressKey("\x00"), "\x00")
	c.args = []any{batch, records.ScriptTTL(), now.Unix(), now.UnixNano(), pp, ps, TaskIDOf(""), legacyTaskIDOf(""), 0, 0}
	queueIndex := map[string]int{}
	queueOf := make([]int, len(uploads))
	msgs := make([][]byte, len(uploads))
	for i, u := range uploads {
		k := keyed{u, IdempotencyKey(u)}
		c.todo[i] = k
		queue := e.queueOf(u, small)
		q, ok := queueIndex[queue]
		if !ok {
			q = len(queueIndex) + 1
			queueIndex[queue] = q
			c.keys = append(c.keys, asynqPendingKey(queue))
			c.args = append(c.args, queue, asynqTaskKey(queue, ""), asynqTaskKey(e.queueOf(u, !small), ""))
		}
		msg, err := e.asynqMessage(k, queue)
		if err != nil {
			c.err = fmt.Errorf("%s: %w", u.Path, err)
			return c
		}
		queueOf[i], msgs[i] = q, msg
	}
	c.args[8] = len(queueIndex)
	var total int64
	for i, k := range c.todo {
		if len(queueIndex) > 1 {
			c.args = append(c.args, queueOf[i])
		}
		c.args = append(c.args, k.key, msgs[i], max(k.u.Size, 0))
		total += max(k.u.Size, 0)
	}
	c.args[9] = total
	return c
}

// runChunk sends a chunk's script call, then takes the per-task path only
// for the files already queued under their id (a retained completed task
// is dropped and the file enqueued again, as there) and hands those
// already queued over to their owner batch.
func (e *Enqueuer) runChunk(ctx context.Context, batch string, c *scriptedChunk, small bool, res *Result) error {
	codes, err := enqueueChunkCmd.Run(ctx, e.rdb, c.keys, c.args...).Text()
	if err != nil {
		return fmt.Errorf("enqueue %d files of batch %s: %w", len(c.todo), batch, err)
	}
	if len(codes) != len(c.todo) {
		return fmt.Errorf("enqueue %d files of batch %s: the script answered for %d", len(c.todo), batch, len(codes))
	}
	var conflicts, other []keyed
	var queued []queuedAs
	for i, k := range c.todo {
		switch codes[i] {
		case 'd':
			res.Done++
		case 'e':
			res.Enqueued++
		case 'q':
			conflicts = append(conflicts, k)
		case 'o':
			other = append(other, k)
		case 'l':
			queued = append(queued, queuedAs{k, legacyTaskIDOf(k.key)})
		}
	}
	conflicts, queued = e.splitOtherLane(other, small, conflicts, queued)
	return e.settleQueued(ctx, batch, conflicts, queued, small, res)
}

// queueOf is the queue an upload goes to: its token's small lane for a
// small batch, else the bulk lane.
func (e *Enqueuer) queueOf(u *Upload, small bool) string {
	if small {
		return SmallQueue(u.TokenRef)
	}
	return Queue(u.TokenRef)
}

// asynqMessage is the task message asynq v0.26's Client.Enqueue stores
// for newTask(k, queue, e.MaxRetry, e.Timeout, e.Retention): its
// internal/base.EncodeMessage, the protobuf TaskMessage with fields in
// number order and zero values left out. asynq's rules apply: a negative
// MaxRetry is 0; no timeout (and no deadline) is 30 minutes; no deadline,
// unique key, group or headers; and newTask's: no retention below 0. TestScriptedEnqueueWritesWhatAsynqWrites
// compares it byte for byte with asynq's.
func (e *Enqueuer) asynqMessage(k keyed, queue string) ([]byte, error) {
	payload, err := payloadOf(k.u)
	if err != nil {
		return nil, err
	}
	timeout := e.Timeout
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	typ, id := k.u.taskType(), TaskIDOf(k.key)
	b := make([]byte, 0, len(payload)+len(typ)+len(id)+len(queue)+32)
	b = appendProtoBytes(b, 1, []byte(typ))
	b = appendProtoBytes(b, 2, payload)
	b = appendProtoBytes(b, 3, []byte(id))
	b = appendProtoBytes(b, 4, []byte(queue))
	b = appendProtoVarint(b, 5, uint64(int64(int32(max(e.MaxRetry, 0)))))
	b = appendProtoVarint(b, 8, uint64(int64(timeout.Seconds())))
	b = appendProtoVarint(b, 12, uint64(int64(max(e.Retention, 0).Seconds()))) // newTask sets none below 0
	return b, nil
}

// appendProtoBytes appends a proto3 string or bytes field, unless empty.
func appendProtoBytes(b []byte, field protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// appendProtoVarint appends a proto3 integer field, unless 0.
func appendProtoVarint(b []byte, field protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}
