package metrics

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// LeaseKey is the Redis key of the fleet exporter's lease; its value names
// the holder (host, pid and a random suffix), for operators who wonder.
const LeaseKey = "frameq:metrics:fleet-exporter"

// DefaultLeaseTTL is how long a lease outlives its holder's last renewal:
// a dead exporter's figures are missing for at most this long (plus one
// renewal period) before another process takes over.
const DefaultLeaseTTL = 15 * time.Second

// renewScript extends the lease if it is ours, or takes it if nobody holds
// it, in one step: a GET then SET would let two processes both take it.
var renewScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)

// releaseScript deletes the lease only if it is still ours.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Lease elects one process among those sharing a Redis to export the
// fleet-wide figures (queues, batches), which every process would
// otherwise export alike, so that sum() over a fleet's scrapes counts them
// once. The holder renews it every TTL/3; a process counts itself the
// holder only until TTL after the start of its last successful renewal,
// which ends before Redis lets the lease go, so two holders never overlap
// (short of clocks running at different rates).
type Lease struct {
	rdb redis.UniversalClient
	key string
	id  string
	ttl time.Duration

	mu    sync.Mutex
	until time.Time // held while time.Now() is before it
}

// NewLease returns a lease on LeaseKey in rdb, not yet taken: Run takes
// and keeps it. ttl <= 0 means DefaultLeaseTTL.
func NewLease(rdb redis.UniversalClient, ttl time.Duration) (*Lease, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		return nil, fmt.Errorf("lease id: %w", err)
	}
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(suffix))
	return &Lease{rdb: rdb, key: LeaseKey, id: id, ttl: ttl}, nil
}

// Held reports whether this process holds the lease now.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.until)
}

// Run takes the lease when it is free and renews it while held, until ctx
// ends; then it releases the lease so that another process takes over at
// its next renewal rather than after the TTL.
func (l *Lease) Run(ctx context.Context) {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		_ = l.renew(ctx) // a failed renewal lets the lease lapse: Held turns false by itself
		select {
		case <-ctx.Done():
			l.release()
			return
		case <-t.C:
		}
	}
}

// renew takes or extends the lease once.
func (l *Lease) renew(ctx context.Context) error {
	start := time.Now()
	ok, err := renewScript.Run(ctx, l.rdb, []string{l.key}, l.id, l.ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("renew fleet exporter lease: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok == 1 {
		l.until = start.Add(l.ttl)
	} else {
		l.until = time.Time{}
	}
	return nil
}

// release gives the lease up if it is still ours.
func (l *Lease) release() {
	l.mu.Lock()
	l.until = time.Time{}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = releaseScript.Run(ctx, l.rdb, []string{l.key}, l.id).Err()
}
