package job

import (
	"strings"
	"testing"
)

func validUpload() *Upload {
	return &Upload{V: 1, Batch: "b1", TokenRef: "default", ParentID: "root-1", Path: "a/b/c.mov", File: "/media/a/b/c.mov", Size: 10, MtimeNS: 1}
}

func TestDecodeUploadRoundTrip(t *testing.T) {
	u := validUpload()
	b, err := u.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeUpload(TypeUpload, b)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *u {
		t.Errorf("round trip: %+v, want %+v", got, u)
	}
	if got.Name() != "c.mov" || strings.Join(got.Folders(), "/") != "a/b" {
		t.Errorf("Name %q Folders %v", got.Name(), got.Folders())
	}
}

func TestDecodeUploadNamesTheBadField(t *testing.T) {
	cases := map[string]string{
		`{"v":2,"batch":"b","token_ref":"d","parent_id":"p","path":"x","file":"/x"}`:                            "field v",
		`{"v":1,"batch":"","token_ref":"d","parent_id":"p","path":"x","file":"/x"}`:                             "field batch",
		`{"v":1,"batch":"b","token_ref":"d e","parent_id":"p","path":"x","file":"/x"}`:                          "field token_ref",
		`{"v":1,"batch":"b","token_ref":"d","parent_id":"","path":"x","file":"/x"}`:                             "field parent_id",
		`{"v":1,"batch":"b","token_ref":"d","parent_id":"p","path":"../../etc/passwd","file":"/x"}`:             "field path",
		`{"v":1,"batch":"b","token_ref":"d","parent_id":"p","path":"/abs","file":"/x"}`:                         "field path",
		`{"v":1,"batch":"b","token_ref":"d","parent_id":"p","path":"x","file":"rel"}`:                           "field file",
		`{"v":1,"batch":"b","token_ref":"d","parent_id":"p","path":"x","file":"/x","size":-1}`:                  "field size",
		`{"v":1,"batch":"b","token_ref":"d","parent_id":"p","path":"x","file":"/x","size":9000000000000000000}`: "field size",
		`{"v":1,"batch":"b","token_ref":"d","parent_id":"p","path":"x","file":"/x","token":"secret"}`:           "unknown field",
		`{"v":1,"batch":"b","token_ref":"d","parent_id":"p","path":"x","file":"/x"} {}`:                         "trailing",
		`not json`: "payload",
	}
	for in, want := range cases {
		_, err := DecodeUpload(TypeUpload, []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
	remote := `{"v":1,"batch":"b","token_ref":"d","parent_id":"p","path":"x","source_url":"ftp://h/x"}`
	if _, err := DecodeUpload(TypeRemoteUpload, []byte(remote)); err == nil || !strings.Contains(err.Error(), "source_url") {
		t.Errorf("ftp source accepted: %v", err)
	}
}

func TestIdempotencyKey(t *testing.T) {
	a, b := validUpload(), validUpload()
	b.Batch = "another-batch"
	if IdempotencyKey(a) != IdempotencyKey(b) {
		t.Error("the batch changed the key of an unforced upload: a re-run would upload again")
	}
	b.MtimeNS++
	if IdempotencyKey(a) == IdempotencyKey(b) {
		t.Error("a modified file kept its key")
	}
	c, d := validUpload(), validUpload()
	c.Force, d.Force, d.Batch = true, true, "b2"
	if IdempotencyKey(c) == IdempotencyKey(d) || IdempotencyKey(c) == IdempotencyKey(a) {
		t.Error("forced uploads must get a key of their own per batch")
	}
	if !strings.HasPrefix(TaskID(a), "up_") || len(TaskID(a)) != 35 {
		t.Errorf("TaskID %q", TaskID(a))
	}
}

func FuzzDecodeUpload(f *testing.F) {
	b, _ := validUpload().Encode()
	f.Add(string(b), true)
	f.Add(`{"v":1,"source_url":"https://x/y"}`, false)
	f.Fuzz(func(t *testing.T, in string, local bool) {
		typ := TypeRemoteUpload
		if local {
			typ = TypeUpload
		}
		u, err := DecodeUpload(typ, []byte(in))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		// Whatever decodes is safe to act on.
		if u.V != PayloadVersion || containsDotDot(u.Path) || strings.HasPrefix(u.Path, "/") || u.Size < 0 {
			t.Fatalf("accepted %+v", u)
		}
	})
}

func containsDotDot(p string) bool {
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return true
		}
	}
	return false
}
