// Package redistest starts private redis-server processes for tests and
// benchmarks.
//
// Every frameq test that needs Redis gets its own server on a free loopback
// port with its own data directory, so a test can stop, restart and inspect
// it, and never touches a Redis it did not create (such as one on :6379).
//
//	srv := redistest.Start(t)            // stopped by t.Cleanup
//	rdb := srv.Client(t)                 // *redis.Client, closed by t.Cleanup
//	srv.Stop(); srv.Restart()            // simulate an outage
//
// The binary is "redis-server" from PATH, or FRAMEQ_REDIS_SERVER if set.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configures a server.
type Options struct {
	// AppendOnly turns on AOF persistence (appendfsync always), so that a
	// Restart keeps every write acknowledged before Stop.
	AppendOnly bool
	// Dir is the data directory. Empty means a new temporary directory,
	// removed by Close.
	Dir string
	// Args are extra redis-server arguments, e.g. "--maxmemory", "10mb".
	Args []string
}

// Server is one redis-server process on 127.0.0.1. It keeps its port and
// data directory across Stop and Restart.
type Server struct {
	opts    Options
	port    int
	dir     string
	ownsDir bool

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
}

// Start starts a server for tb and registers its shutdown with tb.Cleanup.
// It fails the test, with install instructions, when redis-server is missing.
func Start(tb testing.TB, opts ...Options) *Server {
	tb.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	s, err := New(o)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// New starts a server. The caller must Close it.
func New(o Options) (*Server, error) {
	if _, err := Binary(); err != nil {
		return nil, err
	}
	s := &Server{opts: o, dir: o.Dir}
	if s.dir == "" {
		d, err := os.MkdirTemp("", "frameq-redis-")
		if err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		s.dir, s.ownsDir = d, true
	}
	// A port can be taken between probing and binding; try a few.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		if err = s.Restart(); err == nil {
			return s, nil
		}
	}
	s.Close()
	return nil, err
}

// Binary returns the redis-server path, or an error telling how to install it.
func Binary() (string, error) {
	if p := os.Getenv("FRAMEQ_REDIS_SERVER"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redis-server not found on PATH: install it (apt-get install redis-server, brew install redis) or set FRAMEQ_REDIS_SERVER")
	}
	return p, nil
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is a redis:// URL for database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Port is the TCP port.
func (s *Server) Port() int { return s.port }

// Dir is the data directory.
func (s *Server) Dir() string { return s.dir }

// Client returns a client for tb, closed by tb.Cleanup.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Restart starts the process again on the same port and directory. It is a
// no-op if the server is running.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	bin, err := Binary()
	if err != nil {
		return err
	}
	args := []string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--save", "", "--daemonize", "no",
		"--logfile", filepath.Join(s.dir, "redis.log"),
	}
	if s.opts.AppendOnly {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, s.opts.Args...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := waitReady(s.Addr(), exited); err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("redis-server on port %d: %w (log: %s)", s.port, err, s.logTail())
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

// Stop kills the process (SIGKILL, like a crash). Data written with
// AppendOnly survives; everything else is gone.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Close stops the server and removes a temporary data directory.
func (s *Server) Close() {
	s.Stop()
	if s.ownsDir {
		_ = os.RemoveAll(s.dir)
	}
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return "no log"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}

func waitReady(addr string, exited <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited early: %v", err)
		default:
		}
		if ping(addr) == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("not ready after 10s")
}

func ping(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", strings.TrimSpace(line))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
