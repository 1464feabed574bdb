//go:build pprof

package main

// A profiling build (go build -tags pprof -ldflags "-X main.cpuProfileDir=DIR")
// writes the worker's CPU profile over its whole life to DIR/worker-<pid>.pprof,
// for go tool pprof (docs/benchmarks.md, row 4). Never part of a normal build.

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
)

// cpuProfileDir is set at link time; empty means the system's temp dir.
var cpuProfileDir string

func init() {
	dir := cpuProfileDir
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("worker-%d.pprof", os.Getpid())))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpu profile:", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "cpu profile:", err)
		return
	}
	// The worker stops on SIGINT or SIGTERM; the profile stops first.
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ch
		pprof.StopCPUProfile()
		_ = f.Close()
	}()
}
