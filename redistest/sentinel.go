package redistest

import (
	"context"
	"fmt"
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

// SentinelOptions shape a Sentinel deployment.
type SentinelOptions struct {
	// MasterName is the name the Sentinel monitors; default "frameq".
	MasterName string
	// Replicas is the number of replicas of the master; default 1.
	Replicas int
	// DownAfter is how long the master must be unreachable before the
	// Sentinel fails over; default 1s.
	DownAfter time.Duration
	// Data configures every data node (master and replicas), e.g.
	// AppendOnly or Args such as "--min-replicas-to-write", "1".
	Data Options
}

// Sentinel is a master, its replicas and one Sentinel watching them, all on
// 127.0.0.1. One Sentinel is enough for tests (quorum 1); production wants
// three on separate machines.
//
//	s := redistest.StartSentinel(t, redistest.SentinelOptions{})
//	rdb := s.Client(t)                 // follows the master through failovers
//	old := s.KillMaster()              // SIGKILL the current master
//	addr, err := s.WaitFailover(ctx, old)
type Sentinel struct {
	opts SentinelOptions
	// Data are the master and replicas as started: Data[0] is the first
	// master. After a failover, ask Master which one leads.
	Data []*Server

	port int
	dir  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
}

// StartSentinel starts a master, its replicas and a Sentinel for tb and
// registers their shutdown with tb.Cleanup.
func StartSentinel(tb testing.TB, o SentinelOptions) *Sentinel {
	tb.Helper()
	s, err := NewSentinel(o)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// NewSentinel starts a master, its replicas and a Sentinel, and waits until
// the Sentinel knows every replica. The caller must Close it.
func NewSentinel(o SentinelOptions) (*Sentinel, error) {
	if o.MasterName == "" {
		o.MasterName = "frameq"
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.DownAfter == 0 {
		o.DownAfter = time.Second
	}
	s := &Sentinel{opts: o}
	master, err := New(o.Data)
	if err != nil {
		return nil, fmt.Errorf("master: %w", err)
	}
	s.Data = append(s.Data, master)
	for i := range o.Replicas {
		ro := o.Data
		ro.Args = append(append([]string{}, o.Data.Args...), "--replicaof", "127.0.0.1", strconv.Itoa(master.Port()))
		r, err := New(ro)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("replica %d: %w", i, err)
		}
		s.Data = append(s.Data, r)
	}
	if s.dir, err = os.MkdirTemp("", "frameq-sentinel-"); err != nil {
		s.Close()
		return nil, fmt.Errorf("sentinel dir: %w", err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.waitReplicas(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// start writes the Sentinel's config (it rewrites the file as it learns)
// and starts `redis-server <config> --sentinel`.
func (s *Sentinel) start() error {
	bin, err := Binary()
	if err != nil {
		return err
	}
	conf := filepath.Join(s.dir, "sentinel.conf")
	name := s.opts.MasterName
	text := strings.Join([]string{
		"port " + strconv.Itoa(s.port),
		"bind 127.0.0.1",
		"daemonize no",
		"dir " + s.dir,
		"logfile " + filepath.Join(s.dir, "sentinel.log"),
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1", name, s.Data[0].Port()),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", name, s.opts.DownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", name, 10*s.opts.DownAfter.Milliseconds()),
		fmt.Sprintf("sentinel parallel-syncs %s 1", name),
	}, "\n") + "\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return fmt.Errorf("sentinel config: %w", err)
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sentinel: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := waitReady(s.Addr(), exited); err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("sentinel on port %d: %w", s.port, err)
	}
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

// waitReplicas waits until the Sentinel lists every replica as linked to
// the master: only then can it fail over.
func (s *Sentinel) waitReplicas(ctx context.Context) error {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr()})
	defer sc.Close()
	var last string
	for {
		reps, err := sc.Replicas(ctx, s.opts.MasterName).Result()
		linked := 0
		for _, r := range reps {
			if r["master-link-status"] == "ok" && !strings.Contains(r["flags"], "down") {
				linked++
			}
		}
		if err == nil && linked == s.opts.Replicas {
			return nil
		}
		last = fmt.Sprintf("%d of %d replicas linked (err %v)", linked, s.opts.Replicas, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("sentinel: %s: %w", last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Addr is the Sentinel's host:port.
func (s *Sentinel) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// MasterName is the monitored master's name.
func (s *Sentinel) MasterName() string { return s.opts.MasterName }

// Client returns a failover client for tb, closed by tb.Cleanup.
func (s *Sentinel) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.opts.MasterName, SentinelAddrs: []string{s.Addr()}})
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Master returns the address the Sentinel currently gives for the master.
func (s *Sentinel) Master(ctx context.Context) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr()})
	defer sc.Close()
	hp, err := sc.GetMasterAddrByName(ctx, s.opts.MasterName).Result()
	if err != nil {
		return "", fmt.Errorf("sentinel get-master-addr-by-name %s: %w", s.opts.MasterName, err)
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("sentinel get-master-addr-by-name %s: got %v", s.opts.MasterName, hp)
	}
	return hp[0] + ":" + hp[1], nil
}

// KillMaster kills (SIGKILL) the data node the Sentinel calls master and
// returns its address.
func (s *Sentinel) KillMaster(ctx context.Context) (string, error) {
	addr, err := s.Master(ctx)
	if err != nil {
		return "", err
	}
	for _, d := range s.Data {
		if d.Addr() == addr {
			d.Stop()
			return addr, nil
		}
	}
	return "", fmt.Errorf("master %s is none of the data nodes started", addr)
}

// WaitFailover waits until the Sentinel names a master other than old and
// that master accepts writes; it returns the new master's address.
func (s *Sentinel) WaitFailover(ctx context.Context, old string) (string, error) {
	for {
		addr, err := s.Master(ctx)
		if err == nil && addr != old && acceptsWrites(ctx, addr) {
			return addr, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no failover from %s: %w (sentinel log: %s)", old, ctx.Err(), s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func acceptsWrites(ctx context.Context, addr string) bool {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	role, err := rdb.Do(ctx, "ROLE").Slice()
	return err == nil && len(role) > 0 && role[0] == "master"
}

func (s *Sentinel) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "sentinel.log"))
	if err != nil {
		return "no log"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// Close stops the Sentinel and every data node and removes their
// directories.
func (s *Sentinel) Close() {
	s.mu.Lock()
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.cmd = nil
	}
	s.mu.Unlock()
	for _, d := range s.Data {
		d.Close()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
