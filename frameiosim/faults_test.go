package frameiosim

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

var folderBody = map[string]any{"type": "folder", "name": "f"}

func TestCreate500DoesNotCreate(t *testing.T) {
	s := StartTest(t, Config{Faults: Faults{Create500: 1}})
	c := newTC(t, s, DefaultToken)
	wantAPIError(t, c.create(s.RootFolder(DefaultToken), folderBody), http.StatusInternalServerError, "")
	st := s.Stats()
	if st.Creates != 0 || st.FailedCreates != 1 || len(st.Folders) != 0 || len(st.CreatesByScope[DefaultToken]) != 1 {
		t.Fatalf("Create500 created something, or the accepted create was not recorded: %+v", st)
	}
}

func TestLostCreateCreatesButAnswers500(t *testing.T) {
	s := StartTest(t, Config{Faults: Faults{LostCreate: 1}})
	c := newTC(t, s, DefaultToken)
	root := s.RootFolder(DefaultToken)
	wantAPIError(t, c.create(root, folderBody), http.StatusInternalServerError, "")
	kids := decode[[]apiAsset](t, c.do(http.MethodGet, "/assets/"+root+"/children", nil).body)
	if st := s.Stats(); st.Creates != 1 || st.LostCreates != 1 || len(kids) != 1 || kids[0].Name != "f" {
		t.Fatalf("lost create: %+v, children %+v", st, kids)
	}
	// The classic retry makes a duplicate, and the stats show it.
	s.SetFaults(Faults{})
	c.folder(root, "f")
	if d := s.Stats().Duplicates; len(d) != 1 || d[0] != (Duplicate{ParentID: root, Name: "f", Count: 2}) {
		t.Fatalf("duplicates: %+v", d)
	}
}

func TestResetCreateDropsConnectionAfterCreating(t *testing.T) {
	s := StartTest(t, Config{Faults: Faults{ResetCreate: 1}})
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/assets/"+s.RootFolder(DefaultToken)+"/children", strings.NewReader(`{"type":"folder","name":"f"}`))
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	r, err := http.DefaultClient.Do(req)
	if err == nil {
		r.Body.Close()
		t.Fatalf("got an answer %d, want a dropped connection", r.StatusCode)
	}
	if st := s.Stats(); st.Creates != 1 || st.LostCreates != 1 || len(st.Folders) != 1 {
		t.Fatalf("reset create: %+v", st)
	}
}

func TestPartFailDiscardsBytes(t *testing.T) {
	s := StartTest(t, Config{Faults: Faults{PartFail: 1}})
	f := newTC(t, s, DefaultToken).file(s.RootFolder(DefaultToken), "a.mp4", 3)
	wantS3Error(t, put(t, f.UploadURLs[0], []byte("abc"), "video/mp4", nil), 500, "InternalError", "")
	if st := s.Stats(); st.PartsFailed != 1 || st.PartsReceived != 0 || st.Files[0].Complete {
		t.Fatalf("after a failed part: %+v", st)
	}
	s.SetFaults(Faults{})
	if r := put(t, f.UploadURLs[0], []byte("abc"), "video/mp4", nil); r.status != http.StatusOK {
		t.Fatalf("retry: %d", r.status)
	}
	if st := s.Stats(); !st.Files[0].Complete || st.Files[0].SHA256 != sha([]byte("abc")) {
		t.Fatalf("after retry: %+v", st.Files[0])
	}
}

func TestHTMLErrorIsAProxyPage(t *testing.T) {
	s := StartTest(t, Config{Faults: Faults{HTMLError: 1}})
	r := newTC(t, s, DefaultToken).create(s.RootFolder(DefaultToken), folderBody)
	if r.status != http.StatusBadGateway || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(r.body), "<html>") || r.header.Get("x-ratelimit-limit") != "" {
		t.Fatalf("proxy error: %d %v %s", r.status, r.header, r.body)
	}
	if st := s.Stats(); st.Calls != 0 || st.Creates != 0 {
		t.Fatalf("a proxy error reached the API: %+v", st)
	}
}

func TestLatencyIsAddedToAPICalls(t *testing.T) {
	const lat = 150 * time.Millisecond
	s := StartTest(t, Config{Faults: Faults{Latency: lat}})
	c := newTC(t, s, DefaultToken)
	start := time.Now()
	c.do(http.MethodGet, "/me", nil)
	if el := time.Since(start); el < lat { // a lower bound holds on any machine
		t.Fatalf("call took %v, latency %v", el, lat)
	}
}

func TestSlowCallOutlivesClientTimeoutButStillCreates(t *testing.T) {
	s := StartTest(t, Config{Faults: Faults{SlowProb: 1, SlowDelay: time.Minute}})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/assets/"+s.RootFolder(DefaultToken)+"/children", strings.NewReader(`{"type":"folder","name":"f"}`))
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the client's timeout", err)
	}
	if st := s.Stats(); st.Creates != 1 {
		t.Fatalf("a slow create must still create: %+v", st)
	}
	// The server's sleeper ends with the client; Close does not wait a minute.
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close hangs on a slow call")
	}
}

func TestZeroProbabilitiesNeverFire(t *testing.T) {
	s := StartTest(t, Config{CreateLimit: 1000, CallLimit: 1000, PartSize: 1, Faults: Faults{SlowDelay: time.Hour}})
	c := newTC(t, s, DefaultToken)
	f := c.file(s.RootFolder(DefaultToken), "a.mp4", 50)
	for i, u := range f.UploadURLs {
		if r := put(t, u, []byte{1}, "video/mp4", nil); r.status != 200 {
			t.Fatalf("part %d: %d", i, r.status)
		}
	}
	for range 50 {
		c.folder(s.RootFolder(DefaultToken), "x")
	}
}

func TestSeedMakesFaultsReproducible(t *testing.T) {
	run := func() string {
		s := StartTest(t, unlimitedWith(Faults{Create500: 0.5}, 42))
		c := newTC(t, s, DefaultToken)
		var out strings.Builder
		for range 40 {
			out.WriteString(map[int]string{201: "+", 500: "x"}[c.create(s.RootFolder(DefaultToken), folderBody).status])
		}
		return out.String()
	}
	a, b := run(), run()
	if a != b || !strings.Contains(a, "+") || !strings.Contains(a, "x") {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, b)
	}
}

func unlimitedWith(f Faults, seed int64) Config {
	c := unlimited()
	c.Faults, c.Seed = f, seed
	return c
}
