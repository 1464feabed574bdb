package manifest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

// kv is one line's values by key; "size" holds a raw number literal.
type kv map[string]string

var keyOrder = []string{"file", "url", "parent_id", "path", "size", "filetype", "token_ref"}

// jsonLine renders values as a JSONL line, size as a raw number.
func jsonLine(v kv) string {
	var b strings.Builder
	b.WriteByte('{')
	for _, k := range keyOrder {
		s, ok := v[k]
		if !ok {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + k + `":`)
		if k == "size" {
			b.WriteString(s)
			continue
		}
		q, _ := json.Marshal(s)
		b.Write(q)
	}
	b.WriteByte('}')
	return b.String()
}

// csvManifest renders values as a CSV manifest with every column.
func csvManifest(rows ...kv) string {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(keyOrder)
	for _, v := range rows {
		rec := make([]string, len(keyOrder))
		for i, k := range keyOrder {
			rec[i] = v[k]
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return buf.String()
}

func jsonManifest(rows ...kv) string {
	var b strings.Builder
	for _, v := range rows {
		b.WriteString(jsonLine(v) + "\n")
	}
	return b.String()
}

// validationCases hold one line each, valid in JSON and CSV syntax alike, so
// both formats must report the same field and message.
var validationCases = []struct {
	name  string
	line  kv
	field string
	msg   string
}{
	{"both file and url", kv{"file": "a.mov", "url": "https://h/a.mov", "parent_id": "p"}, "", "both file and url"},
	{"neither file nor url", kv{"parent_id": "p", "path": "a.mov"}, "", "missing file or url"},
	{"parent_id missing", kv{"file": "a.mov"}, "parent_id", "missing"},
	{"parent_id bad char", kv{"file": "a.mov", "parent_id": "a/b"}, "parent_id", `invalid character '/'`},
	{"parent_id space", kv{"file": "a.mov", "parent_id": "a b"}, "parent_id", "invalid character"},
	{"parent_id too long", kv{"file": "a.mov", "parent_id": strings.Repeat("a", 129)}, "parent_id", "longer than 128"},
	{"url ftp", kv{"url": "ftp://h/a.mov", "parent_id": "p"}, "url", `scheme "ftp" not supported`},
	{"url no scheme", kv{"url": "h.example/a.mov", "parent_id": "p"}, "url", "missing scheme"},
	{"url no host", kv{"url": "https:///a.mov", "parent_id": "p"}, "url", "missing host"},
	{"url port only", kv{"url": "https://:80/a.mov", "parent_id": "p"}, "url", "missing host"},
	{"url opaque", kv{"url": "https:a.mov", "parent_id": "p"}, "url", "missing host"},
	{"url unparsable", kv{"url": "https://[::1/a.mov", "parent_id": "p"}, "url", "invalid URL"},
	{"url no base name", kv{"url": "https://h/dir/", "parent_id": "p"}, "path", "no usable file name"},
	{"url bare host", kv{"url": "https://h", "parent_id": "p"}, "path", "no usable file name"},
	{"url base is dot-dot", kv{"url": "https://h/a/..", "parent_id": "p"}, "path", "no usable file name"},
	{"url base has escaped slash", kv{"url": "https://h/a%2Fb", "parent_id": "p"}, "path", "no usable file name"},
	{"file NUL", kv{"file": "a\x00b", "parent_id": "p", "path": "a"}, "file", "NUL"},
	{"file NUL, no path", kv{"file": "a\x00b", "parent_id": "p"}, "file", "NUL"},
	{"file is a directory", kv{"file": "dir/", "parent_id": "p"}, "file", "directory"},
	{"file base unusable", kv{"file": "..", "parent_id": "p"}, "path", "base name"},
	{"file base has control char", kv{"file": "a\x01.mov", "parent_id": "p"}, "path", "base name"},
	{"path absolute", kv{"file": "a.mov", "parent_id": "p", "path": "/x/a.mov"}, "path", "must be relative"},
	{"path double slash", kv{"file": "a.mov", "parent_id": "p", "path": "x//a.mov"}, "path", "empty element"},
	{"path trailing slash", kv{"file": "a.mov", "parent_id": "p", "path": "x/"}, "path", "empty element"},
	{"path dot", kv{"file": "a.mov", "parent_id": "p", "path": "./a.mov"}, "path", `"." element`},
	{"path dot-dot", kv{"file": "a.mov", "parent_id": "p", "path": "x/../a.mov"}, "path", `".." element`},
	{"path NUL", kv{"file": "a.mov", "parent_id": "p", "path": "a\x00.mov"}, "path", "NUL"},
	{"path newline", kv{"file": "a.mov", "parent_id": "p", "path": "a\n.mov"}, "path", "control character U+000A"},
	{"size negative", kv{"file": "a.mov", "parent_id": "p", "size": "-1"}, "size", "negative"},
	{"size fraction", kv{"file": "a.mov", "parent_id": "p", "size": "1.5"}, "size", "not an integer"},
	{"size exponent", kv{"file": "a.mov", "parent_id": "p", "size": "1e3"}, "size", "not an integer"},
	{"size too big", kv{"file": "a.mov", "parent_id": "p", "size": "99999999999999999999"}, "size", "out of range"},
	{"filetype no slash", kv{"file": "a.mov", "parent_id": "p", "filetype": "video"}, "filetype", "exactly one /"},
	{"filetype two slashes", kv{"file": "a.mov", "parent_id": "p", "filetype": "video/a/b"}, "filetype", "exactly one /"},
	{"filetype empty subtype", kv{"file": "a.mov", "parent_id": "p", "filetype": "video/"}, "filetype", "empty type or subtype"},
	{"filetype space", kv{"file": "a.mov", "parent_id": "p", "filetype": "text/plain; charset=utf-8"}, "filetype", "spaces"},
	{"filetype too long", kv{"file": "a.mov", "parent_id": "p", "filetype": "a/" + strings.Repeat("b", 300)}, "filetype", "longer than 255"},
	{"token_ref upper case", kv{"file": "a.mov", "parent_id": "p", "token_ref": "Prod"}, "token_ref", `invalid character 'P'`},
	{"token_ref too long", kv{"file": "a.mov", "parent_id": "p", "token_ref": strings.Repeat("t", 65)}, "token_ref", "longer than 64"},
}

func TestValidationBothFormats(t *testing.T) {
	good := kv{"file": "ok.mov", "parent_id": "p"}
	for _, tc := range validationCases {
		for _, f := range []Format{JSONL, CSV} {
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				// The bad line sits between good ones: line 2 after the
				// JSONL line or the CSV header, then a good line 3.
				in := jsonManifest(good, tc.line, good)
				if f == CSV {
					in = csvManifest(tc.line, good)
				}
				entries, err := Parse(strings.NewReader(in), f)
				checkErrs(t, entries, err, []want{{2, tc.field, tc.msg}})
			})
		}
	}
}

func TestManyProblemsOnOneLine(t *testing.T) {
	bad := kv{"url": "ftp://h/x", "path": "/abs", "size": "-3", "filetype": "x", "token_ref": "UP"}
	wants := []want{
		{1, "url", "scheme"},
		{1, "parent_id", "missing"},
		{1, "path", "relative"},
		{1, "filetype", "exactly one /"},
		{1, "token_ref", "invalid character"},
		{1, "size", "negative"}, // parsed before the rest in both formats
	}
	entries, err := Parse(strings.NewReader(jsonLine(bad)), JSONL)
	checkErrs(t, entries, err, append([]want{wants[5]}, wants[:5]...))
	for i := range wants {
		wants[i].line = 2
	}
	entries, err = Parse(strings.NewReader(csvManifest(bad)), CSV)
	checkErrs(t, entries, err, append([]want{wants[5]}, wants[:5]...))
}

// A presigned URL's query is a secret: no message may repeat it.
func TestURLErrorsHideTheURL(t *testing.T) {
	const secret = "X-Amz-Signature=s3cr3t"
	for _, u := range []string{
		"ftp://h/a.mov?" + secret,
		"https://[::1/a.mov?" + secret,
		"https://h/%zz?" + secret,
		"https://h:port/a?" + secret,
		"https://h/dir/?" + secret,
		"https:///a.mov?" + secret,
		"https://h/a\x7f?" + secret,
	} {
		_, err := Parse(strings.NewReader(jsonLine(kv{"url": u, "parent_id": "p"})), JSONL)
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("url %q: error %v", u, err)
		}
	}
}

func TestDefaultPaths(t *testing.T) {
	for _, tc := range []struct {
		line kv
		path string
	}{
		{kv{"file": "a.mov"}, "a.mov"},
		{kv{"file": "/mnt/day 1/A001.mov"}, "A001.mov"},
		{kv{"file": "a.mov", "path": "Day 1/take.mov"}, "Day 1/take.mov"},
		{kv{"url": "https://cdn.example.com/clips/take%201.mov?sig=abc#x"}, "take 1.mov"},
		{kv{"url": "http://h:8080/a/b.mxf"}, "b.mxf"},
		{kv{"url": "https://h/", "path": "x/y.mov"}, "x/y.mov"},
		{kv{"url": "https://h/%C3%A9t%C3%A9.wav"}, "été.wav"},
	} {
		tc.line["parent_id"] = "p"
		e := mustParse(t, jsonLine(tc.line), JSONL)
		if e[0].Path != tc.path || e[0].TokenRef != DefaultTokenRef {
			t.Errorf("%v: path %q token %q, want %q %q", tc.line, e[0].Path, e[0].TokenRef, tc.path, DefaultTokenRef)
		}
	}
}
