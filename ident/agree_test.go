package ident_test

import (
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameq/frameq/config"
	"github.com/frameq/frameq/dashboard"
	"github.com/frameq/frameq/ident"
	"github.com/frameq/frameq/manifest"
	"github.com/frameq/frameq/tasks/job"
)

// Every entry point that takes a token ref or a path gives the same verdict
// on the same value: the enqueue payload, a manifest line, the worker's
// tokens file and the dashboard. Before package ident, "Acme" passed the
// payload and failed config and manifest; "a\nb" failed manifest only.

func payloadOK(t *testing.T, ref, path string) bool {
	u := &job.Upload{V: job.PayloadVersion, Batch: "b", TokenRef: ref, ParentID: "p", Path: path, File: "/m/a.mov"}
	b, err := u.Encode()
	if err != nil {
		t.Fatal(err)
	}
	_, err = job.DecodeUpload(job.TypeUpload, b)
	return err == nil
}

func manifestOK(t *testing.T, ref, path string) bool {
	line, err := json.Marshal(map[string]string{"file": "/m/a.mov", "parent_id": "p", "token_ref": ref, "path": path})
	if err != nil {
		t.Fatal(err)
	}
	_, err = manifest.Parse(strings.NewReader(string(line)+"\n"), manifest.JSONL)
	return err == nil
}

func dashboardOK(ref, path string) bool {
	b, _ := json.Marshal(map[string]any{"v": 1, "batch": "b", "token_ref": ref, "parent_id": "p", "path": path, "file": "/m/a.mov", "size": 1})
	return !strings.HasPrefix(dashboard.FormatPayload(job.TypeUpload, b), "unreadable")
}

// configOK loads a worker config whose tokens file names ref.
func configOK(t *testing.T, ref string) bool {
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte(ref+"=secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	fs := flag.NewFlagSet("w", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	err := cfg.Load(fs, nil, []string{"FRAMEQ_TOKENS_FILE=" + file}, config.Redis, config.Worker)
	if err == nil && cfg.Tokens[ref] != "secret" {
		t.Fatalf("tokens file ref %q loaded as %v", ref, cfg.TokenRefs())
	}
	return err == nil
}

func TestEntryPointsAgreeOnTokenRef(t *testing.T) {
	refs := []string{"default", "acme", "prod_2", "eu-west", "9", strings.Repeat("r", 64),
		"Acme", "ACME", "a.b", "a/b", "a:b", "é", strings.Repeat("r", 65)}
	for _, ref := range refs {
		want := ident.TokenRef(ref) == nil
		got := map[string]bool{
			"payload":   payloadOK(t, ref, "a.mov"),
			"manifest":  manifestOK(t, ref, "a.mov"),
			"config":    configOK(t, ref),
			"dashboard": dashboardOK(ref, "a.mov"),
		}
		for entry, ok := range got {
			if ok != want {
				t.Errorf("token_ref %q: %s ok=%v, ident ok=%v", ref, entry, ok, want)
			}
		}
	}
}

func TestEntryPointsAgreeOnPath(t *testing.T) {
	paths := []string{"a.mov", "x/y/a.mov", "...", ".a", "ü ñ.mov",
		"/a", "a//b", "a/", ".", "x/../a", "a\nb", "a\rb", "a\x1b[2Jb", "a\x7fb", "a\u0085b", "a\x00b"}
	for _, p := range paths {
		want := ident.Path(p) == nil
		got := map[string]bool{
			"payload":   payloadOK(t, "default", p),
			"manifest":  manifestOK(t, "default", p),
			"dashboard": dashboardOK("default", p),
		}
		for entry, ok := range got {
			if ok != want {
				t.Errorf("path %q: %s ok=%v, ident ok=%v", p, entry, ok, want)
			}
		}
	}
}

// The variable TokenVar names for a ref is the one config reads that ref's
// token from, for every ref the rule allows.
func TestTokenVarIsWhereConfigReadsTheToken(t *testing.T) {
	for _, ref := range []string{"default", "acme", "prod_2", "eu-west", "9"} {
		cfg := config.Default()
		fs := flag.NewFlagSet("w", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if err := cfg.Load(fs, nil, []string{ident.TokenVar(ref) + "=secret"}, config.Redis, config.Worker); err != nil {
			t.Fatalf("%s: %v", ident.TokenVar(ref), err)
		}
		if cfg.Tokens[ref] != "secret" {
			t.Errorf("%s=secret loaded as refs %v, want ref %q", ident.TokenVar(ref), cfg.TokenRefs(), ref)
		}
	}
}
