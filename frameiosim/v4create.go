package frameiosim

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxV4FileSize is V4's documented maximum (5 TB, decimal).
const maxV4FileSize = 5_000_000_000_000

// mediaTypes fixes the media types of common media extensions, which
// mime.TypeByExtension only knows when the host's mime.types does.
var mediaTypes = map[string]string{
	".mov": "video/quicktime", ".mp4": "video/mp4", ".m4v": "video/x-m4v", ".mxf": "application/mxf",
	".avi": "video/x-msvideo", ".mkv": "video/x-matroska", ".webm": "video/webm",
	".wav": "audio/wav", ".mp3": "audio/mpeg", ".aif": "audio/aiff", ".aiff": "audio/aiff",
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff",
	".tiff": "image/tiff", ".pdf": "application/pdf", ".txt": "text/plain",
}

// MediaType is the media_type the V4 simulator chooses for a file name:
// from its extension (a fixed table of media types, then
// mime.TypeByExtension without parameters), else application/octet-stream.
// Part PUTs of the file must send it as Content-Type.
func MediaType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := mediaTypes[ext]; ok {
		return t
	}
	if ext != "" {
		if mt, _, err := mime.ParseMediaType(mime.TypeByExtension(ext)); err == nil {
			return mt
		}
	}
	return "application/octet-stream"
}

// v4Fields is the "data" object of a V4 request, field by field.
type v4Fields map[string]json.RawMessage

// decodeV4 reads {"data":{...}} strictly: anything but "data" at the top,
// or a data field not in allowed, is a 422 naming it by pointer.
func decodeV4(r *http.Request, allowed ...string) (v4Fields, *reply) {
	fail := func(pointer, format string, args ...any) (v4Fields, *reply) {
		rep := v4Error(http.StatusUnprocessableEntity, pointer, format, args...)
		return nil, &rep
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxCreateBody))
	if err != nil {
		return fail("", "Cannot read the body (at most %d bytes)", maxCreateBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fail("/data", "Missing field: data")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return fail("", "Malformed JSON body: want an object with a data object")
	}
	for _, k := range sortedKeys(top) {
		if k != "data" {
			return fail("/"+k, "Unexpected field: %s", k)
		}
	}
	raw, ok := top["data"]
	if !ok {
		return fail("/data", "Missing field: data")
	}
	var data v4Fields
	if err := json.Unmarshal(raw, &data); err != nil || data == nil {
		return fail("/data", "Invalid value: data must be an object")
	}
	for _, k := range sortedKeys(data) {
		if !slices.Contains(allowed, k) {
			return fail("/data/"+k, "Unexpected field: %s", k)
		}
	}
	return data, nil
}

// str reads a required string field.
func (d v4Fields) str(name string) (string, *reply) {
	raw, ok := d[name]
	if !ok {
		rep := v4Error(http.StatusUnprocessableEntity, "/data/"+name, "Missing field: %s", name)
		return "", &rep
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		rep := v4Error(http.StatusUnprocessableEntity, "/data/"+name, "Invalid value: %s must be a string", name)
		return "", &rep
	}
	return v, nil
}

// int reads a required integer field.
func (d v4Fields) int(name string) (int64, *reply) {
	raw, ok := d[name]
	if !ok {
		rep := v4Error(http.StatusUnprocessableEntity, "/data/"+name, "Missing field: %s", name)
		return 0, &rep
	}
	var v int64
	if err := json.Unmarshal(raw, &v); err != nil {
		rep := v4Error(http.StatusUnprocessableEntity, "/data/"+name, "Invalid value: %s must be an integer", name)
		return 0, &rep
	}
	return v, nil
}

// name reads and checks the name field.
func (d v4Fields) name() (string, *reply) {
	n, rep := d.str("name")
	if rep != nil {
		return "", rep
	}
	var problem string
	switch {
	case n == "":
		problem = "is empty"
	case utf8.RuneCountInString(n) > 255:
		problem = "is longer than 255 characters"
	case strings.Contains(n, "/"):
		problem = "contains '/'"
	case strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		problem = "contains a control character"
	}
	if problem != "" {
		out := v4Error(http.StatusUnprocessableEntity, "/data/name", "Invalid value: name %s", problem)
		return "", &out
	}
	return n, nil
}

// v4Create runs a create in folder c.id: the folder faults, the parent,
// the request (build), the create faults, then answer.
func (s *Server) v4Create(c *call, build func(v4Fields) (*asset, *reply), answer func(asset) reply, allowed ...string) reply {
	switch {
	case slices.Contains(c.faults.PaymentRequiredFolders, c.id):
		return accountLocked()
	case slices.Contains(c.faults.ForbiddenFolders, c.id):
		return v4Error(http.StatusForbidden, "", "You do not have permission to create in folder %s", c.id)
	}
	if _, rep := s.v4Asset(c, typeFolder); rep != nil {
		return *rep
	}
	fields, rep := decodeV4(c.r, allowed...)
	if rep != nil {
		return *rep
	}
	a, rep := build(fields)
	if rep != nil {
		return *rep
	}
	a.id, a.parentID, a.insertedAt, a.api = newID(), c.id, s.now(), "v4"
	if s.chance(c.faults.Create500) {
		s.failedCreates.Add(1)
		return v4Error(http.StatusInternalServerError, "", "Unable to complete the request")
	}
	if a.kind == typeFile {
		s.startFile(a)
	}
	if err := s.store.add(a, true); err != nil {
		return v4Error(http.StatusNotFound, "", "Folder %s not found", c.id)
	}
	if s.chance(c.faults.LostCreate) {
		s.lostCreates.Add(1)
		return v4Error(http.StatusInternalServerError, "", "Unable to complete the request")
	}
	if s.chance(c.faults.ResetCreate) {
		s.lostCreates.Add(1)
		return reply{reset: true}
	}
	return answer(*a)
}

// startFile gives a new V4 file its upload, or starts its remote fetch.
func (s *Server) startFile(a *asset) {
	if a.sourceURL != "" { // Frame.io fetches remote uploads itself
		a.partsInAt, a.completedAt = a.insertedAt, a.insertedAt.Add(s.cfg.CompleteAfter)
		return
	}
	a.upload = newUpload(a.filesize, s.cfg.PartSize, a.insertedAt, s.cfg.URLExpiry)
}

func (s *Server) v4CreateFolder(c *call) reply {
	build := func(d v4Fields) (*asset, *reply) {
		name, rep := d.name()
		return &asset{name: name, kind: typeFolder}, rep
	}
	answer := func(a asset) reply {
		return reply{status: http.StatusCreated, body: v4Data{Data: s.v4View(a)}}
	}
	return s.v4Create(c, build, answer, "name")
}

func (s *Server) v4LocalUpload(c *call) reply {
	build := func(d v4Fields) (*asset, *reply) {
		name, rep := d.name()
		if rep != nil {
			return nil, rep
		}
		size, rep := d.int("file_size")
		if rep != nil {
			return nil, rep
		}
		if size < 1 || size > maxV4FileSize {
			out := v4Error(http.StatusUnprocessableEntity, "/data/file_size", "Invalid value: file_size %d is not within 1 byte … 5 TB", size)
			return nil, &out
		}
		return &asset{name: name, kind: typeFile, filetype: MediaType(name), filesize: size}, nil
	}
	answer := func(a asset) reply {
		return reply{status: http.StatusCreated, body: v4Data{Data: s.v4UploadView(c.r, a)}}
	}
	return s.v4Create(c, build, answer, "name", "file_size")
}

func (s *Server) v4RemoteUpload(c *call) reply {
	build := func(d v4Fields) (*asset, *reply) {
		name, rep := d.name()
		if rep != nil {
			return nil, rep
		}
		src, rep := d.str("source_url")
		if rep != nil {
			return nil, rep
		}
		if u, err := url.Parse(src); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			out := v4Error(http.StatusUnprocessableEntity, "/data/source_url", "Invalid value: source_url is not an absolute http(s) URL")
			return nil, &out
		}
		return &asset{name: name, kind: typeFile, filetype: MediaType(name), sourceURL: src}, nil
	}
	answer := func(a asset) reply {
		status := "/v4/accounts/" + c.acct.id + "/files/" + a.id + "/status"
		return reply{status: http.StatusAccepted, body: v4Data{Data: s.v4View(a), Links: map[string]string{"status": status}}}
	}
	return s.v4Create(c, build, answer, "name", "source_url")
}
