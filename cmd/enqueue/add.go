package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/config"
	"github.com/frameq/frameq/manifest"
	"github.com/frameq/frameq/tasks/job"
	"github.com/frameq/frameq/tasks/records"
)

// addFlags are the flags of the commands that enqueue.
type addFlags struct {
	tokenRef string
	dryRun   bool
	force    bool
	recheck  bool
}

func (a *addFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&a.tokenRef, "token-ref", "default", "token reference the workers resolve (FRAMEQ_TOKEN_<REF>); never the token itself")
	fs.BoolVar(&a.dryRun, "dry-run", false, "validate and list what would be enqueued, enqueue nothing")
	fs.BoolVar(&a.force, "force", false, "upload again files that were uploaded before")
	fs.BoolVar(&a.recheck, "recheck", false, "ask Frame.io (with the workers' FRAMEQ_TOKEN*, FRAMEQ_API_* and FRAMEQ_ACCOUNT_ID, within their limits) whether files uploaded before still exist, and upload again those deleted since")
}

func cmdDir(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	var a addFlags
	a.define(fs)
	parent := fs.String("parent", "", "Frame.io folder asset id to upload into (required)")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "usage: enqueue dir --parent <folder-id> [flags] <path>\n\nEnqueues every file below path (hidden files skipped), mirroring its folders. Flags:")
		fs.PrintDefaults()
	}
	if code, ok := c.load(fs, args, config.Enqueue); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return c.fail(exitUsage, "dir: want exactly one path, got %d", fs.NArg())
	}
	if *parent == "" {
		return c.fail(exitUsage, "dir: --parent is required (the Frame.io folder asset id)")
	}
	uploads, err := job.FromDir(fs.Arg(0), *parent, a.tokenRef, a.force)
	if err != nil {
		return c.fail(exitUsage, "dir: %v", err)
	}
	name := func(i int) string { return "dir: " + uploads[i].File }
	return c.enqueue(ctx, a, job.NewBatchID(), uploads, name)
}

func cmdManifest(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) int {
	var a addFlags
	a.define(fs)
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "usage: enqueue manifest [flags] <file.jsonl|file.csv>\n\nEvery line is validated first; a manifest with any bad line enqueues nothing.\nKeys/columns: file or url, parent_id, path, size, filetype, token_ref. Flags:")
		fs.PrintDefaults()
	}
	if code, ok := c.load(fs, args, config.Enqueue); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return c.fail(exitUsage, "manifest: want exactly one file, got %d", fs.NArg())
	}
	batch := job.NewBatchID()
	uploads, lines, err := readManifest(fs.Arg(0), batch, a)
	if err != nil {
		return c.fail(exitUsage, "manifest %s:\n%v", fs.Arg(0), err)
	}
	name := func(i int) string { return fmt.Sprintf("manifest %s: line %d", fs.Arg(0), lines[i]) }
	return c.enqueue(ctx, a, batch, uploads, name)
}

// readManifest parses a whole manifest into uploads, with the line of
// each; local files are resolved against the manifest's folder and stat'ed
// now. The payload rules are checked once, by the Enqueuer.
func readManifest(path, batch string, a addFlags) ([]*job.Upload, []int, error) {
	format, err := manifest.FormatOf(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	base := filepath.Dir(path)
	uploads := make([]*job.Upload, 0, 1024)
	lines := make([]int, 0, 1024)
	// Converting (stat'ing the file) inside the check reports a missing
	// file by its line, together with every other bad line.
	_, err = manifest.ParseChecked(f, format, func(e manifest.Entry) error {
		u, err := toUpload(e, base, batch, a)
		if err == nil {
			uploads = append(uploads, u)
			lines = append(lines, e.Line)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return uploads, lines, nil
}

func toUpload(e manifest.Entry, base, batch string, a addFlags) (*job.Upload, error) {
	u := &job.Upload{
		V: job.PayloadVersion, Batch: batch, TokenRef: a.tokenRef, ParentID: e.ParentID,
		Path: e.Path, Size: e.Size, Filetype: e.Filetype, Force: a.force,
	}
	if e.TokenRef != manifest.DefaultTokenRef { // a line naming a ref wins over --token-ref
		u.TokenRef = e.TokenRef
	}
	if e.URL != "" {
		u.SourceURL = e.URL
	} else {
		file := e.File
		if !filepath.IsAbs(file) {
			file = filepath.Join(base, file)
		}
		abs, err := filepath.Abs(file)
		if err != nil {
			return nil, err
		}
		info, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("field file: %v", err)
		}
		if !info.Mode().IsRegular() {
			return nil, fmt.Errorf("field file: %s is not a regular file", abs)
		}
		u.File, u.Size, u.MtimeNS = abs, info.Size(), info.ModTime().UnixNano()
		if u.Path == "" {
			u.Path = filepath.Base(abs)
		}
	}
	return u, nil
}

// enqueue puts uploads into a new batch and prints the batch id on stdout.
// name(i) says where upload i came from, for errors.
func (c *cli) enqueue(ctx context.Context, a addFlags, batch string, uploads []*job.Upload, name func(int) string) int {
	if len(uploads) == 0 {
		return c.fail(exitUsage, "nothing to enqueue: no files found")
	}
	if a.recheck && a.force {
		return c.fail(exitUsage, "--recheck and --force: --force uploads everything again already")
	}
	box, err := c.cfg.Box()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	checked, err := job.Check(batch, uploads, box) // before Redis and Frame.io: a bad run touches nothing
	if err != nil {
		return c.invalid(err, name)
	}
	if a.dryRun {
		enc := json.NewEncoder(c.stderr)
		for _, u := range uploads {
			_ = enc.Encode(u)
		}
		fmt.Fprintf(c.stderr, "dry run: %d files would be enqueued; nothing was\n", len(uploads))
		return exitOK
	}
	rdb, err := c.redis()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	defer rdb.Close()
	if a.recheck {
		if code, ok := c.recheck(ctx, rdb, uploads); !ok {
			return code
		}
	}
	e := job.NewEnqueuer(rdb)
	e.Box, e.Retention, e.Durability = box, c.cfg.CompletedRetention, c.cfg.Durability()
	start := time.Now()
	res, err := e.EnqueueChecked(ctx, checked)
	took := time.Since(start)
	if errors.Is(err, records.ErrNotReplicated) {
		return c.fail(exitFailed, "batch %s: %d enqueued, %d already queued, %d already uploaded, but %v: a failover now could lose them; "+
			"run the same command again once the replicas are back (nothing is enqueued twice)", batch, res.Enqueued, res.Queued, res.Done, err)
	}
	if err != nil { // no summary: its rate would time a failure
		return c.fail(exitFailed, "batch %s: stopped after %d enqueued: %v", batch, res.Enqueued, err)
	}
	fmt.Fprintf(c.stderr, "batch %s: %d enqueued, %d already queued, %d already uploaded (%.0f tasks/s)\n",
		batch, res.Enqueued, res.Queued, res.Done, float64(len(uploads))/took.Seconds())
	fmt.Fprintln(c.stdout, batch)
	return exitOK
}

// invalid reports every upload job.Check refused, by where it came from.
func (c *cli) invalid(err error, name func(int) string) int {
	var inv *job.InvalidError
	if !errors.As(err, &inv) {
		return c.fail(exitUsage, "%v", err)
	}
	lines := make([]string, len(inv.Items))
	for i, it := range inv.Items {
		lines[i] = fmt.Sprintf("%s: %v", name(it.Index), it.Err)
	}
	return c.fail(exitUsage, "%s\nnothing was enqueued", strings.Join(lines, "\n"))
}

// recheck forgets the done records whose assets were deleted in Frame.io
// since, so that enqueue uploads those files again. ok false means: return code.
func (c *cli) recheck(ctx context.Context, rdb redis.UniversalClient, uploads []*job.Upload) (code int, ok bool) {
	r, err := c.newRechecker(rdb)
	if err != nil {
		return c.fail(exitUsage, "%v", err), false
	}
	n, err := r.run(ctx, records.NewProgresses(rdb), uploads)
	if errors.Is(err, errNoToken) {
		return c.fail(exitUsage, "%v", err), false
	}
	if err != nil {
		return c.fail(exitFailed, "recheck: %v (nothing enqueued; %d records of deleted assets reset)", err, n), false
	}
	fmt.Fprintf(c.stderr, "recheck: %d uploaded files are gone from Frame.io and will be uploaded again\n", n)
	return 0, true
}
