package frameiosim

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestUploadCompletesWithSHA256OfBytesSent(t *testing.T) {
	s := StartTest(t, Config{PartSize: 1000})
	c := newTC(t, s, DefaultToken)
	data := randomBytes(4321, 1)
	f := c.file(s.RootFolder(DefaultToken), "clip.mp4", int64(len(data)))
	chunks := parts(data, len(f.UploadURLs))
	if len(chunks) != 5 || len(chunks[4]) != 4321-4*865 { // ceil(4321/5) = 865
		t.Fatalf("unexpected split: %d parts", len(chunks))
	}
	// Out of order and concurrently, as Frame.io's clients do.
	var wg sync.WaitGroup
	for _, i := range []int{3, 0, 4, 2, 1} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := put(t, f.UploadURLs[i], chunks[i], "video/mp4", nil); r.status != http.StatusOK || r.header.Get("ETag") == "" {
				t.Errorf("part %d: %d %s", i, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	got := decode[apiAsset](t, c.do(http.MethodGet, "/assets/"+f.ID, nil).body)
	if got.UploadCompletedAt == nil || got.UploadURLs != nil {
		t.Fatalf("after all parts: completed_at=%v urls=%d", got.UploadCompletedAt, len(got.UploadURLs))
	}
	st := s.Stats()
	if len(st.Files) != 1 || !st.Files[0].Complete || st.Files[0].SHA256 != sha(data) || st.Files[0].Parts != 5 || st.Files[0].Size != 4321 || st.PartsReceived != 5 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestUploadIncompleteUntilLastPart(t *testing.T) {
	s := StartTest(t, Config{PartSize: 10})
	c := newTC(t, s, DefaultToken)
	data := randomBytes(25, 2)
	f := c.file(s.RootFolder(DefaultToken), "a.mp4", 25)
	chunks := parts(data, len(f.UploadURLs))
	for _, i := range []int{2, 0} {
		put(t, f.UploadURLs[i], chunks[i], "video/mp4", nil)
	}
	got := decode[apiAsset](t, c.do(http.MethodGet, "/assets/"+f.ID, nil).body)
	if got.UploadCompletedAt != nil || len(got.UploadURLs) != 3 {
		t.Fatalf("2 of 3 parts: %+v", got)
	}
	if st := s.Stats(); st.Files[0].Complete || st.Files[0].SHA256 != "" {
		t.Fatalf("incomplete file has a digest: %+v", st.Files[0])
	}
	put(t, f.UploadURLs[1], chunks[1], "video/mp4", nil)
	if st := s.Stats(); !st.Files[0].Complete || st.Files[0].SHA256 != sha(data) {
		t.Fatalf("complete file: %+v", st.Files[0])
	}
}

func TestUploadOverwriteUpdatesDigest(t *testing.T) {
	s := StartTest(t, Config{PartSize: 4})
	c := newTC(t, s, DefaultToken)
	f := c.file(s.RootFolder(DefaultToken), "a.mp4", 8)
	put(t, f.UploadURLs[0], []byte("aaaa"), "video/mp4", nil)
	put(t, f.UploadURLs[0], []byte("bbbb"), "video/mp4", nil) // retried part overwrites
	put(t, f.UploadURLs[1], []byte("cccc"), "video/mp4", nil)
	if got := s.Stats().Files[0].SHA256; got != sha([]byte("bbbbcccc")) {
		t.Fatalf("digest after overwrite of part 1: %s", got)
	}
	put(t, f.UploadURLs[0], []byte("dddd"), "video/mp4", nil) // after completion too
	if got := s.Stats().Files[0].SHA256; got != sha([]byte("ddddcccc")) {
		t.Fatalf("digest after overwrite of a complete file: %s", got)
	}
}

func TestUploadZeroByteFile(t *testing.T) {
	s := StartTest(t, Config{})
	f := newTC(t, s, DefaultToken).file(s.RootFolder(DefaultToken), "empty.mp4", 0)
	if len(f.UploadURLs) != 1 {
		t.Fatalf("0-byte file: %d urls", len(f.UploadURLs))
	}
	if r := put(t, f.UploadURLs[0], []byte("x"), "video/mp4", nil); r.status != http.StatusBadRequest {
		t.Fatalf("1 byte into a 0-byte part: %d", r.status)
	}
	if r := put(t, f.UploadURLs[0], nil, "video/mp4", nil); r.status != http.StatusOK {
		t.Fatalf("empty part: %d %s", r.status, r.body)
	}
	if st := s.Stats(); !st.Files[0].Complete || st.Files[0].SHA256 != sha(nil) {
		t.Fatalf("stats: %+v", st.Files[0])
	}
}

// TestUploadChecksLikeS3 covers every refusal of a part PUT, each with an
// S3-style XML error whose message names what was wrong.
func TestUploadChecksLikeS3(t *testing.T) {
	s := StartTest(t, Config{PartSize: 10})
	c := newTC(t, s, DefaultToken)
	f := c.file(s.RootFolder(DefaultToken), "a.mp4", 19) // parts of 10 and 9
	good, last := f.UploadURLs[0], f.UploadURLs[1]
	tamper := func(raw, key, val string) string {
		u, _ := url.Parse(raw)
		q := u.Query()
		if val == "" {
			q.Del(key)
		} else {
			q.Set(key, val)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	otherPart := strings.Replace(good, "/"+f.ID+"/1?", "/"+f.ID+"/2?", 1)
	cases := []struct {
		name   string
		url    string
		body   []byte
		edit   map[string]string
		status int
		code   string
		want   string
	}{
		{"authorization header", good, make([]byte, 10), map[string]string{"Authorization": "Bearer dev-token"}, 400, "InvalidArgument", "Authorization"},
		{"tampered signature", tamper(good, "X-Amz-Signature", strings.Repeat("0", 64)), make([]byte, 10), nil, 403, "SignatureDoesNotMatch", "X-Amz-Signature"},
		{"missing signature", tamper(good, "X-Amz-Signature", ""), make([]byte, 10), nil, 403, "SignatureDoesNotMatch", "X-Amz-Signature"},
		{"tampered expiry", tamper(good, "X-Amz-Expires", "999999999"), make([]byte, 10), nil, 403, "SignatureDoesNotMatch", "X-Amz-Signature"},
		{"signature of another part", otherPart, make([]byte, 5), nil, 403, "SignatureDoesNotMatch", "X-Amz-Signature"},
		{"wrong content type", good, make([]byte, 10), map[string]string{"Content-Type": "application/octet-stream"}, 403, "SignatureDoesNotMatch", "Content-Type"},
		{"missing content type", good, make([]byte, 10), map[string]string{"Content-Type": ""}, 403, "SignatureDoesNotMatch", "Content-Type"},
		{"missing acl", good, make([]byte, 10), map[string]string{"x-amz-acl": ""}, 403, "AccessDenied", "x-amz-acl"},
		{"public acl", good, make([]byte, 10), map[string]string{"x-amz-acl": "public-read"}, 403, "AccessDenied", "x-amz-acl"},
		{"short part", good, make([]byte, 9), nil, 400, "InvalidRequest", "Content-Length"},
		{"long part", good, make([]byte, 11), nil, 400, "InvalidRequest", "Content-Length"},
		{"last part full size", last, make([]byte, 10), nil, 400, "InvalidRequest", "exactly 9"},
		{"unknown asset", strings.Replace(good, f.ID, "nope", 1), make([]byte, 10), nil, 404, "NoSuchUpload", "upload"},
		{"bad path", strings.Replace(good, "/1?", "/x?", 1), make([]byte, 10), nil, 400, "InvalidArgument", "part"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			r := put(t, tt.url, tt.body, "video/mp4", tt.edit)
			wantS3Error(t, r, tt.status, tt.code, tt.want)
		})
	}
	if st := s.Stats(); st.PartsReceived != 0 || st.Files[0].Complete {
		t.Fatalf("a refused PUT stored bytes: %+v", st)
	}
	if r := put(t, good, make([]byte, 10), "video/mp4", nil); r.status != http.StatusOK {
		t.Fatalf("the good PUT after all refusals: %d %s", r.status, r.body)
	}
}

func wantS3Error(t testing.TB, r resp, status int, code, want string) {
	t.Helper()
	body := string(r.body)
	if r.status != status || !strings.Contains(body, "<Code>"+code+"</Code>") || !strings.Contains(body, want) ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "application/xml") {
		t.Fatalf("got %d %s, want %d %s mentioning %q", r.status, body, status, code, want)
	}
}

func TestUploadRejectsOtherMethodsAndChunkedBodies(t *testing.T) {
	s := StartTest(t, Config{})
	f := newTC(t, s, DefaultToken).file(s.RootFolder(DefaultToken), "a.mp4", 3)
	r, err := http.Get(f.UploadURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET upload url: %d", r.StatusCode)
	}
	// A body of unknown length goes chunked: no Content-Length.
	req, _ := http.NewRequest(http.MethodPut, f.UploadURLs[0], struct{ *strings.Reader }{strings.NewReader("abc")})
	req.Header.Set("Content-Type", "video/mp4")
	req.Header.Set("x-amz-acl", "private")
	r, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	wantS3Error(t, resp{status: r.StatusCode, header: r.Header, body: readAll(t, r)}, 400, "MissingContentLength", "Content-Length")
}

func TestUploadExpiredURL(t *testing.T) {
	s := StartTest(t, Config{URLExpiry: time.Hour})
	f := newTC(t, s, DefaultToken).file(s.RootFolder(DefaultToken), "a.mp4", 3)
	if !strings.Contains(f.UploadURLs[0], "X-Amz-Expires=3600") {
		t.Fatalf("expiry not in the URL: %s", f.UploadURLs[0])
	}
	s.skew.Store(int64(time.Hour + 2*time.Second))
	wantS3Error(t, put(t, f.UploadURLs[0], []byte("abc"), "video/mp4", nil), 403, "AccessDenied", "expired")
	s.skew.Store(0)
	if r := put(t, f.UploadURLs[0], []byte("abc"), "video/mp4", nil); r.status != http.StatusOK {
		t.Fatalf("unexpired: %d", r.status)
	}
}

// TestUploadTruncatedBodyIsDiscarded sends fewer bytes than announced and
// hangs up: nothing may be stored.
func TestUploadTruncatedBodyIsDiscarded(t *testing.T) {
	s := StartTest(t, Config{})
	f := newTC(t, s, DefaultToken).file(s.RootFolder(DefaultToken), "a.mp4", 100)
	u, _ := url.Parse(f.UploadURLs[0])
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Type: video/mp4\r\nx-amz-acl: private\r\nContent-Length: 100\r\n\r\n%s", u.RequestURI(), u.Host, strings.Repeat("x", 40))
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("a truncated part was accepted")
		}
	}
	conn.Close()
	if st := s.Stats(); st.PartsReceived != 0 || st.Files[0].Complete {
		t.Fatalf("truncated part stored: %+v", st)
	}
}

func TestUploadsAreNotRateLimited(t *testing.T) {
	s := StartTest(t, Config{CallLimit: 2, CreateLimit: 2, Window: time.Hour, PartSize: 1})
	c := newTC(t, s, DefaultToken)
	f := c.file(s.RootFolder(DefaultToken), "a.mp4", 20)
	for i, u := range f.UploadURLs {
		if r := put(t, u, []byte{byte(i)}, "video/mp4", nil); r.status != http.StatusOK || r.header.Get("x-ratelimit-limit") != "" {
			t.Fatalf("part %d: %d %v", i, r.status, r.header)
		}
	}
	if st := s.Stats(); st.Calls != 1 || st.RateLimited != 0 || !st.Files[0].Complete {
		t.Fatalf("parts counted as API calls: %+v", st)
	}
}

// TestManyConcurrentUploads runs several files' parts at once (with -race
// this checks the locking) and checks every digest.
func TestManyConcurrentUploads(t *testing.T) {
	s := StartTest(t, Config{PartSize: 1 << 10, CreateLimit: 1000, CallLimit: 1000})
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	want := map[string]string{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range 6 {
		data := randomBytes(10<<10+i*77, uint64(i))
		f := c.file(root, fmt.Sprint("f", i), int64(len(data)))
		want[f.ID] = sha(data)
		for j, chunk := range parts(data, len(f.UploadURLs)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				if r := put(t, f.UploadURLs[j], chunk, "video/mp4", nil); r.status != http.StatusOK {
					t.Errorf("%s part %d: %d", f.ID, j, r.status)
				}
				_ = s.Stats() // readers concurrent with writers
			}()
		}
	}
	wg.Wait()
	for _, f := range s.Stats().Files {
		if !f.Complete || f.SHA256 != want[f.ID] {
			t.Errorf("%s: complete=%v sha=%s want %s", f.Name, f.Complete, f.SHA256, want[f.ID])
		}
	}
}

func TestCloseRemovesParts(t *testing.T) {
	s := New(Config{})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	c := newTC(t, s, DefaultToken)
	f := c.file(s.RootFolder(DefaultToken), "a.mp4", 3)
	put(t, f.UploadURLs[0], []byte("abc"), "video/mp4", nil)
	dir := s.dir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(c.base + "/me"); err == nil {
		t.Fatal("still serving after Close")
	}
	if entries, err := readDir(dir); err == nil {
		t.Fatalf("parts dir still there after Close: %v", entries)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestAdvanceClockExpiresV4URLs: what a test outside the package uses to
// expire presigned URLs without waiting; advances add up and never go back.
func TestAdvanceClockExpiresV4URLs(t *testing.T) {
	s := StartTest(t, Config{URLExpiry: time.Hour})
	c := newV4C(t, s, DefaultToken)
	f := c.mkFile(s.RootFolder(DefaultToken), "a.mov", 3)
	s.AdvanceClock(-time.Hour) // ignored
	s.AdvanceClock(30 * time.Minute)
	s.AdvanceClock(30*time.Minute + 2*time.Second)
	wantS3Error(t, put(t, f.UploadURLs[0].URL, []byte("abc"), f.MediaType, nil), 403, "AccessDenied", "expired")
	g := c.mkFile(s.RootFolder(DefaultToken), "b.mov", 3) // signed on the advanced clock
	putAll(t, g, []byte("abc"))
}
