package upload

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// uploadRoot is the directory a worker reads files from: its real path,
// and the directory open, for opening files beneath it in one call.
type uploadRoot struct {
	path string   // "": no root, no local files read
	dir  *os.File // nil where the directory could not be opened
}

func resolveRoot(root string) (uploadRoot, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return uploadRoot{}, fmt.Errorf("upload root %q: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return uploadRoot{}, fmt.Errorf("upload root %q: %w", root, err)
	}
	dir, err := os.Open(real)
	if err != nil {
		dir = nil // every open takes the path-by-path check
	}
	return uploadRoot{path: real, dir: dir}, nil
}

// open opens file for reading only if, with every symlink resolved, it is
// a regular file inside the root. Nothing is read otherwise.
func (r uploadRoot) open(file string) (*os.File, os.FileInfo, error) {
	if r.path == "" {
		return nil, nil, terminal(ClassInput, "this worker has no FRAMEQ_UPLOAD_ROOT, so it reads no local files")
	}
	if f, ok := r.openBeneath(file); ok {
		return regularFile(f, file)
	}
	return openUnderRoot(r.path, file)
}

// openBeneath opens file in one openat2 call if it is named under the root
// and the kernel, resolving it beneath the root's directory, never leaves
// it (no "..", symlink or mount crossing out of it): the check
// openUnderRoot makes with a lstat per path component, without the gap
// between its check and its open. Anything else reports false, and
// openUnderRoot decides, with its reasons: a file that does not exist, a
// path out of the root, a kernel without openat2 (before Linux 5.6, or
// another system), an absolute symlink (RESOLVE_BENEATH refuses even one
// that points back inside).
func (r uploadRoot) openBeneath(file string) (*os.File, bool) {
	rel, ok := strings.CutPrefix(file, r.path+string(filepath.Separator))
	if r.dir == nil || !ok || filepath.Clean(file) != file {
		return nil, false
	}
	return openat2Beneath(r.dir, rel)
}

// openUnderRoot is open the slow way: every symlink resolved, then the
// path compared with root.
func openUnderRoot(root, file string) (*os.File, os.FileInfo, error) {
	real, err := filepath.EvalSymlinks(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, terminal(ClassInput, fmt.Sprintf("file %s does not exist", file))
	}
	if err != nil {
		return nil, nil, terminal(ClassInput, fmt.Sprintf("file %s: %v", file, err))
	}
	if !within(root, real) {
		return nil, nil, terminal(ClassInput, fmt.Sprintf("file %s is outside upload root %s", file, root))
	}
	// O_NONBLOCK: opening a FIFO (or a device) for reading must not wait
	// for a writer; regularFile then refuses it. Regular files ignore it.
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, terminal(ClassInput, fmt.Sprintf("open %s: %v", file, err))
	}
	return regularFile(f, file)
}

// regularFile returns f with its info if it is a regular file; else it
// closes f.
func regularFile(f *os.File, file string) (*os.File, os.FileInfo, error) {
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, nil, terminal(ClassInput, fmt.Sprintf("file %s is not a regular file", file))
	}
	return f, info, nil
}

func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
