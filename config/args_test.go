package config

import (
	"flag"
	"io"
	"slices"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	cases := []struct {
		args       []string
		class      string
		json       bool
		positional []string
	}{
		{[]string{"B", "--class", "terminal"}, "terminal", false, []string{"B"}},
		{[]string{"--class=input", "B"}, "input", false, []string{"B"}},
		{[]string{"B", "--json"}, "", true, []string{"B"}},
		{[]string{"a", "--json", "b", "--class", "x", "c"}, "x", true, []string{"a", "b", "c"}},
		{[]string{"a", "--", "--json", "b"}, "", false, []string{"a", "--json", "b"}},
		{[]string{"--", "-dash"}, "", false, []string{"-dash"}},
		{nil, "", false, nil},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		class := fs.String("class", "", "")
		asJSON := fs.Bool("json", false, "")
		if err := ParseInterspersed(fs, c.args); err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if *class != c.class || *asJSON != c.json || !slices.Equal(fs.Args(), c.positional) && len(fs.Args())+len(c.positional) > 0 {
			t.Errorf("%q: class %q json %v args %q; want %q %v %q", c.args, *class, *asJSON, fs.Args(), c.class, c.json, c.positional)
		}
	}
}

// TestParseInterspersedReportsBadFlagAfterArg: a bad flag after an argument
// is still an error naming it, not an argument.
func TestParseInterspersedReportsBadFlagAfterArg(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Int("n", 0, "")
	for _, args := range [][]string{{"B", "--nosuch"}, {"B", "--n=abc"}, {"B", "--n"}} {
		if err := ParseInterspersed(fs, args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
