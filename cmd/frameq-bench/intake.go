package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/frameq/frameq/frameiosim"
)

// intakeBatch is the items per request of the intake figure.
const intakeBatch = 10_000

const benchIntakeKey = "frameq-bench-intake-key"

// intakeEnqueue measures `enqueue serve`: the lines of manifest posted as
// requests of intakeBatch items, one after another, over loopback HTTP into
// a fresh Redis. The clock runs from the first request to the last answer
// (the server is already listening); it returns files accepted per second.
func (b *bench) intakeEnqueue(ctx context.Context, manifest string) (float64, error) {
	s, err := b.newStack(frameiosim.Config{})
	if err != nil {
		return 0, err
	}
	defer s.close()
	bodies, n, err := intakeBodies(manifest)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(b.bin, "enqueue"), "serve")
	cmd.Env = s.environ("FRAMEQ_INTAKE_ADDR=127.0.0.1:0", "FRAMEQ_INTAKE_KEY="+benchIntakeKey, "FRAMEQ_LOG_LEVEL=warn")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	var u struct{ URL string }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || json.Unmarshal([]byte(line), &u) != nil {
		return 0, fmt.Errorf("enqueue serve printed %q: %v", line, err)
	}
	t0 := time.Now()
	for _, body := range bodies {
		if err := postBatch(ctx, u.URL, body); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

// intakeBodies groups the manifest's lines into request bodies.
func intakeBodies(manifest string) ([][]byte, int, error) {
	f, err := os.Open(manifest)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var bodies [][]byte
	var cur bytes.Buffer
	n, inBody := 0, 0
	flush := func() {
		if inBody > 0 {
			cur.WriteString("]}")
			bodies = append(bodies, bytes.Clone(cur.Bytes()))
			cur.Reset()
			inBody = 0
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if inBody == 0 {
			cur.WriteString(`{"items":[`)
		} else {
			cur.WriteByte(',')
		}
		cur.Write(sc.Bytes())
		inBody++
		n++
		if inBody == intakeBatch {
			flush()
		}
	}
	flush()
	return bodies, n, sc.Err()
}

func postBatch(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/batches", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchIntakeKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST /v1/batches: %d %s", resp.StatusCode, b)
	}
	return nil
}
