package report

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// /dev/null is a character device but not a terminal: a progress bar
// (carriage returns) must not be drawn into it.
func TestIsTerminalNotForDevNullFileOrBuffer(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, w := range map[string]io.Writer{"/dev/null": null, "file": f, "buffer": &bytes.Buffer{}} {
		if IsTerminal(w) {
			t.Errorf("IsTerminal(%s) = true", name)
		}
	}
	if NewProgress(null).tty {
		t.Error("NewProgress(/dev/null) draws a bar")
	}
}
