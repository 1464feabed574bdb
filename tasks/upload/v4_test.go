package upload

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/tasks/job"
)

// TestV4DrivesAFakeFrameIO exercises every FrameIO method of the V4
// implementation over real HTTP against a model of the V4 contract.
func TestV4DrivesAFakeFrameIO(t *testing.T) {
	fake := newV4Fake(t)
	api := NewV4(fake.client(t))
	ctx := context.Background()
	const body = "0123456789abcdefghij" // parts of 5, 3 and 12 bytes

	f, err := api.CreateFile(ctx, "root", NewFile{Name: "clip.mov", Size: int64(len(body)), MediaType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	if f.MediaType != "video/quicktime" || f.Size != int64(len(body)) || f.Completed {
		t.Fatalf("created %+v; want the server's media type, not the caller's", f)
	}
	want := []Part{{0, 0, 5, ""}, {1, 5, 3, ""}, {2, 8, 12, ""}}
	if len(f.Parts) != len(want) {
		t.Fatalf("parts %v, want %v", f.Parts, want)
	}
	for i, p := range f.Parts {
		if p.Number != want[i].Number || p.Offset != want[i].Offset || p.Size != want[i].Size || !strings.Contains(p.URL, "/s3/") {
			t.Fatalf("part %d = %+v, want %+v with a URL", i, p, want[i])
		}
	}
	if st, err := api.UploadStatus(ctx, f.ID); err != nil || st != UploadPending {
		t.Fatalf("UploadStatus before parts = %v, %v; want pending", st, err)
	}
	for _, p := range f.Parts {
		if err := api.PutPart(ctx, f, p, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	if got := fake.content(f.ID); got != body {
		t.Fatalf("Frame.io holds %q, want %q", got, body)
	}
	if st, err := api.UploadStatus(ctx, f.ID); err != nil || st != UploadComplete {
		t.Fatalf("UploadStatus after parts = %v, %v; want complete", st, err)
	}
	got, err := api.GetFile(ctx, f.ID)
	if err != nil || !got.Completed || len(got.Parts) != 0 {
		t.Fatalf("GetFile after parts = %+v, %v; want completed without parts", got, err)
	}

	if _, err := api.CreateFolder(ctx, "root", "clip.mov"); err != nil {
		t.Fatal(err) // a folder of the same name must not be found as a file
	}
	found, err := api.FindFiles(ctx, "root", "clip.mov")
	if err != nil || len(found) != 1 || found[0].ID != f.ID || !found[0].Completed || found[0].Size != int64(len(body)) {
		t.Fatalf("FindFiles = %+v, %v; want the one completed file %s", found, err, f.ID)
	}
	remote, err := api.CreateRemoteFile(ctx, "root", NewFile{Name: "r.mov", SourceURL: "https://src.example/r.mov"})
	if err != nil || remote.ID == "" || remote.Completed || len(remote.Parts) != 0 {
		t.Fatalf("CreateRemoteFile = %+v, %v", remote, err)
	}
	if err := api.DeleteFile(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := api.GetFile(ctx, f.ID); apierr.Classify(err) != apierr.Terminal || !notFound(err) {
		t.Fatalf("GetFile after delete: %v, want a terminal 404", err)
	}
	if _, err := api.CreateFile(ctx, "root", NewFile{Name: "empty.mov", Size: 0}); apierr.Classify(err) != apierr.Terminal ||
		!strings.Contains(err.Error(), "size 0") {
		t.Fatalf("empty file: %v, want a terminal error naming the size", err)
	}
}

func TestV4FindFolderPicksTheOldestAcrossPages(t *testing.T) {
	fake := newV4Fake(t)
	api := NewV4(fake.client(t))
	ctx := context.Background()
	var ids []string
	for _, name := range []string{"A", "B", "A", "C", "A", "D"} { // three pages of two
		id, err := api.CreateFolder(ctx, "root", name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "A" {
			ids = append(ids, id)
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fake.setFolderTime(ids[0], t0.Add(time.Hour))
	fake.setFolderTime(ids[1], t0) // the oldest, listed on a later page
	fake.setFolderTime(ids[2], t0.Add(time.Minute))
	if got, err := api.FindFolder(ctx, "root", "A"); err != nil || got != ids[1] {
		t.Fatalf("FindFolder = %q, %v; want the oldest %s", got, err, ids[1])
	}
	fake.setFolderTime(ids[2], t0) // a tie: the smaller id wins
	if got, err := api.FindFolder(ctx, "root", "A"); err != nil || got != min(ids[1], ids[2]) {
		t.Fatalf("FindFolder = %q, %v; want %s", got, err, min(ids[1], ids[2]))
	}
	if got, err := api.FindFolder(ctx, "root", "none"); err != nil || got != "" {
		t.Fatalf("FindFolder(none) = %q, %v", got, err)
	}
	if _, err := api.FindFolder(ctx, "gone", "A"); !notFound(err) {
		t.Fatalf("FindFolder in a missing folder: %v, want 404", err)
	}
}

func TestV4GetFileGivesRememberedPartsUntilComplete(t *testing.T) {
	fake := newV4Fake(t)
	c := fake.client(t)
	api := NewV4(c)
	ctx := context.Background()
	const body = "abcdefghijkl"
	f, err := api.CreateFile(ctx, "root", NewFile{Name: "a.bin", Size: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.PutPart(ctx, f, f.Parts[1], strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	got, err := api.GetFile(ctx, f.ID)
	if err != nil || got.Completed || fmt.Sprintf("%#v", got.Parts) != fmt.Sprintf("%#v", f.Parts) || got.MediaType != f.MediaType {
		t.Fatalf("GetFile = %+v, %v; want the parts CreateFile returned", got, err)
	}
	if got.Parts[0].URL != f.Parts[0].URL {
		t.Fatalf("remembered URL differs")
	}
	// Another process (a fresh V4) never saw the upload URLs.
	if other, err := NewV4(c).GetFile(ctx, f.ID); err != nil || other.Completed || len(other.Parts) != 0 {
		t.Fatalf("fresh V4 GetFile = %+v, %v; want no parts", other, err)
	}
	for _, n := range []int{0, 2} {
		if err := api.PutPart(ctx, got, got.Parts[n], strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	if done, err := api.GetFile(ctx, f.ID); err != nil || !done.Completed || len(done.Parts) != 0 || api.parts.len() != 0 {
		t.Fatalf("GetFile when complete = %+v, %v, %d cached; want completed, no parts, nothing cached", done, err, api.parts.len())
	}
}

func TestV4DeleteForgetsTheParts(t *testing.T) {
	fake := newV4Fake(t)
	api := NewV4(fake.client(t))
	ctx := context.Background()
	f, err := api.CreateFile(ctx, "root", NewFile{Name: "a.bin", Size: 9})
	if err != nil {
		t.Fatal(err)
	}
	if api.parts.len() != 1 {
		t.Fatalf("%d cached, want 1", api.parts.len())
	}
	if err := api.DeleteFile(ctx, f.ID); err != nil || api.parts.len() != 0 {
		t.Fatalf("delete: %v, %d cached", err, api.parts.len())
	}
}

func TestV4UploadStatusFailed(t *testing.T) {
	fake := newV4Fake(t)
	api := NewV4(fake.client(t))
	ctx := context.Background()
	f, err := api.CreateFile(ctx, "root", NewFile{Name: "a.bin", Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	fake.setFailed()
	if st, err := api.UploadStatus(ctx, f.ID); err != nil || st != UploadFailed {
		t.Fatalf("UploadStatus = %v, %v; want failed", st, err)
	}
	if _, err := api.UploadStatus(ctx, "gone"); !notFound(err) || !strings.Contains(err.Error(), "upload status of gone") {
		t.Fatalf("UploadStatus(gone) = %v", err)
	}
}

func TestPartCacheEvictsTheLeastRecentlyUsed(t *testing.T) {
	c := newPartCache(3)
	for _, id := range []string{"a", "b", "c"} {
		c.put(id, []Part{{Number: 0, Size: 1, URL: id}})
	}
	c.get("a")                     // a is now the most recent: b is the oldest
	c.put("d", []Part{{URL: "d"}}) // evicts b
	if c.get("b") != nil || c.get("a") == nil || c.get("c") == nil || c.get("d") == nil || c.len() != 3 {
		t.Fatalf("after eviction: b %v a %v, len %d", c.get("b"), c.get("a"), c.len())
	}
	got := c.get("a")
	got[0].URL = "changed"
	if c.get("a")[0].URL != "a" {
		t.Fatalf("get returned the cache's own slice")
	}
	c.put("a", []Part{{URL: "a2"}}) // replacing does not grow
	if c.len() != 3 || c.get("a")[0].URL != "a2" {
		t.Fatalf("replace: len %d, %v", c.len(), c.get("a"))
	}
	c.drop("a")
	c.drop("zzz")
	if c.get("a") != nil || c.len() != 2 {
		t.Fatalf("drop: %v, len %d", c.get("a"), c.len())
	}
}

// v4Rig is the state machine (real Redis) driving the fake through V4.
func v4Rig(t *testing.T) (*rig, *v4Fake, *V4) {
	r := newRig(t)
	fake := newV4Fake(t)
	api := NewV4(fake.client(t))
	r.h.opts.Accounts["default"].API = api
	return r, fake, api
}

func (r *rig) v4File(name string, n int) (*job.Upload, string) {
	u, _ := r.file(strings.ReplaceAll(name, "/", "_"), n)
	u.Path, u.ParentID = name, "root"
	b, _ := os.ReadFile(u.File)
	return u, string(b)
}

func TestV4StateMachineUploadsIntoNestedFolders(t *testing.T) {
	r, fake, _ := v4Rig(t)
	u, body := r.v4File("shoot/day1/clip.mov", 40)
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	ids := fake.filesNamed("clip.mov")
	if creates, puts, _ := fake.counts(); len(ids) != 1 || fake.content(ids[0]) != body || creates != 1 || puts != 3 {
		t.Fatalf("files %v, creates %d, puts %d; want one intact file", ids, creates, puts)
	}
	err := r.run(u)
	if creates, puts, _ := fake.counts(); err != nil || creates != 1 || puts != 3 {
		t.Fatalf("re-run: %v, creates %d, puts %d; want nothing new", err, creates, puts)
	}
}

func TestV4StateMachineResumesOnlyMissingParts(t *testing.T) {
	r, fake, api := v4Rig(t)
	ctx := context.Background()
	u, body := r.v4File("a.bin", 30)
	// An earlier attempt in this process created the file and put part 1.
	f, err := api.CreateFile(ctx, "root", NewFile{Name: "a.bin", Size: u.Size})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.PutPart(ctx, f, f.Parts[1], strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	key := job.IdempotencyKey(u)
	r.h.progress.Created(ctx, key, f.ID)
	r.h.progress.PartDone(ctx, key, f.ID, 1)

	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	if creates, puts, deletes := fake.counts(); creates != 1 || puts != len(f.Parts) || deletes != 0 || fake.content(f.ID) != body {
		t.Fatalf("creates %d, puts %d, deletes %d; want the one file completed with its %d parts", creates, puts, deletes, len(f.Parts))
	}
}

func TestV4StateMachineRecreatesAFileWhosePartsItForgot(t *testing.T) {
	r, fake, _ := v4Rig(t)
	ctx := context.Background()
	u, body := r.v4File("b.bin", 30)
	// Another process created the file; this one never saw its upload URLs.
	f, err := NewV4(fake.client(t)).CreateFile(ctx, "root", NewFile{Name: "b.bin", Size: u.Size})
	if err != nil {
		t.Fatal(err)
	}
	r.h.progress.Created(ctx, job.IdempotencyKey(u), f.ID)

	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	ids := fake.filesNamed("b.bin")
	if creates, _, deletes := fake.counts(); creates != 2 || deletes != 1 || len(ids) != 1 || ids[0] == f.ID || fake.content(ids[0]) != body {
		t.Fatalf("creates %d, deletes %d, files %v; want the stale one deleted and a new one complete", creates, deletes, ids)
	}
}

func TestV4StateMachineAdoptsAfterALostCreateAnswer(t *testing.T) {
	r, fake, _ := v4Rig(t)
	ctx := context.Background()
	u, body := r.v4File("c.bin", 12)
	key := job.IdempotencyKey(u)
	r.h.progress.Creating(ctx, key, time.Now())
	// Two lost answers: the create went through twice, unseen.
	other := NewV4(fake.client(t))
	for range 2 {
		if _, err := other.CreateFile(ctx, "root", NewFile{Name: "c.bin", Size: u.Size}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.run(u); err != nil {
		t.Fatal(err)
	}
	// One extra is deleted; the adopted one has no known URLs, so it is
	// deleted too and the file made anew.
	ids := fake.filesNamed("c.bin")
	if creates, _, deletes := fake.counts(); len(ids) != 1 || fake.content(ids[0]) != body || deletes != 2 || creates != 3 {
		t.Fatalf("files %v, deletes %d, creates %d", ids, deletes, creates)
	}
}
