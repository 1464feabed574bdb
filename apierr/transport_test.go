package apierr

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"
)

// rawServer accepts connections on loopback and hands each, after reading
// one request, to serve.
func rawServer(t *testing.T, serve func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				serve(c.(*net.TCPConn))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// checkTransport asserts the properties every transport failure shares.
func checkTransport(t *testing.T, e *Error, ambiguous bool) {
	t.Helper()
	if e == nil {
		t.Fatal("no error")
	}
	if e.Status != 0 || e.Err == nil {
		t.Errorf("Status %d Err %v", e.Status, e.Err)
	}
	if got := Classify(e); got != Retryable {
		t.Errorf("Classify = %v, want retryable (%v)", got, e)
	}
	if got := Ambiguous(e); got != ambiguous {
		t.Errorf("Ambiguous = %v, want %v (%v)", got, ambiguous, e)
	}
	if e.Path != "/v2/assets/abc/children" {
		t.Errorf("Path = %q", e.Path)
	}
	var ue interface{ URL() string }
	if errors.As(e.Err, &ue) {
		t.Errorf("a URL-carrying error survived: %T", e.Err)
	}
	assertNoSecret(t, e.Error())
}

func TestTransportConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	e := do(t, nil, "POST", "http://"+addr+"/v2/assets/abc/children?"+secretQuery)
	checkTransport(t, e, false)
	if !e.NotSent || !errors.Is(e, syscall.ECONNREFUSED) {
		t.Errorf("NotSent %v, err %v", e.NotSent, e.Err)
	}
}

func TestTransportResetAfterRequest(t *testing.T) {
	base := rawServer(t, func(c *net.TCPConn) {
		c.SetLinger(0) // close with RST
	})
	e := do(t, nil, "POST", base+"/v2/assets/abc/children?"+secretQuery)
	checkTransport(t, e, true)
	if !errors.Is(e, syscall.ECONNRESET) {
		t.Errorf("err = %v, want ECONNRESET", e.Err)
	}
}

func TestTransportEOFBeforeResponse(t *testing.T) {
	base := rawServer(t, func(c *net.TCPConn) {}) // close with FIN, no reply
	e := do(t, nil, "POST", base+"/v2/assets/abc/children?"+secretQuery)
	checkTransport(t, e, true)
	if !errors.Is(e, io.EOF) && !errors.Is(e, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want EOF", e.Err)
	}
}

func TestTransportUnexpectedEOFInBody(t *testing.T) {
	base := rawServer(t, func(c *net.TCPConn) {
		io.WriteString(c, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":")
	})
	e := do(t, nil, "POST", base+"/v2/assets/abc/children?"+secretQuery)
	checkTransport(t, e, true)
	if !errors.Is(e, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want unexpected EOF", e.Err)
	}
}

// hang is a handler that answers only when the client gives up.
func hang(arrived chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// The server notices a hang-up only once the body is consumed.
		io.Copy(io.Discard, r.Body)
		if arrived != nil {
			arrived <- struct{}{}
		}
		<-r.Context().Done()
	}
}

func TestTransportClientTimeout(t *testing.T) {
	hc := &http.Client{Timeout: 50 * time.Millisecond, Transport: &http.Transport{}}
	e := roundTrip(t, hc, "POST", "/v2/assets/abc/children", hang(nil))
	checkTransport(t, e, true)
	var ne net.Error
	if !errors.Is(e, context.DeadlineExceeded) || !errors.As(e, &ne) || !ne.Timeout() {
		t.Errorf("err = %v, want a timeout", e.Err)
	}
}

func TestTransportContextDeadline(t *testing.T) {
	srv := httptest.NewServer(hang(nil))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v2/assets/abc/children?"+secretQuery, nil)
	e := doReq(nil, req)
	checkTransport(t, e, true)
	if !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", e.Err)
	}
}

func TestTransportContextCanceled(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(hang(arrived))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }() // cancel once the server holds the request
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v2/assets/abc/children?"+secretQuery, nil)
	e := doReq(nil, req)
	checkTransport(t, e, true)
	if !errors.Is(e, context.Canceled) {
		t.Errorf("err = %v, want canceled", e.Err)
	}
}

func TestTransportUntrustedTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	srv.Config.ErrorLog = nil
	e := do(t, &http.Client{Transport: &http.Transport{}}, "POST", srv.URL+"/v2/assets/abc/children?"+secretQuery)
	checkTransport(t, e, false)
	if !e.NotSent {
		t.Errorf("NotSent false for %v", e.Err)
	}
}

func TestTransportBodyReadDeadline(t *testing.T) {
	// Headers arrive, the body stalls past the deadline.
	base := rawServer(t, func(c *net.TCPConn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c) // until the client hangs up
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v2/assets/abc/children?"+secretQuery, nil)
	e := doReq(nil, req)
	checkTransport(t, e, true)
	if !errors.Is(e, context.DeadlineExceeded) && !errors.Is(e, os.ErrDeadlineExceeded) {
		t.Errorf("err = %v, want a deadline", e.Err)
	}
}
