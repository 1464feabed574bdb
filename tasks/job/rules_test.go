package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/tasks/records"
)

// Payloads no worker could ever serve, each with the field its error must
// name. "Acme" passed before package ident: config lower-cases
// FRAMEQ_TOKEN_ACME to "acme", so no worker can hold a token "Acme".
var unservable = []struct {
	name, field string
	edit        func(*Upload)
}{
	{"upper-case token_ref", "token_ref", func(u *Upload) { u.TokenRef = "Acme" }},
	{"dotted token_ref", "token_ref", func(u *Upload) { u.TokenRef = "a.b" }},
	{"token_ref over 64", "token_ref", func(u *Upload) { u.TokenRef = strings.Repeat("r", 65) }},
	{"newline in path", "path", func(u *Upload) { u.Path = "a/b\nforged log line.mov" }},
	{"escape in path", "path", func(u *Upload) { u.Path = "a\x1b[2Jb.mov" }},
	{"C1 control in path", "path", func(u *Upload) { u.Path = "a\u0085b.mov" }},
}

func TestUnservablePayloadIsRefusedNamingTheField(t *testing.T) {
	for _, c := range unservable {
		u := validUpload()
		c.edit(u)
		want := "payload field " + c.field + ":"
		if err := u.Validate(TypeUpload); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Validate = %v, want an error containing %q", c.name, err, want)
		}
		if _, err := NewTask(u, Queue(u.TokenRef), 1, 0); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: NewTask = %v, want an error containing %q", c.name, err, want)
		}
	}
}

// The Enqueuer refuses them against a real Redis, and leaves no task there.
func TestEnqueuerRefusesUnservablePayload(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := context.Background()
	for _, c := range unservable {
		u := validUpload()
		c.edit(u)
		_, err := NewEnqueuer(rdb).Enqueue(ctx, "b1", []*Upload{u})
		if err == nil || !strings.Contains(err.Error(), "payload field "+c.field+":") {
			t.Errorf("%s: Enqueue = %v, want an error naming %s", c.name, err, c.field)
		}
	}
	keys, err := rdb.Keys(ctx, "asynq:*:t:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("tasks in Redis after refused enqueues: %v", keys)
	}
	// Nor a batch counting a task that never was.
	st, err := records.NewBatches(rdb).Status(ctx, "b1")
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Total(); n != 0 {
		t.Errorf("batch b1 counts %d tasks after refused enqueues: %v", n, st.Counts)
	}
}

// Check names every bad upload of a request by its index, not only the
// first, and a mixed request enqueues nothing.
func TestCheckListsEveryBadUploadAndEnqueuesNothing(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ups := []*Upload{validUpload(), validUpload(), validUpload(), validUpload()}
	ups[1].Path = "../escape.mov"
	ups[3].TokenRef = "Acme"
	for i, u := range ups {
		u.Path = strings.Replace(u.Path, ".mov", "", 1) + string(rune('a'+i)) + ".mov"
	}
	_, err := NewEnqueuer(rdb).Enqueue(context.Background(), "b2", ups)
	var inv *InvalidError
	if !errors.As(err, &inv) || len(inv.Items) != 2 || inv.Items[0].Index != 1 || inv.Items[1].Index != 3 {
		t.Fatalf("Enqueue = %v; want an InvalidError naming uploads 1 and 3", err)
	}
	if !strings.Contains(inv.Items[0].Err.Error(), "path") || !strings.Contains(inv.Items[1].Err.Error(), "token_ref") {
		t.Errorf("items %+v: want the path and the token_ref named", inv.Items)
	}
	if keys, _ := rdb.Keys(context.Background(), "*").Result(); len(keys) != 0 {
		t.Errorf("keys in Redis after a refused request: %v", keys)
	}
}

// Check is spread over the CPUs in parts of at least 1,024 uploads; it
// still names the first 100 bad uploads of the whole request, in order,
// and a bad seal after good validation (a URL with credentials, no key)
// is found in any part.
func TestCheckNamesTheFirst100BadUploadsInOrder(t *testing.T) {
	var ups []*Upload
	var want []int
	for i := range 5000 {
		u := validUpload()
		u.Path = fmt.Sprintf("clips/%04d.mov", i)
		if i%97 == 3 || (i > 4000 && i%5 == 0) { // bad ones in every part
			u.TokenRef = "Acme"
			want = append(want, i)
		}
		ups = append(ups, u)
	}
	_, err := Check("b", ups, nil)
	var inv *InvalidError
	if !errors.As(err, &inv) || len(inv.Items) != 100 {
		t.Fatalf("Check = %v; want 100 items", err)
	}
	for i, it := range inv.Items {
		if it.Index != want[i] {
			t.Fatalf("item %d is upload %d, want %d", i, it.Index, want[i])
		}
	}
	ups = ups[:0]
	for i := range 3000 {
		u := validUpload()
		u.Path = fmt.Sprintf("clips/%04d.mov", i)
		if i == 2500 {
			u.File, u.MtimeNS, u.SourceURL = "", 0, "https://user:secret@media.example.com/x.mov"
		}
		ups = append(ups, u)
	}
	if _, err := Check("b", ups, nil); !errors.As(err, &inv) || len(inv.Items) != 1 || inv.Items[0].Index != 2500 {
		t.Fatalf("Check of a URL with credentials and no key = %v; want upload 2500 named", err)
	}
}
