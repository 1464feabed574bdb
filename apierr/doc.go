// Package apierr describes what went wrong in a Frame.io API or upload call,
// and what the caller should do about it.
//
//	resp, err := hc.Do(req)
//	if err != nil {
//		return apierr.FromTransport(req.Method, req.URL, err)
//	}
//	if resp.StatusCode >= 300 {
//		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
//		return apierr.FromResponse(req.Method, req.URL, resp.StatusCode, resp.Header, body, time.Now())
//	}
//	...
//	switch apierr.Classify(err) {
//	case apierr.RateLimited:
//		sleep(apierr.WaitOf(err)) // the server's wait; no retry spent
//	case apierr.Retryable:
//		if apierr.Ambiguous(err) { /* a create may have happened: look before recreating */ }
//	case apierr.Terminal, apierr.TokenRejected:
//		// give up (for TokenRejected: on every job using that token)
//	}
//
// An [*Error] never carries a URL's query string or userinfo: presigned
// upload URLs are credentials, so only the path is kept, and text taken from
// bodies or transport errors is scrubbed of them.
//
// Body parsing is lenient: a Frame.io JSON error, an S3 XML error, an HTML
// page from a proxy, plain text, nothing at all or a truncated body all give a
// readable one-line message, never a panic.
package apierr
