package manifest

import (
	"fmt"
	"strings"
	"testing"
)

const benchLines = 100_000

func benchManifest(f Format) string {
	var b strings.Builder
	if f == CSV {
		b.WriteString("file,url,parent_id,path,size,filetype,token_ref\n")
	}
	for i := range benchLines {
		if f == CSV {
			fmt.Fprintf(&b, "/mnt/shoot/day%d/A%06d.mov,,f-1234567890,\"Day %d, cam A/A%06d.mov\",%d,video/quicktime,client-a\n", i%7, i, i%7, i, 1<<20+i)
			continue
		}
		fmt.Fprintf(&b, `{"file":"/mnt/shoot/day%d/A%06d.mov","parent_id":"f-1234567890","path":"Day %d, cam A/A%06d.mov","size":%d,"filetype":"video/quicktime","token_ref":"client-a"}`+"\n", i%7, i, i%7, i, 1<<20+i)
	}
	return b.String()
}

func benchmarkParse(b *testing.B, f Format) {
	in := benchManifest(f)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		entries, err := Parse(strings.NewReader(in), f)
		if err != nil || len(entries) != benchLines {
			b.Fatalf("%d entries, %v", len(entries), err)
		}
	}
	b.ReportMetric(float64(benchLines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkParseJSONL parses a 100,000-line JSONL manifest.
func BenchmarkParseJSONL(b *testing.B) { benchmarkParse(b, JSONL) }

// BenchmarkParseCSV parses a 100,000-row CSV manifest.
func BenchmarkParseCSV(b *testing.B) { benchmarkParse(b, CSV) }
