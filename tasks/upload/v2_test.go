package upload

import (
	"context"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/frameq/frameq/apierr"
)

// TestV2DrivesTheSimulator exercises every FrameIO method of the v2
// implementation over real HTTP against the simulator.
func TestV2DrivesTheSimulator(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	u, sum := r.file("v2.bin", 3*testPart+5)
	api := NewV2(r.client)

	f, err := api.CreateFile(ctx, r.parent, NewFile{Name: "v2.bin", Size: u.Size, MediaType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	if f.MediaType != "video/mp4" || f.Size != u.Size || f.Completed {
		t.Fatalf("created %+v", f)
	}
	var next int64
	for i, p := range f.Parts { // parts tile the file in order
		if p.Number != i || p.Offset != next || p.URL == "" {
			t.Fatalf("part %d = %+v, want number %d at offset %d with a URL", i, p, i, next)
		}
		next += p.Size
	}
	if len(f.Parts) < 2 || next != u.Size {
		t.Fatalf("%d parts cover %d bytes, want >1 parts covering %d", len(f.Parts), next, u.Size)
	}
	if st, err := api.UploadStatus(ctx, f.ID); err != nil || st != UploadPending {
		t.Fatalf("UploadStatus before parts = %v, %v; want pending", st, err)
	}
	src, _ := os.Open(u.File)
	defer src.Close()
	for _, p := range f.Parts {
		if err := api.PutPart(ctx, f, p, src); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := api.UploadStatus(ctx, f.ID); err != nil || st != UploadComplete {
		t.Fatalf("UploadStatus after parts = %v, %v; want complete", st, err)
	}
	r.complete("v2.bin", sum)

	if _, err := r.h.folders.Ensure(ctx, NewV2(r.client), "token:default", r.parent, "v2.bin"); err != nil {
		t.Fatal(err) // a folder of the same name must not be found as a file
	}
	found, err := api.FindFiles(ctx, r.parent, "v2.bin")
	if err != nil || len(found) != 1 || found[0].ID != f.ID || !found[0].Completed {
		t.Fatalf("FindFiles = %+v, %v; want the one completed file %s", found, err, f.ID)
	}
	if err := api.DeleteFile(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := api.GetFile(ctx, f.ID); apierr.Classify(err) != apierr.Terminal {
		t.Fatalf("GetFile after delete: %v, want a terminal error", err)
	}
}

// counting is a FrameIO that counts the calls the state machine makes.
type counting struct {
	FrameIO
	mu    sync.Mutex
	calls map[string]int
}

func (c *counting) count(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[name]++
}

func (c *counting) CreateFile(ctx context.Context, id string, in NewFile) (*File, error) {
	c.count("CreateFile")
	return c.FrameIO.CreateFile(ctx, id, in)
}

func (c *counting) GetFile(ctx context.Context, id string) (*File, error) {
	c.count("GetFile")
	return c.FrameIO.GetFile(ctx, id)
}

func (c *counting) PutPart(ctx context.Context, f *File, p Part, r io.ReaderAt) error {
	c.count("PutPart")
	return c.FrameIO.PutPart(ctx, f, p, r)
}

// TestStateMachineDrivesOnlyTheInterface: with Account.API set, every
// file call of an upload and of its resume goes through that FrameIO.
func TestStateMachineDrivesOnlyTheInterface(t *testing.T) {
	r := newRig(t)
	api := &counting{FrameIO: NewV2(r.client), calls: map[string]int{}}
	r.h.opts.Accounts["default"].API = api
	u, sum := r.file("i.bin", 3*testPart+5)
	before := r.sim.Stats()
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	after := r.sim.Stats()
	r.complete("i.bin", sum)
	if api.calls["CreateFile"] != 1 || api.calls["PutPart"] != after.PartsReceived-before.PartsReceived || api.calls["PutPart"] < 2 {
		t.Errorf("calls %v; sim saw %d parts", api.calls, after.PartsReceived-before.PartsReceived)
	}
	if after.Creates-before.Creates != 1 { // the file; the root folder exists
		t.Errorf("sim saw %d creates, want 1", after.Creates-before.Creates)
	}
}
