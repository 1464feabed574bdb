// Package frameiosim is a faithful local Frame.io v2 for tests, benchmarks
// and the demo:
//
//	sim := frameiosim.StartTest(t, frameiosim.Config{
//		CreateLimit: 5, Window: time.Second,
//		Enforcement: frameiosim.SlidingWindow,
//	})
//	root := sim.RootFolder("dev-token") // default token of account "acct-dev"
//	// ... run the code under test against sim.URL() with token "dev-token" ...
//	if n := sim.MaxCreatesInWindow("dev-token", time.Second); n > 5 {
//		t.Fatalf("%d creates in one window", n)
//	}
//	if st := sim.Stats(); len(st.Duplicates) > 0 {
//		t.Fatalf("duplicates: %+v", st.Duplicates)
//	}
//
// It serves the API's endpoints and JSON shapes with bearer tokens,
// per-token (or per-account) rate limits with x-ratelimit-* headers and
// 429s, presigned part uploads checked the way S3 checks them, and injected
// faults (500s, lost create responses, dropped connections, failed parts,
// latency, proxy HTML pages). It records what happened so that a test can
// prove "never over the limit", "no duplicates" and "bytes intact".
//
// Endpoints: /v2/me, /v2/assets/{id} (GET, DELETE), /v2/assets/{id}/children
// (GET paginated, POST create); PUT /upload/{asset_id}/{part}?X-Amz-... for
// the presigned part URLs (no rate limit, no bearer token); and, without
// auth, GET /_sim/stats, GET|POST /_sim/faults, POST /_sim/limits for
// scripts. The cmd/frameio-sim binary serves the same on a port.
package frameiosim
