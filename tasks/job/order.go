package job

import "strings"

// The share of a tree's tasks that make a new folder, while some are left:
// Frame.io V4's documented folder-create and file-create limits (3/s and
// 5/s per route). Every task makes one file; 3 of every 5 also making a
// folder keeps both limits busy at once.
const (
	folderShare = 3
	fileShare   = 5
)

// ForFolders orders a tree's uploads (given in walk order) so that the
// folders they make reach the workers in the proportion of the two create
// limits: while new folders are left, every `files` tasks (each makes one
// file) make `folders` folders between them. A task "makes" a folder when
// it is the first to need it. The relative order of the folder-making
// tasks is kept, and of the others, and a task comes after the ones that
// make its folders.
//
// Why: a task waits for its permits holding a worker slot. In walk order a
// tree with a few files per folder makes folders (3/s) faster than their
// files can be created (5/s), so the slots fill up with files waiting for
// file-create permits while the tasks that would make the next folders sit
// in the queue, and folder creates stall (cmd/frameq-bench row 7: 62 % of
// 3/s). On v2, where folders and files share one create limit, the order
// changes nothing.
func ForFolders(uploads []*Upload, folders, files int) []*Upload {
	if folders <= 0 || files <= folders {
		return uploads
	}
	type maker struct {
		u   *Upload
		new int // folders it is the first to need
	}
	var makers []maker
	var adders []*Upload
	var after []int           // per adder: how many makers must come before it
	first := map[string]int{} // folder path → index of the maker that needs it first
	for _, u := range uploads {
		n, need := 0, -1
		dirs := u.Folders()
		for i := range dirs {
			p := strings.Join(dirs[:i+1], "/")
			if at, seen := first[p]; seen {
				need = max(need, at)
				continue
			}
			first[p] = len(makers)
			n++
		}
		if n > 0 {
			makers = append(makers, maker{u, n})
			continue
		}
		adders = append(adders, u)
		after = append(after, need+1)
	}
	out := make([]*Upload, 0, len(uploads))
	made, mi, ai := 0, 0, 0 // folders made by the tasks out so far; next maker; next adder
	for mi < len(makers) || ai < len(adders) {
		behind := made*files <= len(out)*folders // fewer folders than the share
		if mi < len(makers) && (behind || ai == len(adders) || after[ai] > mi) {
			out = append(out, makers[mi].u)
			made += makers[mi].new
			mi++
			continue
		}
		out = append(out, adders[ai])
		ai++
	}
	return out
}

// ForV4Folders is ForFolders at Frame.io V4's documented limits.
func ForV4Folders(uploads []*Upload) []*Upload {
	return ForFolders(uploads, folderShare, fileShare)
}
