package dashboard_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/frameq/frameq/dashboard"
	"github.com/hibiken/asynq"
)

// A read-only dashboard on the worker's loopback listener.
func ExampleNew() {
	h, err := dashboard.New(dashboard.Options{
		Redis:    asynq.RedisClientOpt{Addr: "127.0.0.1:6379"},
		RootPath: "/monitoring",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.(*dashboard.Handler).Close()
	mux := http.NewServeMux()
	mux.Handle("/monitoring/", h)
	_ = http.ListenAndServe("127.0.0.1:8080", mux)
}

// The payload as operators see it: no URL query, no field beyond these,
// lines short enough for asynqmon's payload box.
func ExampleFormatPayload() {
	p := `{"v":1,"batch":"b1","token_ref":"acme","parent_id":"f9","path":"day1/b.mp4","size":0,` +
		`"source_url":"https://bucket.example.com/b.mp4?X-Amz-Signature=abc"}`
	fmt.Println(dashboard.FormatPayload("frameio:asset.remote_upload", []byte(p)))
	fmt.Println(dashboard.FormatPayload("frameio:asset.upload", []byte("garbage")))
	// Output:
	// batch: b1
	// token_ref: acme
	// folder_id: f9
	// path: day1/b.mp4
	// source:
	//   https://bucket.example.com/b.mp4?
	//   [REDACTED]
	// size: 0 B
	// unreadable payload (7 bytes)
}

func ExampleFormatPayload_webhook() {
	fmt.Println(dashboard.FormatPayload("frameq:webhook", []byte(`{"batch":"b20261202T161224-ee4c8610","since":1764692000}`)))
	// Output:
	// webhook_for_batch:
	//   b20261202T161224-ee4c8610
	// finished_at: 2025-12-02T16:13:20Z
}
