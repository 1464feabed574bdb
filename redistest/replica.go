package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartReplicated starts a master and n replicas of it for tb, all with o,
// and waits until every replica's link to the master is up.
func StartReplicated(tb testing.TB, n int, o Options) (master *Server, replicas []*Server) {
	tb.Helper()
	master = Start(tb, o)
	for range n {
		ro := o
		ro.Args = append(append([]string{}, o.Args...), "--replicaof", "127.0.0.1", strconv.Itoa(master.Port()))
		replicas = append(replicas, Start(tb, ro))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range replicas {
		if err := WaitLinked(ctx, r.Addr()); err != nil {
			tb.Fatalf("redistest: %v", err)
		}
	}
	return master, replicas
}

// WaitLinked waits until the replica at addr reports its link to its
// master up.
func WaitLinked(ctx context.Context, addr string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for {
		info, err := rdb.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica %s not linked to its master: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Pause stops the server process (SIGSTOP) without closing its sockets:
// a replica paused this way acknowledges nothing, like one that lags.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return fmt.Errorf("redis-server on port %d is not running", s.port)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to redis-server on port %d: %w", sig, s.port, err)
	}
	return nil
}
