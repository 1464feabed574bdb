package manifest

import (
	"fmt"
	"io"
)

// Why not encoding/csv alone: csv.Reader has no cap on a record's or a
// quoted field's length, so a stray quote makes it read the whole rest of
// the file into one field in memory before it returns anything, and
// neither bufio limits nor csv.Reader options can bound that (it reads
// through a bufio.Reader it grows itself). To drop an over-long record
// before csv.Reader buffers it, the gate must know where a record ends,
// which depends on quoting; quoteState below is that much of csv.Reader's
// quote machine (default Comma, no LazyQuotes), no more. Parsing the
// fields is still left to encoding/csv.
//
// csvGate feeds encoding/csv one whole record at a time, so that records
// longer than the line limit are dropped before the CSV reader (which has
// no limit) buffers them. A dropped record is replaced by as many empty
// lines as it had, which the CSV reader skips while its line numbers stay
// right.
type csvGate struct {
	lr      *lineReader
	p       *parser
	q       quoteState
	rec     []byte // the record being assembled
	out     []byte // what Read has still to return of it
	started bool   // the header has passed
	done    bool
}

func newCSVGate(r io.Reader, p *parser) *csvGate {
	g := &csvGate{lr: newLineReader(r, p.maxLine), p: p}
	g.lr.discard = g.q.feed
	return g
}

// Read implements io.Reader.
func (g *csvGate) Read(b []byte) (int, error) {
	for len(g.out) == 0 {
		if g.done {
			return 0, io.EOF
		}
		if err := g.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(b, g.out)
	g.out = g.out[n:]
	return n, nil
}

// fill reads the next record into out.
func (g *csvGate) fill() error {
	g.rec, g.q = g.rec[:0], quoteState{}
	start, lines, over := g.lr.n+1, 0, false
	for {
		line, tooLong, err := g.lr.next()
		if err == io.EOF {
			if lines == 0 {
				g.done = true
				return nil
			}
			break
		}
		if err != nil {
			return err
		}
		lines++
		if tooLong {
			over = true // lr fed the line to q
		} else {
			g.q.feed(line)
			if !over {
				g.rec = append(g.rec, line...)
				over = len(g.rec) > g.p.maxLine+2 // bound memory; exact check below
			}
		}
		if !g.q.inQuotes() {
			break
		}
	}
	over = over || len(trimEOL(g.rec)) > g.p.maxLine
	switch {
	case !over:
		g.started = g.started || len(trimEOL(g.rec)) > 0
		g.out = g.rec
	case !g.started:
		g.p.fail(start, "", fmt.Sprintf("header row longer than %d bytes", g.p.maxLine))
		g.p.stopped = true
		g.done = true
	default:
		msg := fmt.Sprintf("record longer than %d bytes", g.p.maxLine)
		if lines > 1 {
			msg += fmt.Sprintf(" over %d lines (unterminated quoted field?)", lines)
		}
		g.p.fail(start, "", msg)
		g.rec = g.rec[:0]
		for range lines {
			g.rec = append(g.rec, '\n')
		}
		g.out = g.rec
	}
	return nil
}

// quoteState follows encoding/csv's quoting closely enough to find where a
// record ends: at the first line end outside a quoted field. A quote only
// opens a quoted field at the start of a field; after a quote error
// encoding/csv drops the rest of the line and so does the state.
type quoteState struct{ s uint8 }

const (
	qFieldStart uint8 = iota
	qUnquoted
	qQuoted
	qQuoteInQuoted // a quote inside a quoted field: closing, or the first of ""
	qBad           // a quote error; the record ends with the line
)

func (q *quoteState) feed(b []byte) {
	for _, c := range b {
		switch q.s {
		case qFieldStart:
			switch c {
			case '"':
				q.s = qQuoted
			case ',':
			default:
				q.s = qUnquoted
			}
		case qUnquoted:
			switch c {
			case ',':
				q.s = qFieldStart
			case '"':
				q.s = qBad
			}
		case qQuoted:
			if c == '"' {
				q.s = qQuoteInQuoted
			}
		case qQuoteInQuoted:
			switch c {
			case '"':
				q.s = qQuoted
			case ',':
				q.s = qFieldStart
			default:
				q.s = qBad
			}
		}
	}
}

// inQuotes reports whether the bytes fed so far end inside a quoted field,
// so that the record goes on with the next line.
func (q *quoteState) inQuotes() bool { return q.s == qQuoted }
