package job

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/frameq/frameq/ident"
)

// The published schema and the Go payload must name the same fields, so
// non-Go producers are never told a field that the worker rejects.
func TestSchemaMatchesPayload(t *testing.T) {
	b, err := os.ReadFile("../../docs/payload.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	var inSchema, inGo []string
	for k := range schema.Properties {
		inSchema = append(inSchema, k)
	}
	typ := reflect.TypeOf(Upload{})
	for i := 0; i < typ.NumField(); i++ {
		inGo = append(inGo, strings.Split(typ.Field(i).Tag.Get("json"), ",")[0])
	}
	sort.Strings(inSchema)
	sort.Strings(inGo)
	if !reflect.DeepEqual(inSchema, inGo) {
		t.Errorf("schema fields %v, Go fields %v", inSchema, inGo)
	}
	// A payload with only the required fields (plus file) decodes.
	min := map[string]any{"file": "/x"}
	for _, k := range schema.Required {
		min[k] = map[string]any{"v": 1, "batch": "b", "token_ref": "r", "parent_id": "p", "path": "x"}[k]
	}
	js, _ := json.Marshal(min)
	if _, err := DecodeUpload(TypeUpload, js); err != nil {
		t.Errorf("minimal payload per the schema: %v", err)
	}
}

// schemaPatterns reads the pattern of every property that has one.
func schemaPatterns(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/payload.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]struct {
			Pattern string `json:"pattern"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, p := range schema.Properties {
		if p.Pattern != "" {
			out[k] = p.Pattern
		}
	}
	return out
}

// The schema publishes package ident's rules, not copies of them: a
// producer validating against the schema and the worker agree on every
// value. The schema's patterns are checked with Go's regexp; they use only
// syntax that RE2 and ECMA-262 read alike (see package ident).
func TestSchemaPatternsAreTheRules(t *testing.T) {
	pats := schemaPatterns(t)
	rules := map[string]string{
		"batch":     ident.IDPattern,
		"parent_id": ident.IDPattern,
		"token_ref": ident.TokenRefPattern,
		"path":      ident.PathPattern,
	}
	for field, want := range rules {
		if pats[field] != want {
			t.Errorf("schema pattern of %s is %q, want ident's %q", field, pats[field], want)
		}
	}
	values := []string{"", "default", "acme", "Acme", "a.b", "a_b-c", "a b", "a/b", "x/y/z.mov",
		"/abs", "a//b", "a/", ".", "..", "x/../y", "...", ".a", "a\nb", "a\x1bb", "a\u0085b", "ü.mov",
		strings.Repeat("r", 64), strings.Repeat("r", 65), strings.Repeat("i", 128), strings.Repeat("i", 129)}
	for field := range rules {
		re, err := regexp.Compile(pats[field])
		if err != nil {
			t.Fatalf("schema pattern of %s: %v", field, err)
		}
		for _, v := range values {
			u := validUpload()
			*map[string]*string{"batch": &u.Batch, "parent_id": &u.ParentID, "token_ref": &u.TokenRef, "path": &u.Path}[field] = v
			js, _ := u.Encode()
			_, derr := DecodeUpload(TypeUpload, js)
			if schemaOK := re.MatchString(v); schemaOK != (derr == nil) {
				t.Errorf("%s=%q: schema ok=%v, DecodeUpload: %v", field, v, schemaOK, derr)
			}
		}
	}
}
