// Package job is the producer side of frameq: the task payload (Upload),
// its validation, the idempotency key and task id derived from it, the
// queue names per token ref, walking a directory into uploads, the
// Enqueuer that pushes them, and the per-token Breaker that pauses a
// token's queues.
//
// It may import tasks/records, asynq and
// go-redis; it must not import tasks/upload (the worker side).
package job
