package report

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"

	"github.com/frameq/frameq/tasks/records"
)

// Every state a batch can hold appears in the progress line, so its
// numbers add up to the total and a stuck batch shows where its files are.
func TestProgressLineCountsEveryState(t *testing.T) {
	st := records.Status{Batch: "b", Counts: map[string]int64{}}
	for i, s := range records.States {
		st.Counts[s] = int64(i + 1)
	}
	var buf bytes.Buffer
	NewProgress(&buf).Show(st)
	line := buf.String()
	for _, s := range records.States {
		want := strconv.FormatInt(st.Counts[s], 10) + " " + s
		if s == records.Done {
			want = strconv.FormatInt(st.Counts[s], 10) + "/"
		}
		if !bytes.Contains([]byte(line), []byte(want)) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	var sum int64
	for _, m := range regexp.MustCompile(`(\d+)(/\d+)? [a-z]`).FindAllStringSubmatch(line, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		sum += n
	}
	if sum != st.Total() {
		t.Errorf("progress line %q adds up to %d, want %d", line, sum, st.Total())
	}
}
