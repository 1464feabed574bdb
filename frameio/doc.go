// Package frameio is a small client for the Frame.io v2 REST API: the calls
// frameq needs to put files into Frame.io, and nothing else.
//
// Example (example_test.go, run by go test against the simulator) creates a
// file, PUTs its parts and reads a failure. A worker waits for the shared
// limiter in BeforeCall, on the budgets the call names:
//
//	BeforeCall: func(ctx context.Context, call frameio.Call) error {
//		return limiter.Wait(ctx, scope, call.Limits...) // *throttle.Limiter
//	},
//
// Every error a Client returns wraps an *apierr.Error. The bearer token and
// the presigned upload URLs' query strings are credentials: they never
// appear in an error, and printing Options, a Client or an Asset hides them.
//
// The BeforeCall hook runs before each API request (the place to wait for a
// rate-limit permit); AfterCall runs after each API request and part upload
// with its status, the server's x-ratelimit-* headers and its error, so a
// limiter can adapt and metrics can count.
package frameio
