package manifest

import (
	"io"
	"strings"
	"testing"
)

func TestLineReader(t *testing.T) {
	in := "\uFEFFab\r\n" + strings.Repeat("x", 40) + "\n\n" + strings.Repeat("y", 17) + "\r\nlast"
	lr := newLineReader(strings.NewReader(in), 16)
	var skipped int
	lr.discard = func(b []byte) { skipped += len(b) }
	type got struct {
		line    string
		tooLong bool
		n       int
	}
	var lines []got
	for {
		line, tooLong, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, got{string(line), tooLong, lr.n})
	}
	want := []got{{"ab\r\n", false, 1}, {"", true, 2}, {"\n", false, 3}, {"", true, 4}, {"last", false, 5}}
	if len(lines) != len(want) {
		t.Fatalf("got %+v", lines)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, lines[i], want[i])
		}
	}
	if skipped != 41+19 {
		t.Errorf("discard saw %d bytes, want %d", skipped, 41+19)
	}
}

func TestLineReaderKeepsBOMAfterLineOne(t *testing.T) {
	lr := newLineReader(strings.NewReader("a\n\uFEFFb\n"), 16)
	lr.next()
	line, _, _ := lr.next()
	if string(line) != "\uFEFFb\n" {
		t.Errorf("line 2 = %q", line)
	}
}
