// Package chain shares one Adobe IMS user OAuth refresh chain among every
// worker of a fleet, through Redis, and is a frameio.TokenSource:
//
//	src, err := chain.New(chain.Config{
//		Client:    ims.RefreshConfig{Ref: "default", URL: imsURL, ClientID: id, ClientSecret: secret},
//		Redis:     rdb,
//		Key:       key,       // 32 bytes: FRAMEQ_SECRET_KEY
//		Bootstrap: refresh,   // FRAMEQ_IMS_REFRESH_TOKEN; "" if imported
//	})
//
// IMS rotates user refresh tokens: every refresh returns a new one and
// revokes the one used. Workers that each refreshed the same token would
// revoke each other's, so the chain (refresh token, current access token,
// expiry, login and renewal times, recent mints) lives in Redis, one record
// per token ref, sealed with AES-256-GCM (the ref is the additional data,
// so a record cannot be moved to another ref). Exactly one process
// refreshes at a time: it holds a lock (SET NX PX with a random token;
// released by compare-and-delete, in the same script that stores the new
// chain); the others poll the record and take the access token it stored.
//
// The bootstrap refresh token is used only while Redis holds no chain for
// the ref: a worker restarted with its original, long rotated-out token
// uses the stored chain. A refresh IMS refuses is stored in the chain, so
// no other worker spends a request on the dead token, and is an error
// wrapping apierr.ErrTokenRejected that says to log in again (enqueue auth
// import) — which stores a new chain.
//
// This package, not ims, holds the Redis part: ims stays a plain HTTP
// client (its Refresh exchanges one token), usable without Redis.
//
// Tokens and the key never appear in errors, logs or printouts; Redis
// sees only ciphertext.
package chain
