package records

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// FolderAPI is what the folder map asks of Frame.io, whichever API version
// answers it.
type FolderAPI interface {
	// FindFolder returns the id of the folder named name in parentID, ""
	// if there is none. When several share the name it picks the same one
	// every time (the oldest), so that all workers converge on it.
	FindFolder(ctx context.Context, parentID, name string) (string, error)
	// CreateFolder creates folder name in parentID and returns its id.
	CreateFolder(ctx context.Context, parentID, name string) (string, error)
}

// Folders maps (scope, parent, name) to a Frame.io folder id in Redis, so
// that a folder is created once, ever, however many workers need it at once.
type Folders struct {
	rdb redis.UniversalClient
	// lockTTL bounds how long a crashed lock holder blocks the others.
	lockTTL time.Duration
	// poll is how often a waiter looks for the holder's result.
	poll time.Duration
}

// NewFolders returns a folder map on rdb.
func NewFolders(rdb redis.UniversalClient) *Folders {
	return &Folders{rdb: rdb, lockTTL: time.Minute, poll: 100 * time.Millisecond}
}

func folderKey(scope, parentID, name string) string {
	return "frameq:folder:{" + scope + "}:" + parentID + "/" + name
}

// folderKidsKey is the reverse index of the map: the set of map keys whose
// parent is parentID, so that dropping a folder can drop what is below it.
func folderKidsKey(scope, parentID string) string {
	return "frameq:folderkids:{" + scope + "}:" + parentID
}

// unlockScript deletes the lock only if we still hold it.
const unlockScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`

var unlock = redis.NewScript(unlockScript)

// dropScript deletes a map entry only if it still holds the stale id, so
// that of several workers healing the same deleted folder at once, the late
// ones do not drop the entry the first one has already remade.
// KEYS[1] map entry, ARGV[1] the stale folder id. Returns 1 if dropped.
const dropScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`

var dropEntry = redis.NewScript(dropScript)

// maxDrop bounds how many map entries one Drop removes: a deleted folder's
// subtree is finite, but a corrupt reverse index must not loop forever.
const maxDrop = 100000

// EnsureChain returns the id of the folder at names below parentID,
// creating each missing folder once.
func (f *Folders) EnsureChain(ctx context.Context, api FolderAPI, scope, parentID string, names []string) (string, error) {
	ids, err := f.Chain(ctx, api, scope, parentID, names)
	if err != nil {
		return "", err
	}
	return Leaf(parentID, ids), nil
}

// Chain is EnsureChain returning the id of every folder of the chain, in
// order. On error it returns the ids found before the failing level.
func (f *Folders) Chain(ctx context.Context, api FolderAPI, scope, parentID string, names []string) ([]string, error) {
	ids := make([]string, 0, len(names))
	id := parentID
	for _, name := range names {
		next, err := f.Ensure(ctx, api, scope, id, name)
		if err != nil {
			return ids, err
		}
		ids = append(ids, next)
		id = next
	}
	return ids, nil
}

// Leaf is the last id of a chain below parentID.
func Leaf(parentID string, ids []string) string {
	if len(ids) == 0 {
		return parentID
	}
	return ids[len(ids)-1]
}

// Drop forgets folder name in parentID if the map still says staleID, and
// every entry below staleID, found through the reverse index. It is for a
// folder deleted in Frame.io: the next Ensure looks it up (or makes it)
// anew, under the usual lock, so there is still one folder however many
// workers drop it at once. It returns how many entries it removed.
func (f *Folders) Drop(ctx context.Context, scope, parentID, name, staleID string) (int, error) {
	n, err := dropEntry.Run(ctx, f.rdb, []string{folderKey(scope, parentID, name)}, staleID).Int()
	if err != nil {
		return 0, fmt.Errorf("folder %q: drop %s: %w", name, staleID, err)
	}
	below, err := f.dropBelow(ctx, scope, staleID)
	return n + below, err
}

// dropBelow removes the entries below a stale folder id, breadth first.
// Entries below a stale id can only be stale: no live chain leads to them.
func (f *Folders) dropBelow(ctx context.Context, scope, staleID string) (int, error) {
	dropped := 0
	queue := []string{staleID}
	seen := map[string]bool{staleID: true}
	for len(queue) > 0 && dropped < maxDrop {
		id := queue[0]
		queue = queue[1:]
		kids := folderKidsKey(scope, id)
		keys, err := f.rdb.SMembers(ctx, kids).Result()
		if err != nil {
			return dropped, fmt.Errorf("folders below %s: %w", id, err)
		}
		for _, key := range keys {
			child, err := f.rdb.Get(ctx, key).Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return dropped, fmt.Errorf("folders below %s: %w", id, err)
			}
			n, err := dropEntry.Run(ctx, f.rdb, []string{key}, child).Int()
			if err != nil {
				return dropped, fmt.Errorf("folders below %s: %w", id, err)
			}
			dropped += n
			if !seen[child] {
				seen[child] = true
				queue = append(queue, child)
			}
		}
		if err := f.rdb.Del(ctx, kids).Err(); err != nil {
			return dropped, fmt.Errorf("folders below %s: %w", id, err)
		}
	}
	return dropped, nil
}

// Ensure returns the id of folder name in parentID. One caller at a time
// (per folder, across all workers) looks it up in Frame.io and creates it if
// missing; the others wait for its answer in Redis.
func (f *Folders) Ensure(ctx context.Context, api FolderAPI, scope, parentID, name string) (string, error) {
	key := folderKey(scope, parentID, name)
	token := randomToken()
	for {
		id, err := f.rdb.Get(ctx, key).Result()
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, redis.Nil) {
			return "", fmt.Errorf("folder %q: read map: %w", name, err)
		}
		locked, err := f.rdb.SetNX(ctx, key+":lock", token, f.lockTTL).Result()
		if err != nil {
			return "", fmt.Errorf("folder %q: lock: %w", name, err)
		}
		if locked {
			return f.lookupOrCreate(ctx, api, scope, key, token, parentID, name)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("folder %q: %w", name, ctx.Err())
		case <-time.After(f.poll):
		}
	}
}

// lookupOrCreate runs under the folder's lock. It always looks first: the
// folder may exist from an earlier run, or from a create whose answer was
// lost (that error is returned, and the next attempt finds the folder here).
func (f *Folders) lookupOrCreate(ctx context.Context, api FolderAPI, scope, key, token, parentID, name string) (string, error) {
	defer f.unlock(key+":lock", token)
	id, err := api.FindFolder(ctx, parentID, name)
	if err != nil {
		return "", fmt.Errorf("folder %q: look up in %s: %w", name, parentID, err)
	}
	if id == "" {
		if id, err = api.CreateFolder(ctx, parentID, name); err != nil {
			return "", fmt.Errorf("create folder %q: %w", name, err)
		}
	}
	// The entry and its reverse index in one round trip; the hash tag keeps
	// both in one cluster slot.
	_, err = f.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, id, 0)
		p.SAdd(ctx, folderKidsKey(scope, parentID), key)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("folder %q: write map: %w", name, err)
	}
	return id, nil
}

// unlock releases a folder lock. If Redis is away, it keeps trying in the
// background: a lock left behind would hold up every worker needing the
// folder, this one's next attempt included, for the rest of lockTTL.
func (f *Folders) unlock(key, token string) {
	if unlock.Run(context.Background(), f.rdb, []string{key}, token).Err() == nil {
		return
	}
	go func() {
		for deadline := time.Now().Add(f.lockTTL); time.Now().Before(deadline); {
			time.Sleep(5 * f.poll)
			if unlock.Run(context.Background(), f.rdb, []string{key}, token).Err() == nil {
				return
			}
		}
	}()
}

func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
