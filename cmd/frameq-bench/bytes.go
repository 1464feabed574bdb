package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/frameq/frameq/frameiosim"
)

// Row 5 uses the worker's defaults: 4 parts in flight of the simulator's
// default 8 MiB (the size Frame.io picks is the server's choice).
const (
	partsInFlight = 4
	rssBase       = 64 << 20
)

// transfer uploads one large file through a worker, then PUTs the same bytes
// raw in one request to a simulator that hands out a single upload URL
// (same server work: write to disk, checksum), and to a sink that only
// reads them (the loopback ceiling, for reference). They alternate for
// b.o.rounds rounds; the table shows the round of median ratio and the
// highest peak RSS of any round.
func (b *bench) transfer(ctx context.Context) ([]line, error) {
	dir := filepath.Join(b.tmp, "big")
	file := filepath.Join(dir, "big.bin")
	if err := writeBig(file, b.o.fileBytes); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	type round struct{ ours, raw, sink float64 }
	var rounds []round
	var hwm int64
	for r := range b.o.rounds {
		o, h, err := b.bytesWorker(ctx, dir, file)
		if err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
		rw, err := rawToSim(ctx, file, b.o.fileBytes)
		if err != nil {
			return nil, fmt.Errorf("raw PUT: %w", err)
		}
		sk, err := rawToSink(ctx, file, b.o.fileBytes)
		if err != nil {
			return nil, fmt.Errorf("raw PUT to a sink: %w", err)
		}
		b.progress("round %d: worker %.0f MB/s (peak RSS %s), raw %.0f MB/s, sink %.0f MB/s", r+1, o, mib(h), rw, sk)
		rounds = append(rounds, round{o, rw, sk})
		hwm = max(hwm, h)
	}
	m := medianRound(rounds, func(r round) float64 { return r.ours / r.raw })
	ours, raw, sink := m.ours, m.raw, m.sink
	bound := int64(rssBase + partsInFlight*frameiosim.DefaultPartSize)
	p := 100 * ours / raw
	return []line{
		{row: 5, scenario: fmt.Sprintf("bytes, one %s file", size(b.o.fileBytes)),
			impl:    fmt.Sprintf("frameq worker, %d × %d MiB", partsInFlight, frameiosim.DefaultPartSize>>20),
			figures: []string{fmt.Sprintf("%.0f MB/s", ours), pct(p, "raw"), "peak RSS " + mib(hwm)},
			target:  fmt.Sprintf("≥ 80 %%, RSS ≤ %s", mib(bound)), met: verdict(p >= 80 && hwm <= bound)},
		{row: 5, impl: "one raw PUT to the simulator", figures: []string{fmt.Sprintf("%.0f MB/s", raw)}},
		{row: 5, impl: "one raw PUT to a sink", figures: []string{fmt.Sprintf("%.0f MB/s", sink), "(loopback ceiling)"}},
	}, nil
}

// writeBig writes size bytes of incompressible data.
func writeBig(path string, size int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	block := make([]byte, 1<<20)
	r := rand.NewChaCha8([32]byte{'f', 'q'})
	_, _ = r.Read(block)
	for left := size; left > 0; left -= int64(len(block)) {
		if _, err := f.Write(block[:min(left, int64(len(block)))]); err != nil {
			f.Close()
			return err
		}
		block[0]++ // no two blocks alike
	}
	return f.Close()
}

// bytesWorker uploads file through a worker; MB/s is over the time from
// the create to the batch being done, which includes the simulator's
// checksum of the last part.
func (b *bench) bytesWorker(ctx context.Context, dir, file string) (float64, int64, error) {
	s, err := b.newStack(frameiosim.Config{})
	if err != nil {
		return 0, 0, err
	}
	defer s.close()
	w, err := b.startWorker(ctx, "bytes-worker", s.environ("FRAMEQ_UPLOAD_ROOT="+dir,
		fmt.Sprintf("FRAMEQ_PART_CONCURRENCY=%d", partsInFlight)))
	if err != nil {
		return 0, 0, err
	}
	defer w.stop()
	batch, _, _, err := b.runEnqueue(ctx, s, "dir", "--parent", s.folder, dir)
	if err != nil {
		return 0, 0, err
	}
	end, err := s.waitBatch(ctx, batch, 1, 10*time.Minute)
	if err != nil {
		return 0, 0, err
	}
	hwm, err := memStatus(w.cmd.Process.Pid, "VmHWM")
	if err != nil {
		return 0, 0, err
	}
	st := s.sim.Stats()
	if len(st.Files) != 1 || !st.Files[0].Complete || len(st.CreatesByScope[frameiosim.DefaultToken]) != 1 {
		return 0, 0, fmt.Errorf("simulator holds %+v", st.Files)
	}
	size := float64(st.Files[0].Size)
	return size / 1e6 / end.Sub(st.CreatesByScope[frameiosim.DefaultToken][0]).Seconds(), hwm, nil
}

// rawToSim creates a one-part asset and PUTs the whole file to its URL.
func rawToSim(ctx context.Context, file string, size int64) (float64, error) {
	sim := frameiosim.New(frameiosim.Config{PartSize: size})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		return 0, err
	}
	defer sim.Close()
	body := fmt.Sprintf(`{"type":"file","name":"big.bin","filetype":"application/octet-stream","filesize":%d}`, size)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, sim.URL()+"/assets/"+sim.RootFolder(frameiosim.DefaultToken)+"/children", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+frameiosim.DefaultToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	var a struct {
		UploadURLs []string `json:"upload_urls"`
	}
	err = json.NewDecoder(resp.Body).Decode(&a)
	resp.Body.Close()
	if err != nil || len(a.UploadURLs) != 1 {
		return 0, fmt.Errorf("create: %s, %d upload urls", resp.Status, len(a.UploadURLs))
	}
	took, err := put(ctx, a.UploadURLs[0], file, size)
	if err != nil {
		return 0, err
	}
	if st := sim.Stats(); len(st.Files) != 1 || !st.Files[0].Complete {
		return 0, fmt.Errorf("simulator holds %+v", st.Files)
	}
	return float64(size) / 1e6 / took.Seconds(), nil
}

// rawToSink PUTs the file to a server that reads and drops the bytes.
func rawToSink(ctx context.Context, file string, size int64) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	took, err := put(ctx, "http://"+ln.Addr().String()+"/sink", file, size)
	if err != nil {
		return 0, err
	}
	return float64(size) / 1e6 / took.Seconds(), nil
}

// put is the plain way to upload a file: one PUT with the *os.File as body
// (net/http may hand it to sendfile).
func put(ctx context.Context, url, file string, size int64) (time.Duration, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, f)
	if err != nil {
		return 0, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Amz-Acl", "private")
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	took := time.Since(t0)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("PUT: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return took, nil
}
