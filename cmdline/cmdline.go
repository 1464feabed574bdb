// Package cmdline holds the command-line habits every frameq program keeps
// (worker and enqueue through package config, the others through Parse):
// --help is output (stdout, exit 0), a usage error is one line on stderr
// (exit 2), --version prints the build (package buildinfo).
package cmdline

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/frameq/frameq/buildinfo"
)

// Exit codes of Parse.
const (
	ExitOK    = 0
	ExitUsage = 2
)

// Parse defines --version on fs, parses args and handles --help and
// --version. usage is the text before the flag list. ok false means: the
// program exits with code now (help or version printed on stdout, or a bad
// flag reported on fs's output, normally stderr, in one line).
func Parse(fs *flag.FlagSet, args []string, usage string, stdout io.Writer) (code int, ok bool) {
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {} // the flag package prints a bad flag's line; help is ours
	if err := fs.Parse(args); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			return ExitUsage, false
		}
		fmt.Fprintln(stdout, usage)
		out := fs.Output()
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(out)
		return ExitOK, false
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.String(fs.Name()))
		return ExitOK, false
	}
	return ExitOK, true
}
