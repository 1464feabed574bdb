package upload

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestOpenBeneathTakesOnlyWhatStaysUnderTheRoot: the one-call open (openat2
// with RESOLVE_BENEATH) opens files and relative symlinks that stay under
// the root, and leaves everything else to the path-by-path check, which
// still opens an absolute symlink back into the root and refuses the rest
// with its reasons.
func TestOpenBeneathTakesOnlyWhatStaysUnderTheRoot(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("openat2 is Linux's; elsewhere every open is the path-by-path check")
	}
	dir, outside := t.TempDir(), t.TempDir()
	root, err := resolveRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	write := func(p string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	in := filepath.Join(root.path, "a", "f.bin")
	write(in)
	write(filepath.Join(outside, "secret"))
	symlink(t, "a/f.bin", filepath.Join(root.path, "rel-link"))
	symlink(t, in, filepath.Join(root.path, "abs-link"))
	symlink(t, filepath.Join(outside, "secret"), filepath.Join(root.path, "out-link"))
	symlink(t, "../"+filepath.Base(outside)+"/secret", filepath.Join(root.path, "dotdot-link"))

	cases := []struct {
		file    string
		beneath bool   // opened in one call
		refused string // open's error, "" if it opens
	}{
		{in, true, ""},
		{filepath.Join(root.path, "rel-link"), true, ""},
		{filepath.Join(root.path, "abs-link"), false, ""},
		{filepath.Join(root.path, "out-link"), false, "outside upload root"},
		{filepath.Join(root.path, "dotdot-link"), false, "outside upload root"},
		{root.path + "/a/../../" + filepath.Base(outside) + "/secret", false, "outside upload root"},
		{filepath.Join(root.path, "missing"), false, "does not exist"},
	}
	for _, c := range cases {
		f, ok := root.openBeneath(c.file)
		if ok {
			f.Close()
		}
		if ok != c.beneath {
			t.Errorf("%s: opened in one call %v, want %v", c.file, ok, c.beneath)
		}
		f, _, err := root.open(c.file)
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%s: %v", c.file, err)
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
			t.Errorf("%s: err %v, want one saying %q", c.file, err, c.refused)
		}
		if f != nil {
			f.Close()
		}
	}
}
