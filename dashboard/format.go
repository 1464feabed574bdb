package dashboard

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/ident"
)

// Task types of frameq's upload payloads, as in package tasks. They are
// repeated here so the dashboard depends on nothing but the payload's JSON
// and package ident's rules for its fields.
const (
	typeUpload       = "frameio:asset.upload"
	typeRemoteUpload = "frameio:asset.remote_upload"
	// typeWebhook is package tasks/notify's completion webhook; its
	// payload names the batch only (the callback URL stays in Redis).
	typeWebhook = "frameq:webhook"
)

// upload decodes the fields of tasks.Upload that the dashboard may show.
// Every other field of a payload is dropped unread.
type upload struct {
	V         int    `json:"v"`
	Batch     string `json:"batch"`
	TokenRef  string `json:"token_ref"`
	ParentID  string `json:"parent_id"`
	Path      string `json:"path"`
	File      string `json:"file"`
	Size      int64  `json:"size"`
	SourceURL string `json:"source_url"`
	Filetype  string `json:"filetype"`
}

// lineWidth is the longest line of a shown payload, in characters.
// asynqmon shows a payload in a box 400 px wide (about 45 characters of its
// monospace font) that cuts longer lines off; JSON, which asynqmon would
// re-indent, cannot be wrapped, so payloads show as "key: value" lines.
const lineWidth = 38

// field is one line (or more, wrapped) of a shown payload.
type field struct{ key, value string }

// maxShown bounds each shown string, so a huge payload stays a table row.
const maxShown = 300

// FormatPayload renders an upload task's payload for the dashboard: batch,
// token ref, target folder id, path in Frame.io, local file, source URL
// without its query string (presigned URLs carry their signature there),
// size and file type, one "key: value" per line. A value too long for the
// payload box continues on lines indented by two spaces (deleting each
// newline and its two spaces gives it back whole). Anything else, and any
// payload that is not a valid frameq upload, shows as
// "unreadable payload (N bytes)".
func FormatPayload(taskType string, payload []byte) string {
	if taskType == typeWebhook {
		return formatWebhook(payload)
	}
	u, ok := decodeUpload(taskType, payload)
	if !ok {
		return fmt.Sprintf("unreadable payload (%d bytes)", len(payload))
	}
	return render([]field{
		{"batch", u.Batch},
		{"token_ref", u.TokenRef},
		{"folder_id", u.ParentID},
		{"path", clip(u.Path)},
		{"file", clip(u.File)},
		{"source", clip(sourceURL(u.SourceURL))},
		{"size", humanBytes(u.Size)},
		{"filetype", clip(u.Filetype)},
	})
}

// formatWebhook shows a webhook task's batch and when it finished.
func formatWebhook(payload []byte) string {
	var p struct {
		Batch string `json:"batch"`
		Since int64  `json:"since"`
	}
	if json.Unmarshal(payload, &p) != nil || ident.ID("batch", p.Batch) != nil {
		return fmt.Sprintf("unreadable payload (%d bytes)", len(payload))
	}
	return render([]field{
		{"webhook_for_batch", p.Batch},
		{"finished_at", time.Unix(p.Since, 0).UTC().Format(time.RFC3339)},
	})
}

// render writes the non-empty fields, each on its own line when it fits
// there, else with its value on the lines below.
func render(fields []field) string {
	var b strings.Builder
	for _, f := range fields {
		if f.value == "" {
			continue
		}
		v := printable(f.value)
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		if utf8.RuneCountInString(f.key)+2+utf8.RuneCountInString(v) <= lineWidth {
			b.WriteString(f.key + ": " + v)
			continue
		}
		b.WriteString(f.key + ":")
		for _, line := range wrap(v, lineWidth-2) {
			b.WriteString("\n  " + line)
		}
	}
	return b.String()
}

// printable quotes a value holding a control character, so a file name
// cannot forge a line of its own.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// wrap cuts s into lines of at most width runes, after a "/", " ", "-",
// "?" or "&" where one falls in a line's second half, else at width.
func wrap(s string, width int) []string {
	var lines []string
	for r := []rune(s); len(r) > 0; {
		if len(r) <= width {
			return append(lines, string(r))
		}
		cut := width
		for i := width - 1; i >= width/2; i-- {
			if strings.ContainsRune("/ -?&", r[i]) {
				cut = i + 1
				break
			}
		}
		lines = append(lines, string(r[:cut]))
		r = r[cut:]
	}
	return lines
}

func decodeUpload(taskType string, payload []byte) (*upload, bool) {
	var u upload
	if err := json.Unmarshal(payload, &u); err != nil || u.V != 1 {
		return nil, false
	}
	if ident.ID("batch", u.Batch) != nil || ident.TokenRef(u.TokenRef) != nil ||
		ident.ID("parent_id", u.ParentID) != nil || ident.Path(u.Path) != nil || u.Size < 0 {
		return nil, false
	}
	switch taskType {
	case typeUpload:
		return &u, strings.HasPrefix(u.File, "/") && u.SourceURL == ""
	case typeRemoteUpload:
		return &u, u.File == "" && sourceURL(u.SourceURL) != ""
	}
	return nil, false
}

// sourceURL shows a remote upload's source through apierr.RedactURL, the one
// definition of a shown URL; it is "" for anything that is not an absolute
// http(s) URL, which no worker could fetch.
func sourceURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return apierr.RedactURL(raw)
}

func clip(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(div), "KMGTPE"[exp], n)
}

// FormatResult renders a task's result. A JSON object shows its scalar
// fields, except those whose name suggests a secret, with URL queries
// hidden; anything else shows only its size.
func FormatResult(_ string, result []byte) string {
	if len(result) == 0 {
		return ""
	}
	var m map[string]any
	if err := json.Unmarshal(result, &m); err != nil {
		return fmt.Sprintf("result (%d bytes)", len(result))
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if secretName(k) {
			out[k] = "[hidden]"
			continue
		}
		switch v := v.(type) {
		case string:
			if strings.Contains(v, "://") {
				v = apierr.RedactURL(v)
			}
			out[k] = clip(v)
		case float64, bool, nil:
			out[k] = v
		default:
			out[k] = "[not shown]"
		}
	}
	b, _ := json.Marshal(out) // a map of strings, numbers and bools always encodes
	return string(b)
}

func secretName(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"token", "secret", "password", "passwd", "auth", "signature", "credential", "cookie", "key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
