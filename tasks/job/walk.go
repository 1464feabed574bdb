package job

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FromDir lists an upload for every regular file below dir, mirroring the
// tree under parentID. Hidden files and folders (".DS_Store", ".git") are
// skipped; symlinks are listed and checked against the upload root by the
// worker; symlinked directories are not followed. The uploads come in the
// order of ForV4Folders, so that the workers make folders and files at once.
func FromDir(dir, parentID, tokenRef string, force bool) ([]*Upload, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("dir %q: %w", dir, err)
	}
	var out []*Upload
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if p != abs && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || (!d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0) {
			return nil
		}
		info, err := d.Info()
		if d.Type()&fs.ModeSymlink != 0 {
			info, err = os.Stat(p)
		}
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(abs, p)
		out = append(out, &Upload{
			V: PayloadVersion, TokenRef: tokenRef, ParentID: parentID,
			Path: filepath.ToSlash(rel), File: p, Size: info.Size(),
			MtimeNS: info.ModTime().UnixNano(), Force: force,
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ForV4Folders(out), nil
}
