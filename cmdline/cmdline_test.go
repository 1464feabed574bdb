package cmdline

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func parse(args ...string) (code int, ok bool, stdout, stderr string, n int) {
	var out, errb bytes.Buffer
	fs := flag.NewFlagSet("prog", flag.ContinueOnError)
	fs.SetOutput(&errb)
	num := fs.Int("n", 1, "how many")
	code, ok = Parse(fs, args, "usage: prog [flags]", &out)
	return code, ok, out.String(), errb.String(), *num
}

func TestParse(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		code, ok, out, errOut, _ := parse(arg)
		if code != 0 || ok || !strings.HasPrefix(out, "usage: prog") || !strings.Contains(out, "-n int") || !strings.Contains(out, "-version") || errOut != "" {
			t.Errorf("%s: %d %v stdout %q stderr %q", arg, code, ok, out, errOut)
		}
	}
	if code, ok, out, errOut, _ := parse("--version"); code != 0 || ok || !strings.HasPrefix(out, "prog ") || errOut != "" {
		t.Errorf("--version: %d %v stdout %q stderr %q", code, ok, out, errOut)
	}
	if code, ok, out, errOut, _ := parse("--n=x"); code != 2 || ok || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "-n") {
		t.Errorf("--n=x: %d %v stdout %q stderr %q; want 2 and one line naming -n", code, ok, out, errOut)
	}
	if code, ok, out, _, n := parse("--n", "3"); code != 0 || !ok || out != "" || n != 3 {
		t.Errorf("--n 3: %d %v stdout %q n %d", code, ok, out, n)
	}
}
