package upload

import (
	"os"

	"golang.org/x/sys/unix"
)

// openat2Beneath opens rel under dir with RESOLVE_BENEATH: the kernel
// fails the call (EXDEV) rather than resolve any part of it outside dir.
// O_NONBLOCK as in openUnderRoot: a FIFO opens without waiting for a
// writer, and regularFile refuses it.
func openat2Beneath(dir *os.File, rel string) (*os.File, bool) {
	fd, err := unix.Openat2(int(dir.Fd()), rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, false
	}
	return os.NewFile(uintptr(fd), dir.Name()+string(os.PathSeparator)+rel), true
}
