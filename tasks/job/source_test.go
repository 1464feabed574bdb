package job

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/seal"
)

// presigned has every part that must not sit in Redis in plaintext.
const presigned = "https://user:pa55word@cdn.example.com/shoot/a%20b.mov?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=deadbeefcafe#frag"

// secretsOf are the substrings of presigned that only the seal may hold.
var secretsOf = []string{"pa55word", "user:", "AKIAEXAMPLE", "deadbeefcafe", "X-Amz", "frag"}

func testBox(t testing.TB, b byte) *seal.Box {
	t.Helper()
	box, err := seal.New(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func remoteUpload(src string) *Upload {
	return &Upload{V: 1, TokenRef: "default", ParentID: "root-1", Path: "shoot/b.mov", SourceURL: src, Size: 10}
}

// dumpRedis is every key and value in Redis, raw: what an operator with
// redis-cli or asynq's CLI sees.
func dumpRedis(t *testing.T, rdb *redis.Client) []byte {
	t.Helper()
	ctx := context.Background()
	var out bytes.Buffer
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		out.WriteString(k + "\n")
		switch rdb.Type(ctx, k).Val() {
		case "string":
			out.WriteString(rdb.Get(ctx, k).Val())
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				out.WriteString(f + "=" + v + "\n")
			}
		case "list":
			out.WriteString(strings.Join(rdb.LRange(ctx, k, 0, -1).Val(), "\n"))
		case "set":
			out.WriteString(strings.Join(rdb.SMembers(ctx, k).Val(), "\n"))
		case "zset":
			out.WriteString(strings.Join(rdb.ZRange(ctx, k, 0, -1).Val(), "\n"))
		}
		out.WriteString("\n")
	}
	return out.Bytes()
}

func TestSealedSourceURLInRedisHoldsNoCredentials(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := context.Background()
	box := testBox(t, 7)
	e := NewEnqueuer(rdb)
	e.Box = box
	u := remoteUpload(presigned)
	if _, err := e.Enqueue(ctx, "b1", []*Upload{u}); err != nil {
		t.Fatal(err)
	}
	raw := dumpRedis(t, rdb)
	if !bytes.Contains(raw, []byte("cdn.example.com/shoot/a%20b.mov")) {
		t.Fatalf("the task is not in Redis, or lost its public URL:\n%s", raw)
	}
	for _, s := range secretsOf {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("Redis holds %q of the source URL in plaintext", s)
		}
	}
	info, err := asynq.NewInspectorFromRedisClient(rdb).GetTaskInfo(SmallQueue("default"), TaskID(u))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeUpload(info.Type, info.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if got.SourceURL != "https://cdn.example.com/shoot/a%20b.mov" || got.SourceSealed == "" {
		t.Errorf("payload source_url %q sealed %q", got.SourceURL, got.SourceSealed)
	}
	src, err := got.Source(box)
	if err != nil || src != presigned {
		t.Errorf("Source = %q, %v; want the URL enqueued", src, err)
	}
}

func TestSourceURLWithCredentialsWithoutKeyIsRefused(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := context.Background()
	for _, src := range []string{
		"https://cdn.example.com/a.mov?sig=1",
		"https://u:p@cdn.example.com/a.mov",
		"https://cdn.example.com/a.mov#token=1",
	} {
		ups := []*Upload{remoteUpload("https://cdn.example.com/plain.mov"), remoteUpload(src)}
		ups[0].Path = "plain.mov"
		_, err := NewEnqueuer(rdb).Enqueue(ctx, "b1", ups)
		var inv *InvalidError
		if !errors.As(err, &inv) || len(inv.Items) != 1 || inv.Items[0].Index != 1 {
			t.Fatalf("%s: Enqueue = %v; want an InvalidError for item 1", src, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "payload field source_url:") || !strings.Contains(msg, "FRAMEQ_SECRET_KEY") {
			t.Errorf("%s: error %q names neither the field nor FRAMEQ_SECRET_KEY", src, msg)
		}
	}
	if keys := rdb.Keys(ctx, "asynq:*:t:*").Val(); len(keys) != 0 {
		t.Errorf("a refused batch left tasks: %v", keys)
	}
	// A task built past Check is refused too.
	raw := remoteUpload(presigned)
	raw.Batch = "b1"
	if _, err := NewTask(raw, Queue("default"), 1, 0); err == nil || !strings.Contains(err.Error(), "payload field source_url: carries credentials") {
		t.Errorf("NewTask with an unsealed presigned URL = %v", err)
	}
}

func TestPlainSourceURLIsNotSealed(t *testing.T) {
	u := remoteUpload("https://cdn.example.com/a.mov")
	if _, err := Check("b1", []*Upload{u}, nil); err != nil {
		t.Fatal(err)
	}
	if u.SourceSealed != "" || u.SourceURL != "https://cdn.example.com/a.mov" {
		t.Errorf("plain URL changed: %q sealed %q", u.SourceURL, u.SourceSealed)
	}
	if src, err := u.Source(nil); err != nil || src != u.SourceURL {
		t.Errorf("Source = %q, %v", src, err)
	}
}

// Checking a checked batch again (the intake does) keeps the first seal.
func TestCheckTwiceSealsOnce(t *testing.T) {
	box := testBox(t, 7)
	u := remoteUpload(presigned)
	if _, err := Check("b-check", []*Upload{u}, box); err != nil {
		t.Fatal(err)
	}
	first := u.SourceSealed
	if _, err := Check("b2", []*Upload{u}, box); err != nil || u.SourceSealed != first || u.Batch != "b2" {
		t.Fatalf("second Check: %v, sealed changed %v, batch %q", err, u.SourceSealed != first, u.Batch)
	}
	if src, err := u.Source(box); err != nil || src != presigned {
		t.Errorf("Source = %q, %v", src, err)
	}
}

func TestTamperedSealedSourceIsRefusedNamingTheField(t *testing.T) {
	box := testBox(t, 7)
	sealed := func() *Upload {
		u := remoteUpload(presigned)
		if _, err := Check("b1", []*Upload{u}, box); err != nil {
			t.Fatal(err)
		}
		return u
	}
	flip := func(s string) string {
		b, _ := base64.RawURLEncoding.DecodeString(s)
		b[len(b)-1] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	cases := map[string]struct {
		edit func(*Upload)
		box  *seal.Box
	}{
		"flipped ciphertext": {func(u *Upload) { u.SourceSealed = flip(u.SourceSealed) }, box},
		"other source_url":   {func(u *Upload) { u.SourceURL = "https://evil.example.com/shoot/a%20b.mov" }, box},
		"other key":          {func(*Upload) {}, testBox(t, 8)},
		"no key":             {func(*Upload) {}, nil},
	}
	for name, c := range cases {
		u := sealed()
		c.edit(u)
		b, _ := u.Encode()
		got, err := DecodeUpload(TypeRemoteUpload, b)
		if err != nil {
			t.Fatalf("%s: a well-formed payload does not decode: %v", name, err)
		}
		src, err := got.Source(c.box)
		if !errors.Is(err, ErrSealed) || !strings.Contains(err.Error(), "payload field source_sealed:") || src != "" {
			t.Errorf("%s: Source = %q, %v; want ErrSealed naming source_sealed", name, src, err)
		}
		if strings.Contains(err.Error(), "deadbeef") {
			t.Errorf("%s: error shows the secret: %v", name, err)
		}
	}
}

// Payloads enqueued before sealing hold the whole URL: they still work.
func TestUnsealedPayloadOfOldProducersDecodes(t *testing.T) {
	b, _ := json.Marshal(map[string]any{"v": 1, "batch": "b1", "token_ref": "default", "parent_id": "root-1",
		"path": "b.mov", "size": 10, "source_url": presigned})
	u, err := DecodeUpload(TypeRemoteUpload, b)
	if err != nil {
		t.Fatal(err)
	}
	if src, err := u.Source(nil); err != nil || src != presigned {
		t.Errorf("Source = %q, %v", src, err)
	}
}

func TestMalformedSealedPayloadIsRefused(t *testing.T) {
	box := testBox(t, 7)
	u := remoteUpload(presigned)
	if _, err := Check("b1", []*Upload{u}, box); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		typ   string
		edit  func(map[string]any)
		field string
	}{
		"garbage seal":        {TypeRemoteUpload, func(m map[string]any) { m["source_sealed"] = "not*base64" }, "source_sealed"},
		"short seal":          {TypeRemoteUpload, func(m map[string]any) { m["source_sealed"] = "AQID" }, "source_sealed"},
		"query beside a seal": {TypeRemoteUpload, func(m map[string]any) { m["source_url"] = presigned }, "source_url"},
		"seal on a local file": {TypeUpload, func(m map[string]any) {
			delete(m, "source_url")
			m["file"] = "/media/b.mov"
		}, "source_url"},
	} {
		var m map[string]any
		b, _ := u.Encode()
		_ = json.Unmarshal(b, &m)
		c.edit(m)
		b, _ = json.Marshal(m)
		if _, err := DecodeUpload(c.typ, b); err == nil || !strings.Contains(err.Error(), "payload field "+c.field+":") {
			t.Errorf("%s: DecodeUpload = %v; want an error naming %s", name, err, c.field)
		}
	}
}
