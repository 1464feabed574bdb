package chain

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/ims"
	"github.com/frameq/frameq/seal"
)

// RefreshTokenLifetime is how long an IMS user refresh token lives. Days
// left are counted from the login (State.LoginAt), not from the last
// rotation: IMS does not promise that a rotated token's life starts again,
// and warning early costs nothing.
const RefreshTokenLifetime = 14 * 24 * time.Hour

// KeySize is the AES-256 key's length.
const KeySize = seal.KeySize

// State is one ref's stored chain. RefreshToken and AccessToken are
// secrets: print a State with Summary.
type State struct {
	RefreshToken string    `json:"rt"`
	AccessToken  string    `json:"at,omitempty"`
	AccessIssued time.Time `json:"ai,omitzero"`
	AccessExpiry time.Time `json:"ae,omitzero"`
	// LoginAt is when the chain began: the import or the bootstrap.
	LoginAt     time.Time `json:"login"`
	LastRenewal time.Time `json:"renewed,omitzero"`
	// Mints are the refreshes of the last hour.
	Mints []time.Time `json:"mints,omitempty"`
	// Generation grows with every change.
	Generation int64 `json:"gen"`
	// Rejected is why IMS refused the refresh token: log in again.
	Rejected string `json:"rejected,omitempty"`
}

// Summary is a State without its secrets, for status output.
type Summary struct {
	Ref           string
	AccessExpiry  time.Time
	LoginAt       time.Time
	LastRenewal   time.Time
	MintsLastHour int
	Rejected      string
}

// Summary describes s at now without a secret.
func (s *State) Summary(ref string, now time.Time) Summary {
	n := 0
	for _, t := range s.Mints {
		if now.Sub(t) < time.Hour {
			n++
		}
	}
	return Summary{Ref: ref, AccessExpiry: s.AccessExpiry, LoginAt: s.LoginAt, LastRenewal: s.LastRenewal, MintsLastHour: n, Rejected: s.Rejected}
}

// Age is how long ago the login was.
func (s Summary) Age(now time.Time) time.Duration { return now.Sub(s.LoginAt) }

// DaysLeft is the refresh token's days left at now (negative: lapsed).
func (s Summary) DaysLeft(now time.Time) float64 {
	return (RefreshTokenLifetime - s.Age(now)).Hours() / 24
}

// refreshAt is when the stored access token is due for replacement.
func (s *State) refreshAt() time.Time {
	return s.AccessIssued.Add(refreshAfter(s.AccessExpiry.Sub(s.AccessIssued)))
}

// token is the stored access token as the cache keeps it.
func (s *State) token() ims.Token {
	return ims.Token{Access: s.AccessToken, RefreshAt: s.refreshAt(), Expiry: s.AccessExpiry}
}

// Keys: the ref in a hash tag, so the chain and its lock share a Redis
// Cluster slot (one script touches both).
func chainKey(ref string) string { return "frameq:ims:{" + ref + "}:chain" }
func lockKey(ref string) string  { return "frameq:ims:{" + ref + "}:lock" }

// ErrKey is a secret key that is missing, malformed or not the one a chain
// was sealed with.
var ErrKey = errors.New(seal.KeyVar)

// sealer seals and opens one ref's records.
type sealer struct {
	box *seal.Box
	ref string
}

func newSealer(key []byte, ref string) (*sealer, error) {
	box, err := seal.New(key)
	if err != nil {
		return nil, fmt.Errorf("%w: want %d bytes (openssl rand -base64 32), got %d", ErrKey, KeySize, len(key))
	}
	return &sealer{box: box, ref: ref}, nil
}

// ad binds a record to its ref, so a chain cannot be moved to another.
func (s *sealer) ad() []byte { return []byte("frameq ims chain v1 ref " + s.ref) }

func (s *sealer) seal(st *State) ([]byte, error) {
	plain, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return s.box.Seal(plain, s.ad()), nil
}

func (s *sealer) open(b []byte) (*State, error) {
	plain, err := s.box.Open(b, s.ad())
	if errors.Is(err, seal.ErrFormat) {
		return nil, fmt.Errorf("token ref %q: the stored chain is not a frameq record", s.ref)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: token ref %q: the stored chain cannot be decrypted: FRAMEQ_SECRET_KEY is not the key it was stored with (or the record was altered)", ErrKey, s.ref)
	}
	var st State
	if err := json.Unmarshal(plain, &st); err != nil {
		return nil, fmt.Errorf("token ref %q: the stored chain is unreadable: %v", s.ref, err)
	}
	return &st, nil
}

// load reads and opens the ref's chain; nil if there is none.
func (s *sealer) load(ctx context.Context, rdb redis.UniversalClient) (*State, error) {
	b, err := rdb.Get(ctx, chainKey(s.ref)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token ref %q: reading the chain: %w", s.ref, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("token ref %q: the stored chain is empty", s.ref)
	}
	return s.open(b)
}

// saveUnlock stores the sealed chain and releases the lock if it is still
// ours, atomically.
var saveUnlock = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[2] then
	redis.call('DEL', KEYS[2])
end
return 1`)

// unlock releases the lock if it is still ours.
var unlock = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0`)

func (s *sealer) save(ctx context.Context, rdb redis.UniversalClient, st *State, lock string) error {
	b, err := s.seal(st)
	if err != nil {
		return err
	}
	if err := saveUnlock.Run(ctx, rdb, []string{chainKey(s.ref), lockKey(s.ref)}, b, lock).Err(); err != nil {
		return fmt.Errorf("token ref %q: storing the chain: %w", s.ref, err)
	}
	return nil
}

// tryLock takes the ref's refresh lock for ttl; "" if another holds it.
func tryLock(ctx context.Context, rdb redis.UniversalClient, ref string, ttl time.Duration) (string, error) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := fmt.Sprintf("%x", b)
	ok, err := rdb.SetNX(ctx, lockKey(ref), tok, ttl).Result()
	if err != nil {
		return "", fmt.Errorf("token ref %q: taking the refresh lock: %w", ref, err)
	}
	if !ok {
		return "", nil
	}
	return tok, nil
}

func release(ctx context.Context, rdb redis.UniversalClient, ref, tok string) {
	_ = unlock.Run(context.WithoutCancel(ctx), rdb, []string{lockKey(ref)}, tok).Err() // expires anyway
}

// Load returns ref's chain opened with key; nil without one.
func Load(ctx context.Context, rdb redis.UniversalClient, key []byte, ref string) (*State, error) {
	s, err := newSealer(key, ref)
	if err != nil {
		return nil, err
	}
	return s.load(ctx, rdb)
}

// Exists reports whether Redis holds a chain for ref.
func Exists(ctx context.Context, rdb redis.UniversalClient, ref string) (bool, error) {
	n, err := rdb.Exists(ctx, chainKey(ref)).Result()
	return n > 0, err
}

// Refs lists the refs that have a stored chain.
func Refs(ctx context.Context, rdb redis.UniversalClient) ([]string, error) {
	var refs []string
	iter := rdb.Scan(ctx, 0, "frameq:ims:{*}:chain", 100).Iterator()
	for iter.Next(ctx) {
		k := strings.TrimSuffix(strings.TrimPrefix(iter.Val(), "frameq:ims:{"), "}:chain")
		refs = append(refs, k)
	}
	return refs, iter.Err()
}

// Import stores refreshToken as ref's new chain (a new login), waiting up
// to wait for a refresh under way to end so that it cannot overwrite the
// import.
func Import(ctx context.Context, rdb redis.UniversalClient, key []byte, ref, refreshToken string, wait time.Duration) error {
	s, err := newSealer(key, ref)
	if err != nil {
		return err
	}
	if refreshToken == "" || strings.ContainsAny(refreshToken, " \t\r\n") {
		return fmt.Errorf("token ref %q: the refresh token is empty or contains white space", ref)
	}
	deadline := time.Now().Add(wait)
	for {
		lock, err := tryLock(ctx, rdb, ref, DefaultLockTTL)
		if err != nil {
			return err
		}
		if lock != "" {
			var gen int64
			if old, err := s.load(ctx, rdb); err == nil && old != nil {
				gen = old.Generation
			}
			st := &State{RefreshToken: refreshToken, LoginAt: time.Now().UTC(), Generation: gen + 1}
			return s.save(ctx, rdb, st, lock)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("token ref %q: a worker is refreshing the chain; try again", ref)
		}
		if err := ims.Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}
