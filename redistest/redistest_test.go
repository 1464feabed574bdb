package redistest_test

import (
	"context"
	"testing"

	"github.com/frameq/frameq/redistest"
)

func TestStopRestartKeepsAOFData(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
	rdb := srv.Client(t)
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("ping succeeded while the server was stopped")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	got, err := rdb.Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("after restart: got %q, %v; want \"v\"", got, err)
	}
}

func TestWithoutAOFRestartLosesData(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	rdb.Set(ctx, "k", "v", 0)
	srv.Stop()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, "k").Result(); n != 0 {
		t.Fatalf("key survived a restart without persistence")
	}
}
