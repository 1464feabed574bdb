// Package upload is the worker side of frameq: the asynq Handler, the
// upload state machine (create or adopt the file, PUT its parts, resume,
// discard), remote uploads, root confinement of local paths, and the
// error classes that decide retry, wait or archive.
//
// It may import tasks/job (the payload), tasks/records, frameio and
// asynq; nothing in tasks/job or tasks/records may import it.
package upload
