package upload

import (
	"context"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/frameiosim"
)

// fakeSettler records what the handler tells a Settler.
type fakeSettler struct {
	mu              sync.Mutex
	staged, settled []string // batches
	finished        int      // staged checks finished after the pipeline ran
}

func (f *fakeSettler) Settled(_ context.Context, batch string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settled = append(f.settled, batch)
	return false, nil
}

func (f *fakeSettler) Stage(ctx context.Context, p redis.Pipeliner, batch string) func(context.Context) (bool, error) {
	f.mu.Lock()
	f.staged = append(f.staged, batch)
	f.mu.Unlock()
	ping := p.Ping(ctx) // the check's reads ride on the done write's pipeline
	return func(context.Context) (bool, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if ping.Val() == "PONG" {
			f.finished++
		}
		return false, nil
	}
}

// The Settler hears of every file that ends done (through the pipeline
// that records it) or failed, and of nothing else.
func TestSettlerIsToldOfDoneAndFailedFiles(t *testing.T) {
	r := newRig(t)
	f := &fakeSettler{}
	r.h.opts.Settler = f
	u, _ := r.file("a.bin", 3*testPart)
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	if len(f.staged) != 1 || f.staged[0] != "b" || f.finished != 1 || len(f.settled) != 0 {
		t.Fatalf("after a done file: staged %v, finished %d, settled %v; want the check staged and finished once", f.staged, f.finished, f.settled)
	}
	locked := r.sim.MakeFolder(r.parent, "locked")
	r.sim.SetFaults(frameiosim.Faults{ForbiddenFolders: []string{locked}})
	v, _ := r.file("b.bin", 10)
	v.ParentID = locked
	if err := r.run(v); err == nil {
		t.Fatal("upload into a forbidden folder succeeded")
	}
	if len(f.settled) != 1 || f.settled[0] != "b" || len(f.staged) != 1 {
		t.Fatalf("after a failed file: settled %v, staged %v; want one Settled", f.settled, f.staged)
	}
}
