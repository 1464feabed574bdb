package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// jsonl parses one JSON object per line.
func (p *parser) jsonl(r io.Reader) error {
	lr := newLineReader(r, p.maxLine)
	for !p.stopped {
		line, tooLong, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
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
		if p.count(lr.n) {
			p.jsonLine(lr.n, line)
		}
	}
	return nil
}

func (p *parser) jsonLine(n int, b []byte) {
	// encoding/json would quietly turn bad UTF-8 into U+FFFD.
	if !utf8.Valid(b) {
		p.fail(n, "", "not valid UTF-8")
		return
	}
	if f, ok := p.decodeJSON(n, b); ok {
		p.check(n, &f)
	}
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
