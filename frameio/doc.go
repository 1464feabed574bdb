// Package frameio is a small client for the Frame.io v2 REST API: the calls
// frameq needs to put files into Frame.io, and nothing else.
//
//	c, err := frameio.New(frameio.Options{
//		Token:      os.Getenv("FRAMEIO_TOKEN"),
//		BeforeCall: func(ctx context.Context, call frameio.Call) error { return limiter.Wait(ctx, call.Kind) },
//	})
//	if err != nil { ... }
//	a, err := c.CreateAsset(ctx, rootAssetID, frameio.CreateAsset{
//		Type: frameio.TypeFile, Name: "clip.mov", Filetype: "video/quicktime", Filesize: size,
//	})
//	if err != nil {
//		return err // an *apierr.Error inside: apierr.Classify(err) says retry, wait or give up
//	}
//	for _, p := range frameio.Parts(a.Filesize, len(a.UploadURLs)) {
//		err := c.UploadPart(ctx, a.UploadURLs[p.Index], a.Filetype, file, p.Offset, p.Size)
//		...
//	}
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
