package job

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// tree is n folders in walk order, k files each: top folders t0, t1, ...
// each followed by its 4 subfolders.
func tree(n, k int) []*Upload {
	var out []*Upload
	for i := range n {
		dir := fmt.Sprintf("t%03d", i/5)
		if i%5 > 0 {
			dir += fmt.Sprintf("/s%d", i%5)
		}
		for j := range k {
			out = append(out, &Upload{Path: fmt.Sprintf("%s/f%d.mov", dir, j)})
		}
	}
	return out
}

func paths(us []*Upload) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Path
	}
	return out
}

// firstNeeds returns, per position, how many folders that task is the first
// to need in this order.
func firstNeeds(us []*Upload) []int {
	seen := map[string]bool{}
	out := make([]int, len(us))
	for i, u := range us {
		f := u.Folders()
		for j := range f {
			p := strings.Join(f[:j+1], "/")
			if !seen[p] {
				seen[p] = true
				out[i]++
			}
		}
	}
	return out
}

func TestForFoldersMakesFoldersInTheShareOfTheLimits(t *testing.T) {
	in := tree(200, 3)
	out := ForFolders(slices.Clone(in), 3, 5)
	if got, want := slices.Sorted(slices.Values(paths(out))), slices.Sorted(slices.Values(paths(in))); !slices.Equal(got, want) {
		t.Fatal("not a permutation of the input")
	}
	needs := firstNeeds(out)
	made, total := 0, 200
	for i, n := range needs {
		made += n
		if made == total {
			break
		}
		// After i+1 tasks, 3/5 of them in folders made, within one task.
		if d := made*5 - (i+1)*3; d < -5 || d > 5 {
			t.Fatalf("after %d tasks %d folders made, want about %d", i+1, made, (i+1)*3/5)
		}
	}
	// In walk order the folders run far ahead of the share: every third task
	// makes one, and the first 64 tasks (the slots of 4 workers × 16) make 22.
	if m := sum(firstNeeds(in)[:64]); m != 22 {
		t.Errorf("walk order: first 64 tasks make %d folders, want 22", m)
	}
	if m := sum(needs[:64]); m < 37 || m > 39 {
		t.Errorf("ordered: first 64 tasks make %d folders, want 38 ± 1", m)
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func TestForFoldersKeepsEachKindInOrderAndFilesAfterTheirFolder(t *testing.T) {
	in := tree(40, 4)
	in = append([]*Upload{{Path: "root-a.mov"}, {Path: "root-b.mov"}}, in...)
	out := ForFolders(slices.Clone(in), 3, 5)
	pos := map[string]int{}
	for i, u := range out {
		pos[u.Path] = i
	}
	needs := firstNeeds(in)
	var lastMaker, lastAdder = -1, -1
	for i, u := range in {
		p := pos[u.Path]
		if needs[i] > 0 {
			if p < lastMaker {
				t.Errorf("%s moved before an earlier folder-making task", u.Path)
			}
			lastMaker = p
			continue
		}
		if p < lastAdder {
			t.Errorf("%s moved before an earlier file-adding task", u.Path)
		}
		lastAdder = p
		if d := u.Folders(); len(d) > 0 {
			maker := strings.Join(d, "/") + "/f0.mov"
			if pos[maker] > p {
				t.Errorf("%s comes before %s, which makes its folder", u.Path, maker)
			}
		}
	}
	// Files in the upload root need no folder: they are not held back.
	if pos["root-a.mov"] > 2 || pos["root-b.mov"] > 4 {
		t.Errorf("root files at %d and %d, want among the first tasks", pos["root-a.mov"], pos["root-b.mov"])
	}
}

func TestForFoldersLeavesOrderWhenFoldersAreNotSlower(t *testing.T) {
	in := tree(10, 3)
	for _, rates := range [][2]int{{5, 5}, {0, 5}, {6, 5}} {
		if out := ForFolders(slices.Clone(in), rates[0], rates[1]); !slices.Equal(paths(out), paths(in)) {
			t.Errorf("rates %v: order changed", rates)
		}
	}
}
