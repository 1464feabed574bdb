package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// bareSpec is what the parent passes to the bare handler process.
type bareSpec struct {
	Redis, API, Token string
	Concurrency       int
}

// barePayload is the least a handler needs to upload one small file.
type barePayload struct {
	ParentID, Name, File, Filetype string
	Size                           int64
}

// runBare is the baseline of row 4: what a user writes with asynq alone —
// an asynq server whose handler creates the asset and PUTs the file to its
// one upload URL, nothing else (no limiter, no progress records, no batch
// counters), then counts the task done in Redis for the parent to see.
func runBare(ctx context.Context, raw string) error {
	var spec bareSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: spec.Redis, PoolSize: 2 * spec.Concurrency})
	defer rdb.Close()
	h := &bareHandler{spec: spec, rdb: rdb, hc: &http.Client{Timeout: time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2 * spec.Concurrency}}}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: spec.Concurrency, Queues: map[string]int{bareQueue: 1}, LogLevel: asynq.WarnLevel,
	})
	mux := asynq.NewServeMux()
	mux.Handle(bareTaskType, h)
	if err := srv.Start(mux); err != nil {
		return err
	}
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

type bareHandler struct {
	spec bareSpec
	rdb  *redis.Client
	hc   *http.Client
}

func (h *bareHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p barePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	url, err := h.create(ctx, p)
	if err != nil {
		return err
	}
	if err := h.put(ctx, p, url); err != nil {
		return err
	}
	return h.rdb.Incr(ctx, bareCounterKey).Err()
}

func (h *bareHandler) create(ctx context.Context, p barePayload) (string, error) {
	body, _ := json.Marshal(map[string]any{"type": "file", "name": p.Name, "filetype": p.Filetype, "filesize": p.Size})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.spec.API+"/assets/"+p.ParentID+"/children", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+h.spec.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", p.Name, err)
	}
	defer resp.Body.Close()
	var a struct {
		UploadURLs []string `json:"upload_urls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode/100 != 2 || len(a.UploadURLs) != 1 {
		return "", fmt.Errorf("create %s: %s, %d upload urls", p.Name, resp.Status, len(a.UploadURLs))
	}
	return a.UploadURLs[0], nil
}

func (h *bareHandler) put(ctx context.Context, p barePayload, url string) error {
	f, err := os.Open(p.File)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, f)
	if err != nil {
		return err
	}
	req.ContentLength = p.Size
	req.Header.Set("Content-Type", p.Filetype)
	req.Header.Set("X-Amz-Acl", "private")
	resp, err := h.hc.Do(req)
	if err != nil {
		return fmt.Errorf("put %s: %w", p.Name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("put %s: %s", p.Name, resp.Status)
	}
	return nil
}
