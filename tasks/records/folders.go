package records

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/frameio"
)

// FolderAPI is the part of the Frame.io client that folders need.
type FolderAPI interface {
	ListChildren(ctx context.Context, id string) ([]frameio.Asset, error)
	CreateAsset(ctx context.Context, parentID string, in frameio.CreateAsset) (*frameio.Asset, error)
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

// unlockScript deletes the lock only if we still hold it.
const unlockScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`

var unlock = redis.NewScript(unlockScript)

// EnsureChain returns the id of the folder at names below parentID,
// creating each missing folder once.
func (f *Folders) EnsureChain(ctx context.Context, api FolderAPI, scope, parentID string, names []string) (string, error) {
	id := parentID
	for _, name := range names {
		next, err := f.Ensure(ctx, api, scope, id, name)
		if err != nil {
			return "", err
		}
		id = next
	}
	return id, nil
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
			return f.lookupOrCreate(ctx, api, key, token, parentID, name)
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
func (f *Folders) lookupOrCreate(ctx context.Context, api FolderAPI, key, token, parentID, name string) (string, error) {
	defer f.unlock(key+":lock", token)
	children, err := api.ListChildren(ctx, parentID)
	if err != nil {
		return "", fmt.Errorf("folder %q: list %s: %w", name, parentID, err)
	}
	id := oldestFolder(children, name)
	if id == "" {
		a, err := api.CreateAsset(ctx, parentID, frameio.CreateAsset{Type: "folder", Name: name})
		if err != nil {
			return "", fmt.Errorf("create folder %q: %w", name, err)
		}
		id = a.ID
	}
	if err := f.rdb.Set(ctx, key, id, 0).Err(); err != nil {
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

// oldestFolder picks a deterministic folder when several share a name.
func oldestFolder(children []frameio.Asset, name string) string {
	var best *frameio.Asset
	for i := range children {
		c := &children[i]
		if c.Type != "folder" || c.Name != name {
			continue
		}
		if best == nil || c.InsertedAt.Before(best.InsertedAt) || (c.InsertedAt.Equal(best.InsertedAt) && c.ID < best.ID) {
			best = c
		}
	}
	if best == nil {
		return ""
	}
	return best.ID
}

func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
