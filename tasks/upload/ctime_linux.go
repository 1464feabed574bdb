package upload

import (
	"os"
	"syscall"
)

// ctimeNS is the file's status change time: any write or metadata change
// moves it, and unlike mtime no writer can set it back.
func ctimeNS(info os.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano()
	}
	return 0
}
