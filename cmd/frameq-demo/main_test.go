package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A small V4 run end to end: every file verified and intact, and the
// summary shows both create routes against their own limits.
func TestDemoV4Summary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole upload")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if code := run(ctx, []string{"--files", "24", "--faults=false"}, &out, &out); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	s := out.String()
	for _, re := range []string{
		`Frame.io V4 simulator at http://127\.0\.0\.1:\d+/v4`,
		`files +24 done, 0 failed, 24 of 24 arrived with identical SHA-256`,
		`folder creates +12 at \d+\.\d\d/s while creating vs 3/s \(\d+%\)`,
		`file creates +24 at \d+\.\d\d/s while creating vs 5/s \(\d+%\)`,
		// The count, not 0: under -race on a loaded 2-core machine the
		// simulator itself can admit a call late. Zero 429s at the limit is
		// measured where timing is honest: bench row 7 and the e2e tests.
		`429s +\d+ \(.*file_create \d+.*folder_create \d+.*\)`,
		`verified +24 files done only once Frame.io said upload_complete; \d+ of them`,
		`duplicates +0`,
	} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("summary lacks %q:\n%s", re, s)
		}
	}
}

func TestDemoFlags(t *testing.T) {
	for _, args := range [][]string{{"--api", "v3"}, {"--files", "0"}, {"--create-rate", "0"}} {
		var out bytes.Buffer
		if code := run(context.Background(), args, &out, &out); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if !strings.Contains(out.String(), strings.TrimPrefix(args[0], "--")) {
			t.Errorf("%v: %q does not name the flag", args, out.String())
		}
	}
}

// --create-rate sets V4's file-create limit on both sides; folders keep 3/s.
func TestCreateRateSetsFileCreateOnV4(t *testing.T) {
	o := options{api: "v4", createRate: 7}
	c := simConfig(o)
	if c.V4Limits["file_create"].Limit != 7 || c.V4Limits["folder_create"].Limit != 3 || c.CompleteAfter != completeAfter {
		t.Errorf("simulator: %+v, CompleteAfter %v", c.V4Limits, c.CompleteAfter)
	}
	if c.Enforcement != "sliding" || c.API != "v4" {
		t.Errorf("simulator: enforcement %q, api %q", c.Enforcement, c.API)
	}
	// V4 takes files of 1 byte to 5 TB: no empty file in its tree.
	for _, n := range treeSizes("v4") {
		if n < 1 {
			t.Errorf("V4 tree has a file of %d bytes", n)
		}
	}
}

func TestStatusAsksCountsFilesAskedAgain(t *testing.T) {
	a := &statusAsks{byFile: map[string]int{}}
	const f = "frameio-sim: %s %s → %d in %v"
	a.logf(f, "GET", "/v4/accounts/acct/files/A/status", 200, time.Millisecond)
	a.logf(f, "GET", "/v4/accounts/acct/files/A/status", 200, time.Millisecond)
	a.logf(f, "GET", "/v4/accounts/acct/files/B/status", 200, time.Millisecond)
	a.logf(f, "GET", "/v4/accounts/acct/files/B/status", 429, time.Millisecond) // refused: not an answer
	a.logf(f, "GET", "/v4/accounts/acct/files/B", 200, time.Millisecond)        // show file, not status
	if got := a.waited(); got != 1 {
		t.Errorf("waited = %d, want 1 (A only)", got)
	}
}

func TestBusyRate(t *testing.T) {
	t0 := time.Now()
	ts := []time.Time{t0, t0.Add(time.Second), t0.Add(2 * time.Second)}
	if got := busyRate(ts); got != 1 {
		t.Errorf("busyRate = %v, want 1", got)
	}
	if got := busyRate(ts[:1]); got != 0 {
		t.Errorf("busyRate of one = %v, want 0", got)
	}
}

// TestDemoHelpAndVersionOnStdout: asked-for help and the version are
// output (stdout, exit 0), not errors.
func TestDemoHelpAndVersionOnStdout(t *testing.T) {
	for arg, want := range map[string]string{"--help": "-workers", "--version": "frameq-demo "} {
		var stdout, out bytes.Buffer
		if code := run(context.Background(), []string{arg}, &stdout, &out); code != 0 || !strings.Contains(stdout.String(), want) || out.Len() != 0 {
			t.Errorf("%s: exit %d, stdout %q, other output %q", arg, code, stdout.String(), out.String())
		}
	}
}
