package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/frameq/frameq/frameiosim"
)

// Row 7's setting: Frame.io V4's documented per-route limits, every route
// enforced as a strict window, and a tree with many folders.
const (
	folderCreateLimit = 3 // V4 folder creates per second
	fileCreateLimit   = 5 // V4 file creates per second
	treeProcs         = 4
	treeSubfolders    = 9 // below each top-level folder: 10 folders per top
	treeTarget        = 95.0
)

// treeResult is what row 7 measures: the two create routes over the
// interval in which both were creating.
type treeResult struct {
	folders, files       int           // creates in the interval
	span                 time.Duration // first to last folder create
	folderRate, fileRate float64
	limited              map[string]int // 429s by route
	maxFolder, maxFile   int            // most accepted in any 1 s
	intact, want         int
}

// treeRow has 4 worker processes upload a V4 tree of treeFiles files in
// treeFolders folders (3 files in each), so that folder creates (3/s) and
// file creates (5/s), which draw on different limits, run at once.
//
// The interval is from the first folder create to the last: the time in
// which both kinds were being made (files need their folder, so the file
// creates start right after the first folder and outlast the folders).
// Each rate is the creates accepted in that interval over its length: the
// folders' (n-1) intervals, the files' creates after the first folder
// create up to the last one.
func (b *bench) treeRow(ctx context.Context) ([]line, error) {
	r, err := b.tree(ctx)
	if err != nil {
		return nil, err
	}
	total429 := 0
	for _, n := range r.limited {
		total429 += n
	}
	fp, cp := 100*r.folderRate/folderCreateLimit, 100*r.fileRate/fileCreateLimit
	b.progress("tree: %d folder creates and %d file creates in %v; 429s by route %v; max in 1 s: %d folders, %d files; %d of %d files intact",
		r.folders, r.files, r.span.Round(time.Millisecond), r.limited, r.maxFolder, r.maxFile, r.intact, r.want)
	if r.intact != r.want {
		return nil, fmt.Errorf("%d of %d files arrived complete, once, with their bytes", r.intact, r.want)
	}
	scen := fmt.Sprintf("V4 tree, %d files in %d folders, %d procs × %d, strict windows", b.o.treeFiles, b.o.treeFiles/3, treeProcs, workerConc)
	return []line{{row: 7, scenario: scen, impl: "frameq",
		figures: []string{
			fmt.Sprintf("folders %.2f/s = %.1f %% of 3/s", r.folderRate, fp),
			fmt.Sprintf("files %.2f/s = %.1f %% of 5/s", r.fileRate, cp),
			fmt.Sprintf("%d × 429 (all routes)", total429),
			fmt.Sprintf("over %.1f s", r.span.Seconds()),
		},
		target: "≥ 95 % each, 0 × 429",
		met:    verdict(fp >= treeTarget && cp >= treeTarget && total429 == 0),
	}}, nil
}

func (b *bench) tree(ctx context.Context) (treeResult, error) {
	s, err := b.newStack(frameiosim.Config{API: frameiosim.APIV4, Enforcement: frameiosim.SlidingWindow})
	if err != nil {
		return treeResult{}, err
	}
	defer s.close()
	dir := filepath.Join(s.root, "tree")
	n := b.o.treeFiles
	if err := writeTree(dir, n); err != nil {
		return treeResult{}, err
	}
	env := s.environ("FRAMEQ_API_VERSION=v4", "FRAMEQ_API_URL="+s.sim.V4URL())
	for i := range treeProcs {
		p, err := b.startWorker(ctx, fmt.Sprintf("tree-worker%d", i), env)
		if err != nil {
			return treeResult{}, err
		}
		defer p.stop()
	}
	batch, _, _, err := b.runEnqueue(ctx, s, "dir", "--parent", s.folder, dir)
	if err != nil {
		return treeResult{}, err
	}
	wait := time.Duration(n)*time.Second/fileCreateLimit*2 + time.Minute
	if _, err := s.waitBatch(ctx, batch, int64(n), wait); err != nil {
		return treeResult{}, err
	}
	b.progress("tree: creates per 5 s from the first folder create (folders/files): %s", timeline(s.sim))
	return measureTree(s.sim, n)
}

// timeline is the folder and file creates in each 5 s from the first
// folder create, to show how the two routes overlapped.
func timeline(sim *frameiosim.Server) string {
	tok := frameiosim.DefaultToken
	folders := sim.RouteCalls(tok, frameiosim.RouteFolderCreate)
	files := sim.RouteCalls(tok, frameiosim.RouteFileCreate)
	if len(folders) == 0 {
		return "no folder creates"
	}
	t0 := folders[0]
	var fo, fi []int
	bucket := func(xs *[]int, t time.Time) {
		i := max(0, int(t.Sub(t0)/(5*time.Second)))
		for len(*xs) <= i {
			*xs = append(*xs, 0)
		}
		(*xs)[i]++
	}
	for _, t := range folders {
		bucket(&fo, t)
	}
	for _, t := range files {
		bucket(&fi, t)
	}
	out := ""
	for i := range max(len(fo), len(fi)) {
		a, c := 0, 0
		if i < len(fo) {
			a = fo[i]
		}
		if i < len(fi) {
			c = fi[i]
		}
		out += fmt.Sprintf(" %d/%d", a, c)
	}
	return out
}

// measureTree reads the simulator's accepted create times.
func measureTree(sim *frameiosim.Server, want int) (treeResult, error) {
	tok := frameiosim.DefaultToken
	folders := sim.RouteCalls(tok, frameiosim.RouteFolderCreate)
	files := sim.RouteCalls(tok, frameiosim.RouteFileCreate)
	if len(folders) < 2 || len(files) < 2 {
		return treeResult{}, fmt.Errorf("only %d folder and %d file creates", len(folders), len(files))
	}
	st := sim.Stats()
	r := treeResult{limited: st.RateLimitedByRoute, want: want,
		maxFolder: sim.MaxInWindow(tok, frameiosim.RouteFolderCreate, time.Second),
		maxFile:   sim.MaxInWindow(tok, frameiosim.RouteFileCreate, time.Second)}
	r.folders, r.files, r.span = len(folders), createsIn(files, folders[0], folders[len(folders)-1]), folders[len(folders)-1].Sub(folders[0])
	secs := r.span.Seconds()
	r.folderRate, r.fileRate = float64(r.folders-1)/secs, float64(r.files)/secs
	if len(st.Duplicates) == 0 {
		for _, f := range st.Files {
			if f.Complete && f.Size == treeFileSize {
				r.intact++
			}
		}
	}
	return r, nil
}

// createsIn counts the times in (from, to].
func createsIn(times []time.Time, from, to time.Time) int {
	lo, _ := slices.BinarySearchFunc(times, from, func(t, x time.Time) int { return t.Compare(x) })
	n := 0
	for _, t := range times[lo:] {
		if t.After(from) && !t.After(to) {
			n++
		}
	}
	return n
}

// treeFileSize is each tree file's size: small, so the row measures the
// create routes and not the bytes.
const treeFileSize = 1024

// writeTree writes n files, 3 to a folder, into n/3 folders: top-level
// folders t000, t001, ... each with treeSubfolders subfolders.
func writeTree(dir string, n int) error {
	if n <= 0 || n%3 != 0 {
		return fmt.Errorf("tree of %d files: want a positive multiple of 3", n)
	}
	for i := range n / 3 {
		top, sub := i/(treeSubfolders+1), i%(treeSubfolders+1)
		d := filepath.Join(dir, fmt.Sprintf("t%03d", top))
		if sub > 0 {
			d = filepath.Join(d, fmt.Sprintf("s%d", sub))
		}
		if err := writeFiles(d, 3, treeFileSize); err != nil {
			return err
		}
	}
	return nil
}
