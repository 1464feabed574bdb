package manifest

import (
	"bufio"
	"bytes"
	"io"
)

// bom is the UTF-8 byte order mark that some editors put first.
const bom = "\uFEFF"

// lineReader reads physical lines of bounded length, so that one huge line
// costs an error rather than memory.
type lineReader struct {
	br  *bufio.Reader
	max int
	n   int // number of the line last returned
	// discard, if set, sees the bytes of every line too long to return.
	discard func([]byte)
}

func newLineReader(r io.Reader, max int) *lineReader {
	// Room for a line of max bytes plus "\r\n".
	return &lineReader{br: bufio.NewReaderSize(r, max+2), max: max}
}

// next returns the next line with its terminator; it stays valid until the
// next call. A line longer than max bytes, not counting the terminator, is
// skipped and reported as tooLong with a nil line. err is io.EOF only when
// no line is left; a last line without terminator is a line.
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	line, err = lr.br.ReadSlice('\n')
	for err == bufio.ErrBufferFull {
		tooLong = true
		lr.skip(line)
		line, err = lr.br.ReadSlice('\n')
	}
	if err == io.EOF {
		if len(line) == 0 && !tooLong {
			return nil, false, io.EOF
		}
		err = nil
	}
	if err != nil {
		return nil, false, err
	}
	lr.n++
	if lr.n == 1 && !tooLong {
		line = bytes.TrimPrefix(line, []byte(bom))
	}
	if !tooLong && len(trimEOL(line)) > lr.max {
		tooLong = true
	}
	if tooLong {
		lr.skip(line)
		line = nil
	}
	return line, tooLong, nil
}

func (lr *lineReader) skip(b []byte) {
	if lr.discard != nil {
		lr.discard(b)
	}
}

// trimEOL removes a trailing "\n" or "\r\n".
func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}
