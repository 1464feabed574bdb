package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/frameq/frameq/config"
)

const healthUsage = `usage: worker healthcheck [--http-addr ADDR]

GETs /readyz of the worker listening on FRAMEQ_HTTP_ADDR (an unspecified
host such as 0.0.0.0 means this host) and exits 0 if it is ready, 1 if not
(printing why). For container health checks: the image has no shell or curl.
Flags:`

// healthTimeout bounds the whole probe: a check that hangs tells a
// supervisor less than one that fails.
const healthTimeout = 5 * time.Second

// healthcheck probes the local worker's /readyz.
func (p proc) healthcheck(ctx context.Context, args []string) int {
	cfg := config.Default()
	fs := flag.NewFlagSet("worker healthcheck", flag.ContinueOnError)
	if code, ok := p.load(&cfg, fs, args, healthUsage); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(p.stderr, "worker healthcheck: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	url, err := readyURL(cfg.HTTPAddr)
	if err != nil {
		fmt.Fprintln(p.stderr, "worker healthcheck: FRAMEQ_HTTP_ADDR:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(p.stderr, "worker healthcheck:", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(p.stderr, "worker healthcheck: not ready:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(p.stderr, "worker healthcheck: not ready: %s %s", resp.Status, body)
		return 1
	}
	fmt.Fprintf(p.stdout, "%s", body)
	return 0
}

// readyURL is /readyz at addr, with an unspecified or empty host (the
// worker listening on every interface) replaced by loopback.
func readyURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}
