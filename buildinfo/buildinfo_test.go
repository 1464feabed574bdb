package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	cases := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"released", debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.4.0"}},
			"worker v1.4.0 go1.26.0"},
		{"checkout", debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "3f2a9c1d"}, {Key: "vcs.time", Value: "2026-12-02T18:55:01Z"}, {Key: "vcs.modified", Value: "true"},
		}}, "worker (devel) commit 3f2a9c1d (2026-12-02T18:55:01Z, modified) go1.26.0"},
		{"clean checkout, no time", debug.BuildInfo{Main: debug.Module{}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"},
		}}, "worker (devel) commit abc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := format("worker", &c.info); got != c.want {
				t.Errorf("format = %q, want %q", got, c.want)
			}
		})
	}
}

// TestStringOfThisBinary: a test binary has build information, and the
// line starts with the name.
func TestStringOfThisBinary(t *testing.T) {
	if got := String("x"); !strings.HasPrefix(got, "x ") || strings.Contains(got, "no build information") {
		t.Errorf("String = %q", got)
	}
}
