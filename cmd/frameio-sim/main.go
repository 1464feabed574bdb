// Command frameio-sim serves a simulated Frame.io, V4 and v2 (package
// frameiosim), for the demo, docker-compose and scripts:
//
//	frameio-sim --addr 127.0.0.1:8090 --create-limit 5 --enforcement sliding --lost-create 0.05
//	frameio-sim --api v4 --v4-limit file_create=5/1s,folder_create=3/1s --complete-after 2s --upload-failed 0.05
//
// --api v4|v2|both (default both) selects what is served. On start it
// prints the base URLs and each account's root folder id (the same id in
// both APIs) on stderr, and one JSON line on stdout for scripts:
//
//	{"url":"http://127.0.0.1:8090/v2","v2_url":"http://127.0.0.1:8090/v2","v4_url":"http://127.0.0.1:8090/v4","roots":{"acct-dev":"<id>"}}
//
// url is the v2 URL when v2 is served, else the V4 one; v2_url and v4_url
// appear only for what is served.
//
// Every flag can also be set with FRAMEQ_SIM_<FLAG> (e.g.
// FRAMEQ_SIM_CREATE_LIMIT=5); a flag on the command line wins. A bad flag
// exits 2 with one line naming it; --help lists them on stdout, --version
// prints the build. SIGINT or SIGTERM shut it down
// gracefully.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/frameq/frameq/buildinfo"
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
	V2URL   string            `json:"v2_url,omitempty"`
	V4URL   string            `json:"v4_url,omitempty"`
	IMSURL  string            `json:"ims_url"`
	Roots   map[string]string `json:"roots"`
	Folders map[string]string `json:"folders,omitempty"` // "account:/path" → id of --*-folder paths
}

// run serves until ctx is done and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "frameio-sim: %v\n", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, buildinfo.String("frameio-sim"))
		return 0
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
	b := newBanner(sim, o.cfg.API)
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

// newBanner holds the URLs of the APIs served and the root folders.
func newBanner(sim *frameiosim.Server, api frameiosim.API) banner {
	b := banner{Roots: map[string]string{}, Folders: map[string]string{}}
	if api != frameiosim.APIV4 {
		b.V2URL = sim.URL()
	}
	if api != frameiosim.APIV2 {
		b.V4URL = sim.V4URL()
	}
	b.URL = cmp.Or(b.V2URL, b.V4URL)
	b.IMSURL = sim.IMSURL()
	return b
}

func printBanner(stdout, stderr io.Writer, b banner) {
	if b.V4URL != "" {
		fmt.Fprintf(stderr, "frameio-sim: serving Frame.io V4 at %s\n", b.V4URL)
	}
	if b.V2URL != "" {
		fmt.Fprintf(stderr, "frameio-sim: serving Frame.io v2 at %s\n", b.V2URL)
	}
	for _, acct := range slices.Sorted(maps.Keys(b.Roots)) {
		fmt.Fprintf(stderr, "frameio-sim: account %s: root folder %s\n", acct, b.Roots[acct])
	}
	for _, path := range slices.Sorted(maps.Keys(b.Folders)) {
		fmt.Fprintf(stderr, "frameio-sim: folder %s: %s\n", path, b.Folders[path])
	}
	line, _ := json.Marshal(b) // maps of strings always marshal
	fmt.Fprintf(stdout, "%s\n", line)
}
