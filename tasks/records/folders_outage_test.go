package records

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/frameq/frameq/redistest"
)

// stopRedisAPI is a FolderAPI whose listing fails because Redis died
// while the folder lock was held.
type stopRedisAPI struct{ srv *redistest.Server }

func (a stopRedisAPI) FindFolder(context.Context, string, string) (string, error) {
	a.srv.Stop()
	return "", errors.New("throttle: redis failed, no permit")
}

func (a stopRedisAPI) CreateFolder(context.Context, string, string) (string, error) {
	return "", errors.New("not reached")
}

// TestFolderLockReleasedAfterOutage: a folder lock taken just before Redis
// died (and kept by its append-only file) is released once Redis is back,
// not left to block every worker needing that folder for its one-minute
// TTL — the lock holder's own next attempt included.
func TestFolderLockReleasedAfterOutage(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
	rdb := srv.Client(t)
	f := NewFolders(rdb)
	ctx := context.Background()
	if _, err := f.Ensure(ctx, stopRedisAPI{srv}, "token:x", "parent", "c"); err == nil {
		t.Fatal("Ensure succeeded with Redis down")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	lock := folderKey("token:x", "parent", "c") + ":lock"
	// Generous against the 1-minute TTL the lock would otherwise live.
	for deadline := time.Now().Add(20 * time.Second); ; {
		n, err := rdb.Exists(ctx, lock).Result()
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			ttl, _ := rdb.PTTL(ctx, lock).Result()
			t.Fatalf("folder lock still held 20 s after Redis returned (expires in %v)", ttl)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
