// Command frameio-sim serves a simulated Frame.io v2 (package frameiosim)
// for the demo, docker-compose and scripts:
//
//	frameio-sim --addr 127.0.0.1:8090 --create-limit 5 --enforcement sliding --lost-create 0.05
//
// On start it prints the base URL and each account's root folder id on
// stderr, and one JSON line on stdout for scripts:
//
//	{"url":"http://127.0.0.1:8090/v2","roots":{"acct-dev":"<id>"}}
//
// Every flag can also be set with FRAMEQ_SIM_<FLAG> (e.g.
// FRAMEQ_SIM_CREATE_LIMIT=5); a flag on the command line wins. A bad flag
// exits 2 with one line naming it. SIGINT or SIGTERM shut it down
// gracefully.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/frameq/frameq/frameiosim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// banner is the JSON line printed on stdout once serving.
type banner struct {
	URL     string            `json:"url"`
	Roots   map[string]string `json:"roots"`
	Folders map[string]string `json:"folders,omitempty"` // "account:/path" → id of --*-folder paths
}

// run serves until ctx is done and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "frameio-sim: %v\n", err)
		return 2
	}
	if o.logRequests {
		o.cfg.Logf = func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	}
	sim := frameiosim.New(o.cfg)
	if err := sim.Start(o.addr); err != nil {
		fmt.Fprintf(stderr, "frameio-sim: %v\n", err)
		sim.Close()
		return 1
	}
	b := banner{URL: sim.URL(), Roots: map[string]string{}, Folders: map[string]string{}}
	for _, acct := range sim.Accounts() {
		b.Roots[acct] = sim.RootFolderOfAccount(acct)
	}
	faults := o.cfg.Faults
	faults.ForbiddenFolders, err = resolveFolders(sim, "--forbidden-folder", o.forbidden, b.Folders)
	if err == nil {
		faults.PaymentRequiredFolders, err = resolveFolders(sim, "--payment-required-folder", o.paymentFolders, b.Folders)
	}
	if err != nil {
		fmt.Fprintf(stderr, "frameio-sim: %v\n", err)
		sim.Close()
		return 2
	}
	sim.SetFaults(faults)
	printBanner(stdout, stderr, b)

	<-ctx.Done()
	fmt.Fprintln(stderr, "frameio-sim: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sim.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "frameio-sim: %v\n", err)
		return 1
	}
	return 0
}

// resolveFolders turns "/a/b" entries into folders made under every
// account's root (recording them in made); other entries are ids.
func resolveFolders(sim *frameiosim.Server, flagName string, entries []string, made map[string]string) ([]string, error) {
	var ids []string
	for _, e := range entries {
		if !strings.HasPrefix(e, "/") {
			ids = append(ids, e)
			continue
		}
		for _, acct := range sim.Accounts() {
			key := acct + ":" + e
			id, ok := made[key]
			if !ok {
				id = makePath(sim, sim.RootFolderOfAccount(acct), e)
			}
			if id == "" {
				return nil, fmt.Errorf("%s: %q is not a valid folder path", flagName, e)
			}
			made[key] = id
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// makePath makes the folders of path under root and returns the last id,
// or "" if a name is invalid.
func makePath(sim *frameiosim.Server, root, path string) string {
	id := root
	for _, name := range strings.Split(strings.Trim(path, "/"), "/") {
		if name != "" && id != "" {
			id = sim.MakeFolder(id, name)
		}
	}
	return id
}

func printBanner(stdout, stderr io.Writer, b banner) {
	fmt.Fprintf(stderr, "frameio-sim: serving Frame.io v2 at %s\n", b.URL)
	for _, acct := range slices.Sorted(maps.Keys(b.Roots)) {
		fmt.Fprintf(stderr, "frameio-sim: account %s: root folder %s\n", acct, b.Roots[acct])
	}
	for _, path := range slices.Sorted(maps.Keys(b.Folders)) {
		fmt.Fprintf(stderr, "frameio-sim: folder %s: %s\n", path, b.Folders[path])
	}
	line, _ := json.Marshal(b) // maps of strings always marshal
	fmt.Fprintf(stdout, "%s\n", line)
}
