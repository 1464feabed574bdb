package dashboard

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
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

// payloadView is what the dashboard shows: JSON, which asynqmon's UI
// pretty-prints.
type payloadView struct {
	Batch    string `json:"batch"`
	TokenRef string `json:"token_ref"`
	FolderID string `json:"folder_id"`
	Path     string `json:"path"`
	File     string `json:"file,omitempty"`
	Source   string `json:"source,omitempty"`
	Size     string `json:"size"`
	Filetype string `json:"filetype,omitempty"`
}

// maxShown bounds each shown string, so a huge payload stays a table row.
const maxShown = 300

// FormatPayload renders an upload task's payload for the dashboard: batch,
// token ref, target folder id, path in Frame.io, local file, source URL
// without its query string (presigned URLs carry their signature there),
// size and file type. Anything else, and any payload that is not a valid
// frameq upload, shows as "unreadable payload (N bytes)".
func FormatPayload(taskType string, payload []byte) string {
	if taskType == typeWebhook {
		return formatWebhook(payload)
	}
	u, ok := decodeUpload(taskType, payload)
	if !ok {
		return fmt.Sprintf("unreadable payload (%d bytes)", len(payload))
	}
	v := payloadView{
		Batch:    u.Batch,
		TokenRef: u.TokenRef,
		FolderID: u.ParentID,
		Path:     clip(u.Path),
		File:     clip(u.File),
		Source:   clip(sourceURL(u.SourceURL)),
		Size:     humanBytes(u.Size),
		Filetype: clip(u.Filetype),
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("unreadable payload (%d bytes)", len(payload))
	}
	return string(b)
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
	b, _ := json.Marshal(map[string]string{"webhook_for_batch": p.Batch, "finished_at": time.Unix(p.Since, 0).UTC().Format(time.RFC3339)})
	return string(b)
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
