package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/frameiosim"
)

// TestCapacityTable measures files/hour by number of tokens and workers
// for docs/deployment.md. It is slow (about 6 minutes) and runs only with
// FRAMEQ_CAPACITY=1:
//
//	FRAMEQ_CAPACITY=1 go test -run TestCapacityTable -v ./e2e
//
// Workers are built without the race detector, as deployed. The simulator
// enforces Frame.io's documented leaky bucket (5 creates/s per token) and
// workers run with the default settings but FRAMEQ_CONCURRENCY. Two
// workloads: small files, where the create limit is the bottleneck, and
// slow uploads (4 parts of 64 KiB, each PUT delayed 250 ms, one part at a
// time: about 1 s per file), where worker slots are.
func TestCapacityTable(t *testing.T) {
	if os.Getenv("FRAMEQ_CAPACITY") != "1" {
		t.Skip("set FRAMEQ_CAPACITY=1 to measure the capacity table (about 6 minutes)")
	}
	useReleaseBinaries(t)
	type cell struct {
		name            string
		tokens, workers int
		files           int
		worker          []string
		partSize        int64
		partDelay       time.Duration
		size            func(int) int
	}
	var cells []cell
	for _, tokens := range []int{1, 2, 5, 10} {
		for _, workers := range []int{1, 2, 4} {
			cells = append(cells, cell{name: "small files", tokens: tokens, workers: workers, files: 60,
				worker: []string{"FRAMEQ_CONCURRENCY=4"}})
		}
	}
	for _, tokens := range []int{1, 10} {
		for _, workers := range []int{1, 2, 4} {
			cells = append(cells, cell{name: "slow uploads", tokens: tokens, workers: workers, files: 40,
				worker:   []string{"FRAMEQ_CONCURRENCY=2", "FRAMEQ_PART_CONCURRENCY=1"},
				partSize: 64 << 10, partDelay: 250 * time.Millisecond, size: func(int) int { return 4 << 16 }})
		}
	}
	rows := []string{
		"| workload | tokens | workers | files | creates/s | files/hour | 429s |",
		"|---|---:|---:|---:|---:|---:|---:|",
	}
	for _, c := range cells {
		t.Run(fmt.Sprintf("%s/%dtokens/%dworkers", strings.ReplaceAll(c.name, " ", "_"), c.tokens, c.workers), func(t *testing.T) {
			r := newCapacityRig(t, c.tokens, c.files, c.partSize, c.partDelay, c.size, c.worker)
			r.spawnAll(c.workers)
			r.waitAll(c.tokens, 10*time.Minute)
			st := r.sim.Stats()
			_, span := tokenRates(st, seq(c.tokens))
			perSec := float64(c.tokens*c.files-1) / span.Seconds()
			rows = append(rows, fmt.Sprintf("| %s | %d | %d | %d | %.1f | %.0f | %d |",
				c.name, c.tokens, c.workers, c.tokens*c.files, perSec, perSec*3600, st.RateLimited))
			t.Log(rows[len(rows)-1])
		})
	}
	t.Log("capacity table:\n" + strings.Join(rows, "\n"))
}

// newCapacityRig is a scale rig on Frame.io's leaky bucket.
func newCapacityRig(t *testing.T, tokens, files int, partSize int64, partDelay time.Duration, size func(int) int, worker []string) *scaleRig {
	t.Helper()
	o := scaleOptions{rig: rigOptions{worker: worker, partDelay: partDelay}, partSize: partSize, fileSize: size, enforcement: frameiosim.LeakyBucket}
	return newScaleRig(t, o, tokens, files)
}

// useReleaseBinaries swaps the race-built binaries for plain ones for the
// rest of the test.
func useReleaseBinaries(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/worker", "../cmd/enqueue")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	old := bin
	bin = dir
	t.Cleanup(func() { bin = old })
}
