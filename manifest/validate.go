package manifest

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/frameq/frameq/ident"
)

// maxFiletype bounds a MIME type; the id and path rules are package ident's.
const maxFiletype = 255

// check validates one line's fields and, if they are all good, adds the
// entry. Every problem is reported, not just the first.
func (p *parser) check(line int, f *fields) {
	if e, ok := p.checkFields(line, f); ok {
		p.accept(e)
	}
}

// checkFields validates one line's fields into its entry; ok is false if
// any is bad (each is reported).
func (p *parser) checkFields(line int, f *fields) (e Entry, ok bool) {
	before := len(p.errs)
	e = Entry{
		Line:     line,
		File:     f.vals[fFile],
		URL:      f.vals[fURL],
		ParentID: f.vals[fParentID],
		Path:     f.vals[fPath],
		Size:     f.size,
		Filetype: f.vals[fFiletype],
		TokenRef: f.vals[fTokenRef],
	}
	name, named := p.checkSource(line, f, e.File, e.URL)
	if !f.bad.has(fParentID) {
		p.checkField(line, fParentID, e.ParentID, checkParentID)
	}
	switch {
	case e.Path != "":
		p.checkField(line, fPath, e.Path, checkPath)
	case named:
		e.Path = name
	}
	if e.Filetype != "" {
		p.checkField(line, fFiletype, e.Filetype, checkFiletype)
	}
	if e.TokenRef == "" {
		e.TokenRef = DefaultTokenRef
	} else {
		p.checkField(line, fTokenRef, e.TokenRef, checkTokenRef)
	}
	return e, len(p.errs) == before
}

// accept runs ParseChecked's check of an entry whose fields are good, and
// adds it.
func (p *parser) accept(e Entry) {
	if p.extra != nil {
		if err := p.extra(e); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				p.fail(e.Line, fe.Field, fe.Msg)
			} else {
				p.fail(e.Line, "", err.Error())
			}
		}
	}
	if len(p.errs) == 0 { // else the result is nil anyway
		p.entries = append(p.entries, e)
	}
}

func (p *parser) checkField(line int, id fieldID, v string, check func(string) string) {
	if msg := check(v); msg != "" {
		p.fail(line, id.String(), msg)
	}
}

// checkSource checks that exactly one of file and url is given and valid,
// and derives from it the asset name for a line without path. named is
// false when there is none; a missing one is reported only if the line has
// no path and its source is otherwise good.
func (p *parser) checkSource(line int, f *fields, file, rawURL string) (name string, named bool) {
	switch {
	case f.bad.has(fFile) || f.bad.has(fURL):
		return "", false
	case file != "" && rawURL != "":
		p.fail(line, "", "both file and url given; want exactly one")
		return "", false
	case file != "":
		if msg := checkFile(file); msg != "" {
			p.fail(line, fFile.String(), msg)
			return "", false
		}
		name, named = fileBase(file)
	case rawURL != "":
		u, msg := checkURL(rawURL)
		if msg != "" {
			p.fail(line, fURL.String(), msg)
			return "", false
		}
		name, named = urlBase(u)
	default:
		p.fail(line, "", "missing file or url; want exactly one")
		return "", false
	}
	if !named && f.vals[fPath] == "" && !f.bad.has(fPath) {
		what := "the file's base name is not a usable asset name"
		if file == "" {
			what = "the url path has no usable file name"
		}
		p.fail(line, fPath.String(), "missing, and "+what+"; set path")
	}
	return name, named
}

func fileBase(file string) (string, bool) {
	name := filepath.Base(file)
	if name == "/" || strings.ContainsRune(name, '/') || checkPath(name) != "" {
		return "", false
	}
	return name, true
}

func urlBase(u *url.URL) (string, bool) {
	seg := u.EscapedPath()
	seg = seg[strings.LastIndexByte(seg, '/')+1:]
	name, err := url.PathUnescape(seg)
	if err != nil || name == "" || strings.ContainsRune(name, '/') || checkPath(name) != "" {
		return "", false
	}
	return name, true
}

// checkURL parses a remote-upload URL. Its messages never contain the URL:
// a presigned URL's query string is a secret.
func checkURL(s string) (*url.URL, string) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error's text repeats the whole URL; its inner error does not.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "invalid URL: " + err.Error()
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return nil, "missing scheme; want http or https"
		}
		return nil, fmt.Sprintf("scheme %s not supported; want http or https", quote(u.Scheme))
	}
	if u.Hostname() == "" {
		return nil, "missing host"
	}
	return u, ""
}

func checkFile(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL byte"
	case strings.HasSuffix(s, "/"):
		return "names a directory (ends with /)"
	}
	return ""
}

// checkPath, checkParentID and checkTokenRef apply package ident's rules,
// the ones the payload, the worker's config and the schema use, so a
// manifest line that passes is a task a worker can serve.
func checkPath(s string) string     { return reason(ident.Path(s)) }
func checkParentID(s string) string { return reason(ident.ID("parent_id", s)) }
func checkTokenRef(s string) string { return reason(ident.TokenRef(s)) }

// reason is the message of an ident error without its field name, which a
// LineError carries separately.
func reason(err error) string {
	var e *ident.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func checkFiletype(s string) string {
	if len(s) > maxFiletype {
		return fmt.Sprintf("longer than %d bytes", maxFiletype)
	}
	for _, r := range s {
		if unicode.IsSpace(r) {
			return "must not contain spaces"
		}
		if unicode.IsControl(r) {
			return fmt.Sprintf("contains control character %U", r)
		}
	}
	typ, sub, _ := strings.Cut(s, "/")
	switch {
	case strings.Count(s, "/") != 1:
		return fmt.Sprintf("%s must contain exactly one /", quote(s))
	case typ == "" || sub == "":
		return fmt.Sprintf("%s has an empty type or subtype", quote(s))
	}
	return ""
}

// parseSize parses a size given as decimal text (a CSV cell or a JSON
// number's literal).
func parseSize(s string) (int64, string) {
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, fmt.Sprintf("%s out of range", quote(s))
	case err != nil:
		return 0, fmt.Sprintf("%s is not an integer", quote(s))
	case n < 0:
		return 0, fmt.Sprintf("%d is negative; want >= 0", n)
	}
	return n, ""
}
