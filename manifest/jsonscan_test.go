package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"unicode/utf8"
)

// refMembers lists an object's members with encoding/json's own decoder, the
// reference objectMembers must agree with.
func refMembers(b []byte) ([]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '{' {
		return nil, false
	}
	var out []string
	for dec.More() {
		key, _ := dec.Token()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			panic(err) // json.Valid accepted b
		}
		out = append(out, fmt.Sprintf("%q=%s", key, raw))
	}
	if _, err := dec.Token(); err != nil {
		panic(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		panic("trailing data in valid JSON")
	}
	return out, true
}

func checkMembers(t *testing.T, b []byte) {
	t.Helper()
	if !json.Valid(b) || !utf8.Valid(b) {
		return
	}
	want, wantObj := refMembers(b)
	var got []string
	gotObj := objectMembers(string(b), func(key, raw string) {
		got = append(got, fmt.Sprintf("%q=%s", jsonString(key), raw))
	})
	if gotObj != wantObj || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("input %s:\n got %v %q\nwant %v %q", b, gotObj, got, wantObj, want)
	}
}

var memberSeeds = []string{
	`{}`,
	` { } `,
	`{"a":1,"b":"x\"y\\","c":[1,{"d":"]}"}],"e":{"f":[]},"g":true,"h":null,"i":-1.5e3}`,
	"\t{\r\"k\\u0041\" :\n\"v\" , \"\":0}\n",
	`[1,2]`, `"s"`, `12`, `null`,
	`{"a":{"b":{"c":"}}}"}}}`,
}

func TestObjectMembers(t *testing.T) {
	for _, s := range memberSeeds {
		checkMembers(t, []byte(s))
	}
}

func FuzzObjectMembers(f *testing.F) {
	for _, s := range memberSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkMembers)
}
