package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpAndVersion runs the built binary: --help lists the flags on
// stdout and --version prints the build, both with exit 0; a bad flag
// exits 2.
func TestHelpAndVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "throttle-bench")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	for arg, want := range map[string]string{"--help": "-procs", "--version": "throttle-bench "} {
		var stderr strings.Builder
		cmd := exec.Command(bin, arg)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), want) || stderr.Len() != 0 {
			t.Errorf("%s: %v, stdout %q, stderr %q", arg, err, out, stderr.String())
		}
	}
	out, err := exec.Command(bin, "--bogus").Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || len(out) != 0 {
		t.Errorf("--bogus: %v, stdout %q; want exit 2, nothing on stdout", err, out)
	}
}
