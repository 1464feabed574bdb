// Package buildinfo says which build of frameq a binary is, from what the Go
// toolchain embeds in every binary (runtime/debug): the module version
// (v1.2.3 for `go install ...@v1.2.3`, "(devel)" for a build in a checkout)
// and, for a build in a git checkout, the commit. Nothing is stamped by
// hand, so no build step can forget it.
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// String is the --version line of the program name:
//
//	worker v1.4.0 commit 3f2a9c1d0e4b (2026-12-02T18:55:01Z, modified) go1.26.0
func String(name string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return name + " (no build information)"
	}
	return format(name, info)
}

// format builds String's line from info; separate so tests can feed it.
func format(name string, info *debug.BuildInfo) string {
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", name, version)
	if rev := settings["vcs.revision"]; rev != "" {
		var extra []string
		if t := settings["vcs.time"]; t != "" {
			extra = append(extra, t)
		}
		if settings["vcs.modified"] == "true" {
			extra = append(extra, "modified")
		}
		fmt.Fprintf(&b, " commit %s", rev)
		if len(extra) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(extra, ", "))
		}
	}
	if info.GoVersion != "" {
		fmt.Fprintf(&b, " %s", info.GoVersion)
	}
	return b.String()
}
