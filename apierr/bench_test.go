package apierr

import (
	"strings"
	"testing"
	"time"
)

// BenchmarkFromResponse measures the parser on ordinary and pathological
// 64 KiB bodies; each must stay linear in the body size.
func BenchmarkFromResponse(b *testing.B) {
	u := mustURL(b, presigned)
	bodies := map[string]string{
		"frameio":  frameioBody(422, "Invalid arguments", "name must not be empty"),
		"comments": strings.Repeat("<!--", 16<<10),
		"scripts":  strings.Repeat("<script>", 8<<10),
		"tags":     strings.Repeat("<a>", 21<<10),
		"nesting":  strings.Repeat("[", 64<<10),
		"urls":     strings.Repeat("http://x/?", 6<<10),
		"strings":  "[" + strings.Repeat(`"ab",`, 13<<10),
	}
	for name, body := range bodies {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				FromResponse("PUT", u, 500, nil, []byte(body), time.Time{})
			}
		})
	}
}
