package apierr

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"html"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// maxBody is how much of a body is parsed; error bodies worth reading
	// are small, and a huge one must not cost more than this.
	maxBody = 64 << 10
	// maxExcerpt bounds the text kept from a non-JSON body.
	maxExcerpt = 200
	// maxField bounds any Title or Detail.
	maxField = 1000
	// maxJSONFields bounds the scalars a JSON walk records.
	maxJSONFields = 256
	// maxJSONDepth is the deepest path recorded (errors[0].title is 3,
	// V4's errors[0].source.pointer is 4).
	maxJSONDepth = 4
	// maxJSONNesting stops the walk in bodies nested deeper than any error
	// message is.
	maxJSONNesting = 64
)

// message is what a body says about an error.
type message struct {
	code          int
	title, detail string
	// excerpt marks a detail that is raw body text rather than a message
	// field: it is cut shorter.
	excerpt bool
}

// parseBody reads the error message out of a Frame.io JSON body, an S3 XML
// body, an HTML page or plain text, tolerating truncation and garbage.
func parseBody(body []byte) message {
	if len(body) > maxBody {
		body = body[:maxBody]
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n\ufeff")
	if len(trimmed) == 0 {
		return message{}
	}
	switch trimmed[0] {
	case '{', '[', '"':
		if m, ok := parseJSON(trimmed); ok {
			return m
		}
	case '<':
		if m, ok := parseS3XML(trimmed); ok {
			return m
		}
		return message{detail: clean(stripTags(string(trimmed))), excerpt: true}
	}
	return message{detail: clean(string(trimmed)), excerpt: true}
}

// jsonField is one scalar found in a JSON body, with its path such as
// ["errors", "0", "title"].
type jsonField struct {
	path []string
	val  string
	num  bool
}

// parseJSON picks the code, title and detail out of a JSON body, using what
// it could read before a syntax error or truncation. ok is false when it
// found nothing useful.
func parseJSON(b []byte) (message, bool) {
	f := walkJSON(b)
	get := func(path ...string) (string, bool) { return lookup(f, path...) }
	var m message
	m.title, _ = get("errors", "0", "title")
	m.detail = first(get, [][]string{
		{"errors", "0", "detail"}, {"errors", "0", "message"}, {"errors", "0"},
	})
	if ptr, ok := get("errors", "0", "source", "pointer"); ok && m.detail != "" {
		// V4 names the field as a JSON pointer: "/data/name" -> "data.name".
		if field := strings.ReplaceAll(strings.Trim(ptr, "/"), "/", "."); field != "" {
			m.detail = field + ": " + m.detail
		}
	}
	if m.detail == "" {
		m.detail = fieldErrors(f)
	}
	if m.detail == "" {
		m.detail = first(get, [][]string{
			{"message"}, {"error"}, {"error", "message"}, {"error_description"}, {"detail"}, {},
		})
	}
	if m.title == "" {
		m.title, _ = get("title")
	}
	for _, p := range [][]string{{"errors", "0", "code"}, {"code"}, {"error", "code"}} {
		if v, ok := get(p...); ok {
			if n, ok := atoi(v); ok {
				m.code = n
				break
			}
		}
	}
	m.title = clean(m.title)
	m.detail = clean(m.detail)
	return m, m.title != "" || m.detail != "" || m.code != 0
}

// walkJSON records the scalars at depth <= maxJSONDepth, in order, stopping
// quietly at the first syntax error (a truncated body keeps its prefix).
func walkJSON(b []byte) []jsonField {
	type frame struct {
		obj     bool
		wantKey bool
		key     string
		idx     int
	}
	var (
		stack  []frame
		fields []jsonField
	)
	advance := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].obj {
				stack[n-1].wantKey = true
			} else {
				stack[n-1].idx++
			}
		}
	}
	path := func() []string {
		p := make([]string, len(stack))
		for i, fr := range stack {
			if fr.obj {
				p[i] = fr.key
			} else {
				p[i] = strconv.Itoa(fr.idx)
			}
		}
		return p
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for len(fields) < maxJSONFields {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			if k, ok := tok.(string); ok {
				stack[n-1].key, stack[n-1].wantKey = k, false
				continue
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				if len(stack) == maxJSONNesting {
					return fields
				}
				stack = append(stack, frame{obj: t == '{', wantKey: t == '{'})
				continue
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			advance()
			if len(stack) == 0 {
				return fields // one top-level value is the whole body
			}
		case string:
			if len(stack) <= maxJSONDepth {
				fields = append(fields, jsonField{path: path(), val: t})
			}
			advance()
		case json.Number:
			if len(stack) <= maxJSONDepth {
				fields = append(fields, jsonField{path: path(), val: t.String(), num: true})
			}
			advance()
		default: // bool, null
			advance()
		}
	}
	return fields
}

// lookup returns the first scalar at exactly path.
func lookup(fields []jsonField, path ...string) (string, bool) {
	for _, f := range fields {
		if equalPath(f.path, path) {
			return f.val, true
		}
	}
	return "", false
}

// first returns the first non-empty string found at any of paths.
func first(get func(...string) (string, bool), paths [][]string) string {
	for _, p := range paths {
		if v, ok := get(p...); ok && strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// fieldErrors flattens a changeset-style {"errors": {"name": ["can't be
// blank"]}} into "name: can't be blank".
func fieldErrors(fields []jsonField) string {
	var parts []string
	for _, f := range fields {
		if f.num || len(f.path) < 2 || f.path[0] != "errors" {
			continue
		}
		if _, err := strconv.Atoi(f.path[1]); err == nil {
			continue // an errors array, handled by errors[0]
		}
		parts = append(parts, f.path[1]+": "+f.val)
	}
	return strings.Join(parts, "; ")
}

func equalPath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// atoi reads an integer code written as 422, 422.0 or "422".
func atoi(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return n, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int(f)) {
		return int(f), true
	}
	return 0, false
}

// parseS3XML reads <Error><Code>..</Code><Message>..</Message></Error>, the
// body of a refused presigned PUT. Other elements (StringToSign,
// CanonicalRequest, ...) are ignored: they echo the signed query.
func parseS3XML(b []byte) (message, bool) {
	var x struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = false
	if err := dec.Decode(&x); err != nil {
		return message{}, false
	}
	code, msg := clean(x.Code), clean(x.Message)
	switch {
	case code == "" && msg == "":
		return message{}, false
	case code == "":
		return message{detail: msg}, true
	case msg == "":
		return message{detail: code}, true
	}
	return message{detail: code + ": " + msg}, true
}

// stripTags turns an HTML page into its text, dropping comments, scripts and
// styles.
func stripTags(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		b.WriteByte(' ')
		s = s[i:]
		lower := strings.ToLower(s[:min(len(s), 8)])
		end := ">"
		switch {
		case strings.HasPrefix(lower, "<!--"):
			end = "-->"
		case strings.HasPrefix(lower, "<script"):
			end = "</script>"
		case strings.HasPrefix(lower, "<style"):
			end = "</style>"
		}
		j := indexFold(s, end)
		if j < 0 {
			break // unterminated tag: drop the rest
		}
		s = s[j+len(end):]
	}
	return html.UnescapeString(b.String())
}

// indexFold is strings.Index ignoring ASCII case. It scans in place: a
// lower-cased copy per tag would make a page of many tags quadratic.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := strings.IndexByte(s[i:], sub[0])
		if j < 0 {
			return -1
		}
		i += j
		if i+len(sub) <= len(s) && strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// clean makes s one printable line: invalid UTF-8 and control characters
// become spaces, runs of spaces collapse.
func clean(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n-1]) + "…"
}
