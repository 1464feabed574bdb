package manifest

import (
	"cmp"
	"fmt"
	"io"
	"slices"
)

// Parse reads the whole manifest and validates every line. It never stops at
// the first bad line: if any line is bad it returns (nil, *Errors) listing
// every bad line, so nothing is enqueued from an invalid manifest. An empty
// manifest (no entries) is an error too, and so is one with more than
// MaxEntries entries or a line longer than MaxLineBytes.
//
// Errors reading r are returned wrapped, not as *Errors.
func Parse(r io.Reader, f Format) ([]Entry, error) {
	return limits{maxLine: MaxLineBytes, maxEntries: MaxEntries}.parse(r, f, nil)
}

// ParseChecked is Parse with one more check of every well-formed entry (for
// example that its file exists); a check's error is reported with the
// others, under the entry's line number.
func ParseChecked(r io.Reader, f Format, check func(Entry) error) ([]Entry, error) {
	return limits{maxLine: MaxLineBytes, maxEntries: MaxEntries}.parse(r, f, check)
}

// limits are Parse's bounds, smaller in tests.
type limits struct {
	maxLine    int
	maxEntries int
	workers    int // JSONL lines decoded at once; 0: GOMAXPROCS
}

// parser holds one Parse call's state.
type parser struct {
	limits
	entries []Entry
	errs    Errors
	extra   func(Entry) error // ParseChecked's check of each good entry
	n       int               // entries seen so far, good or bad
	stopped bool              // reading ended early; the errors say why
}

func (l limits) parse(r io.Reader, f Format, check func(Entry) error) ([]Entry, error) {
	p := &parser{limits: l, extra: check}
	var err error
	switch f {
	case JSONL:
		err = p.jsonl(r)
	case CSV:
		err = p.csv(r)
	default:
		return nil, fmt.Errorf("parse manifest: unknown format %q", f)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return p.result()
}

func (p *parser) result() ([]Entry, error) {
	if len(p.errs) == 0 && len(p.entries) == 0 {
		p.fail(1, "", "manifest has no entries")
	}
	if len(p.errs) > 0 {
		// CSV's size gate reports ahead of the CSV reader.
		slices.SortStableFunc(p.errs, func(a, b LineError) int { return cmp.Compare(a.Line, b.Line) })
		errs := p.errs
		return nil, &errs
	}
	return p.entries, nil
}

// fail records a problem. The entries are dropped at the first one, since
// an invalid manifest yields none.
func (p *parser) fail(line int, field, msg string) {
	p.errs = append(p.errs, LineError{Line: line, Field: field, Msg: msg})
	p.entries = nil
}

// count counts one more entry on line, or stops the parse when there are too
// many.
func (p *parser) count(line int) bool {
	p.n++
	if p.n <= p.maxEntries {
		return true
	}
	p.fail(line, "", fmt.Sprintf("more than %d entries; split the manifest", p.maxEntries))
	p.stopped = true
	return false
}
