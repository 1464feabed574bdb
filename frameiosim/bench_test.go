package frameiosim

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
)

// BenchmarkCreate measures creates per second through real HTTP with
// limits out of the way (what a many-thousand-create benchmark pays).
func BenchmarkCreate(b *testing.B) {
	s := StartTest(b, unlimited())
	root := s.RootFolder(DefaultToken)
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := newTC(b, s, DefaultToken)
		for pb.Next() {
			r := c.create(root, map[string]any{"type": "file", "name": fmt.Sprint(n.Add(1)), "filesize": 100 << 20, "filetype": "video/mp4"})
			if r.status != http.StatusCreated {
				b.Fatalf("create: %d", r.status)
			}
		}
	})
}

// BenchmarkUploadPart measures part PUT throughput (8 MiB parts to disk,
// digest included), 4 PUTs in flight like a client would.
func BenchmarkUploadPart(b *testing.B) {
	const partSize = 8 << 20
	s := StartTest(b, Config{PartSize: partSize})
	c := newTC(b, s, DefaultToken)
	const perFile = 1000 // a file holds at most maxParts parts
	var urls []string
	for left := b.N; left > 0; left -= perFile {
		f := c.file(s.RootFolder(DefaultToken), fmt.Sprint("big", left), int64(min(left, perFile))*partSize)
		urls = append(urls, f.UploadURLs...)
	}
	chunk := bytes.Repeat([]byte{7}, partSize)
	var next atomic.Int64
	b.SetBytes(partSize)
	b.ResetTimer()
	b.SetParallelism(2) // 2 × GOMAXPROCS(2) = 4 in flight
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if r := put(b, urls[i], chunk, "video/mp4", nil); r.status != http.StatusOK {
				b.Fatalf("part %d: %d %s", i, r.status, r.body)
			}
		}
	})
	b.StopTimer()
	for _, f := range s.Stats().Files {
		if !f.Complete {
			b.Fatalf("%s not complete after all parts", f.Name)
		}
	}
}
