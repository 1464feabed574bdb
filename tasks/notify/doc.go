// Package notify tells a producer that its batch finished: the batch's
// intake metadata (which API key created it, its callback URL), the
// completion check that enqueues exactly one webhook task per batch, and
// the worker's handler that delivers it, signed, until a 2xx or 24 hours.
//
// Who notices the finish: the worker that records a batch's last file
// (Notifier.Settled, wired into tasks/upload through Options.Settled), and
// the intake itself once it has enqueued a batch (which covers a batch with
// nothing to do). Both race freely: the webhook task's id is derived from
// the batch and kept by asynq for a week after it ran (Retention), so only
// the first enqueue succeeds.
//
// It may import tasks/records, asynq and go-redis; not tasks/upload or
// tasks/job.
package notify
