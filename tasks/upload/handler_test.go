package upload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/tasks/job"
)

// TestHostilePayloadsAreArchivedUnread: a payload pushed into Redis by
// anyone is untrusted. Whatever it names outside the upload root (by "..",
// by absolute path, by a symlink to a file or a directory), whatever size
// or version it claims, whatever token ref: the task ends at once (asynq's
// SkipRetry) with a reason on its batch, no API call is made and nothing
// outside the root is opened. Targets outside the root are FIFOs with no
// writer: opening one for reading blocks, so a handler that returns at
// once provably did not open it.
func TestHostilePayloadsAreArchivedUnread(t *testing.T) {
	r := newRig(t)
	outside := t.TempDir()
	fifo := filepath.Join(outside, "secret.fifo")
	mkfifo(t, fifo)
	secret := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secret, []byte("not yours"), 0o600); err != nil {
		t.Fatal(err)
	}
	symlink(t, fifo, filepath.Join(r.root, "link-to-fifo.bin"))
	symlink(t, secret, filepath.Join(r.root, "link-to-secret.txt"))
	symlink(t, outside, filepath.Join(r.root, "linked-dir"))
	mkfifo(t, filepath.Join(r.root, "inside.fifo"))
	if err := os.Mkdir(filepath.Join(r.root, "a-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	ok, _ := r.file("ok.bin", 10) // a valid payload to start from

	upload := func(edit func(u *job.Upload)) (string, []byte) {
		u := *ok
		edit(&u)
		b, err := u.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return job.TypeUpload, b
	}
	raw := func(typ, js string) func() (string, []byte) {
		return func() (string, []byte) { return typ, []byte(js) }
	}
	cases := []struct {
		name    string
		payload func() (string, []byte)
		reason  string // the error names this
	}{
		{"path traversal", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.Path = "../../etc/passwd" })
		}, "field path"},
		{"path traversal inside", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.Path = "a/../../../etc/passwd" })
		}, "field path"},
		{"absolute asset path", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.Path = "/etc/passwd" })
		}, "field path"},
		{"file outside the root", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.File, u.Path = "/etc/passwd", "passwd" })
		}, "outside upload root"},
		{"dot-dot out of the root", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.File = r.root + "/../" + filepath.Base(outside) + "/secret.fifo" })
		}, "outside upload root"}, // a test's TempDirs are siblings
		{"symlink to a FIFO outside", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.File = filepath.Join(r.root, "link-to-fifo.bin") })
		}, "outside upload root"},
		{"symlink to a file outside", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.File, u.Size = filepath.Join(r.root, "link-to-secret.txt"), 9 })
		}, "outside upload root"},
		{"symlinked directory outside", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.File = filepath.Join(r.root, "linked-dir", "secret.fifo") })
		}, "outside upload root"},
		{"FIFO inside the root", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.File = filepath.Join(r.root, "inside.fifo") })
		}, "not a regular file"},
		{"directory inside the root", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.File = filepath.Join(r.root, "a-dir") })
		}, "not a regular file"},
		{"relative file", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.File = "ok.bin" })
		}, "field file"},
		{"negative size", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.Size = -1 })
		}, "field size"},
		{"size beyond 5 TiB", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.Size = job.MaxFileSize + 1 })
		}, "field size"},
		{"size not the file's", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.Size = 1 << 40 })
		}, "changed since it was enqueued"},
		{"unknown version", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.V = 2 })
		}, "field v"},
		{"no version", raw(job.TypeUpload, `{"batch":"b","token_ref":"default","parent_id":"p","path":"x","file":"/x"}`), "field v"},
		{"unknown token ref", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.TokenRef = "nosuch" })
		}, `unknown token ref "nosuch"`},
		{"token ref with odd characters", func() (string, []byte) {
			return upload(func(u *job.Upload) { u.TokenRef = "x;rm -rf" })
		}, "field token_ref"},
		{"unknown field", raw(job.TypeUpload, `{"v":1,"batch":"b","token_ref":"default","parent_id":"p","path":"x","file":"/x","token":"t"}`), `unknown field "token"`},
		{"trailing data", raw(job.TypeUpload, `{"v":1,"batch":"b","token_ref":"default","parent_id":"p","path":"x","file":"/x"} {}`), "trailing data"},
		{"not JSON", raw(job.TypeUpload, "\x00\xff<html>"), "payload"},
		{"huge path", raw(job.TypeUpload, `{"v":1,"batch":"b","token_ref":"default","parent_id":"p","path":"`+strings.Repeat("a/", 1<<18)+`","file":"/x"}`), "field path"},
		{"file URL for a remote upload", raw(job.TypeRemoteUpload, `{"v":1,"batch":"b","token_ref":"default","parent_id":"p","path":"x","source_url":"file:///etc/passwd"}`), "field source_url"},
		{"local file on a remote upload", raw(job.TypeRemoteUpload, `{"v":1,"batch":"b","token_ref":"default","parent_id":"p","path":"x","file":"/etc/passwd","source_url":"https://x.test/a"}`), "field file"},
		{"unknown task type", raw("frameio:asset.delete", `{"v":1,"batch":"b","token_ref":"default","parent_id":"p","path":"x","file":"/x"}`), "not a frameq upload"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typ, payload := c.payload()
			calls := r.sim.Stats().Calls
			err := processWithin(t, r, typ, payload, outside)
			switch {
			case err == nil:
				t.Fatal("accepted")
			case !errors.Is(err, asynq.SkipRetry):
				t.Errorf("error %q is not terminal: asynq would retry it", err)
			case !strings.Contains(err.Error(), c.reason):
				t.Errorf("error %q does not name %q", err, c.reason)
			}
			if n := r.sim.Stats().Calls - calls; n != 0 {
				t.Errorf("%d API calls for a hostile payload", n)
			}
		})
	}
	if st := r.sim.Stats(); len(st.Files) != 0 || st.Creates != 0 {
		t.Errorf("hostile payloads made %d files (%d creates)", len(st.Files), st.Creates)
	}
	// A payload whose batch can be read is failed on it, with its reason.
	// (Outside asynq every task id is "", so they share one record.)
	fails, err := r.h.batches.Failures(context.Background(), "b")
	if err != nil {
		t.Fatal(err)
	}
	if len(fails) == 0 {
		t.Error("no failure recorded on the payloads' batch")
	}
	for _, f := range fails {
		if f.Class != ClassInput || f.Reason == "" {
			t.Errorf("failure %+v: want class %q with a reason", f, ClassInput)
		}
	}
}

// processWithin runs one task; a handler still busy after
// a few seconds opened a FIFO (nothing else here can block it), and is
// released by opening the FIFOs for writing.
func processWithin(t *testing.T, r *rig, typ string, payload []byte, outside string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		done <- r.h.ProcessTask(context.Background(), asynq.NewTask(typ, payload))
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		for _, p := range []string{filepath.Join(outside, "secret.fifo"), filepath.Join(r.root, "inside.fifo")} {
			if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		}
		<-done
		t.Fatal("the handler blocked opening a FIFO: it opened a file it had no business reading")
		return nil
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
