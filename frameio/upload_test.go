package frameio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameq/frameq/apierr"
)

func TestParts(t *testing.T) {
	tests := []struct {
		size int64
		n    int
		want []Part
	}{
		{10, 0, nil},
		{10, -1, nil},
		{-1, 2, nil},
		{0, 1, []Part{{0, 0, 0}}},
		{10, 1, []Part{{0, 0, 10}}},
		{10, 3, []Part{{0, 0, 4}, {1, 4, 4}, {2, 8, 2}}},
		{12, 3, []Part{{0, 0, 4}, {1, 4, 4}, {2, 8, 4}}},
		{3, 5, []Part{{0, 0, 1}, {1, 1, 1}, {2, 2, 1}, {3, 3, 0}, {4, 3, 0}}},
		{20 << 20, 2, []Part{{0, 0, 10 << 20}, {1, 10 << 20, 10 << 20}}},
		{1<<62 + 1, 2, []Part{{0, 0, 1<<61 + 1}, {1, 1<<61 + 1, 1 << 61}}},
	}
	for _, tt := range tests {
		got := Parts(tt.size, tt.n)
		if len(got) != len(tt.want) {
			t.Errorf("Parts(%d, %d) = %v, want %v", tt.size, tt.n, got, tt.want)
			continue
		}
		var sum int64
		for i := range got {
			sum += got[i].Size
			if got[i] != tt.want[i] {
				t.Errorf("Parts(%d, %d)[%d] = %v, want %v", tt.size, tt.n, i, got[i], tt.want[i])
			}
		}
		if got != nil && sum != tt.size {
			t.Errorf("Parts(%d, %d) covers %d bytes", tt.size, tt.n, sum)
		}
	}
}

// pattern is a ReaderAt of size bytes computed on the fly, counting how
// many bytes it has served.
type pattern struct {
	size   int64
	served atomic.Int64
}

func (p *pattern) ReadAt(b []byte, off int64) (int, error) {
	if off >= p.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), p.size-off))
	for i := range n {
		b[i] = byte((off + int64(i)) * 7 % 251)
	}
	p.served.Add(int64(n))
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// partSum is the SHA-256 of pattern bytes [off, off+n).
func partSum(p *pattern, off, n int64) [32]byte {
	h := sha256.New()
	io.Copy(h, io.NewSectionReader(&pattern{size: p.size}, off, n))
	return [32]byte(h.Sum(nil))
}

type putSeen struct {
	path, query, ctype, acl, auth string
	length                        int64
	te                            []string
	sum                           [32]byte
}

// putServer records PUTs; answer decides the status (0 means 200).
func putServer(t *testing.T, answer func(r *http.Request) int) (*httptest.Server, chan putSeen) {
	seen := make(chan putSeen, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		io.Copy(h, r.Body)
		seen <- putSeen{r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("X-Amz-Acl"),
			r.Header.Get("Authorization"), r.ContentLength, r.TransferEncoding, [32]byte(h.Sum(nil))}
		if st := answer(r); st != 0 {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(st)
			io.WriteString(w, `<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><Message>bad sig</Message><SignatureProvided>`+testSig+`</SignatureProvided></Error>`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

func TestUploadPartSendsExactRange(t *testing.T) {
	srv, seen := putServer(t, func(*http.Request) int { return 0 })
	var befores, afters atomic.Int32
	var last Result
	c, _ := newTestClient(t, nil, func(o *Options) {
		o.BeforeCall = func(context.Context, Call) error { befores.Add(1); return nil }
		o.AfterCall = func(_ context.Context, call Call, r Result) {
			if !reflect.DeepEqual(call, Call{Method: "PUT", Route: RouteUpload, Kind: KindUpload}) {
				t.Errorf("AfterCall with %+v", call)
			}
			last = r
			afters.Add(1)
		}
	})
	src := &pattern{size: 10<<20 + 3}
	for _, p := range Parts(src.size, 3) {
		url := srv.URL + "/upload/asset1/" + strconv.Itoa(p.Index) + "?X-Amz-Signature=" + testSig + "&X-Amz-Expires=3600"
		if err := c.UploadPart(context.Background(), url, "video/mp4", src, p.Offset, p.Size); err != nil {
			t.Fatal(err)
		}
		got := <-seen
		want := putSeen{"/upload/asset1/" + strconv.Itoa(p.Index), "X-Amz-Signature=" + testSig + "&X-Amz-Expires=3600",
			"video/mp4", "private", "", p.Size, nil, partSum(src, p.Offset, p.Size)}
		if got.path != want.path || got.query != want.query || got.ctype != want.ctype || got.acl != want.acl ||
			got.auth != "" || got.length != want.length || len(got.te) != 0 || got.sum != want.sum {
			t.Errorf("part %d: got %+v\nwant %+v", p.Index, got, want)
		}
		if last.Status != 200 || last.Err != nil {
			t.Errorf("AfterCall result %+v", last)
		}
	}
	if befores.Load() != 0 || afters.Load() != 3 {
		t.Errorf("BeforeCall ran %d times, AfterCall %d; want 0 and 3", befores.Load(), afters.Load())
	}
}

func TestUploadEmptyPartAndNoFiletype(t *testing.T) {
	srv, seen := putServer(t, func(*http.Request) int { return 0 })
	c, _ := newTestClient(t, nil)
	if err := c.UploadPart(context.Background(), srv.URL+"/u/0?sig=x", "", &pattern{}, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got.length != 0 || len(got.te) != 0 || got.ctype != "" || got.acl != "private" {
		t.Errorf("got %+v", got)
	}
}

func TestUploadPartStreams(t *testing.T) {
	// The server reads one byte and stalls: had the client buffered the
	// part, it would have read all of it from the source by then.
	const size = 32 << 20
	started, release := make(chan struct{}), make(chan struct{})
	var sum [32]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var one [1]byte
		io.ReadFull(r.Body, one[:])
		close(started)
		<-release
		h := sha256.New()
		h.Write(one[:])
		io.Copy(h, r.Body)
		sum = [32]byte(h.Sum(nil))
	}))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, nil)
	src := &pattern{size: size}
	done := make(chan error, 1)
	go func() { done <- c.UploadPart(context.Background(), srv.URL+"/u/0", "video/mp4", src, 0, size) }()
	<-started
	// Socket buffers hold a few MiB at most; give them time to fill.
	time.Sleep(100 * time.Millisecond)
	served := src.served.Load()
	t.Logf("source read %d of %d bytes while the server held the request", served, size)
	if served > size/2 {
		t.Errorf("the part was buffered, not streamed")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sum != partSum(src, 0, size) {
		t.Error("server received different bytes")
	}
}

func TestUploadShortSourceIsTerminal(t *testing.T) {
	srv, _ := putServer(t, func(*http.Request) int { return 0 })
	c, _ := newTestClient(t, nil)
	err := c.UploadPart(context.Background(), srv.URL+"/u/1?sig="+testSig, "video/mp4", bytes.NewReader(make([]byte, 100)), 50, 80)
	e := asAPIErr(t, err)
	if !errors.Is(err, apierr.ErrInvalidInput) || apierr.Classify(err) != apierr.Terminal || e.Path != "/u/1" {
		t.Errorf("got %v (class %v)", err, apierr.Classify(err))
	}
}

func TestUploadErrors(t *testing.T) {
	srv, _ := putServer(t, func(r *http.Request) int { return http.StatusForbidden })
	c, _ := newTestClient(t, nil)
	ctx := context.Background()
	err := c.UploadPart(ctx, srv.URL+"/upload/a/0?X-Amz-Signature="+testSig, "video/mp4", &pattern{size: 10}, 0, 10)
	e := asAPIErr(t, err)
	if e.Status != 403 || e.Path != "/upload/a/0" || e.Detail != "SignatureDoesNotMatch: bad sig" || apierr.Classify(err) != apierr.Terminal {
		t.Errorf("got %v", err)
	}
	bad := []struct {
		url      string
		r        io.ReaderAt
		off, n   int64
		filetype string
	}{
		{"http://x/%zz?sig=" + testSig, &pattern{}, 0, 1, ""},
		{"/relative?sig=" + testSig, &pattern{}, 0, 1, ""},
		{"ftp://x/y?sig=" + testSig, &pattern{}, 0, 1, ""},
		{srv.URL + "/u", nil, 0, 1, ""},
		{srv.URL + "/u", &pattern{}, -1, 1, ""},
		{srv.URL + "/u", &pattern{}, 0, -1, ""},
		{srv.URL + "/u", &pattern{}, 0, 1, "video/mp4\r\nX: y"},
	}
	for _, b := range bad {
		err := c.UploadPart(ctx, b.url, b.filetype, b.r, b.off, b.n)
		asAPIErr(t, err)
		if !errors.Is(err, apierr.ErrInvalidInput) || apierr.Classify(err) != apierr.Terminal {
			t.Errorf("%q: got %v", b.url, err)
		}
	}
}

func TestUploadTimeoutScalesWithSize(t *testing.T) {
	c, err := New(Options{Token: testToken, UploadMinRate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.uploadTimeout(0); got != 60*time.Second {
		t.Errorf("uploadTimeout(0) = %v", got)
	}
	if got := c.uploadTimeout(30_000); got != 90*time.Second {
		t.Errorf("uploadTimeout(30000) = %v", got)
	}
}

func TestUploadTimeoutFires(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := c.UploadPart(ctx, srv.URL+"/u/0?sig="+testSig, "video/mp4", &pattern{size: 1000}, 0, 1000)
	asAPIErr(t, err)
	if !errors.Is(err, context.DeadlineExceeded) || apierr.Classify(err) != apierr.Retryable {
		t.Errorf("got %v", err)
	}
}

// Parts up to inMemoryPart are read before they are sent, larger ones
// streamed: both arrive exact, and a source that ends early fails the part
// (the file shrank) rather than send it short, a small one before any
// byte leaves.
func TestUploadPartSmallAndStreamedAndShortSource(t *testing.T) {
	srv, seen := putServer(t, func(*http.Request) int { return 0 })
	c, _ := newTestClient(t, nil)
	ctx := context.Background()
	for _, n := range []int64{1000, inMemoryPart, inMemoryPart + 1} {
		src := &pattern{size: n + 5}
		if err := c.UploadPart(ctx, srv.URL+"/u/0?sig=x", "", src, 5, n); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if got := <-seen; got.length != n || got.sum != partSum(src, 5, n) {
			t.Errorf("%d bytes: server got %d bytes, sum match %v", n, got.length, got.sum == partSum(src, 5, n))
		}
		short := &pattern{size: n - 1}
		err := c.UploadPart(ctx, srv.URL+"/u/0?sig=x", "", short, 0, n)
		if !errors.Is(err, apierr.ErrInvalidInput) || !strings.Contains(err.Error(), "source ended") {
			t.Errorf("%d-byte part from a %d-byte source: %v, want invalid input saying the source ended", n, n-1, err)
		}
		if n > inMemoryPart {
			<-seen // streamed: the server saw a request whose body broke off
			continue
		}
		if apierr.Ambiguous(err) {
			t.Errorf("%d-byte part refused before sending: Ambiguous(%v) = true", n, err)
		}
		select {
		case got := <-seen:
			t.Errorf("%d-byte short part: the server saw a request of %d bytes", n, got.length)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// writeCounter counts the writes on the connections it dials.
type writeCounter struct{ writes atomic.Int64 }

func (w *writeCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	return countedConn{c, w}, err
}

type countedConn struct {
	net.Conn
	w *writeCounter
}

func (c countedConn) Write(b []byte) (int, error) { c.w.writes.Add(1); return c.Conn.Write(b) }

// A small part leaves in one write with its headers: a streamed body is
// written after the headers are flushed, a syscall more per part.
func TestSmallPartLeavesInOneWrite(t *testing.T) {
	srv, seen := putServer(t, func(*http.Request) int { return 0 })
	var wc writeCounter
	tr := defaultHTTPClient().Transport.(*http.Transport)
	tr.DialContext = wc.dial
	c, _ := newTestClient(t, nil, func(o *Options) { o.HTTPClient = &http.Client{Transport: tr} })
	ctx := context.Background()
	for _, tc := range []struct {
		n      int64
		writes int64
	}{{1024, 1}, {inMemoryPart + 1, 2}} {
		wc.writes.Store(0)
		if err := c.UploadPart(ctx, srv.URL+"/u/0?sig=x", "application/octet-stream", &pattern{size: tc.n}, 0, tc.n); err != nil {
			t.Fatal(err)
		}
		<-seen
		if got := wc.writes.Load(); tc.writes == 1 && got != 1 || tc.writes > 1 && got < tc.writes {
			t.Errorf("%d-byte part: %d writes, want %d", tc.n, got, tc.writes)
		}
	}
}
