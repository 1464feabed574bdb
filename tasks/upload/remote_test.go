package upload

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/seal"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
)

// sourceLog records the source URL of every remote create.
type sourceLog struct {
	FrameIO
	mu   sync.Mutex
	urls []string
}

func (s *sourceLog) CreateRemoteFile(ctx context.Context, parentID string, in NewFile) (*File, error) {
	s.mu.Lock()
	s.urls = append(s.urls, in.SourceURL)
	s.mu.Unlock()
	return s.FrameIO.CreateRemoteFile(ctx, parentID, in)
}

func sealBox(t *testing.T, b byte) *seal.Box {
	t.Helper()
	box, err := seal.New(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// handlerWithBox is the rig's V4 handler that opens seals with box.
func (r *v4rig) handlerWithBox(api FrameIO, box *seal.Box) *Handler {
	r.t.Helper()
	h, err := NewHandler(r.rdb, Options{
		Accounts:   map[string]*Account{"default": {API: api, Scope: "token:default"}},
		UploadRoot: r.root, Log: zerolog.Nop(), Box: box,
		Verify: true, VerifyTimeout: time.Minute, VerifyReuploads: 2,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

// A sealed payload's remote upload asks Frame.io to fetch the whole URL
// the producer gave, query and all, though the payload holds none of it.
func TestSealedRemoteUploadFetchesTheWholeURL(t *testing.T) {
	r := newV4Rig(t, frameiosim.Config{})
	box := sealBox(t, 3)
	log := &sourceLog{FrameIO: r.api}
	h := r.handlerWithBox(log, box)
	u := r.remote("far.mov", 0)
	want := u.SourceURL
	if _, err := job.Check("b", []*job.Upload{u}, box); err != nil {
		t.Fatal(err)
	}
	if b, _ := u.Encode(); bytes.Contains(b, []byte("s3cr3t")) || u.SourceSealed == "" {
		t.Fatalf("payload not sealed: %s", b)
	}
	if err := runRemote(h, u); err != nil {
		t.Fatal(err)
	}
	if len(log.urls) != 1 || log.urls[0] != want {
		t.Errorf("Frame.io was asked to fetch %q; want %q", log.urls, want)
	}
	if st := r.sim.Stats(); len(st.Files) != 1 || !st.Files[0].Complete {
		t.Errorf("files %+v, want far.mov complete", st.Files)
	}
}

// A seal the worker cannot open archives the task at once, as bad input
// naming the field, without a create, and without the secret in the reason.
func TestUnopenableSealIsTerminalNamingTheField(t *testing.T) {
	box := sealBox(t, 3)
	cases := map[string]struct {
		workerBox *seal.Box
		edit      func(*job.Upload)
	}{
		"tampered seal": {box, func(u *job.Upload) {
			b, _ := base64.RawURLEncoding.DecodeString(u.SourceSealed)
			b[len(b)-2] ^= 0x40
			u.SourceSealed = base64.RawURLEncoding.EncodeToString(b)
		}},
		"source_url swapped": {box, func(u *job.Upload) { u.SourceURL = "https://evil.example.com/far.mov" }},
		"another key":        {sealBox(t, 4), func(*job.Upload) {}},
		"worker has no key":  {nil, func(*job.Upload) {}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := newV4Rig(t, frameiosim.Config{})
			log := &sourceLog{FrameIO: r.api}
			h := r.handlerWithBox(log, c.workerBox)
			u := r.remote("far.mov", 0)
			if _, err := job.Check("b", []*job.Upload{u}, box); err != nil {
				t.Fatal(err)
			}
			c.edit(u)
			err := runRemote(h, u)
			if !errors.Is(err, asynq.SkipRetry) || classOf(err) != ClassInput {
				t.Fatalf("err %v (class %s); want a terminal input error", err, classOf(err))
			}
			if !strings.Contains(err.Error(), "payload field source_sealed:") || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("reason %q: want source_sealed named, no secret", err)
			}
			if len(log.urls) != 0 {
				t.Errorf("a create went out with %q", log.urls)
			}
			if got := r.batchState(u); got != records.Failed {
				t.Errorf("batch state %q, want failed", got)
			}
		})
	}
}
