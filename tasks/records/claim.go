package records

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Sentinel failover can lose asynq's dequeue of a task (replication is
// asynchronous), so the promoted master hands the task out again while the
// first worker, riding the failover out, still runs it: two runs of one
// attempt at once. The second then finds the first's "creating" mark, lists
// the folder before the first's create has answered, finds nothing and
// creates too. A create claim closes that: the mark names the run that
// wrote it, and another run of the same or a later attempt treats it as a
// create that may still be in flight, neither creating nor judging it by a
// listing, until the owner records the asset, says its create is over
// (settled), or the mark is older than a create can take.

// CreateOwner is the run that writes a "creating" mark.
type CreateOwner struct {
	// Run is unique to one run of one attempt.
	Run string
	// Attempt is asynq's retry count when the run began: runs of earlier
	// attempts are over (asynq starts an attempt only after the last one
	// returned), runs of the same one may be concurrent.
	Attempt int
}

// ErrCreateInFlight is returned (wrapped in a *CreateInFlightError) when
// another run's create of the file may still be in flight.
var ErrCreateInFlight = errors.New("another run's create of this file may still be in flight")

// CreateInFlightError says how long until the other run's mark is old
// enough to be judged by a listing, at the latest.
type CreateInFlightError struct{ Wait time.Duration }

func (e *CreateInFlightError) Error() string {
	return fmt.Sprintf("%v: waiting up to %v for it", ErrCreateInFlight, e.Wait)
}

// Is makes errors.Is(err, ErrCreateInFlight) true.
func (e *CreateInFlightError) Is(target error) bool { return target == ErrCreateInFlight }

// InFlight reports whether p is a create by a run other than o that may
// still be in flight at now, given that a create is over within window of
// its mark, and if so for how long at most.
func (p *Progress) InFlight(o CreateOwner, now time.Time, window time.Duration) (time.Duration, bool) {
	if p.State != StateCreating || p.CreateRun == "" || p.CreateRun == o.Run || p.CreateSettled || p.CreateAttempt < o.Attempt {
		return 0, false
	}
	left := window - now.Sub(p.CreateStarted)
	return left, left > 0
}

// claimCreate writes a "creating" mark for a run unless another run's
// create may be in flight or the record has moved past creating (another
// run recorded its asset meanwhile).
//
//	KEYS[1]  the progress hash
//	ARGV[1]  run, ARGV[2] attempt, ARGV[3] now (unix ms), ARGV[4] window (ms),
//	ARGV[5]  "1": claim only a record no other run wrote (ClaimFirst)
//
// Returns 0 when the mark is written, -1 when the record is past creating
// (or, with ARGV[5], is another run's), else the ms until the other run's
// mark is window old.
const claimCreate = `local f = redis.call('HMGET', KEYS[1], 'state', 'create_run', 'create_attempt', 'create_settled', 'create_started_ms')
if f[1] and (f[1] ~= 'creating' or (ARGV[5] == '1' and f[2] ~= ARGV[1])) then
  return -1
end
if f[1] == 'creating' and f[2] and f[2] ~= ARGV[1] and not f[4] and tonumber(f[3] or '0') >= tonumber(ARGV[2]) then
  local left = tonumber(ARGV[4]) - (tonumber(ARGV[3]) - tonumber(f[5] or '0'))
  if left > 0 then
    return left
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'creating', 'create_started_ms', ARGV[3], 'create_run', ARGV[1], 'create_attempt', ARGV[2])
return 0`

var claimScript = redis.NewScript(claimCreate)

// ErrPastCreating is returned by Claim when the record has moved past
// "creating" since it was read: another run recorded the file's asset.
var ErrPastCreating = errors.New("progress moved past creating: another run recorded the asset")

// Claim is Creating for run o: it records that o is about to send a
// create, unless another run's create may still be in flight (a
// *CreateInFlightError) or the record has moved past creating
// (ErrPastCreating). With Durability on it returns only once replicas hold
// the mark.
func (s *Progresses) Claim(ctx context.Context, idemKey string, o CreateOwner, at time.Time, window time.Duration) error {
	res, err := s.guarded(ctx, ProgressKey(idemKey), claimScript, nil, o.Run, o.Attempt, at.UnixMilli(), window.Milliseconds(), "0")
	return claimed(res, err)
}

// ClaimFirst is Claim for a run that has not read the file's record (an
// attempt's first run, when the record is almost always new), and marks
// the task active in its batch in the same round trip. It claims only a
// record that does not exist or is already o's: anything else is
// ErrPastCreating, and the caller reads the record and takes the usual
// course (a stale mark is then adopted by a listing, never overwritten
// unread).
//
// also, if not nil, queues commands of the caller's in the same round trip
// (the create's permit, throttle.Limiter.Stage): their errors are theirs to
// read, never ClaimFirst's. On a Cluster it is not called: its keys may
// live on another node than the record's.
func (s *Progresses) ClaimFirst(ctx context.Context, idemKey string, o CreateOwner, at time.Time, window time.Duration, batch, taskID string, also func(redis.Pipeliner)) error {
	b := NewBatches(s.rdb)
	active := func(p redis.Pipeliner) { b.Stage(ctx, p, batch, taskID, Active, nil) }
	if _, ok := s.rdb.(*redis.ClusterClient); ok {
		// The batch's keys are in another slot, maybe on another node than
		// the progress record's guard write: two round trips.
		if err := b.Set(ctx, batch, taskID, Active, nil); err != nil {
			return fmt.Errorf("mark task active: %w", err)
		}
		active, also = nil, nil
	}
	res, err := s.guardedAlso(ctx, ProgressKey(idemKey), claimScript, active, also, o.Run, o.Attempt, at.UnixMilli(), window.Milliseconds(), "1")
	return claimed(res, err)
}

// claimed turns claimCreate's reply into Claim's error.
func claimed(res *redis.Cmd, err error) error {
	if res != nil && res.Err() == nil {
		switch n, _ := res.Int64(); {
		case n < 0:
			return ErrPastCreating
		case n > 0:
			return &CreateInFlightError{Wait: time.Duration(n) * time.Millisecond}
		}
	}
	if err != nil {
		return fmt.Errorf("record create: %w", err)
	}
	return nil
}

// settleCreate marks run ARGV[1]'s create over, if the mark is still its.
const settleCreate = `if redis.call('HGET', KEYS[1], 'create_run') == ARGV[1] and redis.call('HGET', KEYS[1], 'state') == 'creating' then
  return redis.call('HSET', KEYS[1], 'create_settled', 1)
end
return 0`

// Settle records that run's create is over: its answer was lost, or it
// was never sent. Another run may then judge the mark by a listing at
// once. A failure leaves the mark to age out.
func (s *Progresses) Settle(ctx context.Context, idemKey, run string) error {
	if err := s.rdb.Eval(ctx, settleCreate, []string{ProgressKey(idemKey)}, run).Err(); err != nil {
		return fmt.Errorf("record create over: %w", err)
	}
	return nil
}

func parseClaim(p *Progress, m map[string]string) {
	p.CreateRun = m["create_run"]
	p.CreateAttempt, _ = strconv.Atoi(m["create_attempt"])
	p.CreateSettled = m["create_settled"] != ""
}
