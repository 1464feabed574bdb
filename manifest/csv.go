package manifest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// csv parses RFC 4180 records under a header row naming the columns.
func (p *parser) csv(r io.Reader) error {
	cr := csv.NewReader(newCSVGate(r, p))
	cr.FieldsPerRecord = -1 // checked here, to name both counts
	cr.ReuseRecord = true
	var cols []fieldID // nil until the header is read
	for !p.stopped {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			p.fail(pe.StartLine, "", fmt.Sprintf("CSV: %v at line %d, column %d", pe.Err, pe.Line, pe.Column))
			if cols == nil {
				return nil // without a header no row means anything
			}
			continue
		}
		if err != nil {
			return err
		}
		line, _ := cr.FieldPos(0)
		if cols == nil {
			var ok bool
			if cols, ok = p.header(line, rec); !ok {
				return nil
			}
			continue
		}
		if allEmpty(rec) {
			continue // spreadsheets export trailing ",,," rows
		}
		if p.count(line) {
			p.csvRow(line, cols, rec)
		}
	}
	if cols == nil && !p.stopped {
		p.fail(1, "", "missing header row; want columns of "+fieldList)
	}
	return nil
}

// header maps columns to fields. Names are matched ignoring case and
// surrounding spaces, as spreadsheets write them. It reports false if the
// header is bad: rows are then not checked, since their meaning is unknown.
func (p *parser) header(line int, rec []string) ([]fieldID, bool) {
	before := len(p.errs)
	cols := make([]fieldID, len(rec))
	var seen fieldSet
	for i, name := range rec {
		id, known := fieldByName(strings.ToLower(strings.TrimSpace(name)))
		switch {
		case strings.TrimSpace(name) == "":
			p.fail(line, "", fmt.Sprintf("column %d has no name", i+1))
		case !known:
			p.fail(line, "", fmt.Sprintf("unknown column %s; want %s", quote(name), fieldList))
		case seen.has(id):
			p.fail(line, id.String(), "duplicate column")
		}
		if known {
			seen.add(id)
		}
		cols[i] = id
	}
	if !seen.has(fParentID) {
		p.fail(line, fParentID.String(), "missing column")
	}
	if !seen.has(fFile) && !seen.has(fURL) {
		p.fail(line, "", "missing column file or url")
	}
	return cols, len(p.errs) == before
}

func (p *parser) csvRow(line int, cols []fieldID, rec []string) {
	if len(rec) != len(cols) {
		p.fail(line, "", fmt.Sprintf("has %d fields, header has %d", len(rec), len(cols)))
		return
	}
	var f fields
	for i, v := range rec {
		id := cols[i]
		switch {
		case v == "":
		case !utf8.ValidString(v):
			p.fail(line, id.String(), "not valid UTF-8")
			f.bad.add(id)
		case id == fSize:
			size, msg := parseSize(v)
			if msg != "" {
				p.fail(line, id.String(), msg)
				f.bad.add(id)
				continue
			}
			f.size, f.hasSize = size, true
		default:
			f.vals[id] = v
		}
	}
	p.check(line, &f)
}

func allEmpty(rec []string) bool {
	for _, v := range rec {
		if v != "" {
			return false
		}
	}
	return true
}
