package manifest

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseObjectsNamesEveryBadObjectByIndex(t *testing.T) {
	objs := []json.RawMessage{
		json.RawMessage(`{"file": "/m/a.mov", "parent_id": "p1", "path": "x/a.mov"}`),
		json.RawMessage(`{"url": "https://cdn.example.com/b.mov?sig=secret", "parent_id": "bad id!"}`),
		json.RawMessage("{\n \"url\": \"https://cdn.example.com/c.mov\",\n \"parent_id\": \"p1\", \"size\": 3}"),
		json.RawMessage(`{"file": "/m/d.mov", "parent_id": "p1", "colour": "red"}`),
		json.RawMessage(`[1]`),
	}
	_, err := ParseObjects(objs, nil)
	var bad Errors
	if !errors.As(err, &bad) {
		t.Fatalf("err = %v, want Errors", err)
	}
	got := map[int]string{}
	for _, e := range bad {
		got[e.Line] += e.Field + ";"
	}
	want := map[int]string{2: "parent_id;", 4: ";", 5: ";"}
	if len(got) != len(want) {
		t.Fatalf("errors on lines %v, want %v (%v)", got, want, bad)
	}
	for l, f := range want {
		if got[l] != f {
			t.Errorf("line %d: fields %q, want %q (%v)", l, got[l], f, bad)
		}
	}
	entries, err := ParseObjects(objs[:1:1], nil)
	if err != nil || len(entries) != 1 || entries[0].Path != "x/a.mov" || entries[0].TokenRef != DefaultTokenRef {
		t.Fatalf("good object: %+v, %v", entries, err)
	}
	entries, err = ParseObjects(objs[2:3], nil)
	if err != nil || entries[0].Path != "c.mov" || entries[0].Size != 3 {
		t.Fatalf("multi-line object: %+v, %v", entries, err)
	}
}

func TestCheckFieldErrorIsReportedUnderItsField(t *testing.T) {
	objs := []json.RawMessage{json.RawMessage(`{"file": "/m/a.mov", "parent_id": "p1"}`)}
	_, err := ParseObjects(objs, func(Entry) error { return &FieldError{Field: "file", Msg: "no such file"} })
	var bad Errors
	if !errors.As(err, &bad) || len(bad) != 1 || bad[0].Field != "file" || bad[0].Msg != "no such file" || bad[0].Line != 1 {
		t.Fatalf("err = %#v", err)
	}
}
