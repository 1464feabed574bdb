package frameio

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// sampleAsset is a create response in Frame.io's documented shape.
const sampleAsset = `{
  "id": "9b3c6f0e-1111-2222-3333-444455556666",
  "name": "clip.mov",
  "type": "file",
  "parent_id": "root-1",
  "project_id": "proj-1",
  "filesize": 20971520,
  "filetype": "video/quicktime",
  "upload_urls": [
    "https://frameio-uploads.s3.amazonaws.com/parts/9b3c/01?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=` + testSig + `",
    "https://frameio-uploads.s3.amazonaws.com/parts/9b3c/02?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=` + testSig + `"
  ],
  "inserted_at": "2025-01-02T03:04:05.123456Z",
  "upload_completed_at": null,
  "extra_field": {"ignored": true}
}`

func TestAssetJSON(t *testing.T) {
	var a Asset
	if err := json.Unmarshal([]byte(sampleAsset), &a); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)
	if a.ID != "9b3c6f0e-1111-2222-3333-444455556666" || a.Type != TypeFile || a.ParentID != "root-1" ||
		a.ProjectID != "proj-1" || a.Filesize != 20<<20 || a.Filetype != "video/quicktime" ||
		len(a.UploadURLs) != 2 || !a.InsertedAt.Equal(want) || a.UploadCompletedAt != nil {
		t.Errorf("decoded %s", a)
	}
	var done Asset
	json.Unmarshal([]byte(`{"id":"x","upload_completed_at":"2025-01-02T03:04:06Z"}`), &done)
	if done.UploadCompletedAt == nil {
		t.Error("upload_completed_at not decoded")
	}
}

func TestAssetPrintingHidesUploadQueries(t *testing.T) {
	var a Asset
	if err := json.Unmarshal([]byte(sampleAsset), &a); err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for _, v := range []any{a, &a, []Asset{a}, struct{ A Asset }{a}} {
			noLeak(t, fmt.Sprintf(verb, v))
		}
	}
	s := a.String()
	if !strings.Contains(s, "https://frameio-uploads.s3.amazonaws.com/parts/9b3c/01?[REDACTED]") || !strings.Contains(s, `Name:"clip.mov"`) {
		t.Errorf("String() = %s", s)
	}
	src := Source{URL: "https://user:pw@media.example.com/a.mov?sig=" + testSig}
	for _, v := range []any{src, &src, CreateAsset{Source: &src}} {
		noLeak(t, fmt.Sprintf("%+v %#v", v, v))
	}
	if got := src.String(); got != "frameio.Source{URL:https://[REDACTED]@media.example.com/a.mov?[REDACTED]}" {
		t.Errorf("Source.String() = %s", got)
	}
}

func TestCreateAssetJSON(t *testing.T) {
	tests := []struct {
		in   CreateAsset
		want string
	}{
		{CreateAsset{Type: TypeFile, Name: "empty.txt", Filetype: "text/plain"},
			`{"type":"file","name":"empty.txt","filetype":"text/plain","filesize":0}`},
		{CreateAsset{Type: TypeFolder, Name: "day 1"},
			`{"type":"folder","name":"day 1","filesize":0}`},
		{CreateAsset{Type: TypeFile, Name: "r.mov", Filesize: 10, Source: &Source{URL: "https://e/x"},
			Description: "d", Properties: map[string]any{"k": 1}},
			`{"type":"file","name":"r.mov","filesize":10,"source":{"url":"https://e/x"},"description":"d","properties":{"k":1}}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.in)
		if err != nil || string(b) != tt.want {
			t.Errorf("got %s, %v\nwant %s", b, err, tt.want)
		}
	}
}
