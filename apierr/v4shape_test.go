package apierr

import "testing"

// Frame.io V4 names the offending field in errors[].source.pointer; the
// line must say which field.
func TestV4ErrorNamesTheField(t *testing.T) {
	m := parseBody([]byte(`{"errors":[{"title":"Invalid value","detail":"can't be blank","source":{"pointer":"/data/name"}}]}`))
	if m.title != "Invalid value" || m.detail != "data.name: can't be blank" {
		t.Errorf("parseBody = title %q detail %q, want %q / %q", m.title, m.detail, "Invalid value", "data.name: can't be blank")
	}
	m = parseBody([]byte(`{"errors":[{"title":"Not Found","detail":"no such asset"}]}`))
	if m.detail != "no such asset" {
		t.Errorf("without a pointer: detail %q", m.detail)
	}
}
