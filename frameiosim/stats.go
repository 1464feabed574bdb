package frameiosim

import (
	"sort"
	"time"
)

// Stats is what the simulator saw. It is a snapshot: later calls do not
// change it.
type Stats struct {
	// Calls is the number of API calls accepted (not 429).
	Calls int `json:"calls"`
	// Creates is the number of assets created through the API, lost
	// responses included (MakeFolder not included).
	Creates int `json:"creates"`
	// RateLimited is the number of 429s answered.
	RateLimited int `json:"rate_limited"`
	// CreatesByScope holds the accepted create timestamps per limit scope
	// (the token, or the account with LimitPerAccount), in order. A create
	// counts once the limiter accepts it, whatever it answers next.
	CreatesByScope map[string][]time.Time `json:"creates_by_scope"`
	// Duplicates are parent id + name pairs held by more than one live
	// asset.
	Duplicates []Duplicate `json:"duplicates"`
	// Files is every live file, sorted by path.
	Files []File `json:"files"`
	// Folders is every live folder but the project roots, sorted by path.
	Folders []Folder `json:"folders"`
	// Deleted is the number of assets deleted (a folder's contents count).
	Deleted int `json:"deleted"`
	// PartsReceived counts part PUTs stored; PartsFailed those refused by
	// the PartFail fault.
	PartsReceived int `json:"parts_received"`
	PartsFailed   int `json:"parts_failed"`
	// FailedCreates counts creates refused by the Create500 fault (nothing
	// made); LostCreates those whose asset was made but whose answer was
	// lost (LostCreate, ResetCreate).
	FailedCreates int `json:"failed_creates"`
	LostCreates   int `json:"lost_creates"`
}

// Duplicate is a name that appears Count times among a folder's live
// children.
type Duplicate struct {
	ParentID string `json:"parent_id"`
	Name     string `json:"name"`
	Count    int    `json:"count"`
}

// File is a live file asset.
type File struct {
	ID       string `json:"id"`
	ParentID string `json:"parent_id"`
	Name     string `json:"name"`
	// Path is the file's path below its project root, slash-separated
	// without a leading slash, e.g. "shoot/a.mov".
	Path string `json:"path"`
	Size int64  `json:"size"`
	// Complete is true once every part is in (remote uploads: at once).
	Complete bool `json:"complete"`
	// SHA256 is the hex digest of the received bytes in part order; "" until
	// Complete, and for remote uploads.
	SHA256 string `json:"sha256"`
	// Parts is the number of upload URLs the file was given.
	Parts int `json:"parts"`
}

// Folder is a live folder.
type Folder struct {
	ID       string `json:"id"`
	ParentID string `json:"parent_id"`
	Name     string `json:"name"`
	// Path is like File.Path, e.g. "shoot".
	Path string `json:"path"`
}

// Stats returns a snapshot of what happened so far.
func (s *Server) Stats() Stats {
	accepted, refused := s.lim.counts()
	st := Stats{Calls: accepted, RateLimited: refused, CreatesByScope: s.lim.createTimes(),
		PartsReceived: int(s.partsReceived.Load()), PartsFailed: int(s.partsFailed.Load()),
		FailedCreates: int(s.failedCreates.Load()), LostCreates: int(s.lostCreates.Load())}
	st.Files, st.Folders, st.Duplicates, st.Creates, st.Deleted = s.store.inventory()
	// Empty, not nil: scripts reading the JSON get [] rather than null.
	st.Files, st.Folders, st.Duplicates = nonNil(st.Files), nonNil(st.Folders), nonNil(st.Duplicates)
	return st
}

// MaxCreatesInWindow is the largest number of creates the limiter accepted
// for scope in any interval (t-w, t] — the figure a strict limit of n per
// w must keep at or below n.
func (s *Server) MaxCreatesInWindow(scope string, w time.Duration) int {
	return maxInWindow(s.lim.createTimes()[scope], w)
}

// Scopes lists the limit scopes that have made a create, sorted.
func (st Stats) Scopes() []string {
	out := make([]string, 0, len(st.CreatesByScope))
	for k := range st.CreatesByScope {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
