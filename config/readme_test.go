package config

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/frameq/frameq/seal"
)

// readmeRow is one row of the README's configuration table.
type readmeRow struct {
	line        int
	vars, flags []string
	def         string
}

// readmeTable reads the table under "### Configuration" in README.md.
func readmeTable(t *testing.T) []readmeRow {
	t.Helper()
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code := regexp.MustCompile("`([^`]*)`")
	var rows []readmeRow
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case line == "### Configuration":
			in = true
		case in && strings.HasPrefix(line, "#"):
			return rows
		case in && strings.HasPrefix(line, "| `FRAMEQ_"):
			cells := strings.Split(line, "|")
			if len(cells) < 5 {
				t.Fatalf("README.md:%d: want | variable | flag | default | meaning |", n)
			}
			r := readmeRow{line: n, def: strings.Trim(strings.TrimSpace(cells[3]), "`")}
			for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
				r.vars = append(r.vars, m[1])
			}
			for _, m := range code.FindAllStringSubmatch(cells[2], -1) {
				r.flags = append(r.flags, strings.TrimPrefix(m[1], "--"))
			}
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		t.Fatal("README.md: no configuration table found")
	}
	return rows
}

// TestReadmeTableIsTheConfig holds the README's configuration table to the
// settings the code binds: every setting has a row with its flag and its
// default, and every variable in the table is one the code reads.
func TestReadmeTableIsTheConfig(t *testing.T) {
	rows := readmeTable(t)
	byVar := map[string]readmeRow{}
	for _, r := range rows {
		for _, v := range r.vars {
			byVar[v] = r
		}
	}
	def := Default()
	for i, s := range def.settings([]Group{Redis, Worker, Intake, Webhook, Enqueue}) {
		r, ok := byVar[s.env]
		if !ok {
			t.Errorf("%s (--%s) is a setting but has no row in README.md's table", s.env, s.flag)
			continue
		}
		if !slices.Contains(r.flags, s.flag) {
			t.Errorf("README.md:%d: %s's flag is --%s, the table says %v", r.line, s.env, s.flag, r.flags)
		}
		want := s.value.String()
		if s.env == "FRAMEQ_REDIS_URL" && want == "" {
			want = DefaultRedisURL // unset means this URL
		}
		if !sameDefault(t, i, r.def, want) {
			t.Errorf("README.md:%d: %s defaults to %q in the code, the table says %q", r.line, s.env, want, r.def)
		}
	}
	// Names config reads through another package's one definition.
	src := configSource(t) + strconv.Quote(seal.KeyVar)
	for v, r := range byVar {
		name := strings.TrimSuffix(v, "<REF>")
		if !strings.Contains(src, `"`+name) {
			t.Errorf("README.md:%d: %s is in the table but package config never reads it", r.line, v)
		}
	}
}

// sameDefault reports whether the table's default, parsed by the
// setting's own flag.Value, is the code's default (so "10m" equals 10m0s).
func sameDefault(t *testing.T, i int, table, code string) bool {
	if strings.HasPrefix(table, "—") || table == "" { // "—" or "— (required)"
		return code == "" || code == "0" || code == "false"
	}
	if table == code {
		return true
	}
	fresh := Default()
	s := fresh.settings([]Group{Redis, Worker, Intake, Webhook, Enqueue})[i]
	if err := s.value.Set(table); err != nil {
		return false
	}
	return s.value.String() == code
}

// configSource is the text of package config's non-test files.
func configSource(t *testing.T) string {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			text, err := os.ReadFile(e.Name())
			if err != nil {
				t.Fatal(err)
			}
			b.Write(text)
		}
	}
	return b.String()
}
