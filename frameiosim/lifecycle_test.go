package frameiosim

import (
	"net/http"
	"testing"
	"time"
)

func TestV4StatusLifecycleCompleteAfter(t *testing.T) {
	s := StartTest(t, Config{CompleteAfter: time.Minute, PartSize: 2})
	c := newV4C(t, s, DefaultToken)
	f := c.mkFile(s.RootFolder(DefaultToken), "a.mov", 3)
	put(t, f.UploadURLs[0].URL, []byte("ab"), f.MediaType, nil)
	if st := s.Stats().Files[0]; st.Status != FileUploading || st.Complete {
		t.Fatalf("one part of two: %+v", st)
	}
	put(t, f.UploadURLs[1].URL, []byte("c"), f.MediaType, nil)
	st := c.status(f.ID)
	if st.UploadComplete || st.UploadFailed || st.UploadedAt == nil || st.UploadCompletedAt != nil {
		t.Fatalf("parts in, CompleteAfter not passed: %+v", st)
	}
	if got := decode[v4One[v4File]](t, c.do(http.MethodGet, c.p("/files/"+f.ID), nil).body).Data; got.Status != "created" {
		t.Fatalf("file status %q before CompleteAfter", got.Status)
	}
	if sf := s.Stats().Files[0]; sf.Status != FileProcessing || sf.Complete || sf.SHA256 != sha([]byte("abc")) {
		t.Fatalf("stats while processing: %+v", sf)
	}
	s.skew.Store(int64(time.Minute))
	st = c.status(f.ID)
	if !st.UploadComplete || st.UploadFailed || st.UploadCompletedAt == nil {
		t.Fatalf("after CompleteAfter: %+v", st)
	}
	done, _ := time.Parse(time.RFC3339Nano, *st.UploadCompletedAt)
	up, _ := time.Parse(time.RFC3339Nano, *st.UploadedAt)
	if d := done.Sub(up); d < time.Minute-time.Millisecond || d > time.Minute+time.Millisecond {
		t.Fatalf("completed %v after the last part, want 1m", d)
	}
	if got := decode[v4One[v4File]](t, c.do(http.MethodGet, c.p("/files/"+f.ID), nil).body).Data; got.Status != "uploaded" {
		t.Fatalf("file status %q after CompleteAfter", got.Status)
	}
	if sf := s.Stats().Files[0]; sf.Status != FileComplete || !sf.Complete {
		t.Fatalf("stats after CompleteAfter: %+v", sf)
	}
}

func TestV4UploadFailed(t *testing.T) {
	s := StartTest(t, Config{Faults: Faults{UploadFailed: 1}})
	c := newV4C(t, s, DefaultToken)
	f := c.mkFile(s.RootFolder(DefaultToken), "a.mov", 3)
	putAll(t, f, []byte("abc"))
	s.skew.Store(int64(time.Hour))
	if st := c.status(f.ID); !st.UploadFailed || st.UploadComplete || st.UploadCompletedAt != nil || st.UploadedAt == nil {
		t.Fatalf("failed upload: %+v", st)
	}
	if got := decode[v4One[v4File]](t, c.do(http.MethodGet, c.p("/files/"+f.ID), nil).body).Data; got.Status != "created" {
		t.Fatalf("failed file status %q", got.Status)
	}
	st := s.Stats()
	if sf := st.Files[0]; !sf.Failed || sf.Complete || sf.Status != FileFailed || len(st.FailedUploads) != 1 || st.FailedUploads[0].ID != f.ID {
		t.Fatalf("stats: %+v", st)
	}
	// The record outlives the file; a new upload of the same name completes.
	c.do(http.MethodDelete, c.p("/files/"+f.ID), nil)
	s.SetFaults(Faults{})
	g := c.mkFile(s.RootFolder(DefaultToken), "a.mov", 3)
	putAll(t, g, []byte("abc"))
	st = s.Stats()
	if len(st.FailedUploads) != 1 || st.FailedUploads[0].Path != "a.mov" || len(st.Files) != 1 || !st.Files[0].Complete {
		t.Fatalf("after re-upload: %+v", st)
	}
	if !c.status(g.ID).UploadComplete {
		t.Fatal("re-upload not complete")
	}
}

func TestV2CompleteAfterAndUploadFailed(t *testing.T) {
	s := StartTest(t, Config{CompleteAfter: time.Minute})
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	f := c.file(root, "a.mp4", 3)
	put(t, f.UploadURLs[0], []byte("abc"), "video/mp4", nil)
	got := decode[apiAsset](t, c.do(http.MethodGet, "/assets/"+f.ID, nil).body)
	if got.UploadCompletedAt != nil || got.UploadURLs != nil {
		t.Fatalf("v2 before CompleteAfter: completed_at=%v urls=%d", got.UploadCompletedAt, len(got.UploadURLs))
	}
	remote := c.mustCreate(root, map[string]any{"type": "file", "name": "r.mp4", "source": map[string]string{"url": "https://x.test/r"}})
	if remote.UploadCompletedAt != nil {
		t.Fatalf("v2 remote upload complete at once: %+v", remote)
	}
	s.SetFaults(Faults{UploadFailed: 1})
	bad := c.file(root, "b.mp4", 3)
	put(t, bad.UploadURLs[0], []byte("abc"), "video/mp4", nil)
	s.skew.Store(int64(time.Minute))
	got = decode[apiAsset](t, c.do(http.MethodGet, "/assets/"+f.ID, nil).body)
	if got.UploadCompletedAt == nil {
		t.Fatal("v2 not complete after CompleteAfter")
	}
	if r := decode[apiAsset](t, c.do(http.MethodGet, "/assets/"+remote.ID, nil).body); r.UploadCompletedAt == nil {
		t.Fatal("v2 remote upload not complete after CompleteAfter")
	}
	s.skew.Store(int64(time.Hour))
	if b := decode[apiAsset](t, c.do(http.MethodGet, "/assets/"+bad.ID, nil).body); b.UploadCompletedAt != nil {
		t.Fatal("a failed v2 upload completed")
	}
	st := s.Stats()
	if len(st.FailedUploads) != 1 || st.FailedUploads[0].ID != bad.ID || st.FailedUploads[0].API != "v2" {
		t.Fatalf("failed uploads: %+v", st.FailedUploads)
	}
}

func TestUploadFailedIsAProbability(t *testing.T) {
	s := StartTest(t, Config{Seed: 42, Faults: Faults{UploadFailed: 0.3}})
	c := newV4C(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	s.SetV4Limit(RouteFileCreate, Limit{Limit: 1000})
	for i := range 200 {
		putAll(t, c.mkFile(root, "f"+string(rune('a'+i%26))+".mov", 1), []byte("x"))
	}
	st := s.Stats()
	failed := 0
	for _, f := range st.Files {
		if f.Failed {
			failed++
		}
	}
	if failed != len(st.FailedUploads) || failed < 30 || failed > 90 {
		t.Fatalf("%d of 200 failed at p=0.3 (records %d)", failed, len(st.FailedUploads))
	}
}
