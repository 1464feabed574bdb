package report

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"golang.org/x/term"
)

// IsTerminal reports whether w is a terminal, the module's one check for
// it (progress bars here, colour in config's console log). It asks the
// terminal driver through go-isatty rather than testing os.ModeCharDevice,
// which is also set on /dev/null and so drew bars into a discarded stream.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// Width returns the columns of terminal w, or 80 when w is not one or
// does not say.
func Width(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	return 80
}
