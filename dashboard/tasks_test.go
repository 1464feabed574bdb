package dashboard_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/frameq/frameq/dashboard"
	"github.com/frameq/frameq/tasks/job"
)

// TestFormatsRealPayloads guards the formatter's copy of the payload
// format against drift in package tasks.
func TestFormatsRealPayloads(t *testing.T) {
	local := job.Upload{V: job.PayloadVersion, Batch: "b1", TokenRef: "acme", ParentID: "f9",
		Path: "day1/a.mov", File: "/data/a.mov", Size: 10, MtimeNS: 123456789}
	remote := job.Upload{V: job.PayloadVersion, Batch: "b1", TokenRef: "acme", ParentID: "f9",
		Path: "day1/b.mp4", SourceURL: "https://h.example/b.mp4?sig=SECRET", Filetype: "video/mp4"}
	for typ, u := range map[string]job.Upload{job.TypeUpload: local, job.TypeRemoteUpload: remote} {
		b, err := u.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := job.DecodeUpload(typ, b); err != nil {
			t.Fatalf("fixture invalid: %v", err)
		}
		got := dashboard.FormatPayload(typ, b)
		for _, want := range []string{"batch: b1", "token_ref: acme", "folder_id: f9", "path: " + u.Path} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: %s lacks %s", typ, got, want)
			}
		}
		if strings.Contains(got, "SECRET") || strings.Contains(got, "123456789") {
			t.Errorf("%s: shows a field it should not: %s", typ, got)
		}
	}

	// A new payload field must be reviewed here: shown safely, or dropped.
	reviewed := "v batch token_ref parent_id path file size mtime_ns source_url source_sealed filetype force"
	for f := range reflect.TypeFor[job.Upload]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !strings.Contains(" "+reviewed+" ", " "+name+" ") {
			t.Errorf("job.Upload has a new field %q: decide whether the dashboard shows it", name)
		}
	}
}
