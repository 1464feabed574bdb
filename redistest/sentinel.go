package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	// Lag, if set, puts every data node behind a LagProxy that holds the
	// replication stream it sends for Lag: replicas are that far behind,
	// and KillMaster loses the writes of the last Lag with the master.
	// Nodes announce their proxy's address, so the Sentinel and every
	// client (through the Sentinel) reach them through it too, and the
	// Sentinel polls every second so rejoins are seen quickly.
	Lag time.Duration
	// Host, if set, is a local address other than 127.0.0.1 (such as a
	// veth's) the Sentinel and the lag proxies listen on too, and every
	// node is announced at: a process in another network namespace can
	// then follow the master, and lose its path to all of them at once.
	// It needs Lag (the proxies are what listen on it).
	Host string
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
	// proxies[i] fronts Data[i] when SentinelOptions.Lag is set.
	proxies []*LagProxy

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
	if o.Host != "" && o.Lag == 0 {
		return nil, errors.New("sentinel: Host needs Lag (the lag proxies listen on it)")
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	s := &Sentinel{opts: o}
	for i := 0; i <= o.Replicas; i++ {
		if err := s.startNode(i); err != nil {
			s.Close()
			return nil, err
		}
	}
	var err error
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

// startNode starts data node i: the master for 0, else a replica of it.
func (s *Sentinel) startNode(i int) error {
	o := s.opts.Data
	// A master waits 5 s for more replicas before a full sync by default;
	// a rejoining node should not.
	o.Args = append([]string{"--repl-diskless-sync-delay", "0"}, s.opts.Data.Args...)
	var px *LagProxy
	if s.opts.Lag > 0 {
		var err error
		if px, err = newLagProxyOn(s.opts.Host, s.opts.Lag); err != nil {
			return err
		}
		s.proxies = append(s.proxies, px)
		o.Args = append(o.Args, "--replica-announce-ip", s.opts.Host, "--replica-announce-port", strconv.Itoa(px.Port()))
	}
	if i > 0 {
		host, port, _ := strings.Cut(s.announced(0), ":")
		o.Args = append(o.Args, "--replicaof", host, port)
	}
	d, err := New(o)
	if err != nil {
		if i == 0 {
			return fmt.Errorf("master: %w", err)
		}
		return fmt.Errorf("replica %d: %w", i, err)
	}
	if px != nil {
		px.SetTarget(d.Addr())
	}
	s.Data = append(s.Data, d)
	return nil
}

// announced is the address data node i is known by: its proxy's, if any.
func (s *Sentinel) announced(i int) string {
	if len(s.proxies) > i {
		return s.proxies[i].Addr()
	}
	return s.Data[i].Addr()
}

// Announced is the address d, one of Data, is known by: its proxy's, if
// any.
func (s *Sentinel) Announced(d *Server) string {
	for i := range s.Data {
		if s.Data[i] == d {
			return s.announced(i)
		}
	}
	return d.Addr()
}

// node returns the index of the data node known by addr.
func (s *Sentinel) node(addr string) (int, error) {
	for i := range s.Data {
		if s.announced(i) == addr {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s is none of the data nodes started", addr)
}

// Lost is how many bytes of replication stream the lag proxies have
// discarded: writes the masters acknowledged and took with them.
func (s *Sentinel) Lost() int64 {
	var n int64
	for _, px := range s.proxies {
		n += px.Dropped()
	}
	return n
}

// Failover makes the Sentinel promote a replica in place of old (the
// master KillMaster returned) now, without waiting for down-after, and
// returns the new master once it accepts writes. It asks (SENTINEL
// FAILOVER) again while the Sentinel finds no replica fit (NOGOODSLAVE)
// and after an attempt that aborted, its own or a forced one: after an
// abort the Sentinel would not start another failover of its own for
// twice the failover timeout (20 s with the default DownAfter), and a
// forced one is not held back so.
func (s *Sentinel) Failover(ctx context.Context, old string) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr()})
	defer sc.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		addr, err := s.Master(ctx)
		if err == nil && addr != old && acceptsWrites(ctx, addr) {
			return addr, nil
		}
		if err = s.forceFailover(ctx, sc); err != nil {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no failover from %s: %w (sentinel log: %s)", old, ctx.Err(), s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// forceFailover sends SENTINEL FAILOVER unless a failover is under way. A
// Sentinel that finds no replica fit at the moment (NOGOODSLAVE) is asked
// again on the next call.
func (s *Sentinel) forceFailover(ctx context.Context, sc *redis.SentinelClient) error {
	m, err := sc.Master(ctx, s.opts.MasterName).Result()
	if err != nil || strings.Contains(m["flags"], "failover_in_progress") {
		return nil // asked again on the next call
	}
	err = sc.Failover(ctx, s.opts.MasterName).Err()
	if err == nil || strings.HasPrefix(err.Error(), "INPROG") || strings.HasPrefix(err.Error(), "NOGOODSLAVE") || ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("sentinel failover %s: %w", s.opts.MasterName, err)
}

// Rejoin restarts the killed data node known by addr as a replica of the
// current master and waits until the Sentinel counts every replica linked
// again, so that another failover can promote one.
func (s *Sentinel) Rejoin(ctx context.Context, addr string) error {
	i, err := s.node(addr)
	if err != nil {
		return err
	}
	master, err := s.Master(ctx)
	if err != nil {
		return err
	}
	d := s.Data[i]
	if err := d.Restart(); err != nil {
		return err
	}
	host, port, _ := strings.Cut(master, ":")
	if err := replicaOf(ctx, d.Addr(), host, port); err != nil {
		return err
	}
	if err := WaitLinked(ctx, d.Addr()); err != nil {
		return err
	}
	return s.waitReplicas(ctx)
}

// StopAll kills (SIGKILL) every data node, as when the whole Redis tier
// goes down at once: no replica is left to fail over to. It returns the
// master's address, for RestartAll.
func (s *Sentinel) StopAll(ctx context.Context) (string, error) {
	master, err := s.Master(ctx)
	if err != nil {
		return "", err
	}
	for i, d := range s.Data {
		d.Stop()
		if len(s.proxies) > i {
			s.proxies[i].Drop()
		}
	}
	return master, nil
}

// RestartAll restarts every data node from its data directory (its AOF,
// with AppendOnly) in the roles they had at StopAll, as nodes whose
// configuration the Sentinel had rewritten would come back: the master
// known by master first, then each replica pointed at it. It waits until
// the Sentinel counts every replica linked again.
func (s *Sentinel) RestartAll(ctx context.Context, master string) error {
	m, err := s.node(master)
	if err != nil {
		return err
	}
	if err := s.Data[m].Restart(); err != nil {
		return err
	}
	// A node started as a replica has --replicaof among its arguments.
	if err := replicaOf(ctx, s.Data[m].Addr(), "no", "one"); err != nil {
		return err
	}
	host, port, _ := strings.Cut(master, ":")
	for i, d := range s.Data {
		if i == m {
			continue
		}
		if err := d.Restart(); err != nil {
			return err
		}
		if err := replicaOf(ctx, d.Addr(), host, port); err != nil {
			return err
		}
		if err := WaitLinked(ctx, d.Addr()); err != nil {
			return err
		}
	}
	return s.waitReplicas(ctx)
}

// replicaOf sends REPLICAOF host port to the node at addr.
func replicaOf(ctx context.Context, addr, host, port string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.Do(ctx, "replicaof", host, port).Err(); err != nil {
		return fmt.Errorf("replicaof %s %s on %s: %w", host, port, addr, err)
	}
	return nil
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
		"bind " + strings.Join(slices.Compact([]string{"127.0.0.1", s.opts.Host}), " "),
		"daemonize no",
		"dir " + s.dir,
		"logfile " + filepath.Join(s.dir, "sentinel.log"),
		fmt.Sprintf("sentinel monitor %s %s 1", name, strings.Replace(s.announced(0), ":", " ", 1)),
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
	if s.opts.Lag > 0 {
		// Poll masters and linked replicas every second (10 s by default)
		// so rejoins are seen quickly, and ping every 500 ms. No faster: a
		// replica is fit for promotion only while its last INFO is younger
		// than 3 info periods (5 ping periods once the master is down),
		// and during a failover, or while its link is down, the Sentinel
		// sends it INFO once a second whatever the period. At 100 ms
		// (0.3 and 0.5 s windows) most failovers found no fit replica and
		// aborted, and the Sentinel then started none of its own for 20 s.
		// A test machine under load must not put the Sentinel in TILT
		// (its timer late by 2 s) for 30 s either.
		sc := redis.NewClient(&redis.Options{Addr: s.Addr()})
		err := sc.Do(context.Background(), "sentinel", "debug", "info-period", 1000, "ping-period", 500, "tilt-trigger", 60000).Err()
		_ = sc.Close()
		if err != nil {
			_ = cmd.Process.Kill()
			return fmt.Errorf("sentinel debug: %w", err)
		}
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

// Addr is the Sentinel's host:port (on Host, if set).
func (s *Sentinel) Addr() string { return net.JoinHostPort(s.opts.Host, strconv.Itoa(s.port)) }

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
	i, err := s.node(addr)
	if err != nil {
		return "", fmt.Errorf("master: %w", err)
	}
	s.Data[i].Stop()
	if len(s.proxies) > i {
		s.proxies[i].Drop()
	}
	return addr, nil
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
	for _, px := range s.proxies {
		px.Close()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
