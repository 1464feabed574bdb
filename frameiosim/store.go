package frameiosim

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

const (
	typeFile   = "file"
	typeFolder = "folder"
)

// account is one Frame.io account with its single project.
type account struct {
	id, userID, projectID, rootID string
}

// asset is a file or folder. Guarded by store.mu, except upload which has
// its own lock.
type asset struct {
	id, name, kind, parentID, projectID, accountID string
	filetype                                       string
	filesize                                       int64
	description                                    string
	properties                                     json.RawMessage
	sourceURL                                      string
	insertedAt                                     time.Time
	api                                            string    // "v2" or "v4" for assets made through that API; "" for setup
	seq                                            uint64    // store-wide creation order, the V4 page cursor
	partsInAt                                      time.Time // every part in (remote uploads: created); zero until then
	completedAt                                    time.Time // when Frame.io calls it complete; zero: never (yet)
	failed                                         bool      // ended upload_failed: never completes
	sha256                                         string    // hex of the bytes received, set with partsInAt
	children                                       []string  // live children, in creation order
	root                                           bool
	upload                                         *upload // files with parts; nil otherwise
}

// store holds every account and live asset.
type store struct {
	mu       sync.RWMutex
	accounts map[string]*account // by account id
	assets   map[string]*asset   // live only
	created  int                 // assets created through the API
	deleted  int
	seq      uint64 // last asset sequence number handed out
	failed   []File // every file that ended upload_failed, as it was then
}

// completeAt reports whether Frame.io calls the file complete at now: every
// part in, CompleteAfter passed, and not failed.
func (a *asset) completeAt(now time.Time) bool {
	return !a.completedAt.IsZero() && !now.Before(a.completedAt)
}

func newStore(accountIDs []string, now time.Time) *store {
	st := &store{accounts: make(map[string]*account), assets: make(map[string]*asset)}
	for _, id := range accountIDs {
		if _, ok := st.accounts[id]; ok {
			continue
		}
		a := &account{id: id, userID: newID(), projectID: newID(), rootID: newID()}
		st.accounts[id] = a
		st.assets[a.rootID] = &asset{
			id: a.rootID, name: "root", kind: typeFolder, projectID: a.projectID,
			accountID: id, insertedAt: now, root: true,
		}
	}
	return st
}

// newID returns a random UUIDv4, the shape of Frame.io's ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (st *store) account(id string) *account {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.accounts[id]
}

// get returns a snapshot of a live asset.
func (st *store) get(id string) (asset, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	a, ok := st.assets[id]
	if !ok {
		return asset{}, false
	}
	return *a, true
}

// add inserts a under its parent, which must be a live folder.
func (st *store) add(a *asset, viaAPI bool) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	p, ok := st.assets[a.parentID]
	if !ok {
		return errNotFound
	}
	if p.kind != typeFolder {
		return errParentNotFolder
	}
	a.projectID, a.accountID = p.projectID, p.accountID
	st.seq++
	a.seq = st.seq
	st.assets[a.id] = a
	p.children = append(p.children, a.id)
	if viaAPI {
		st.created++
	}
	return nil
}

// children returns snapshots of a folder's live children in creation order.
func (st *store) children(id string) ([]asset, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	p, ok := st.assets[id]
	if !ok {
		return nil, errNotFound
	}
	out := make([]asset, 0, len(p.children))
	for _, c := range p.children {
		out = append(out, *st.assets[c])
	}
	return out, nil
}

// remove deletes an asset and, for a folder, everything below it. It
// returns the removed assets so the caller can drop their part files
// outside the lock.
func (st *store) remove(id string) ([]*asset, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	a, ok := st.assets[id]
	if !ok {
		return nil, errNotFound
	}
	if a.root {
		return nil, errRootDelete
	}
	if p, ok := st.assets[a.parentID]; ok {
		p.children = removeString(p.children, id)
	}
	var gone []*asset
	var walk func(*asset)
	walk = func(x *asset) {
		for _, c := range x.children {
			walk(st.assets[c])
		}
		delete(st.assets, x.id)
		gone = append(gone, x)
	}
	walk(a)
	st.deleted += len(gone)
	return gone, nil
}

func removeString(s []string, v string) []string {
	for i, x := range s {
		if x == v {
			return append(s[:i], s[i+1:]...)
		}
	}
	return s
}

// markPartsIn records that every part of a file is in at at, and the
// SHA-256 of its bytes. The first time, fail decides whether the file ends
// upload_failed; otherwise it completes completeAfter later. A part
// overwritten later updates the digest only.
func (st *store) markPartsIn(id string, at time.Time, sha string, completeAfter time.Duration, fail func() bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	a, ok := st.assets[id]
	if !ok {
		return
	}
	a.sha256 = sha
	if !a.partsInAt.IsZero() {
		return
	}
	a.partsInAt = at
	if a.failed = fail(); a.failed {
		st.failed = append(st.failed, st.fileLocked(a, st.pathLocked(a), at))
		return
	}
	a.completedAt = at.Add(completeAfter)
}

// pathLocked is the asset's path below its project root, e.g. "a/b.mov"
// (a root's is "").
func (st *store) pathLocked(a *asset) string {
	var names []string
	for x := a; x != nil && !x.root; x = st.assets[x.parentID] {
		names = append(names, x.name)
	}
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	return strings.Join(names, "/")
}

// inventory lists live files and folders (project roots excluded) and
// duplicates, sorted by path for stable output.
func (st *store) inventory(now time.Time) (files []File, folders []Folder, dups []Duplicate, created, deleted int) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	type key struct{ parent, name string }
	counts := make(map[key]int)
	for _, a := range st.assets {
		if a.root {
			continue
		}
		counts[key{a.parentID, a.name}]++
		path := st.pathLocked(a)
		if a.kind == typeFolder {
			folders = append(folders, Folder{ID: a.id, ParentID: a.parentID, Name: a.name, Path: path, API: a.api})
			continue
		}
		files = append(files, st.fileLocked(a, path, now))
	}
	for k, n := range counts {
		if n > 1 {
			dups = append(dups, Duplicate{ParentID: k.parent, Name: k.name, Count: n})
		}
	}
	sort.Slice(files, func(i, j int) bool {
		return files[i].Path < files[j].Path || files[i].Path == files[j].Path && files[i].ID < files[j].ID
	})
	sort.Slice(folders, func(i, j int) bool {
		return folders[i].Path < folders[j].Path || folders[i].Path == folders[j].Path && folders[i].ID < folders[j].ID
	})
	sort.Slice(dups, func(i, j int) bool { return dups[i].ParentID+"/"+dups[i].Name < dups[j].ParentID+"/"+dups[j].Name })
	return files, folders, dups, st.created, st.deleted
}

// failedFiles copies the record of files that ended upload_failed.
func (st *store) failedFiles() []File {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return append([]File(nil), st.failed...)
}

func (st *store) fileLocked(a *asset, path string, now time.Time) File {
	f := File{ID: a.id, ParentID: a.parentID, Name: a.name, Path: path, Size: a.filesize,
		API: a.api, MediaType: a.filetype, Complete: a.completeAt(now), Failed: a.failed}
	switch {
	case a.failed:
		f.Status = FileFailed
	case f.Complete:
		f.Status = FileComplete
	case !a.partsInAt.IsZero():
		f.Status = FileProcessing
	default:
		f.Status = FileUploading
	}
	if a.upload != nil {
		f.Parts = a.upload.parts
		f.SHA256 = a.sha256
	}
	return f
}
