package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// line is one measured implementation: up to four figures, each cell
// carrying its own unit, and the target with a verdict.
type line struct {
	row      int
	scenario string
	impl     string
	figures  []string
	target   string
	met      *bool // nil: no target on this line
}

func verdict(ok bool) *bool { return &ok }

// printTable writes the machine, then every line.
func printTable(w io.Writer, o options, lines []line, took time.Duration) {
	fmt.Fprintf(w, "frameq-bench %s on %s\n", mode(o), machine())
	fmt.Fprintf(w, "date %s, load average at start %s, run took %v\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), loadAvg, took.Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tscenario\timplementation\tfigures\t\t\t\ttarget\t")
	prev := 0
	for _, l := range lines {
		row, scen := "", ""
		if l.row != prev {
			row, scen = fmt.Sprint(l.row), l.scenario
			prev = l.row
		}
		cells := append(append([]string{}, l.figures...), "", "", "", "")[:4]
		target := l.target
		if l.met != nil {
			mark := "MISSED"
			if *l.met {
				mark = "met"
			}
			target += ": " + mark
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", row, scen, l.impl, strings.Join(cells, "\t"), target)
	}
	tw.Flush()
}

func mode(o options) string {
	if o.quick {
		return "-quick"
	}
	return "(full)"
}

// loadAvg is read once at start: other engineers share the machine.
var loadAvg = readLoadAvg()

func readLoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// machine is "2 CPUs (model), go1.x linux/amd64".
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s), %s %s/%s", runtime.NumCPU(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// medianRound returns the round whose ratio (frameq over what it is
// compared with) is the median, the lower middle one for an even count.
// Figures of one round were measured back to back, so their ratio cancels
// most of the load that other work puts on a shared machine; the best of
// each side, taken from different rounds, would not.
func medianRound[T any](rounds []T, ratio func(T) float64) T {
	s := slices.Clone(rounds)
	slices.SortStableFunc(s, func(a, b T) int { return cmp.Compare(ratio(a), ratio(b)) })
	return s[(len(s)-1)/2]
}

// Formatting helpers: every figure carries its unit.

func perSec(v float64, unit string) string { return fmt.Sprintf("%s %s/s", thousands(v), unit) }

func pct(v float64, of string) string { return fmt.Sprintf("%.1f %% of %s", v, of) }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// size is a whole number of MiB or GiB.
func size(b int64) string {
	if b >= 1<<30 && b%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", b>>30)
	}
	return fmt.Sprintf("%d MiB", b>>20)
}

// thousands formats v with commas when large, two decimals when small.
func thousands(v float64) string {
	if v < 100 {
		return fmt.Sprintf("%.2f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
