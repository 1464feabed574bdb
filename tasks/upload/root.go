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

func resolveRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("upload root %q: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("upload root %q: %w", root, err)
	}
	return real, nil
}

// openUnderRoot opens file for reading only if, with every symlink
// resolved, it is a regular file inside root. Nothing is read otherwise.
func openUnderRoot(root, file string) (*os.File, os.FileInfo, error) {
	if root == "" {
		return nil, nil, terminal(ClassInput, "this worker has no FRAMEQ_UPLOAD_ROOT, so it reads no local files")
	}
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
	// for a writer; the check below then refuses it. Regular files ignore it.
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, terminal(ClassInput, fmt.Sprintf("open %s: %v", file, err))
	}
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
