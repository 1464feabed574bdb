// Package records holds frameq's own Redis records, outside asynq's: a
// file's upload progress (Progresses), the folder cache and its create
// lock (Folders), and batch membership and state counts (Batches).
//
// It may import go-redis and frameio's types; it must not import
// tasks/job or tasks/upload, so both sides can share it.
package records
