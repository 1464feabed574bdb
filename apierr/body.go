package apierr

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
)

const (
	// maxBody is how much of a body is parsed; error bodies worth reading
	// are small, and a huge one must not cost more than this.
	maxBody = 64 << 10
	// maxExcerpt bounds the text kept from a non-JSON body.
	maxExcerpt = 200
	// maxField bounds any Title or Detail.
	maxField = 1000
	// maxJSONNesting gives up closing a truncated body nested deeper than
	// any error message is; the excerpt is shown instead.
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
		return message{detail: clean(htmlText(trimmed)), excerpt: true}
	}
	return message{detail: clean(string(trimmed)), excerpt: true}
}

// errorBody is every JSON error shape we know: Frame.io v2
// {"code", "errors": [{"code", "title", "detail"}]} or {"code", "message"},
// V4 {"errors": [{"title", "detail", "source": {"pointer"}}]}, changesets
// {"errors": {"name": ["can't be blank"]}}, OAuth {"error",
// "error_description"} and {"error": {"code", "message"}}.
type errorBody struct {
	Code             text      `json:"code"`
	Title            text      `json:"title"`
	Detail           text      `json:"detail"`
	Message          text      `json:"message"`
	Error            entry     `json:"error"`
	ErrorDescription text      `json:"error_description"`
	Errors           errorList `json:"errors"`
}

// entry is one error object, or a bare string (kept as Detail).
type entry struct {
	Code    text `json:"code"`
	Title   text `json:"title"`
	Detail  text `json:"detail"`
	Message text `json:"message"`
	Source  struct {
		Pointer text `json:"pointer"`
	} `json:"source"`
}

// UnmarshalJSON reads an object, or a string or number as Detail; any other
// value leaves e empty rather than failing the whole body.
func (e *entry) UnmarshalJSON(b []byte) error {
	if b[0] != '{' {
		return e.Detail.UnmarshalJSON(b)
	}
	type plain entry
	_ = json.Unmarshal(b, (*plain)(e))
	return nil
}

// errorList is "errors": its first entry when an array, or a changeset
// object flattened to "name: can't be blank" lines in document order.
type errorList struct {
	first  entry
	fields []string
}

// UnmarshalJSON reads an array or a changeset object; anything else is
// ignored.
func (l *errorList) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case '[':
		var all []entry
		if json.Unmarshal(b, &all) == nil && len(all) > 0 {
			l.first = all[0]
		}
	case '{':
		// A map would lose the order the server listed the fields in.
		dec := json.NewDecoder(bytes.NewReader(b))
		_, _ = dec.Token()
		for dec.More() {
			tok, err := dec.Token()
			key, _ := tok.(string) // keys of a valid object are strings
			var msgs texts
			if err != nil || dec.Decode(&msgs) != nil {
				break
			}
			for _, m := range msgs {
				if strings.TrimSpace(string(m)) != "" {
					l.fields = append(l.fields, key+": "+string(m))
				}
			}
		}
	}
	return nil
}

// text is a JSON string or number as text; other values leave it empty, so
// an unexpected shape costs one field, not the body.
type text string

// UnmarshalJSON never fails: see text.
func (t *text) UnmarshalJSON(b []byte) error {
	switch {
	case b[0] == '"':
		var s string
		_ = json.Unmarshal(b, &s)
		*t = text(s)
	case b[0] == '-' || '0' <= b[0] && b[0] <= '9':
		*t = text(b) // a number, valid JSON as encoding/json hands it over
	}
	return nil
}

// texts is a changeset field's messages: one string or a list of them.
type texts []text

// UnmarshalJSON never fails: see text.
func (ts *texts) UnmarshalJSON(b []byte) error {
	if b[0] == '[' {
		_ = json.Unmarshal(b, (*[]text)(ts))
		return nil
	}
	var t text
	_ = t.UnmarshalJSON(b)
	*ts = texts{t}
	return nil
}

// parseJSON picks the code, title and detail out of a JSON body, using what
// it could read before a syntax error or truncation. ok is false when it
// found nothing useful.
func parseJSON(b []byte) (message, bool) {
	var (
		body   errorBody
		top    text // a body that is one JSON string
		syntax *json.SyntaxError
	)
	if err := json.Unmarshal(b, &body); errors.As(err, &syntax) {
		b = closeJSON(b)
		_ = json.Unmarshal(b, &body)
	}
	if len(b) > 0 && b[0] == '"' {
		_ = json.Unmarshal(b, &top)
	}
	first := body.Errors.first
	m := message{title: firstOf(first.Title, body.Title)}
	m.detail = firstOf(first.Detail, first.Message)
	if field := strings.ReplaceAll(strings.Trim(string(first.Source.Pointer), "/"), "/", "."); field != "" && m.detail != "" {
		// V4 names the field as a JSON pointer: "/data/name" -> "data.name".
		m.detail = field + ": " + m.detail
	}
	if m.detail == "" {
		m.detail = strings.Join(body.Errors.fields, "; ")
	}
	if m.detail == "" {
		m.detail = firstOf(body.Message, body.Error.Detail, body.Error.Message,
			body.ErrorDescription, body.Detail, top)
	}
	for _, c := range []text{first.Code, body.Code, body.Error.Code} {
		if n, ok := atoi(string(c)); ok {
			m.code = n
			break
		}
	}
	m.title = clean(m.title)
	m.detail = clean(m.detail)
	return m, m.title != "" || m.detail != "" || m.code != 0
}

// closeJSON turns the valid start of a truncated, garbled or too deeply
// nested JSON body into a complete value that encoding/json accepts: it
// keeps every whole token but a dangling key, up to maxJSONNesting levels,
// then closes the open objects and arrays. A value complete before trailing
// garbage is cut after it. It returns nil when not even the first token is
// whole.
func closeJSON(b []byte) []byte {
	type level struct {
		closer  byte
		wantKey bool // an object expecting a key
	}
	var (
		stack []level
		end   int    // where the last keepable token ends
		tail  []byte // the closers needed at end
	)
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].wantKey {
			if _, isKey := tok.(string); isKey {
				stack[top].wantKey = false
				continue // a key alone cannot be closed: end stays before it
			}
		}
		opens := tok == json.Delim('{') || tok == json.Delim('[')
		if opens && len(stack) == maxJSONNesting {
			break // deeper than any message: keep what came before
		}
		if top >= 0 && stack[top].closer == '}' {
			stack[top].wantKey = true // after this value, the next key
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, level{closer: '}', wantKey: true})
		case json.Delim('['):
			stack = append(stack, level{closer: ']'})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
		}
		end = int(dec.InputOffset())
		tail = tail[:0]
		for i := len(stack) - 1; i >= 0; i-- {
			tail = append(tail, stack[i].closer)
		}
		if len(stack) == 0 {
			break // one top-level value is the whole body
		}
	}
	if end == 0 {
		return nil
	}
	return append(b[:end:end], tail...)
}

// firstOf returns the first of vs that is not blank.
func firstOf(vs ...text) string {
	for _, v := range vs {
		if strings.TrimSpace(string(v)) != "" {
			return string(v)
		}
	}
	return ""
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

// htmlText is an HTML page's text, entities decoded; comments, scripts and
// styles are dropped and every tag separates words.
func htmlText(b []byte) string {
	var sb strings.Builder
	z := html.NewTokenizer(bytes.NewReader(b))
	hidden := false // inside <script> or <style>
	for {
		switch z.Next() {
		case html.ErrorToken:
			return sb.String()
		case html.TextToken:
			if !hidden {
				sb.Write(z.Text())
			}
		case html.StartTagToken:
			name, _ := z.TagName()
			hidden = string(name) == "script" || string(name) == "style"
			sb.WriteByte(' ')
		case html.EndTagToken, html.SelfClosingTagToken:
			hidden = false
			sb.WriteByte(' ')
		}
	}
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
