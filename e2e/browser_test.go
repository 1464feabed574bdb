package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"

	"github.com/frameq/frameq/frameiosim"
	"github.com/frameq/frameq/tasks/job"
)

// Secrets planted where the dashboard could show them: a token in a
// hostile producer's payload, a presigned URL's signature in a remote
// upload's source.
const (
	plantedToken = "fio-u-PLANTED-BROWSER-TOKEN-4e1d"
	plantedSig   = "PLANTED-BROWSER-SIG-77c0"
)

// v4Folder is a Frame.io V4 folder id: the long kind the payload box must fit.
const v4Folder = "7f3c0a4e-1c1b-4d8e-9a7e-0123456789ab"

// TestDashboardInABrowser opens the worker's dashboard in headless
// Chromium after a real run: tasks archived by the worker with Frame.io's
// reason, and tasks waiting in a queue no worker serves. It checks what an
// operator sees: one distinct id per row, the reasons, payloads that fit
// their box, no secret, no write action, and no broken metrics page.
// Needs chromium: skipped without it, failed without it when CI is set.
// Set FRAMEQ_SCREENSHOT_DIR to keep a screenshot (PNG) of each page.
func TestDashboardInABrowser(t *testing.T) {
	chrome := findChromium(t)
	e := newEnv(t, frameiosim.Config{CreateLimit: 50, CallLimit: 100})
	e.enqueueEnv = []string{"FRAMEQ_SECRET_KEY=" + payloadKey} // the presigned URL's signature is stored sealed
	root := e.sim.RootFolder(frameiosim.DefaultToken)
	locked := e.sim.MakeFolder(root, "locked")
	e.sim.SetFaults(frameiosim.Faults{ForbiddenFolders: []string{locked}})
	tree := filepath.Join(e.root, "t")
	writeFile(t, filepath.Join(tree, "ok.bin"), 5)
	for _, name := range []string{"a.bin", "b.bin", "c.bin"} {
		writeFile(t, filepath.Join(tree, "locked", name), 5)
	}
	addr := freeAddr(t)
	e.startWorker("w1", "FRAMEQ_HTTP_ADDR="+addr, "FRAMEQ_CREATE_RATE=50/s", "FRAMEQ_CALL_RATE=100/s")

	out, stderr, code := e.enqueue("dir", "--parent", root, tree)
	if code != 0 {
		t.Fatalf("enqueue: %d %s", code, stderr)
	}
	if _, _, code := e.enqueue("wait", "--timeout", "1m", "--interval", "200ms", strings.TrimSpace(out)); code != 1 {
		t.Fatalf("wait: exit %d, want 1 (three files are forbidden)", code)
	}
	idle := enqueueIdle(t, e)

	base := "http://" + addr + "/monitoring"
	b := newBrowser(t, chrome)
	archived := b.taskTable(t, base+"/queues/"+job.SmallQueue("default")+"?status=archived", 3)
	pending := b.taskTable(t, base+"/queues/"+idle+"?status=pending", 3)

	for name, rows := range map[string][]taskRow{"archived": archived, "pending": pending} {
		checkDistinctIDs(t, name, rows)
		for _, r := range rows {
			if r.PayloadScroll > r.PayloadWidth {
				t.Errorf("%s %s: payload box cut off (%d px of text in %d px):\n%s", name, r.ID, r.PayloadScroll, r.PayloadWidth, r.Payload)
			}
		}
	}
	for _, r := range archived {
		if !strings.Contains(r.Cols["Last Error"], "403 Forbidden") || !strings.Contains(r.Payload, "locked/") {
			t.Errorf("archived %s: last error %q, payload %q; want Frame.io's 403 and the file", r.ID, r.Cols["Last Error"], r.Payload)
		}
	}
	var shown strings.Builder
	for _, r := range pending {
		shown.WriteString(strings.ReplaceAll(r.Payload, "\n  ", "")) // long values continue on indented lines
	}
	for _, want := range []string{"folder_id:" + v4Folder, "source:https://cdn.example.com/shoot/b.mov", /* its query is sealed in Redis */
		"path:shoot/day 1/a much longer file name than most, from camera A, take 12.mov"} {
		if !strings.Contains(shown.String(), want) {
			t.Errorf("pending payloads lack %q:\n%s", want, shown.String())
		}
	}
	b.checkReadOnly(t, base, job.SmallQueue("default"))
	b.checkNoMetrics(t, base)
	for _, secret := range []string{plantedToken, plantedSig, "PLANTED", frameiosim.DefaultToken} {
		if strings.Contains(b.seen.String(), secret) {
			t.Errorf("a page shows %q", secret)
		}
	}
}

// enqueueIdle queues tasks for a token ref no worker serves, so they stay
// pending: two through the manifest (a long V4 folder id, a presigned URL),
// one from a hostile producer that put a token in its payload.
func enqueueIdle(t *testing.T, e *env) string {
	t.Helper()
	manifest := filepath.Join(t.TempDir(), "m.jsonl")
	lines := fmt.Sprintf(`{"url":"https://cdn.example.com/shoot/b.mov?X-Amz-Signature=%s","parent_id":%q,"path":"shoot/day 1/b.mov","size":1024}
{"url":"https://cdn.example.com/shoot/c.mov","parent_id":%q,"path":"shoot/day 1/a much longer file name than most, from camera A, take 12.mov","size":1048576}
`, plantedSig, v4Folder, v4Folder)
	if err := os.WriteFile(manifest, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := e.enqueue("manifest", "--token-ref", "idle", manifest); code != 0 {
		t.Fatalf("enqueue manifest: %d %s", code, stderr)
	}
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: e.redis.Addr()})
	defer client.Close()
	payload := fmt.Sprintf(`{"v":1,"batch":"hostile-1","token_ref":"idle","parent_id":%q,"path":"x/d.mov","file":%q,"size":5,"token":%q}`,
		v4Folder, filepath.Join(e.root, "x", "d.mov"), plantedToken)
	if _, err := client.Enqueue(asynq.NewTask(job.TypeUpload, []byte(payload)),
		asynq.Queue(job.SmallQueue("idle")), asynq.TaskID("up_hostile")); err != nil {
		t.Fatal(err)
	}
	return job.SmallQueue("idle")
}

// findChromium is the browser's path; without one the test is skipped,
// except in CI, where .ci/run installs it and its absence is a failure.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH; .ci/run installs it")
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// browser is one headless Chromium; seen collects every page's HTML and
// text, to look for secrets in.
type browser struct {
	ctx  context.Context
	seen strings.Builder
}

func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{ctx: ctx}
}

// taskRow is one row of asynqmon's task table as the browser renders it.
type taskRow struct {
	ID            string            `json:"id"`
	Cols          map[string]string `json:"cols"` // by column header
	Payload       string            `json:"payload"`
	PayloadWidth  int               `json:"payloadWidth"`
	PayloadScroll int               `json:"payloadScroll"`
}

// rowsJS reads the task table: the ID column is the row's <th>, the
// payload is the <pre> asynqmon highlights it in.
const rowsJS = `(() => {
	const heads = [...document.querySelectorAll('table thead th')].map(h => h.innerText.trim());
	return [...document.querySelectorAll('table tbody tr')].filter(r => r.querySelector('th')).map(r => {
		const pre = r.querySelector('pre');
		const cells = [...r.children].map(c => c.innerText);
		return {id: r.querySelector('th').innerText.trim(),
			cols: Object.fromEntries(heads.map((h, i) => [h, cells[i] || ''])),
			payload: pre ? pre.innerText : '',
			payloadWidth: pre ? pre.clientWidth : 0,
			payloadScroll: pre ? pre.scrollWidth : 0};
	});
})()`

// taskTable opens a queue's tab and waits for n rows.
func (b *browser) taskTable(t *testing.T, url string, n int) []taskRow {
	t.Helper()
	b.open(t, url, fmt.Sprintf(`document.querySelectorAll('table tbody tr th').length >= %d`, n))
	rows := eval[[]taskRow](t, b, rowsJS)
	b.record(t, url)
	if len(rows) != n {
		t.Fatalf("%s: %d rows, want %d: %+v", url, len(rows), n, rows)
	}
	return rows
}

// open loads url and waits until the page makes ready true.
func (b *browser) open(t *testing.T, url, ready string) {
	t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](ready, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("%s: waiting for %s: %v", url, ready, err)
	}
}

// eval runs a JavaScript expression in the page (awaiting a promise).
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %.80s: %v", expr, err)
	}
	return v
}

// record keeps the page's HTML and text, and a screenshot when asked.
func (b *browser) record(t *testing.T, url string) {
	t.Helper()
	page := eval[string](t, b, `document.documentElement.outerHTML + "\n" + document.body.innerText`)
	// Also unwrapped, so a secret split over a payload's lines is found.
	b.seen.WriteString(page + "\n" + strings.ReplaceAll(page, "\n  ", "") + "\n")
	if dir := os.Getenv("FRAMEQ_SCREENSHOT_DIR"); dir != "" {
		shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("%s: screenshot: %v", url, err)
		}
		name := strings.NewReplacer("/", "_", ":", "_", "?", "_", "=", "_").Replace(url[strings.Index(url, "/monitoring"):])
		if err := os.WriteFile(filepath.Join(dir, name+".png"), shot, 0o644); err != nil {
			t.Error(err)
		}
	}
}

func checkDistinctIDs(t *testing.T, table string, rows []taskRow) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range rows {
		if len(r.ID) < 8 || seen[r.ID] {
			t.Errorf("%s: ID column %q is short or repeated; all: %v", table, r.ID, ids(rows))
		}
		seen[r.ID] = true
	}
}

func ids(rows []taskRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// writeControlsJS lists the page's enabled controls that name a write
// action, and its checkboxes (asynqmon's bulk actions start with them).
const writeControlsJS = `[...document.querySelectorAll('button, [role=button], input[type=checkbox], [role=menuitem]')]
	.filter(el => !el.disabled && el.getAttribute('aria-disabled') !== 'true')
	.map(el => (el.type === 'checkbox' ? 'checkbox ' : '') + [el.getAttribute('aria-label'), el.getAttribute('title'), el.innerText].join(' ').trim())
	.filter(s => s.startsWith('checkbox') || /\b(delete|run|archive|pause|resume|cancel|kill)\b/i.test(s))`

// checkReadOnly finds no write control on the archived tab, and a write
// sent from the page itself is refused with nothing changed.
func (b *browser) checkReadOnly(t *testing.T, base, queue string) {
	t.Helper()
	b.open(t, base+"/queues/"+queue+"?status=archived", `document.querySelectorAll('table tbody tr th').length > 0`)
	controls := eval[[]string](t, b, writeControlsJS)
	post := fmt.Sprintf(`fetch(%q, {method: 'POST'}).then(r => r.status)`, base+"/api/queues/"+queue+"/archived_tasks:run_all")
	status := eval[int](t, b, post)
	if len(controls) != 0 {
		t.Errorf("the archived tab offers write controls: %q", controls)
	}
	if status != 403 {
		t.Errorf("POST run_all from the page: %d, want 403", status)
	}
	rows := b.taskTable(t, base+"/queues/"+queue+"?status=archived", 3)
	if len(rows) != 3 {
		t.Errorf("archived tasks after the refused run_all: %d", len(rows))
	}
}

// checkNoMetrics: no Metrics link, and its page says why it is off.
func (b *browser) checkNoMetrics(t *testing.T, base string) {
	t.Helper()
	b.open(t, base+"/", `document.body.innerText.includes('Redis')`)
	nav := eval[string](t, b, `document.body.innerText`)
	b.open(t, base+"/metrics", `document.body.innerText.length > 0`)
	page := eval[string](t, b, `document.body.innerText`)
	if strings.Contains(nav, "Metrics") {
		t.Error("the navigation offers a Metrics page")
	}
	if !strings.Contains(page, "no metrics page") || !strings.Contains(page, "Prometheus") {
		t.Errorf("the metrics page reads %.300q, want why it is off", page)
	}
	b.seen.WriteString(nav + page)
}
