package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/records"
)

// bench is one run: its binaries, scratch directory and progress log.
type bench struct {
	o   options
	bin string // worker, enqueue, throttle-bench
	tmp string
	log io.Writer
}

// build compiles the binaries the scenarios run, without -race: these are
// the binaries a user runs.
func (b *bench) build(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return errors.New("run inside the frameq module (go env GOMOD is empty)")
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", b.bin+string(filepath.Separator),
		"./cmd/worker", "./cmd/enqueue", "./cmd/throttle-bench")
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// stack is a private redis-server, a simulator and an upload root.
type stack struct {
	redis  *redistest.Server
	sim    *frameiosim.Server
	rdb    *redis.Client
	root   string // the workers' upload root
	folder string // the simulator's project root folder
}

func (b *bench) newStack(cfg frameiosim.Config) (*stack, error) {
	srv, err := redistest.New(redistest.Options{})
	if err != nil {
		return nil, err
	}
	sim := frameiosim.New(cfg)
	if err := sim.Start("127.0.0.1:0"); err != nil {
		srv.Close()
		return nil, err
	}
	root, err := os.MkdirTemp(b.tmp, "root-")
	if err != nil {
		srv.Close()
		sim.Close()
		return nil, err
	}
	return &stack{redis: srv, sim: sim, rdb: redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 64}),
		root: root, folder: sim.RootFolder(frameiosim.DefaultToken)}, nil
}

func (s *stack) close() {
	_ = s.rdb.Close()
	_ = s.sim.Close()
	s.redis.Close()
	_ = os.RemoveAll(s.root)
}

// environ is a worker's or enqueue's environment on this stack.
func (s *stack) environ(extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"FRAMEQ_REDIS_URL=" + s.redis.URL(),
		"FRAMEQ_API_VERSION=v2", "FRAMEQ_API_URL=" + s.sim.URL(),
		"FRAMEQ_TOKEN=" + frameiosim.DefaultToken,
		"FRAMEQ_UPLOAD_ROOT=" + s.root,
		"FRAMEQ_HTTP_ADDR=127.0.0.1:0",
		"FRAMEQ_CONCURRENCY=16",
	}, extra...)
}

// usedMemory is Redis's INFO used_memory.
func (s *stack) usedMemory(ctx context.Context) (int64, error) {
	info, err := s.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("INFO memory: %w", err)
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("INFO memory has no used_memory")
}

// waitBatch polls the batch counters every 10ms until done reaches n (or
// anything failed) and returns when it saw that.
func (s *stack) waitBatch(ctx context.Context, batch string, n int64, timeout time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bs := records.NewBatches(s.rdb)
	for {
		st, err := bs.Status(ctx, batch)
		if err == nil && st.Counts[records.Failed] > 0 {
			return time.Time{}, fmt.Errorf("batch %s: %d failed", batch, st.Counts[records.Failed])
		}
		if err == nil && st.Counts[records.Done] >= n {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("batch %s: %d of %d done: %w", batch, st.Counts[records.Done], n, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// creates is the simulator's accepted create times for the dev token.
func (s *stack) creates() []time.Time {
	return s.sim.Stats().CreatesByScope[frameiosim.DefaultToken]
}

// proc is a child process with its output in a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func (b *bench) start(name string, env []string, path string, args ...string) (*proc, error) {
	logf, err := os.CreateTemp(b.tmp, name+"-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logf.Name(), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	return p, nil
}

// startWorker starts a worker and waits for its "worker started" line.
func (b *bench) startWorker(ctx context.Context, name string, env []string) (*proc, error) {
	return b.startWorkerBin(ctx, "", name, env)
}

// startWorkerBin starts worker binary bin; "" is the one built, or -worker.
func (b *bench) startWorkerBin(ctx context.Context, bin, name string, env []string) (*proc, error) {
	switch {
	case bin != "":
	case b.o.worker != "":
		bin = b.o.worker
	default:
		bin = filepath.Join(b.bin, "worker")
	}
	p, err := b.start(name, env, bin)
	if err != nil {
		return nil, err
	}
	if _, err := p.waitLine(ctx, "worker started", 30*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitLine waits for a log line containing s and returns it.
func (p *proc) waitLine(ctx context.Context, s string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if l := p.find(s); l != "" {
			return l, nil
		}
		select {
		case <-p.done:
			return "", fmt.Errorf("%s exited before %q: %s", p.name, s, p.tail())
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("%s: no %q after %v: %s", p.name, s, timeout, p.tail())
}

func (p *proc) find(s string) string {
	f, err := os.Open(p.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return sc.Text()
		}
	}
	return ""
}

// httpAddr is the worker's HTTP listener, from its start line.
func (p *proc) httpAddr() (string, error) {
	var v struct{ HTTP string }
	if err := json.Unmarshal([]byte(p.find("worker started")), &v); err != nil || v.HTTP == "" {
		return "", fmt.Errorf("%s: no http address in its start line", p.name)
	}
	return v.HTTP, nil
}

// stop sends SIGINT and waits; a process still running after 40s is killed.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(bytes.TrimSpace(b))
}

// memStatus reads a field of /proc/<pid>/status ("VmRSS", "VmHWM") in bytes.
func memStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read status of %d: %w", pid, err)
	}
	return parseStatus(b, field)
}

func parseStatus(status []byte, field string) (int64, error) {
	for _, l := range strings.Split(string(status), "\n") {
		v, ok := strings.CutPrefix(l, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("status field %s: unexpected %q", field, v)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		return kb << 10, err
	}
	return 0, fmt.Errorf("status has no %s", field)
}

// runEnqueue runs the enqueue binary and returns stdout, stderr and its wall time.
func (b *bench) runEnqueue(ctx context.Context, s *stack, args ...string) (string, string, time.Duration, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(b.bin, "enqueue"), args...)
	cmd.Env = s.environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	took := time.Since(t0)
	if err != nil {
		return "", "", 0, fmt.Errorf("enqueue %s: %v: %s", args[0], err, errb.String())
	}
	return strings.TrimSpace(out.String()), errb.String(), took, nil
}

// writeFiles writes n files of size bytes into dir.
func writeFiles(dir string, n, size int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b := bytes.Repeat([]byte("frameq-bench "), size/13+1)[:size]
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%06d.bin", i)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// alive reports whether the process still runs.
func (p *proc) alive() bool { return p.cmd.Process.Signal(syscall.Signal(0)) == nil }

// cpuTime is a process's user+system CPU time, from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which may hold spaces: state is field 3,
	// utime 14 and stime 15.
	rest := string(b[bytes.LastIndexByte(b, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * time.Second / 100, nil // USER_HZ is 100 on Linux
}

// selfCPU is this process's CPU time (the simulator runs here).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCounts is redis-server's INFO stats total_reads_processed and
// total_commands_processed.
func (s *stack) redisCounts(ctx context.Context) (reads, cmds int64) {
	info, err := s.rdb.Info(ctx, "stats").Result()
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		switch {
		case ok && k == "total_reads_processed":
			reads, _ = strconv.ParseInt(v, 10, 64)
		case ok && k == "total_commands_processed":
			cmds, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return reads, cmds
}

// redisCPU is redis-server's used_cpu_user + used_cpu_sys.
func (s *stack) redisCPU(ctx context.Context) time.Duration {
	info, err := s.rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, l := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			x, _ := strconv.ParseFloat(v, 64)
			total += x
		}
	}
	return time.Duration(total * float64(time.Second))
}
