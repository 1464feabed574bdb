package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/frameq/frameq/redistest"
	"github.com/redis/go-redis/v9"
)

// childSpec is what the parent passes to each worker process.
type childSpec struct {
	Impl, Redis, Prefix, API, Root string
	ID, Goroutines, Rate           int
	Margin                         float64
	Start, End                     time.Time
}

// childResult is what a worker process prints as its last line.
type childResult struct {
	Acquired, Created, RateLimited, Failed int
	Commands                               int64
	Sent                                   []time.Time // when each create was sent
	MaxWait                                time.Duration
}

// runChild is one worker process: goroutines that acquire a permit, then
// create a folder in the simulator, until spec.End.
func runChild(raw string) error {
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return fmt.Errorf("child spec: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: spec.Redis})
	defer rdb.Close()
	cnt := &redistest.Counter{}
	rdb.AddHook(cnt)
	acq, err := newAcquirer(spec.Impl, rdb, spec.Prefix, spec.Rate, spec.Margin)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 35 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: spec.Goroutines}}
	time.Sleep(time.Until(spec.Start))
	ctx, cancel := context.WithDeadline(context.Background(), spec.End)
	defer cancel()
	var mu sync.Mutex
	var res childResult
	var wg sync.WaitGroup
	for g := range spec.Goroutines {
		wg.Go(func() {
			for n := 0; ; n++ {
				began := time.Now()
				if acq.wait(ctx) != nil {
					return
				}
				sent := time.Now()
				status := create(client, spec, fmt.Sprintf("n-%d-%d-%d", spec.ID, g, n))
				mu.Lock()
				res.Acquired++
				res.Sent = append(res.Sent, sent)
				res.MaxWait = max(res.MaxWait, sent.Sub(began))
				switch status {
				case http.StatusCreated, http.StatusOK:
					res.Created++
				case http.StatusTooManyRequests:
					res.RateLimited++
				default:
					res.Failed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Commands = cnt.Commands()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// create POSTs a folder and returns the status, 0 on a transport error.
func create(c *http.Client, spec childSpec, name string) int {
	body := fmt.Sprintf(`{"type":"folder","name":%q}`, name)
	req, err := http.NewRequest(http.MethodPost, spec.API+"/assets/"+spec.Root+"/children", strings.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer dev-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
