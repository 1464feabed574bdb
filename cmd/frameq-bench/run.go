package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

const limitersStep = "limiters (cmd/throttle-bench)"

// run measures the selected rows, one scenario after another (never two at
// once: they share two cores), and prints the table on w.
func run(ctx context.Context, o options, w, log io.Writer) error {
	start := time.Now()
	tmp, err := os.MkdirTemp("", "frameq-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{o: o, bin: tmp + "/bin", tmp: tmp, log: log}
	b.progress("building worker, enqueue, throttle-bench")
	if err := b.build(ctx); err != nil {
		return err
	}
	var lines []line
	steps := []struct {
		rows []int
		name string
		fn   func(context.Context) ([]line, error)
	}{
		{[]int{1}, "create-rate adherence (frameq)", b.adherence},
		{[]int{1, 2}, limitersStep, b.limiters},
		{[]int{3}, "enqueue", b.enqueueScen},
		{[]int{6}, "memory", b.memory},
		{[]int{4}, "per-task overhead", b.overhead},
		{[]int{5}, "bytes", b.transfer},
		{[]int{7}, "V4 tree: folder and file creates at once", b.treeRow},
		{[]int{8}, "backlog of small files", b.million},
	}
	for _, s := range steps {
		if !slices.ContainsFunc(s.rows, func(r int) bool { return o.rows[r] }) {
			continue
		}
		if s.name == limitersStep && !o.rows[2] && !o.row1["alternatives"] {
			continue
		}
		b.progress("%s ...", s.name)
		got, err := s.fn(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		for _, l := range got {
			if o.rows[l.row] {
				lines = append(lines, l)
			}
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.row - b.row })
	printTable(w, o, lines, time.Since(start))
	return nil
}
