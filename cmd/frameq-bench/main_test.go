package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frameq/frameq/manifest"
)

// A table as cmd/throttle-bench prints it (tabwriter, right-aligned).
const throttleBenchOut = `limit 5 creates/s; 1 proc × 16 goroutines for 1s; 4 procs × 16 goroutines for 3s vs a strict sliding-window simulator; throttle Margin 0.02

      limiter  acquire p50  acquire p99  wait p50  wait p99  wait max  cmds/acq 1 proc  cmds/acq multi  wait max multi  rate/s  % of limit  429s  sent max/1s  accepted max/1s
     throttle      122.3µs        260µs  409.29ms  816.69ms  816.69ms             1.20            3.27           2.86s    5.00      100.0%     0            5                5
   redis_rate      114.1µs      220.9µs  201.83ms  998.17ms  998.17ms            15.10           65.00           2.61s    4.67       93.3%     5            9                5
  x/time/rate        500ns        1.1µs  400.62ms  800.09ms  800.09ms             0.00            0.00            2.8s    5.00      100.0%    45           22                5
`

func TestParseTableFindsColumnsByName(t *testing.T) {
	tab, err := parseTable(throttleBenchOut)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ row, col, want string }{
		{"throttle", "acquire p50", "122.3µs"},
		{"throttle", "cmds/acq multi", "3.27"},
		{"redis_rate", "cmds/acq 1 proc", "15.10"},
		{"redis_rate", "% of limit", "93.3%"},
		{"x/time/rate", "429s", "45"},
		{"x/time/rate", "accepted max/1s", "5"},
	}
	for _, c := range checks {
		if got := tab[c.row][c.col]; got != c.want {
			t.Errorf("%s / %s = %q, want %q", c.row, c.col, got, c.want)
		}
	}
	lines, err := limiterLines(tab)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 4 || lines[0].figures[2] != "45 × 429" || lines[2].figures[0] != "p50 122.3µs" {
		t.Errorf("lines = %+v", lines)
	}
}

func TestParseTableRejectsDriftedOutput(t *testing.T) {
	if _, err := parseTable("no table here\n"); err == nil {
		t.Error("output without a header parsed")
	}
	renamed := strings.ReplaceAll(throttleBenchOut, "accepted max/1s", "accepted max/2s")
	tab, err := parseTable(renamed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := limiterLines(tab); err == nil || !strings.Contains(err.Error(), "accepted max/1s") {
		t.Errorf("renamed column: err = %v, want one naming it", err)
	}
	short := strings.Replace(throttleBenchOut, "    45           22", "    45", 1)
	if _, err := parseTable(short); err == nil {
		t.Error("a row with a missing cell parsed")
	}
}

func TestParseStatus(t *testing.T) {
	status := []byte("Name:\tworker\nVmHWM:\t   24812 kB\nVmRSS:\t   20100 kB\n")
	if got, err := parseStatus(status, "VmHWM"); err != nil || got != 24812<<10 {
		t.Errorf("VmHWM = %d, %v", got, err)
	}
	if _, err := parseStatus(status, "VmSwap"); err == nil {
		t.Error("missing field read")
	}
	if _, err := parseStatus([]byte("VmRSS:\t12 MB\n"), "VmRSS"); err == nil {
		t.Error("unexpected unit accepted")
	}
}

func TestOwnProcessFigures(t *testing.T) {
	if _, err := memStatus(os.Getpid(), "VmRSS"); err != nil {
		t.Fatal(err)
	}
	if _, err := cpuTime(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := cpuTime(-1); err == nil {
		t.Error("cpuTime of no process")
	}
}

func TestThousands(t *testing.T) {
	for v, want := range map[float64]string{4.9: "4.90", 999: "999", 1000: "1,000", 45437.4: "45,437", 1234567: "1,234,567"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestParseRows(t *testing.T) {
	rows, err := parseRows("1, 3,6,7")
	if err != nil || !rows[1] || !rows[3] || !rows[6] || !rows[7] || rows[2] {
		t.Errorf("rows = %v, %v", rows, err)
	}
	for _, bad := range []string{"", "0", "9", "1,x"} {
		if _, err := parseRows(bad); err == nil {
			t.Errorf("-rows %q accepted", bad)
		}
	}
}

// The generated manifest is one enqueue manifest accepts, line for line.
func TestWriteManifestIsValid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	if err := writeManifest(path, "root-folder", 50); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := manifest.Parse(f, manifest.JSONL)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 50 || entries[49].Path != "clip-0000049.mov" || entries[0].URL == "" {
		t.Errorf("entries: %d, last %+v", len(entries), entries[len(entries)-1])
	}
}

func TestWriteBigHasTheSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.bin")
	const size = 3<<20 + 17
	if err := writeBig(path, size); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != size {
		t.Fatalf("stat: %v, %v", st, err)
	}
}

func TestMedianRoundPairsFiguresOfOneRound(t *testing.T) {
	type r struct{ ours, theirs float64 }
	rounds := []r{{100, 100}, {60, 100}, {90, 200}, {80, 100}}
	got := medianRound(rounds, func(x r) float64 { return x.ours / x.theirs })
	if got != (r{60, 100}) { // ratios .45 .6 .8 1: the lower middle
		t.Errorf("median round = %+v", got)
	}
	if got := medianRound(rounds[:3], func(x r) float64 { return x.ours / x.theirs }); got != (r{60, 100}) {
		t.Errorf("median of three = %+v", got)
	}
}

// Row 7 counts the file creates in (first folder create, last folder create].
func TestCreatesIn(t *testing.T) {
	t0 := time.Unix(100, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	files := at(-5, 0, 1, 500, 999, 1000, 1001)
	if got := createsIn(files, t0, t0.Add(time.Second)); got != 4 {
		t.Errorf("createsIn = %d, want 4 (1, 500, 999, 1000 ms)", got)
	}
}

// Row 7's tree: 3 files in every folder, 10 folders (a top and 9 below) per top.
func TestWriteTree(t *testing.T) {
	dir := t.TempDir()
	if err := writeTree(dir, 60); err != nil {
		t.Fatal(err)
	}
	folders, files := 0, 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case p == dir:
		case d.IsDir():
			folders++
		default:
			files++
		}
		return nil
	})
	if err != nil || folders != 20 || files != 60 {
		t.Errorf("tree: %d folders, %d files, %v; want 20 and 60", folders, files, err)
	}
	if err := writeTree(t.TempDir(), 10); err == nil {
		t.Error("a file count not divisible by 3 was accepted")
	}
}

func TestIntakeBodiesGroupTheManifestIntoValidRequests(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	if err := writeManifest(path, "root", intakeBatch+3); err != nil {
		t.Fatal(err)
	}
	bodies, n, err := intakeBodies(path)
	if err != nil || n != intakeBatch+3 || len(bodies) != 2 {
		t.Fatalf("%d bodies of %d items, %v; want 2 of %d", len(bodies), n, err, intakeBatch+3)
	}
	for i, want := range []int{intakeBatch, 3} {
		var req struct{ Items []map[string]any }
		if err := json.Unmarshal(bodies[i], &req); err != nil || len(req.Items) != want {
			t.Errorf("body %d: %d items, %v; want %d", i, len(req.Items), err, want)
		}
	}
}

// TestHelpAndVersion runs the built benchmark binaries (this one and
// throttle-bench): --help lists the flags on stdout and --version prints
// the build, both with exit 0; a bad flag exits 2 with nothing on stdout.
func TestHelpAndVersion(t *testing.T) {
	for name, flag := range map[string]string{"frameq-bench": "-rows", "throttle-bench": "-procs"} {
		bin := filepath.Join(t.TempDir(), name)
		if b, err := exec.Command("go", "build", "-o", bin, "../"+name).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, b)
		}
		for arg, want := range map[string]string{"--help": flag, "--version": name + " "} {
			var stderr strings.Builder
			cmd := exec.Command(bin, arg)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || !strings.Contains(string(out), want) || stderr.Len() != 0 {
				t.Errorf("%s %s: %v, stdout %q, stderr %q", name, arg, err, out, stderr.String())
			}
		}
		out, err := exec.Command(bin, "--bogus").Output()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || len(out) != 0 {
			t.Errorf("%s --bogus: %v, stdout %q; want exit 2, nothing on stdout", name, err, out)
		}
	}
}

func TestParseRow1(t *testing.T) {
	got, err := parseRow1("strict, leaky")
	if err != nil || !got["strict"] || !got["leaky"] || got["nomargin"] || got["alternatives"] {
		t.Fatalf("parseRow1(strict, leaky) = %v, %v", got, err)
	}
	if _, err := parseRow1("strict,bucket"); err == nil || !strings.Contains(err.Error(), `"bucket"`) {
		t.Fatalf("parseRow1(strict,bucket) error = %v, want one naming \"bucket\"", err)
	}
}

func TestParseScales(t *testing.T) {
	got, err := parseScales("100000, 300000")
	if err != nil || len(got) != 2 || got[0] != 100_000 || got[1] != 300_000 {
		t.Fatalf("parseScales = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "1e6", "10,-1"} {
		if _, err := parseScales(bad); err == nil {
			t.Errorf("-scale %q accepted", bad)
		}
	}
}

// The backlog manifest is one enqueue manifest accepts: n uploads of one
// file under distinct names.
func TestWriteLocalManifestIsValid(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	path, err := writeLocalManifest(root, "folder-1", 3)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := manifest.Parse(f, manifest.JSONL)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[2].Path != "clip-0000002.bin" || entries[0].File != filepath.Join(root, "one.bin") {
		t.Fatalf("entries = %+v", entries)
	}
}
