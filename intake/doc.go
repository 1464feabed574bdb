// Package intake is frameq's HTTP API for producers in any language
// (`enqueue serve`): POST a batch of uploads, read its status and
// failures, and be told by a signed webhook when it has finished.
//
//	POST /v1/batches                 201 {"batch","enqueued","already_queued","already_uploaded"}
//	GET  /v1/batches/{id}            the JSON of `enqueue status --json`
//	GET  /v1/batches/{id}/failures   the failed files with class and reason
//	GET  /v1/openapi.yaml            the API's OpenAPI 3.1 document (docs/intake.openapi.yaml)
//	GET  /healthz, /readyz, /metrics
//
// Every /v1 request carries "Authorization: Bearer <key>". A key has a
// name and the token refs it may use; a key sees only the batches it
// created. A request is checked whole before anything is written: it is
// refused (400, 401, 403, 409, 413, 422) with Redis untouched, or
// accepted whole. The items are the manifest's (package manifest checks
// them by the very rules of `enqueue manifest`), then the payload rules
// (package tasks/job). An Idempotency-Key header makes a retried request
// answer what the first did, enqueuing nothing more.
//
// It may import tasks/job, tasks/records, tasks/notify, manifest, ident
// and docs; not tasks/upload.
package intake
