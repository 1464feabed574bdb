// Package frameio is a small client for the Frame.io REST API, V4 (the
// current API: V4, NewV4) and v2 (legacy: Client, New): the calls frameq
// needs to put files into Frame.io, and nothing else. Both share one
// transport: Options, the hooks, the timeouts, the error type and the
// redaction below.
//
// Example (example_test.go, run by go test against the simulator) creates a
// v2 file, PUTs its parts and reads a failure; ExampleFile_Parts shows how a
// V4 file's parts sit in it. A worker waits for the shared limiter in
// BeforeCall, on the budgets the call names:
//
//	BeforeCall: func(ctx context.Context, call frameio.Call) error {
//		return limiter.Wait(ctx, scope, call.Limits...) // *throttle.Limiter
//	},
//
// v2 calls draw on LimitCalls (and creates on LimitCreates too). Frame.io
// limits each V4 route on its own: every V4 call draws on exactly one of
// the V4 limit names (LimitFileCreate, LimitFolderCreate, ...), whose
// documented rates V4DefaultLimits lists.
//
// Tokens: Options.Token is a static bearer token; Options.Tokens a
// TokenSource for tokens that change (Adobe IMS access tokens, package
// ims): each call takes the current token after BeforeCall, and a 401
// renews it once and sends the call once more.
//
// V4 specifics: calls under /accounts/{a} need an account (V4.ForAccount;
// GET /me has none, GET /accounts lists them). Listings follow the
// server's links.next as given, never building a cursor. A local upload's
// parts are placed by each upload URL's own size (File.Parts) and PUT with
// the media type the server chose. Options.LegacyTokenAuth lets a legacy
// developer token through on V4-migrated accounts.
//
// Every error a Client or V4 returns wraps an *apierr.Error (V4's
// errors[].source.pointer becomes the field named in Detail). The bearer
// token (every one a TokenSource returned) and the presigned upload URLs'
// query strings are credentials: they
// never appear in an error, and printing Options, a Client, a V4, an Asset
// or a File hides them.
//
// The BeforeCall hook runs before each API request (the place to wait for a
// rate-limit permit); AfterCall runs after each API request and part upload
// with its status, the server's x-ratelimit-* headers and its error, so a
// limiter can adapt and metrics can count.
package frameio
