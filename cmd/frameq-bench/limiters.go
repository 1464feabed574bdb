package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// throttle-bench's limiter names and the columns read from its table.
const (
	tbThrottle  = "throttle"
	tbRedisRate = "redis_rate"
	tbXRate     = "x/time/rate"

	colAcqP50   = "acquire p50"
	colAcqP99   = "acquire p99"
	colCmdsOne  = "cmds/acq 1 proc"
	colCmdsMany = "cmds/acq multi"
	colRate     = "rate/s"
	colPct      = "% of limit"
	col429      = "429s"
	colMaxAcc   = "accepted max/1s"
)

// limiters runs cmd/throttle-bench at row 1's setting (4 processes × 16
// goroutines, strict 5/s) and reads rows 1 and 2 for the alternatives, and
// row 2 for our limiter, from its table.
func (b *bench) limiters(ctx context.Context) ([]line, error) {
	args := []string{
		"-procs", strconv.Itoa(adherenceProc), "-goroutines", strconv.Itoa(workerConc),
		"-rate", strconv.Itoa(createLimit), "-margin", "0.02",
		"-duration", b.o.limiterRun.String(), "-contended", b.o.limiterWait.String(),
		"-samples", strconv.Itoa(b.o.limiterSamples),
	}
	cmd := exec.CommandContext(ctx, filepath.Join(b.bin, "throttle-bench"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("throttle-bench %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	t, err := parseTable(out.String())
	if err != nil {
		return nil, fmt.Errorf("throttle-bench output: %w", err)
	}
	return limiterLines(t)
}

// limiterLines turns throttle-bench's table into our lines.
func limiterLines(t map[string]map[string]string) ([]line, error) {
	need := map[string][]string{
		tbThrottle:  {colAcqP50, colAcqP99, colCmdsOne, colCmdsMany},
		tbRedisRate: {colAcqP50, colAcqP99, colCmdsOne, colCmdsMany, colRate, colPct, col429, colMaxAcc},
		tbXRate:     {colRate, colPct, col429, colMaxAcc},
	}
	for impl, cols := range need {
		for _, c := range cols {
			if t[impl][c] == "" {
				return nil, fmt.Errorf("no %q figure for %s", c, impl)
			}
		}
	}
	rateLine := func(impl, name string) line {
		r := t[impl]
		return line{row: 1, scenario: adherenceScenario, impl: name, figures: []string{
			r[colRate] + " creates/s", strings.Replace(r[colPct], "%", " %", 1), r[col429] + " × 429",
			"max " + r[colMaxAcc] + " in 1 s"}}
	}
	costLine := func(impl, name string) line {
		r := t[impl]
		return line{row: 2, scenario: "limiter: acquire, Redis cmds", impl: name, figures: []string{
			"p50 " + r[colAcqP50], "p99 " + r[colAcqP99],
			r[colCmdsOne] + " cmds (1 proc)", r[colCmdsMany] + " cmds (4 procs)"}}
	}
	return []line{
		rateLine(tbXRate, "x/time/rate per process"),
		rateLine(tbRedisRate, "redis_rate, burst = rate"),
		costLine(tbThrottle, "frameq throttle"),
		costLine(tbRedisRate, "redis_rate"),
	}, nil
}

var cellSep = regexp.MustCompile(`\s{2,}`)

// parseTable reads a tabwriter table (cells separated by at least two
// spaces) whose header row starts with "limiter": row name → column → cell.
// Columns are found by name, so added or reordered columns do not matter.
func parseTable(out string) (map[string]map[string]string, error) {
	var header []string
	t := map[string]map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		cells := cellSep.Split(strings.TrimSpace(l), -1)
		switch {
		case len(cells) < 2:
			continue
		case header == nil && cells[0] == "limiter":
			header = cells
		case header != nil:
			if len(cells) != len(header) {
				return nil, fmt.Errorf("row %q has %d cells, header %d", cells[0], len(cells), len(header))
			}
			row := map[string]string{}
			for i, c := range cells {
				row[header[i]] = c
			}
			t[cells[0]] = row
		}
	}
	if header == nil {
		return nil, fmt.Errorf("no table with a %q header in:\n%s", "limiter", out)
	}
	return t, nil
}
