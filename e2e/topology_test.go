package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/frameiosim"
)

// The scale-out tests (cluster, sentinel, scale) share these helpers: a rig
// whose processes reach Redis through other settings than the rig's own
// server, and a simulator with many tokens, each its own account.

// topoRig is a rig whose worker and enqueue processes use redisEnv (a
// cluster or Sentinel) instead of the rig's single redis-server, which
// stays empty: checkUnused proves the settings took effect.
type topoRig struct {
	*rig
	redisEnv []string
}

func newTopoRig(t *testing.T, cfg frameiosim.Config, o rigOptions, redisEnv ...string) *topoRig {
	t.Helper()
	// An empty FRAMEQ_REDIS_URL is ignored, so the later setting unsets it.
	return &topoRig{rig: newRig(t, cfg, o), redisEnv: append([]string{"FRAMEQ_REDIS_URL="}, redisEnv...)}
}

// spawn starts a worker on the rig's topology; extra settings win.
func (r *topoRig) spawn(name string, extra ...string) *proc {
	r.t.Helper()
	return r.rig.spawn(name, append(append([]string{}, r.redisEnv...), extra...)...)
}

// enqueue runs the enqueue command on the rig's topology.
func (r *topoRig) enqueue(args ...string) (string, string, int) {
	r.t.Helper()
	return r.run("enqueue", r.redisEnv, args...)
}

// enqueueDir enqueues tree into parent for token ref and returns the batch.
func (r *topoRig) enqueueDir(ref, parent, tree string) string {
	r.t.Helper()
	out, stderr, code := r.enqueue("dir", "--token-ref", ref, "--parent", parent, tree)
	if code != 0 {
		r.t.Fatalf("enqueue dir %s: exit %d: %s", tree, code, stderr)
	}
	return strings.TrimSpace(out)
}

// wait runs enqueue wait and fails the test unless the batch succeeds.
func (r *topoRig) wait(batch string, timeout time.Duration) {
	r.t.Helper()
	if _, stderr, code := r.enqueue("wait", "--timeout", timeout.String(), "--interval", "250ms", batch); code != 0 {
		r.t.Fatalf("enqueue wait %s: exit %d: %s", batch, code, tail([]byte(stderr), 2000))
	}
}

// checkUnused fails the test if anything wrote to the rig's own server.
func (r *topoRig) checkUnused() {
	r.t.Helper()
	if n, err := r.redis.Client(r.t).DBSize(r.t.Context()).Result(); err != nil || n != 0 {
		r.t.Errorf("the single redis-server holds %d keys (%v): processes did not use the topology under test", n, err)
	}
}

// tokenRef is the ref of the i-th token; tokenOf its bearer token.
func tokenRef(i int) string { return fmt.Sprintf("t%d", i) }
func tokenOf(i int) string  { return fmt.Sprintf("tok%d", i) }

// manyTokens maps n tokens to n accounts: each token is its own limit
// scope in the simulator and has its own project.
func manyTokens(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[tokenOf(i)] = fmt.Sprintf("acct%d", i)
	}
	return m
}

// tokenSettings gives a worker the tokens with the given indexes, and no
// default token.
func tokenSettings(idx ...int) []string {
	out := []string{"FRAMEQ_TOKEN="}
	for _, i := range idx {
		out = append(out, fmt.Sprintf("FRAMEQ_TOKEN_T%d=%s", i, tokenOf(i)))
	}
	return out
}

// seq is 0..n-1.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// tokenTree writes n files for token i below dir/t<i>/t<i>, spread over
// folders (nil: all in one), so that they land in Frame.io under "t<i>/"
// (unique across accounts); size(j) is file j's size. It returns the
// directory to enqueue and Frame.io path → SHA-256.
func tokenTree(t *testing.T, dir string, i, n int, folders []string, size func(j int) int) (string, map[string]string) {
	t.Helper()
	top := filepath.Join(dir, tokenRef(i))
	want := map[string]string{}
	if len(folders) == 0 {
		folders = []string{""}
	}
	for j := range n {
		rel := filepath.Join(tokenRef(i), folders[j%len(folders)], fmt.Sprintf("f%04d.bin", j))
		want[filepath.ToSlash(rel)] = writeFile(t, filepath.Join(top, rel), size(j))
	}
	return top, want
}

// rate is a scope's creates per second from its first to its last create.
func rate(ts []time.Time) float64 {
	if len(ts) < 2 {
		return 0
	}
	return float64(len(ts)-1) / ts[len(ts)-1].Sub(ts[0]).Seconds()
}
