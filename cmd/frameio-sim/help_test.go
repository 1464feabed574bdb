package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelpListsFlagsOnStdout: --help lists every flag on stdout (exit 0),
// --version prints the build; a bad flag is still one line on stderr, 2.
func TestHelpListsFlagsOnStdout(t *testing.T) {
	getenv := func(string) string { return "" }
	for _, arg := range []string{"--help", "-h"} {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{arg}, getenv, &out, &errb)
		if code != 0 || errb.Len() != 0 {
			t.Errorf("%s: exit %d, stderr %q", arg, code, errb.String())
		}
		for _, flag := range []string{"-addr", "-create-limit", "-v4-limit", "-forbidden-folder", "-ims-clients", "-version", "FRAMEQ_SIM_"} {
			if !strings.Contains(out.String(), flag) {
				t.Errorf("%s does not list %s:\n%s", arg, flag, out.String())
			}
		}
	}
	var out, errb bytes.Buffer
	// A bad variable does not stop --version: it reads none.
	if code := run(context.Background(), []string{"--version"}, func(string) string { return "bad" }, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "frameio-sim ") {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"--bogus"}, getenv, &out, &errb); code != 2 || out.Len() != 0 || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("--bogus: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
