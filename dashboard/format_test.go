package dashboard

import (
	"strconv"
	"strings"
	"testing"
)

func TestFormatPayloadUpload(t *testing.T) {
	p := `{"v":1,"batch":"b-1","token_ref":"acme","parent_id":"folder-9","path":"shoot/day1/a.mov","file":"/data/a.mov","size":1572864,"mtime_ns":5,"filetype":"video/quicktime","token":"fio-u-SECRET","bearer":"SECRET2"}`
	got := FormatPayload(typeUpload, []byte(p))
	want := `{"batch":"b-1","token_ref":"acme","folder_id":"folder-9","path":"shoot/day1/a.mov","file":"/data/a.mov","size":"1.5 MiB (1572864 bytes)","filetype":"video/quicktime"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestFormatPayloadRemoteHidesQueryAndUserinfo(t *testing.T) {
	p := `{"v":1,"batch":"b","token_ref":"acme","parent_id":"f","path":"x.mp4","size":0,"source_url":"https://user:PASS@bucket.example.com/media/x.mp4?X-Amz-Signature=SIG#frag"}`
	got := FormatPayload(typeRemoteUpload, []byte(p))
	if !strings.Contains(got, `"source":"https://[REDACTED]@bucket.example.com/media/x.mp4?[REDACTED]#[REDACTED]"`) {
		t.Errorf("source not shown redacted: %s", got)
	}
	for _, secret := range []string{"PASS", "SIG", "frag", "user"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q leaked: %s", secret, got)
		}
	}
}

func TestFormatPayloadUnreadable(t *testing.T) {
	good := `{"v":1,"batch":"b","token_ref":"acme","parent_id":"f","path":"a","file":"/a","size":1}`
	cases := map[string]struct{ typ, payload string }{
		"not json":          {typeUpload, "fio-u-SECRET"},
		"unknown type":      {"email:send", good},
		"wrong version":     {typeUpload, strings.Replace(good, `"v":1`, `"v":2`, 1)},
		"token in ref":      {typeUpload, strings.Replace(good, `"acme"`, `"Bearer fio-u-SECRET"`, 1)},
		"negative size":     {typeUpload, strings.Replace(good, `"size":1`, `"size":-1`, 1)},
		"relative file":     {typeUpload, strings.Replace(good, `"/a"`, `"a"`, 1)},
		"remote with file":  {typeRemoteUpload, good},
		"remote bad scheme": {typeRemoteUpload, `{"v":1,"batch":"b","token_ref":"t","parent_id":"f","path":"a","source_url":"ftp://h/x?SECRET"}`},
		"array":             {typeUpload, `[1,2]`},
	}
	for name, c := range cases {
		got := FormatPayload(c.typ, []byte(c.payload))
		want := "unreadable payload (" + strconv.Itoa(len(c.payload)) + " bytes)"
		if got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
}

func TestFormatPayloadClipsLongStrings(t *testing.T) {
	long := strings.Repeat("é", 400)
	p := `{"v":1,"batch":"b","token_ref":"t","parent_id":"f","path":"` + long + `","file":"/a","size":1}`
	got := FormatPayload(typeUpload, []byte(p))
	if strings.Contains(got, long) || !strings.Contains(got, "…") {
		t.Fatalf("long path not clipped: %d bytes", len(got))
	}
}

func TestFormatResult(t *testing.T) {
	got := FormatResult(typeUpload, []byte(`{"asset_id":"a1","parts":3,"api_token":"SECRET","url":"https://h/p?sig=SECRET","redis":"redis://u:SECRET@h:6379/0","nested":{"x":"SECRET"}}`))
	want := `{"api_token":"[hidden]","asset_id":"a1","nested":"[not shown]","parts":3,"redis":"redis://[REDACTED]@h:6379/0","url":"https://h/p?[REDACTED]"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := FormatResult("", []byte("SECRET")); got != "result (6 bytes)" {
		t.Fatalf("non-JSON result: %q", got)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB (1024 bytes)", 5 << 40: "5.0 TiB (5497558138880 bytes)"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
