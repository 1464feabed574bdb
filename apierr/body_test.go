package apierr

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestLenientBodies(t *testing.T) {
	huge := `{"code":500,"errors":[{"title":"Server Error","detail":"` + strings.Repeat("x", 1500) + `"}]}`
	tests := []struct {
		name          string
		body          string
		code          int
		title, detail string
		detailPrefix  bool // detail is only a prefix check
	}{
		{"frameio", frameioBody(422, "Invalid arguments", "name must not be empty"), 422, "Invalid arguments", "name must not be empty", false},
		{"message only", `{"code":404,"message":"Asset not found"}`, 404, "Unprocessable Entity", "Asset not found", false},
		{"detail equals title dropped", `{"errors":[{"title":"Unprocessable Entity","detail":"unprocessable entity"}]}`, 0, "Unprocessable Entity", "", false},
		{"string code", `{"code":"422","errors":[{"code":"422.0","title":"Invalid"}]}`, 422, "Invalid", "", false},
		{"errors of strings", `{"errors":["name is required"]}`, 0, "Unprocessable Entity", "name is required", false},
		{"changeset", `{"errors":{"name":["can't be blank"],"filesize":"must be >= 0"}}`, 0, "Unprocessable Entity", "name: can't be blank; filesize: must be >= 0", false},
		{"oauth style", `{"error":"invalid_token","error_description":"expired"}`, 0, "Unprocessable Entity", "invalid_token", false},
		{"nested error", `{"error":{"code":7,"message":"quota"}}`, 7, "Unprocessable Entity", "quota", false},
		{"top-level string", `"just a string"`, 0, "Unprocessable Entity", "just a string", false},
		{"unknown json", `{"foo":1}`, 0, "Unprocessable Entity", `{"foo":1}`, false},
		{"truncated json keeps prefix", `{"code":422,"errors":[{"code":422,"title":"Invalid arguments","detail":"name mu`, 422, "Invalid arguments", "", false},
		{"truncated json nothing useful", `{"co`, 0, "Unprocessable Entity", `{"co`, false},
		{"empty", ``, 0, "Unprocessable Entity", "", false},
		{"whitespace", " \r\n\t ", 0, "Unprocessable Entity", "", false},
		{"html", "<!DOCTYPE html><html><head><style>body{color:red}</style><script>var x=1<2;</script><title>Oops</title></head><body><!-- a <b>comment</b> --><h1>Service&nbsp;down</h1>\n\n<p>try   later &amp; again</p></body></html>",
			0, "Unprocessable Entity", "Oops Service down try later & again", false},
		{"unterminated tag", "<html><body>half <a href", 0, "Unprocessable Entity", "half", false},
		{"s3 xml", `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message><StringToSign>AWS4-HMAC-SHA256 secret-ish</StringToSign></Error>`,
			0, "Unprocessable Entity", "SignatureDoesNotMatch: The request signature we calculated does not match", false},
		{"s3 xml code only", `<Error><Code>AccessDenied</Code></Error>`, 0, "Unprocessable Entity", "AccessDenied", false},
		{"plain text multi-line", "line one\nline\ttwo\x00\x01", 0, "Unprocessable Entity", "line one line two", false},
		{"invalid utf8", "bad \xff\xfe bytes", 0, "Unprocessable Entity", "bad bytes", false},
		{"huge json detail is cut", huge, 500, "Server Error", strings.Repeat("x", maxField-1) + "…", false},
		{"long text excerpt", strings.Repeat("word ", 100), 0, "Unprocessable Entity", strings.Repeat("word ", 40)[:199] + "…", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := FromResponse("POST", mustURL(t, "http://h/v2/x"), 422, nil, []byte(tt.body), time.Now())
			if e.Code != tt.code || e.Title != tt.title || e.Detail != tt.detail {
				t.Errorf("got code %d title %q detail %q\nwant code %d title %q detail %q",
					e.Code, e.Title, e.Detail, tt.code, tt.title, tt.detail)
			}
			if msg := e.Error(); msg == "" || strings.ContainsAny(msg, "\n\r\t") || !utf8.ValidString(msg) {
				t.Errorf("Error() not one valid line: %q", msg)
			}
		})
	}
}

func TestHugeBodyIsBounded(t *testing.T) {
	// 8 MiB of HTML: only the first 64 KiB are parsed, the excerpt is short.
	body := append([]byte("<html><body>"), bytes.Repeat([]byte("<p>filler text</p>"), 8<<20/18)...)
	e := FromResponse("GET", nil, 502, nil, body, time.Now())
	if n := utf8.RuneCountInString(e.Detail); n > maxExcerpt || !strings.HasPrefix(e.Detail, "filler text filler") {
		t.Errorf("detail (%d runes) = %.80q", n, e.Detail)
	}
	// A huge JSON body truncated at 64 KiB still yields what precedes the cut.
	js := []byte(`{"code":500,"errors":[{"title":"Server Error","detail":"ok"}],"pad":"` + strings.Repeat("p", 1<<20) + `"}`)
	e = FromResponse("GET", nil, 500, nil, js, time.Now())
	if e.Title != "Server Error" || e.Detail != "ok" || e.Code != 500 {
		t.Errorf("got %+v", e)
	}
}

func TestDeeplyNestedJSON(t *testing.T) {
	body := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	e := FromResponse("GET", nil, 500, nil, []byte(body), time.Now())
	if e.Error() == "" {
		t.Fatal("empty message")
	}
}

// encoding/json refuses nesting deeper than 10000 levels; what precedes the
// deep part is still read, and a body that is nothing but nesting still
// gives a readable line.
func TestNestingPastEncodingJSONLimit(t *testing.T) {
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	e := FromResponse("GET", nil, 500, nil, []byte(`{"message":"quota","pad":`+deep+`}`), time.Now())
	if e.Detail != "quota" {
		t.Errorf("message before deep nesting: detail %q", e.Detail)
	}
	e = FromResponse("GET", nil, 500, nil, []byte(deep), time.Now())
	if msg := e.Error(); !strings.HasPrefix(e.Detail, "[[[[") || strings.ContainsAny(msg, "\n\r\t") {
		t.Errorf("nesting only: detail %.40q, message %.80q", e.Detail, msg)
	}
}

func TestJSONThenGarbage(t *testing.T) {
	for body, want := range map[string]string{
		`{"message":"quota"} trailing`:                                "quota",
		`{"message":"quota",}`:                                        "quota",
		`{"errors":[{"detail":"a"},{"det`:                             "a",
		`"just a string" and then garbage`:                            "just a string",
		`{"errors":[{"title":{"x":1},"detail":["d"]}],"message":"m"}`: "m",
		`{"errors":{"name":null,"size":[null,"too big",{}]}}`:         "size: too big",
	} {
		if m := parseBody([]byte(body)); m.detail != want || m.excerpt {
			t.Errorf("parseBody(%q) = detail %q excerpt %v, want %q", body, m.detail, m.excerpt, want)
		}
	}
}

// The tokenizer reads tags as browsers do: a '>' inside a quoted attribute
// does not end the tag, and a script ends only at its own end tag.
func TestHTMLEdgeCases(t *testing.T) {
	for body, want := range map[string]string{
		`<p title="1 > 0">shown</p>`:                           "shown",
		`<SCRIPT type="x">if (a<b) {}</SCRIPT><p>after</p>`:    "after",
		`<style>p{}</style ><p>a&lt;b&#39;s &amp</p>`:          "a<b's &",
		`<div data-x='<script>'>text</div><![CDATA[x]]>`:       "text",
		"<html><body><p>one</p><br/><p>two</p><img alt=\"x\">": "one two",
	} {
		if got := clean(htmlText([]byte(body))); got != want {
			t.Errorf("htmlText(%q) = %q, want %q", body, got, want)
		}
	}
}
