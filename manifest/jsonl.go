package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"unicode/utf8"
)

// jsonl parses one JSON object per line. The lines are read, counted and
// accepted (ParseChecked's check, in order) here; decoding and validating
// them, most of the work, is spread over the CPUs in batches of lines
// (jsonBatch): a 100,000-line manifest must be read whole before anything
// is enqueued, so its parse is time nothing else overlaps.
func (p *parser) jsonl(r io.Reader) error {
	lr := newLineReader(r, p.maxLine)
	workers := p.workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var inFlight []*jsonBatch // in line order
	b := newJSONBatch(p.limits, 0)
	for !p.stopped {
		line, tooLong, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			p.drain(inFlight)
			return err
		}
		if tooLong {
			if p.count(lr.n) {
				p.fail(lr.n, "", fmt.Sprintf("longer than %d bytes", p.maxLine))
			}
			continue
		}
		line = trimEOL(line)
		if t := bytes.TrimSpace(line); len(t) == 0 || t[0] == '#' {
			continue
		}
		if !p.count(lr.n) {
			continue
		}
		if b.add(lr.n, line) < jsonBatchLines {
			continue
		}
		if workers < 2 {
			b.parse()
			p.merge(b)
		} else {
			inFlight = append(inFlight, b.start())
			if len(inFlight) > 2*workers {
				p.merge(inFlight[0].wait())
				inFlight = inFlight[1:]
			}
		}
		b = newJSONBatch(p.limits, len(b.buf))
	}
	p.drain(inFlight)
	b.parse()
	p.merge(b)
	return nil
}

// jsonBatchLines is how many lines a jsonBatch holds: enough to make a
// goroutine's start and hand-off nothing next to them.
const jsonBatchLines = 512

// jsonBatch is consecutive lines of a JSONL manifest, decoded and
// validated on their own parser (everything but ParseChecked's check).
type jsonBatch struct {
	limits
	buf   []byte
	ends  []int // line i is buf[ends[i-1]:ends[i]]
	lines []int // its number
	sub   parser
	good  []Entry
	done  chan struct{}
}

// newJSONBatch returns an empty batch with room for bytes of lines (the
// last batch's size, a good guess).
func newJSONBatch(l limits, bytes int) *jsonBatch {
	return &jsonBatch{limits: l, buf: make([]byte, 0, bytes+bytes/8),
		ends: make([]int, 0, jsonBatchLines), lines: make([]int, 0, jsonBatchLines)}
}

// add appends a line (copied: the reader reuses its buffer) and returns
// how many the batch holds.
func (b *jsonBatch) add(n int, line []byte) int {
	b.buf = append(b.buf, line...)
	b.ends = append(b.ends, len(b.buf))
	b.lines = append(b.lines, n)
	return len(b.lines)
}

// parse decodes and validates every line of the batch.
func (b *jsonBatch) parse() {
	b.sub.limits = b.limits
	b.good = make([]Entry, 0, len(b.lines))
	start := 0
	for i, end := range b.ends {
		if e, ok := b.sub.lineEntry(b.lines[i], b.buf[start:end]); ok {
			b.good = append(b.good, e)
		}
		start = end
	}
}

// start parses the batch in a goroutine of its own; wait waits for it.
func (b *jsonBatch) start() *jsonBatch {
	b.done = make(chan struct{})
	go func() {
		defer close(b.done)
		b.parse()
	}()
	return b
}

func (b *jsonBatch) wait() *jsonBatch {
	<-b.done
	return b
}

// merge takes a parsed batch's errors and accepts its good entries, in
// order.
func (p *parser) merge(b *jsonBatch) {
	if len(b.sub.errs) > 0 {
		p.errs = append(p.errs, b.sub.errs...)
		p.entries = nil
	}
	for _, e := range b.good {
		p.accept(e)
	}
}

// drain merges the batches still in flight, in order.
func (p *parser) drain(inFlight []*jsonBatch) {
	for _, b := range inFlight {
		p.merge(b.wait())
	}
}

// jsonLine parses, validates and accepts one line.
func (p *parser) jsonLine(n int, b []byte) {
	if e, ok := p.lineEntry(n, b); ok {
		p.accept(e)
	}
}

// lineEntry parses and validates one line into its entry; ok is false if
// anything is wrong with it (each problem is reported).
func (p *parser) lineEntry(n int, b []byte) (e Entry, ok bool) {
	// encoding/json would quietly turn bad UTF-8 into U+FFFD.
	if !utf8.Valid(b) {
		p.fail(n, "", "not valid UTF-8")
		return e, false
	}
	f, ok := p.decodeJSON(n, b)
	if !ok {
		return e, false
	}
	return p.checkFields(n, &f)
}

// decodeJSON reads the object's members one by one, which names unknown and
// duplicate keys (encoding/json would match keys case-insensitively and keep
// the last duplicate). ok is false if the line is not a JSON object.
func (p *parser) decodeJSON(n int, b []byte) (f fields, ok bool) {
	if !json.Valid(b) {
		var v any
		p.fail(n, "", jsonMsg(json.Unmarshal(b, &v)))
		return f, false
	}
	var seen fieldSet
	ok = objectMembers(string(b), func(rawKey, raw string) {
		key := jsonString(rawKey)
		id, known := fieldByName(key)
		switch {
		case !known:
			p.fail(n, "", fmt.Sprintf("unknown key %s; want %s", quote(key), fieldList))
		case seen.has(id):
			p.fail(n, key, "duplicate key")
			f.bad.add(id)
		default:
			seen.add(id)
			p.setJSON(n, &f, id, raw)
		}
	})
	if !ok {
		p.fail(n, "", "not a JSON object")
	}
	return f, ok
}

// setJSON stores one member's value; null counts as absent.
func (p *parser) setJSON(n int, f *fields, id fieldID, raw string) {
	kind := jsonKind(raw)
	switch {
	case kind == "null":
	case id == fSize:
		if kind != "number" {
			p.fail(n, id.String(), "want a number, got "+kind)
			f.bad.add(id)
			return
		}
		size, msg := parseSize(raw)
		if msg != "" {
			p.fail(n, id.String(), msg)
			f.bad.add(id)
			return
		}
		f.size, f.hasSize = size, true
	case kind != "string":
		p.fail(n, id.String(), "want a string, got "+kind)
		f.bad.add(id)
	default:
		f.vals[id] = jsonString(raw)
	}
}

// jsonString decodes a valid JSON string literal, skipping the decoder (and
// a copy) when there is nothing to unescape.
func jsonString(raw string) string {
	if strings.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1]
	}
	var s string
	_ = json.Unmarshal([]byte(raw), &s) // json.Valid already checked the literal
	return s
}

// jsonKind names a valid JSON value's type.
func jsonKind(raw string) string {
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// jsonMsg describes a syntax error. SyntaxError.Offset is the bytes read
// before the error, so it is the 1-based position of the offending byte.
func jsonMsg(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "invalid JSON: unexpected end of line"
	}
	return "invalid JSON: " + err.Error()
}
