package upload

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
)

// folderID is the id of the live folder at path, "" if there is none.
func folderID(st frameiosim.Stats, path string) string {
	for _, f := range st.Folders {
		if f.Path == path {
			return f.ID
		}
	}
	return ""
}

// deleteFolder deletes the live folder at path in the simulator, as a
// person in Frame.io would.
func (r *rig) deleteFolder(path string) string {
	r.t.Helper()
	id := folderID(r.sim.Stats(), path)
	if id == "" {
		r.t.Fatalf("no folder %s", path)
	}
	if err := r.client.DeleteAsset(context.Background(), id); err != nil {
		r.t.Fatal(err)
	}
	return id
}

func TestDeletedFolderIsMadeAnewAndTheUploadGoesOn(t *testing.T) {
	for _, gone := range []string{"shoot/day1", "shoot"} { // the leaf, or an ancestor
		t.Run(gone, func(t *testing.T) {
			r := newRig(t)
			u, _ := r.file("a.bin", 10)
			u.Path = "shoot/day1/a.bin"
			if err := r.run(u); err != nil {
				t.Fatal(err)
			}
			old := r.deleteFolder(gone)
			u2, sum := r.file("b.bin", 20)
			u2.Path = "shoot/day1/b.bin"
			if err := r.run(u2); err != nil {
				t.Fatalf("upload after the folder was deleted: %v", err)
			}
			r.complete("shoot/day1/b.bin", sum)
			st := r.sim.Stats()
			if id := folderID(st, gone); id == "" || id == old {
				t.Errorf("folder %s is %q, want a new one (old %s)", gone, id, old)
			}
			if len(st.Folders) != 2 || len(st.Duplicates) != 0 {
				t.Errorf("folders %+v duplicates %v, want shoot and shoot/day1 once", st.Folders, st.Duplicates)
			}
			if fails, _ := r.h.batches.Failures(context.Background(), "b"); len(fails) != 0 {
				t.Errorf("failures %+v, want none", fails)
			}
		})
	}
}

func TestDeletedFolderIsMadeOnceUnderConcurrency(t *testing.T) {
	r := newRig(t)
	u, _ := r.file("a.bin", 10)
	u.Path = "x/y/a.bin"
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	r.deleteFolder("x")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		u, _ := r.file("f"+string(rune('0'+i))+".bin", 10+i)
		u.Path = "x/y/" + u.Path
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.run(u); err != nil {
				t.Errorf("%s: %v", u.Path, err)
			}
		}()
	}
	wg.Wait()
	st := r.sim.Stats()
	if len(st.Folders) != 2 || len(st.Duplicates) != 0 || len(st.Files) != 8 {
		t.Errorf("folders %+v duplicates %v files %d; want x and x/y once, 8 files", st.Folders, st.Duplicates, len(st.Files))
	}
}

func TestDeletedTargetParentStaysTerminal(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, path := range []string{"a.bin", "sub/a.bin"} { // straight into --parent, or below it
		t.Run(path, func(t *testing.T) {
			u, _ := r.file("a.bin", 10)
			u.Path, u.ParentID = path, "gone-"+strings.ReplaceAll(path, "/", "-")
			err := r.run(u)
			if !errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), u.ParentID) || !strings.Contains(err.Error(), "target folder") {
				t.Fatalf("error %v, want terminal naming the target folder %s", err, u.ParentID)
			}
		})
	}
	fails, _ := r.h.batches.Failures(ctx, "b")
	if len(fails) == 0 {
		t.Fatal("no failure recorded")
	}
	for _, f := range fails {
		if f.Class != "terminal" {
			t.Errorf("failure %+v, want class terminal", f)
		}
	}
}

func TestDropForgetsTheFolderAndEverythingBelowIt(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	f := records.NewFolders(r.rdb)
	for _, chain := range [][]string{{"x", "y", "z"}, {"x", "w"}, {"v"}} {
		if _, err := f.EnsureChain(ctx, NewV2(r.client), "s", r.parent, chain); err != nil {
			t.Fatal(err)
		}
	}
	x := folderID(r.sim.Stats(), "x")
	if n, err := f.Drop(ctx, "s", r.parent, "x", "not-x"); err != nil || n != 0 {
		t.Errorf("drop with a stale id that is not the entry's: %d dropped, %v; want the entry kept", n, err)
	}
	if n, err := f.Drop(ctx, "s", r.parent, "x", x); err != nil || n != 4 {
		t.Fatalf("drop x: %d dropped, %v; want x, x/y, x/y/z, x/w", n, err)
	}
	keys, _ := r.rdb.Keys(ctx, "frameq:folder:*").Result()
	if len(keys) != 1 || !strings.HasSuffix(keys[0], "/v") {
		t.Errorf("map keys left %v, want only v's", keys)
	}
}

// A remote upload (Frame.io fetches the bytes) heals a deleted folder the
// same way a local one does.
func TestDeletedFolderIsMadeAnewForARemoteUpload(t *testing.T) {
	r := newRig(t)
	u, _ := r.file("a.bin", 10)
	u.Path = "shoot/a.bin"
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	old := r.deleteFolder("shoot")
	rem := &job.Upload{V: 1, Batch: "b", TokenRef: "default", ParentID: r.parent, Path: "shoot/b.mov",
		SourceURL: "https://cdn.example.com/b.mov", Size: 123, Filetype: "video/quicktime"}
	b, _ := rem.Encode()
	if err := r.h.ProcessTask(context.Background(), asynq.NewTask(job.TypeRemoteUpload, b)); err != nil {
		t.Fatalf("remote upload after the folder was deleted: %v", err)
	}
	st := r.sim.Stats()
	if id := folderID(st, "shoot"); id == "" || id == old {
		t.Errorf("folder shoot is %q, want a new one (old %s)", id, old)
	}
	if len(st.Folders) != 1 || len(st.Duplicates) != 0 {
		t.Errorf("folders %+v duplicates %v, want shoot once", st.Folders, st.Duplicates)
	}
}
