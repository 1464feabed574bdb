package frameio_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/frameiosim"
)

// These tests drive the client over real loopback HTTP against the
// simulator, the way the worker will use it.

const (
	simToken   = "sim-token-A-0123456789abcdef"
	otherToken = "sim-token-B-fedcba9876543210"
)

type simEnv struct {
	sim    *frameiosim.Server
	client *frameio.Client
	root   string

	mu      sync.Mutex
	results []frameio.Result
}

// startSim starts a simulator with two accounts and a client for simToken
// that records every AfterCall.
func startSim(t *testing.T, cfg frameiosim.Config, mutate ...func(*frameio.Options)) *simEnv {
	t.Helper()
	cfg.Tokens = map[string]string{simToken: "acct-a", otherToken: "acct-b"}
	env := &simEnv{sim: frameiosim.StartTest(t, cfg)}
	o := frameio.Options{BaseURL: env.sim.URL(), Token: simToken, UserAgent: "frameq/test",
		AfterCall: func(_ context.Context, _ frameio.Call, r frameio.Result) {
			env.mu.Lock()
			defer env.mu.Unlock()
			env.results = append(env.results, r)
		}}
	for _, m := range mutate {
		m(&o)
	}
	c, err := frameio.New(o)
	if err != nil {
		t.Fatal(err)
	}
	env.client, env.root = c, env.sim.RootFolder(simToken)
	return env
}

func (e *simEnv) lastResult() frameio.Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.results[len(e.results)-1]
}

// apiErr asserts err wraps an *apierr.Error and leaks no credential.
func apiErr(t *testing.T, err error) *apierr.Error {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("%v (%T) does not wrap *apierr.Error", err, err)
	}
	for _, secret := range []string{simToken, otherToken, "X-Amz-Signature="} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("%q leaked into %q", secret, err)
		}
	}
	return e
}

func TestSimMe(t *testing.T) {
	env := startSim(t, frameiosim.Config{})
	u, err := env.client.Me(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" || u.AccountID != "acct-a" || u.Email == "" || u.Name == "" {
		t.Errorf("Me = %+v", u)
	}
	if rl := env.lastResult().RateLimit; !rl.Present || rl.Limit != frameiosim.DefaultCallLimit || rl.Window != time.Second {
		t.Errorf("rate limit headers: %+v", rl)
	}
}

func TestSimCreateGetDelete(t *testing.T) {
	env := startSim(t, frameiosim.Config{})
	ctx := context.Background()
	folder, err := env.client.CreateAsset(ctx, env.root, frameio.CreateAsset{Type: frameio.TypeFolder, Name: "shoot 1"})
	if err != nil {
		t.Fatal(err)
	}
	if folder.Type != "folder" || folder.ParentID != env.root || folder.ProjectID == "" || len(folder.UploadURLs) != 0 {
		t.Errorf("folder %v", folder)
	}
	file, err := env.client.CreateAsset(ctx, folder.ID, frameio.CreateAsset{
		Type: frameio.TypeFile, Name: "a.mov", Filetype: "video/quicktime", Filesize: 20 << 20,
		Description: "take 1", Properties: map[string]any{"camera": "A"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if file.Filesize != 20<<20 || file.Filetype != "video/quicktime" || len(file.UploadURLs) != 3 ||
		file.UploadCompletedAt != nil || file.InsertedAt.IsZero() {
		t.Errorf("file %v", file)
	}
	remote, err := env.client.CreateAsset(ctx, folder.ID, frameio.CreateAsset{
		Type: frameio.TypeFile, Name: "r.mov", Filesize: 1000, Source: &frameio.Source{URL: "https://media.example.com/r.mov?sig=abc"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(remote.UploadURLs) != 0 {
		t.Errorf("remote upload got %d upload URLs", len(remote.UploadURLs))
	}
	got, err := env.client.GetAsset(ctx, file.ID)
	if err != nil || got.ID != file.ID || got.Name != "a.mov" || got.ParentID != folder.ID {
		t.Fatalf("GetAsset = %v, %v", got, err)
	}
	if err := env.client.DeleteAsset(ctx, file.ID); err != nil {
		t.Fatal(err)
	}
	_, err = env.client.GetAsset(ctx, file.ID)
	if e := apiErr(t, err); e.Status != 404 || apierr.Classify(err) != apierr.Terminal {
		t.Errorf("after delete: %v", err)
	}
}

func TestSimListChildrenPaginates(t *testing.T) {
	env := startSim(t, frameiosim.Config{})
	want := map[string]bool{}
	for i := range 230 {
		id := env.sim.MakeFolder(env.root, fmt.Sprintf("f%03d", i))
		if id == "" {
			t.Fatal("MakeFolder failed")
		}
		want[id] = true
	}
	before := len(env.results)
	kids, err := env.client.ListChildren(context.Background(), env.root)
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != len(want) {
		t.Fatalf("got %d children, want %d", len(kids), len(want))
	}
	for _, k := range kids {
		if !want[k.ID] || k.ParentID != env.root {
			t.Fatalf("unexpected child %v", k)
		}
	}
	if pages := len(env.results) - before; pages != 3 {
		t.Errorf("%d page requests, want 3", pages)
	}
	empty := env.sim.MakeFolder(env.root, "empty")
	if kids, err := env.client.ListChildren(context.Background(), empty); err != nil || len(kids) != 0 {
		t.Errorf("empty folder: %d children, %v", len(kids), err)
	}
}

// writeFile makes a file of random bytes and returns it open with its
// SHA-256.
func writeFile(t *testing.T, size int) (*os.File, string) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	path := filepath.Join(t.TempDir(), "media.bin")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	sum := sha256.Sum256(b)
	return f, hex.EncodeToString(sum[:])
}

func TestSimUploadPartsIntact(t *testing.T) {
	env := startSim(t, frameiosim.Config{PartSize: 64 << 10})
	ctx := context.Background()
	const size = 200<<10 + 7 // 4 parts, the last one short
	f, sum := writeFile(t, size)
	a, err := env.client.CreateAsset(ctx, env.root, frameio.CreateAsset{
		Type: frameio.TypeFile, Name: "clip.mp4", Filetype: "video/mp4", Filesize: size})
	if err != nil {
		t.Fatal(err)
	}
	parts := frameio.Parts(a.Filesize, len(a.UploadURLs))
	if len(parts) != 4 {
		t.Fatalf("%d parts", len(parts))
	}
	// Out of order and concurrently, as the worker may.
	var wg sync.WaitGroup
	errs := make([]error, len(parts))
	for i := len(parts) - 1; i >= 0; i-- {
		wg.Go(func() {
			p := parts[i]
			errs[i] = env.client.UploadPart(ctx, a.UploadURLs[p.Index], a.Filetype, f, p.Offset, p.Size)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	st := env.sim.Stats()
	if len(st.Files) != 1 || !st.Files[0].Complete || st.Files[0].SHA256 != sum || st.PartsReceived != 4 {
		t.Fatalf("simulator saw %+v, want sha256 %s", st.Files, sum)
	}
}

func TestSimEmptyFileUpload(t *testing.T) {
	env := startSim(t, frameiosim.Config{})
	ctx := context.Background()
	f, sum := writeFile(t, 0)
	a, err := env.client.CreateAsset(ctx, env.root, frameio.CreateAsset{Type: frameio.TypeFile, Name: "empty.txt", Filesize: 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range frameio.Parts(a.Filesize, len(a.UploadURLs)) {
		if err := env.client.UploadPart(ctx, a.UploadURLs[p.Index], a.Filetype, f, p.Offset, p.Size); err != nil {
			t.Fatal(err)
		}
	}
	if st := env.sim.Stats(); len(st.Files) != 1 || !st.Files[0].Complete || st.Files[0].SHA256 != sum {
		t.Fatalf("simulator saw %+v", st.Files)
	}
}

func TestSimUploadRefusals(t *testing.T) {
	env := startSim(t, frameiosim.Config{PartSize: 64 << 10})
	ctx := context.Background()
	f, _ := writeFile(t, 100<<10)
	a, err := env.client.CreateAsset(ctx, env.root, frameio.CreateAsset{
		Type: frameio.TypeFile, Name: "x.mp4", Filetype: "video/mp4", Filesize: 100 << 10})
	if err != nil {
		t.Fatal(err)
	}
	p := frameio.Parts(a.Filesize, len(a.UploadURLs))[0]
	tests := []struct {
		name     string
		url      string
		filetype string
		n        int64
		class    apierr.Class
	}{
		{"wrong content type", a.UploadURLs[0], "video/quicktime", p.Size, apierr.Terminal},
		{"wrong size", a.UploadURLs[0], a.Filetype, p.Size - 1, apierr.Terminal},
		{"tampered signature", strings.Replace(a.UploadURLs[0], "X-Amz-Signature=", "X-Amz-Signature=00", 1), a.Filetype, p.Size, apierr.Terminal},
	}
	for _, tt := range tests {
		err := env.client.UploadPart(ctx, tt.url, tt.filetype, f, p.Offset, tt.n)
		e := apiErr(t, err)
		if apierr.Classify(err) != tt.class || e.Status < 400 || !strings.HasPrefix(e.Path, "/upload/") || e.Detail == "" {
			t.Errorf("%s: %v (class %v)", tt.name, err, apierr.Classify(err))
		}
		if r := env.lastResult(); r.Status != e.Status || r.Err == nil {
			t.Errorf("%s: AfterCall saw %+v", tt.name, r)
		}
	}
	env.sim.SetFaults(frameiosim.Faults{PartFail: 1})
	err = env.client.UploadPart(ctx, a.UploadURLs[0], a.Filetype, f, p.Offset, p.Size)
	if e := apiErr(t, err); e.Status != 500 || apierr.Classify(err) != apierr.Retryable || !strings.Contains(e.Detail, "InternalError") {
		t.Errorf("part fault: %v", err)
	}
}

func TestSimErrorStatuses(t *testing.T) {
	env := startSim(t, frameiosim.Config{})
	ctx := context.Background()
	forbidden := env.sim.MakeFolder(env.root, "forbidden")
	unpaid := env.sim.MakeFolder(env.root, "unpaid")
	env.sim.SetFaults(frameiosim.Faults{ForbiddenFolders: []string{forbidden}, PaymentRequiredFolders: []string{unpaid}})
	other := env.sim.RootFolder(otherToken)
	folder := frameio.CreateAsset{Type: frameio.TypeFolder, Name: "f"}

	bad, err := frameio.New(frameio.Options{BaseURL: env.sim.URL(), Token: "unknown-token-zzzzzzzz"})
	if err != nil {
		t.Fatal(err)
	}
	_, errUnknown := bad.Me(ctx)
	_, err404 := env.client.CreateAsset(ctx, "no-such-folder", folder)
	_, err404get := env.client.GetAsset(ctx, "no-such-asset")
	_, err422 := env.client.CreateAsset(ctx, env.root, frameio.CreateAsset{Type: frameio.TypeFolder, Name: ""})
	_, err422type := env.client.CreateAsset(ctx, env.root, frameio.CreateAsset{Type: "bogus", Name: "x"})
	_, err403 := env.client.CreateAsset(ctx, forbidden, folder)
	_, err403acct := env.client.ListChildren(ctx, other)
	_, err402 := env.client.CreateAsset(ctx, unpaid, folder)
	tests := []struct {
		name   string
		err    error
		status int
		class  apierr.Class
	}{
		{"unknown token", errUnknown, 401, apierr.TokenRejected},
		{"unknown parent", err404, 404, apierr.Terminal},
		{"unknown asset", err404get, 404, apierr.Terminal},
		{"empty name", err422, 422, apierr.Terminal},
		{"bad type", err422type, 422, apierr.Terminal},
		{"forbidden folder", err403, 403, apierr.Terminal},
		{"other account", err403acct, 403, apierr.Terminal},
		{"plan exceeded", err402, 402, apierr.TokenRejected},
	}
	for _, tt := range tests {
		e := apiErr(t, tt.err)
		if e.Status != tt.status || apierr.Classify(tt.err) != tt.class || apierr.Ambiguous(tt.err) || e.Code != tt.status || e.Title == "" {
			t.Errorf("%s: %v (class %v, code %d)", tt.name, tt.err, apierr.Classify(tt.err), e.Code)
		}
		if strings.Contains(tt.err.Error(), "unknown-token-zzzzzzzz") {
			t.Errorf("%s: token leaked: %v", tt.name, tt.err)
		}
	}
	if !strings.Contains(err422.Error(), "422 Invalid arguments: name: empty") {
		t.Errorf("422 message: %v", err422)
	}
}

func TestSimRateLimited(t *testing.T) {
	for _, noRetryAfter := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoRetryAfter=%v", noRetryAfter), func(t *testing.T) {
			// One create per 10 s: the second create in a row must be refused,
			// however slow the machine.
			env := startSim(t, frameiosim.Config{CreateLimit: 1, Window: 10 * time.Second, NoRetryAfter: noRetryAfter})
			ctx := context.Background()
			if _, err := env.client.CreateAsset(ctx, env.root, frameio.CreateAsset{Type: frameio.TypeFolder, Name: "a"}); err != nil {
				t.Fatal(err)
			}
			_, err := env.client.CreateAsset(ctx, env.root, frameio.CreateAsset{Type: frameio.TypeFolder, Name: "b"})
			e := apiErr(t, err)
			wait := apierr.WaitOf(err)
			if e.Status != 429 || apierr.Classify(err) != apierr.RateLimited || apierr.Ambiguous(err) {
				t.Fatalf("got %v", err)
			}
			if noRetryAfter && wait != 10*time.Second { // the x-ratelimit-window
				t.Errorf("wait %v, want the 10s window", wait)
			}
			if !noRetryAfter && (wait < time.Second || wait > 10*time.Second) {
				t.Errorf("wait %v, want Retry-After within (0, 10s]", wait)
			}
			r := env.lastResult()
			if r.Status != 429 || !r.RateLimit.Present || r.RateLimit.Remaining != 0 || r.RateLimit.Window != 10*time.Second {
				t.Errorf("AfterCall saw %+v", r)
			}
			if n := env.sim.Stats().Creates; n != 1 {
				t.Errorf("%d creates", n)
			}
		})
	}
}

func TestSimLostResponses(t *testing.T) {
	tests := []struct {
		name    string
		faults  frameiosim.Faults
		created int
		status  int
	}{
		{"lost create (500 after creating)", frameiosim.Faults{LostCreate: 1}, 1, 500},
		{"reset after creating", frameiosim.Faults{ResetCreate: 1}, 1, 0},
		{"500 before creating", frameiosim.Faults{Create500: 1}, 0, 500},
		{"proxy 502 page", frameiosim.Faults{HTMLError: 1}, 0, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startSim(t, frameiosim.Config{Faults: tt.faults})
			ctx := context.Background()
			_, err := env.client.CreateAsset(ctx, env.root, frameio.CreateAsset{Type: frameio.TypeFile, Name: "a.mov", Filesize: 10})
			e := apiErr(t, err)
			// The client cannot tell these apart: all are "maybe created".
			if e.Status != tt.status || apierr.Classify(err) != apierr.Retryable || !apierr.Ambiguous(err) || e.NotSent {
				t.Fatalf("got %v (status %d, ambiguous %v)", err, e.Status, apierr.Ambiguous(err))
			}
			env.sim.SetFaults(frameiosim.Faults{})
			kids, err := env.client.ListChildren(ctx, env.root)
			if err != nil || len(kids) != tt.created || env.sim.Stats().Creates != tt.created {
				t.Errorf("after the fault: %d children listed, %d created, %v", len(kids), env.sim.Stats().Creates, err)
			}
		})
	}
}

func TestSimSlowerThanAPITimeout(t *testing.T) {
	env := startSim(t, frameiosim.Config{Faults: frameiosim.Faults{SlowProb: 1, SlowDelay: time.Minute}},
		func(o *frameio.Options) { o.APITimeout = 200 * time.Millisecond })
	_, err := env.client.CreateAsset(context.Background(), env.root, frameio.CreateAsset{Type: frameio.TypeFolder, Name: "slow"})
	e := apiErr(t, err)
	if !errors.Is(err, context.DeadlineExceeded) || apierr.Classify(err) != apierr.Retryable || !apierr.Ambiguous(err) || e.NotSent {
		t.Fatalf("got %v", err)
	}
	if n := env.sim.Stats().Creates; n != 1 { // slow calls do their work first
		t.Errorf("%d creates", n)
	}
}
