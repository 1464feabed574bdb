package frameiosim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

const amzDate = "20060102T150405Z"

// upload is the multipart state of a file asset. Its first fields never
// change after create; the rest are guarded by mu, which is taken before
// (never after) store.mu.
type upload struct {
	parts    int
	partSize int64
	size     int64
	signedAt time.Time // X-Amz-Date of all the asset's URLs
	expiry   time.Duration

	mu        sync.Mutex
	received  []bool
	nReceived int
	hasher    hash.Hash // over parts [0, hashed), so hashing is spread over the PUTs
	hashed    int
	gone      bool // asset deleted: refuse and drop parts
}

func newUpload(size, partSize int64, signedAt time.Time, expiry time.Duration) *upload {
	parts := int64(1)
	if size > 0 {
		parts = min(maxParts, (size+partSize-1)/partSize)
	}
	return &upload{
		parts: int(parts), partSize: (size + parts - 1) / parts, size: size,
		signedAt: signedAt, expiry: expiry, received: make([]bool, parts),
	}
}

// partLen is the exact byte count of part i (0-based): the client's formula,
// part size ceil(size/parts), the last part the remainder.
func (u *upload) partLen(i int) int64 {
	start := int64(i) * u.partSize
	return max(0, min(u.partSize, u.size-start))
}

// uploadURLs are the presigned part URLs of a, on the host base
// ("http://127.0.0.1:8090"). Part numbers are 1-based, like S3's.
func (s *Server) uploadURLs(base string, a asset) []string {
	u := a.upload
	urls := make([]string, u.parts)
	date := u.signedAt.UTC().Format(amzDate)
	expires := strconv.Itoa(int(u.expiry / time.Second))
	for i := range urls {
		part := strconv.Itoa(i + 1)
		urls[i] = base + "/upload/" + a.id + "/" + part +
			"?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
			"&X-Amz-Credential=" + url.QueryEscape("SIMKEY/"+date[:8]+"/us-east-1/s3/aws4_request") +
			"&X-Amz-Date=" + date +
			"&X-Amz-Expires=" + expires +
			"&X-Amz-SignedHeaders=content-type%3Bhost%3Bx-amz-acl" +
			"&X-Amz-Signature=" + s.sign(a.id, part, date, expires)
	}
	return urls
}

func (s *Server) sign(id, part, date, expires string) string {
	m := hmac.New(sha256.New, s.key)
	io.WriteString(m, id+"\n"+part+"\n"+date+"\n"+expires)
	return hex.EncodeToString(m.Sum(nil))
}

// s3Error is an S3-style XML error answer.
type s3Error struct {
	status        int
	code, message string
}

func (e *s3Error) Error() string { return e.code + ": " + e.message }

func s3Err(status int, code, format string, args ...any) *s3Error {
	return &s3Error{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func writeS3Error(w http.ResponseWriter, e *s3Error) {
	var msg strings.Builder
	_ = xml.EscapeText(&msg, []byte(e.message)) // a strings.Builder never fails
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.status)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId></Error>\n",
		e.code, msg.String(), newID())
}

// serveUpload answers PUT /upload/{asset_id}/{part}: the checks S3 would
// make, then the bytes go to a temporary file with no global lock held.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	a, part, err := s.checkUpload(r)
	if err != nil {
		s.drain(r)
		writeS3Error(w, err)
		return
	}
	if s.chance(s.faults().PartFail) {
		s.drain(r)
		s.partsFailed.Add(1)
		writeS3Error(w, s3Err(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."))
		return
	}
	etag, err := s.storePart(r, a, part)
	if err != nil {
		writeS3Error(w, err)
		return
	}
	s.partsReceived.Add(1)
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
}

// drain reads a refused body (bounded) so that the client sees the answer
// rather than a broken pipe.
func (s *Server) drain(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
}

// checkUpload validates everything about a part PUT but its bytes. part is
// 0-based.
func (s *Server) checkUpload(r *http.Request) (asset, int, *s3Error) {
	if r.Method != http.MethodPut {
		return asset{}, 0, s3Err(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource; use PUT.")
	}
	if r.Header.Get("Authorization") != "" {
		return asset{}, 0, s3Err(http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; the X-Amz-Signature query parameter and the Authorization header are both present.")
	}
	id, partStr, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/upload/"), "/")
	part, perr := strconv.Atoi(partStr)
	if !ok || id == "" || perr != nil || part < 1 {
		return asset{}, 0, s3Err(http.StatusBadRequest, "InvalidArgument", "Path must be /upload/{asset_id}/{part} with part a positive integer.")
	}
	a, ok := s.store.get(id)
	if !ok || a.upload == nil {
		return asset{}, 0, s3Err(http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist: the asset was deleted or takes no parts.")
	}
	if err := s.checkSignature(r, a, partStr); err != nil {
		return asset{}, 0, err
	}
	if part > a.upload.parts {
		return asset{}, 0, s3Err(http.StatusBadRequest, "InvalidArgument", "Part number %d is beyond the asset's %d parts.", part, a.upload.parts)
	}
	if ct := r.Header.Get("Content-Type"); ct != a.filetype {
		return asset{}, 0, s3Err(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided: header Content-Type %q is not the signed %q.", ct, a.filetype)
	}
	if acl := r.Header.Get("x-amz-acl"); acl != "private" {
		return asset{}, 0, s3Err(http.StatusForbidden, "AccessDenied", "Header x-amz-acl must be \"private\", got %q.", acl)
	}
	if want := a.upload.partLen(part - 1); r.ContentLength != want {
		// V4's URLs sign the part's size: any other length fails the
		// signature, as S3 answers a signed content-length mismatch.
		status := http.StatusBadRequest
		if a.api == "v4" {
			status = http.StatusForbidden
		}
		if r.ContentLength < 0 {
			return asset{}, 0, s3Err(status, "MissingContentLength", "Header Content-Length is required and must be %d for part %d.", want, part)
		}
		return asset{}, 0, s3Err(status, "InvalidRequest", "Header Content-Length is %d; part %d must be exactly %d bytes.", r.ContentLength, part, want)
	}
	return a, part - 1, nil
}

func (s *Server) checkSignature(r *http.Request, a asset, part string) *s3Error {
	q := r.URL.Query()
	date, expires := q.Get("X-Amz-Date"), q.Get("X-Amz-Expires")
	got := q.Get("X-Amz-Signature")
	want := s.sign(a.id, part, date, expires)
	if got == "" || !hmac.Equal([]byte(got), []byte(want)) {
		return s3Err(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided (query X-Amz-Signature).")
	}
	signed, err := time.Parse(amzDate, date)
	secs, serr := strconv.Atoi(expires)
	if err != nil || serr != nil {
		return s3Err(http.StatusForbidden, "AccessDenied", "Query X-Amz-Date or X-Amz-Expires is malformed.")
	}
	if s.now().After(signed.Add(time.Duration(secs) * time.Second)) {
		return s3Err(http.StatusForbidden, "AccessDenied", "Request has expired (X-Amz-Expires).")
	}
	return nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// storePart writes the body to a temporary file, then commits it under
// the asset's own lock. It returns the part's ETag.
func (s *Server) storePart(r *http.Request, a asset, part int) (string, *s3Error) {
	tmp, err := os.CreateTemp(s.dir, a.id+".*.tmp")
	if err != nil {
		return "", s3Err(http.StatusInternalServerError, "InternalError", "Cannot store the part.")
	}
	crc := crc32.NewIEEE()
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(io.MultiWriter(tmp, crc), r.Body, *buf)
	copyBufs.Put(buf)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != a.upload.partLen(part) {
		err = fmt.Errorf("got %d bytes", n)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", s3Err(http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	if err := s.commitPart(a, part, tmp.Name()); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return fmt.Sprintf("\"%08x\"", crc.Sum32()), nil
}

func (s *Server) partPath(id string, part int) string {
	return filepath.Join(s.dir, id+"."+strconv.Itoa(part))
}

// commitPart moves a received part into place and advances the file's
// digest; the last part completes the asset.
func (s *Server) commitPart(a asset, part int, tmp string) *s3Error {
	u := a.upload
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.gone {
		return s3Err(http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist: the asset was deleted.")
	}
	if err := os.Rename(tmp, s.partPath(a.id, part)); err != nil {
		return s3Err(http.StatusInternalServerError, "InternalError", "Cannot store the part.")
	}
	if u.received[part] {
		if part < u.hashed { // an overwrite invalidates the digest so far
			u.hasher, u.hashed = nil, 0
		}
	} else {
		u.received[part] = true
		u.nReceived++
	}
	if err := s.advanceDigest(a.id, u); err != nil {
		return s3Err(http.StatusInternalServerError, "InternalError", "Cannot read back the stored parts.")
	}
	if u.nReceived == u.parts {
		fail := func() bool { return s.chance(s.faults().UploadFailed) }
		s.store.markPartsIn(a.id, s.now(), hex.EncodeToString(u.hasher.Sum(nil)), s.cfg.CompleteAfter, fail)
	}
	return nil
}

// advanceDigest hashes every received part that continues the hashed
// prefix. Called with u.mu held.
func (s *Server) advanceDigest(id string, u *upload) error {
	if u.hasher == nil {
		u.hasher = sha256.New()
	}
	for u.hashed < u.parts && u.received[u.hashed] {
		if err := hashFile(u.hasher, s.partPath(id, u.hashed)); err != nil {
			err = fmt.Errorf("hash part %d of %s: %w", u.hashed, id, err)
			u.hasher, u.hashed = nil, 0
			return err
		}
		u.hashed++
	}
	return nil
}

func hashFile(h hash.Hash, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	_, err = io.CopyBuffer(h, f, *buf)
	return err
}

// dropParts forgets the parts of deleted files.
func (s *Server) dropParts(gone []*asset) {
	for _, a := range gone {
		u := a.upload
		if u == nil {
			continue
		}
		u.mu.Lock()
		u.gone = true
		for i, ok := range u.received {
			if ok {
				os.Remove(s.partPath(a.id, i))
			}
		}
		u.mu.Unlock()
	}
}
