package job

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
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
