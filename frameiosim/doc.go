// Package frameiosim is a faithful local Frame.io, V4 and v2 (legacy), for
// tests, benchmarks and the demo:
//
//	sim := frameiosim.StartTest(t, frameiosim.Config{
//		CreateLimit: 5, Window: time.Second,
//		Enforcement: frameiosim.SlidingWindow,
//	})
//	root := sim.RootFolder("dev-token") // default token of account "acct-dev"
//	// ... run the code under test against sim.URL() (v2) or sim.V4URL()
//	// with token "dev-token" ...
//	if n := sim.MaxCreatesInWindow("dev-token", time.Second); n > 5 {
//		t.Fatalf("%d v2 creates in one window", n)
//	}
//	if n := sim.MaxInWindow("dev-token", frameiosim.RouteFileCreate, time.Second); n > 5 {
//		t.Fatalf("%d V4 file creates in one window", n)
//	}
//	if st := sim.Stats(); len(st.Duplicates) > 0 {
//		t.Fatalf("duplicates: %+v", st.Duplicates)
//	}
//
// It serves the APIs' endpoints and JSON shapes with bearer tokens, rate
// limits with x-ratelimit-* headers and 429s, presigned part uploads
// checked the way S3 checks them, and injected faults (500s, lost create
// responses, dropped connections, failed parts, latency, proxy HTML pages,
// forbidden folders, failed uploads, locked accounts). It records what
// happened so that a test can prove "never over the limit", "no
// duplicates" and "bytes intact". Both APIs share one store: the same
// accounts, project root folders and ids, so Stats covers both.
//
// v2 endpoints: /v2/me, /v2/assets/{id} (GET, DELETE),
// /v2/assets/{id}/children (GET paginated, POST create). Limits: every call
// counts against CallLimit, creates also against CreateLimit.
//
// V4 endpoints (the contract in the repository's V4 notes), all under
// /v4/accounts/{account_id} but /v4/me and /v4/accounts: folders/{id}
// (GET), folders/{id}/folders (GET list, POST create), folders/{id}/files
// (GET list), folders/{id}/children (GET list), folders/{id}/files/
// local_upload and remote_upload (POST), files/{id} (GET, DELETE),
// files/{id}/status (GET). Bodies are wrapped in "data"; unknown request
// fields are 422 with a source.pointer; lists are cursor pages whose
// links.next omits page_size (clients re-append it; the default is 50);
// the server chooses each file's media_type from its name (MediaType) and
// every part PUT must send it as Content-Type with x-amz-acl: private and
// exactly the part's size, else 403. Each route draws on its own limit
// (Route* names, DefaultV4Limits, Config.V4Limits), whose headers every
// answer of the route carries. Faults.LockedAccounts answer every V4 call
// of an account 403 "Account locked"; Config.LegacyTokens need the header
// x-frameio-legacy-token-auth: true on V4.
//
// A file is complete Config.CompleteAfter after its last part (v2
// upload_completed_at, V4 status "uploaded" and /status upload_complete);
// Faults.UploadFailed makes it end upload_failed instead. Stats.Files and
// Stats.FailedUploads tell which. AdvanceClock moves the simulator's clock
// forward, so a test can expire presigned URLs or pass CompleteAfter
// without waiting.
//
// Adobe IMS (server-to-server): POST /ims/token/v3 (IMSURL), form-encoded
// grant_type=client_credentials, client_id, client_secret, scope, mints an
// access token for a Config.IMSClients entry ({access_token, token_type,
// expires_in}); both APIs accept it for the client's account until
// Config.TokenLifetime passes, then answer 401 "The access token has
// expired". Wrong credentials are 401 invalid_client; more than
// Config.IMSMintLimit mints a minute per client are 429. Every token of a
// client shares one rate-limit scope ("ims:" + client id), as Frame.io
// limits the user, not the token. Stats.IMSMints counts mints per client.
//
// Shared by both: PUT /upload/{asset_id}/{part}?X-Amz-... for the
// presigned part URLs (no rate limit, no bearer token); and, without
// auth, GET /_sim/stats, GET|POST /_sim/faults, POST /_sim/limits (v2
// call_limit and create_limit, V4 per-route "v4") for scripts. The
// cmd/frameio-sim binary serves the same on a port.
package frameiosim
