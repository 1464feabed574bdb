package frameiosim

import (
	"sort"
	"time"
)

// Stats is what the simulator saw. It is a snapshot: later calls do not
// change it.
type Stats struct {
	// Calls is the number of API calls accepted (not 429), both APIs.
	Calls int `json:"calls"`
	// Creates is the number of assets created through either API, lost
	// responses included (MakeFolder not included).
	Creates int `json:"creates"`
	// RateLimited is the number of 429s answered.
	RateLimited int `json:"rate_limited"`
	// CreatesByScope holds the accepted v2 create timestamps per limit scope
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
	// CallsByRoute and RateLimitedByRoute count V4 calls accepted and
	// answered 429, by route name (RouteFileCreate, ...). Calls and
	// RateLimited include them.
	CallsByRoute       map[string]int `json:"calls_by_route"`
	RateLimitedByRoute map[string]int `json:"rate_limited_by_route"`
	// FailedUploads is every file (either API) that ended upload_failed,
	// deleted ones included, as it was when it failed.
	FailedUploads []File `json:"failed_uploads"`
	// IMSMints counts the access tokens IMS minted, by client id.
	IMSMints map[string]int `json:"ims_mints"`
	// ExpiredTokens counts API calls refused (401) because their minted
	// token had expired.
	ExpiredTokens int `json:"expired_tokens"`
	// IMSRefreshes counts successful refresh_token grants, by client id
	// (their access tokens count in IMSMints too).
	IMSRefreshes map[string]int `json:"ims_refreshes"`
	// RefreshTokenReuses counts refresh_token grants sent with a refresh
	// token that had already been exchanged: a fleet sharing one chain
	// keeps it 0.
	RefreshTokenReuses int `json:"refresh_token_reuses"`
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
	// API is "v2" or "v4": the API that created it ("" for none).
	API string `json:"api"`
	// MediaType is the v2 filetype or the V4 media_type.
	MediaType string `json:"media_type"`
	// Complete is true once Frame.io calls the file complete: Config.
	// CompleteAfter after its last part is in (remote uploads: after
	// create), unless it failed.
	Complete bool `json:"complete"`
	// Failed is true if the file ended upload_failed (Faults.UploadFailed):
	// it never completes.
	Failed bool `json:"failed"`
	// Status is one of FileUploading, FileProcessing, FileComplete,
	// FileFailed.
	Status string `json:"status"`
	// SHA256 is the hex digest of the received bytes in part order; "" until
	// every part is in, and for remote uploads.
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
	// API is "v2" or "v4": the API that created it ("" for MakeFolder).
	API string `json:"api"`
}

// File.Status values.
const (
	// FileUploading: some part is still missing.
	FileUploading = "uploading"
	// FileProcessing: every part is in; complete once CompleteAfter passes.
	FileProcessing = "processing"
	// FileComplete: Frame.io calls the file complete (v2
	// upload_completed_at set; V4 status "uploaded", upload_complete).
	FileComplete = "complete"
	// FileFailed: the file ended upload_failed and never completes.
	FileFailed = "failed"
)

// Stats returns a snapshot of what happened so far.
func (s *Server) Stats() Stats {
	accepted, refused := s.lim.counts()
	st := Stats{Calls: accepted, RateLimited: refused, CreatesByScope: s.lim.createTimes(),
		PartsReceived: int(s.partsReceived.Load()), PartsFailed: int(s.partsFailed.Load()),
		FailedCreates: int(s.failedCreates.Load()), LostCreates: int(s.lostCreates.Load())}
	st.Files, st.Folders, st.Duplicates, st.Creates, st.Deleted = s.store.inventory(s.now())
	st.CallsByRoute, st.RateLimitedByRoute = s.lim.routeStats()
	// Empty, not nil: scripts reading the JSON get [] rather than null.
	st.Files, st.Folders, st.Duplicates = nonNil(st.Files), nonNil(st.Folders), nonNil(st.Duplicates)
	st.FailedUploads = nonNil(s.store.failedFiles())
	st.IMSMints, st.ExpiredTokens = s.ims.stats()
	st.IMSRefreshes, st.RefreshTokenReuses = s.ims.refreshStats()
	return st
}

// MaxInWindow is the largest number of calls of V4 route (a Route* name)
// the limiter accepted for scope (the token, or the account with
// LimitPerAccount) in any interval (t-w, t]: the figure a strict limit of
// n per w must keep at or below n.
func (s *Server) MaxInWindow(scope, route string, w time.Duration) int {
	return PeakInWindow(s.lim.routeTimes(scope, route), w)
}

// RouteCalls returns the times of the V4 calls of route that the limiter
// accepted for scope, in order.
func (s *Server) RouteCalls(scope, route string) []time.Time {
	return s.lim.routeTimes(scope, route)
}

// MaxCreatesInWindow is the largest number of v2 creates the limiter accepted
// for scope in any interval (t-w, t] — the figure a strict limit of n per
// w must keep at or below n.
func (s *Server) MaxCreatesInWindow(scope string, w time.Duration) int {
	return PeakInWindow(s.lim.createTimes()[scope], w)
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
