package notify

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/redistest"
	"github.com/frameq/frameq/seal"
	"github.com/frameq/frameq/tasks/records"
)

// A callback URL with a query is stored sealed and delivered whole; a
// worker without the key, or with another, gives up naming the field.
func TestSealedCallbackIsDeliveredWhole(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	box, _ := seal.New(bytes.Repeat([]byte{5}, seal.KeySize))
	var gotURL string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gotURL = r.URL.String() }))
	defer recv.Close()
	if _, err := SealCallback(nil, recv.URL+"/hook?token=abc"); err == nil || !strings.Contains(err.Error(), "FRAMEQ_SECRET_KEY") {
		t.Errorf("no key: %v, want a refusal naming FRAMEQ_SECRET_KEY", err)
	}
	if plain, err := SealCallback(nil, recv.URL+"/hook"); err != nil || plain != recv.URL+"/hook" {
		t.Errorf("a plain URL: %q %v, want it as it is", plain, err)
	}
	stored, err := SealCallback(box, recv.URL+"/hook?token=abc")
	if err != nil || strings.Contains(stored, "token") || strings.Contains(stored, "127.0.0.1") {
		t.Fatalf("sealed %q %v", stored, err)
	}
	st := NewStore(rdb)
	st.Open(ctx, "b1", "acme", stored)
	records.NewBatches(rdb).Skip(ctx, "b1", 1)
	if raw := rdb.HGet(ctx, metaKey("b1"), "callback").Val(); strings.Contains(raw, "token=abc") {
		t.Fatalf("Redis holds the callback's query: %q", raw)
	}
	hosts, _ := ParseHosts([]string{"127.0.0.1"})
	task := asynq.NewTask(TypeWebhook, []byte(`{"batch":"b1","since":1700000000}`))
	other, _ := seal.New(bytes.Repeat([]byte{6}, seal.KeySize))
	for name, b := range map[string]*seal.Box{"no key": nil, "another key": other} {
		d := NewDeliverer(rdb, []byte("whsec"), hosts)
		d.Box = b
		if err := d.ProcessTask(ctx, task); !errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), "callback_url") || strings.Contains(err.Error(), "abc") {
			t.Errorf("%s: %v, want a final error naming callback_url", name, err)
		}
	}
	if gotURL != "" {
		t.Fatalf("delivered without the key to %q", gotURL)
	}
	d := NewDeliverer(rdb, []byte("whsec"), hosts)
	d.Box = box
	if err := d.ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	if gotURL != "/hook?token=abc" {
		t.Errorf("delivered to %q, want /hook?token=abc", gotURL)
	}
}
