package dashboard

import (
	"strconv"
	"strings"
	"testing"
)

func TestFormatPayloadUpload(t *testing.T) {
	p := `{"v":1,"batch":"b-1","token_ref":"acme","parent_id":"folder-9","path":"shoot/day1/a.mov","file":"/data/a.mov","size":1572864,"mtime_ns":5,"filetype":"video/quicktime","token":"fio-u-SECRET","bearer":"SECRET2"}`
	got := FormatPayload(typeUpload, []byte(p))
	want := "batch: b-1\ntoken_ref: acme\nfolder_id: folder-9\npath: shoot/day1/a.mov\nfile: /data/a.mov\n" +
		"size: 1.5 MiB (1572864 bytes)\nfiletype: video/quicktime"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestFormatPayloadRemoteHidesQueryAndUserinfo(t *testing.T) {
	p := `{"v":1,"batch":"b","token_ref":"acme","parent_id":"f","path":"x.mp4","size":0,"source_url":"https://user:PASS@bucket.example.com/media/x.mp4?X-Amz-Signature=SIG#frag"}`
	got := FormatPayload(typeRemoteUpload, []byte(p))
	if !strings.Contains(unwrap(got), `source:https://[REDACTED]@bucket.example.com/media/x.mp4?[REDACTED]#[REDACTED]`) {
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

// unwrap undoes render's wrapping of long values.
func unwrap(s string) string { return strings.ReplaceAll(s, "\n  ", "") }

// Every line fits asynqmon's payload box, and unwrapping gives back each
// value whole: V4 folder ids, long paths and URLs, a file name with a
// newline (quoted, so it cannot pose as a field of its own).
func TestFormatPayloadFitsItsBox(t *testing.T) {
	long := "shoot/day 1/a much longer file name than most, from camera A, take 12 of a very long day on set.mov"
	folder := "7f3c0a4e-1c1b-4d8e-9a7e-0123456789ab"
	cases := []struct{ typ, payload string }{
		{typeUpload, `{"v":1,"batch":"b20261202T161224-ee4c8610","token_ref":"acme","parent_id":"` + folder + `","path":"` + long + `","file":"/media/` + long + `","size":1048576,"filetype":"application/vnd.apple.mpegurl"}`},
		{typeUpload, `{"v":1,"batch":"b","token_ref":"acme","parent_id":"adobe:` + strings.Repeat("x", 120) + `","path":"a","file":"/m/evil\ntoken_ref: forged","size":1}`},
		{typeRemoteUpload, `{"v":1,"batch":"b","token_ref":"acme","parent_id":"f","path":"x.mp4","size":0,"source_url":"https://bucket-with-a-long-name.s3.eu-west-1.amazonaws.com/media/2026/x.mp4?X-Amz-Signature=SIG"}`},
		{typeWebhook, `{"batch":"b20261202T161224-ee4c8610","since":1764692000}`},
	}
	for _, c := range cases {
		got := FormatPayload(c.typ, []byte(c.payload))
		for _, line := range strings.Split(got, "\n") {
			if n := len([]rune(line)); n > lineWidth {
				t.Errorf("line of %d > %d characters: %q in\n%s", n, lineWidth, line, got)
			}
		}
		if strings.HasPrefix(got, "unreadable") {
			t.Errorf("%s: %s", c.typ, got)
		}
	}
	got := unwrap(FormatPayload(cases[0].typ, []byte(cases[0].payload)))
	for _, want := range []string{"folder_id:" + folder, "path:" + long, "file:/media/" + long, "batch: b20261202T161224-ee4c8610"} {
		if !strings.Contains(got, want) {
			t.Errorf("unwrapped payload lacks %q:\n%s", want, got)
		}
	}
	forged := FormatPayload(cases[1].typ, []byte(cases[1].payload))
	if strings.Count(forged, "\ntoken_ref:") != 1 || !strings.Contains(unwrap(forged), `"/m/evil\ntoken_ref: forged"`) {
		t.Errorf("a newline in a file name forged a line:\n%s", forged)
	}
	if !strings.Contains(unwrap(FormatPayload(cases[2].typ, []byte(cases[2].payload))), "source:https://bucket-with-a-long-name.s3.eu-west-1.amazonaws.com/media/2026/x.mp4?[REDACTED]") {
		t.Error("long source URL not shown whole once unwrapped")
	}
}
