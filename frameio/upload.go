package frameio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/frameq/frameq/apierr"
)

// Part is one presigned upload of a file: the bytes [Offset, Offset+Size)
// go to UploadURLs[Index].
type Part struct {
	Index        int
	Offset, Size int64
}

// Parts splits filesize over n upload URLs the way Frame.io's own clients
// do: part size ceil(filesize/n), part i at i*partSize, the last running to
// the end. Parts past the end of a small file are empty. n <= 0 or a
// negative filesize gives nil.
func Parts(filesize int64, n int) []Part {
	if n <= 0 || filesize < 0 {
		return nil
	}
	size := filesize / int64(n)
	if filesize%int64(n) != 0 {
		size++
	}
	parts := make([]Part, n)
	for i := range parts {
		off := min(int64(i)*size, filesize)
		end := min(off+size, filesize)
		if i == n-1 {
			end = filesize
		}
		parts[i] = Part{Index: i, Offset: off, Size: end - off}
	}
	return parts
}

// UploadPart PUTs exactly n bytes read from r at off to the presigned
// rawURL: Content-Length n, Content-Type filetype (omitted when empty),
// x-amz-acl: private and no Authorization header. The bytes are streamed,
// never held in memory. The call is bounded by 60s + n/UploadMinRate and
// skips BeforeCall (presigned URLs are not rate limited); AfterCall runs.
//
// Errors are *apierr.Error whose Path has no query string. A source that
// ends before off+n is apierr.ErrInvalidInput (Classify: Terminal).
func (c *Client) UploadPart(ctx context.Context, rawURL, filetype string, r io.ReaderAt, off, n int64) error {
	call := Call{Method: http.MethodPut, Route: RouteUpload, Kind: KindUpload}
	u, err := checkUpload(rawURL, filetype, r, off, n)
	if err != nil {
		return fmt.Errorf("upload part: %w", c.refuse(call, u, err))
	}
	ctx2, cancel := context.WithTimeout(ctx, c.uploadTimeout(n))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx2, http.MethodPut, u.String(), nil)
	if err != nil {
		return fmt.Errorf("upload part: %w", c.refuse(call, u, fmt.Errorf("%w: build request", apierr.ErrInvalidInput)))
	}
	req.URL = u // the parsed URL, byte for byte: it is signed
	req.ContentLength = n
	req.Body = http.NoBody
	switch {
	case n > 0 && n <= inMemoryPart:
		b, err := readPart(r, off, n)
		if err != nil {
			return fmt.Errorf("upload part: %w", c.refuse(call, u, err))
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	case n > 0:
		req.Body = newPartBody(r, off, n)
		req.GetBody = func() (io.ReadCloser, error) { return newPartBody(r, off, n), nil }
	}
	req.Header.Set("User-Agent", c.cfg.userAgent)
	req.Header.Set("X-Amz-Acl", "private")
	if filetype != "" {
		req.Header.Set("Content-Type", filetype)
	}
	_, res, err := c.send(ctx, call, req, maxErrorBody, nil)
	if err != nil {
		return fmt.Errorf("upload part at offset %d: %w", off, err)
	}
	c.finish(ctx, call, res, nil)
	return nil
}

// uploadTimeout allows 60s plus the time to send n bytes at UploadMinRate.
func (c *Client) uploadTimeout(n int64) time.Duration {
	secs := float64(n) / float64(c.cfg.uploadMinRate)
	return uploadBaseTimeout + time.Duration(secs*float64(time.Second))
}

// checkUpload validates UploadPart's arguments. Errors never include the
// URL: it is a credential.
func checkUpload(rawURL, filetype string, r io.ReaderAt, off, n int64) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		return &url.URL{}, fmt.Errorf("%w: upload URL does not parse", apierr.ErrInvalidInput)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return u, fmt.Errorf("%w: upload URL must be absolute http(s)", apierr.ErrInvalidInput)
	case r == nil:
		return u, fmt.Errorf("%w: nil reader", apierr.ErrInvalidInput)
	case off < 0, n < 0:
		return u, fmt.Errorf("%w: negative offset %d or size %d", apierr.ErrInvalidInput, off, n)
	case !validHeaderValue(filetype):
		return u, fmt.Errorf("%w: filetype contains control characters", apierr.ErrInvalidInput)
	}
	return u, nil
}

// inMemoryPart is the largest part read whole before it is sent. net/http
// writes a body it knows to be in memory with the headers, in one write
// when both fit its buffer, and any other body after flushing the headers:
// a syscall more per part, which for a small file is much of its cost.
const inMemoryPart = 64 << 10

// readPart reads [off, off+n) of r, failing as partBody does when the
// source ends early.
func readPart(r io.ReaderAt, off, n int64) ([]byte, error) {
	b := make([]byte, n)
	k, err := r.ReadAt(b, off)
	if int64(k) == n {
		return b, nil
	}
	if err == nil || err == io.EOF {
		return nil, shortPart(int64(k), n, off)
	}
	return nil, fmt.Errorf("read part at offset %d: %w", off, err)
}

func shortPart(read, n, off int64) error {
	return fmt.Errorf("%w: source ended %d bytes into the %d-byte part at offset %d", apierr.ErrInvalidInput, read, n, off)
}

// partBody streams [off, off+n) of a ReaderAt and fails, rather than
// sending a short part, when the source ends early (the file shrank).
type partBody struct {
	sr   *io.SectionReader
	off  int64
	n    int64
	read int64
}

func newPartBody(r io.ReaderAt, off, n int64) *partBody {
	return &partBody{sr: io.NewSectionReader(r, off, n), off: off, n: n}
}

func (b *partBody) Read(p []byte) (int, error) {
	k, err := b.sr.Read(p)
	b.read += int64(k)
	if err == io.EOF && b.read < b.n {
		return k, shortPart(b.read, b.n, b.off)
	}
	return k, err
}

func (b *partBody) Close() error { return nil }
