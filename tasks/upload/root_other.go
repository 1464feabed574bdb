//go:build !linux

package upload

import "os"

// openat2Beneath: openat2 is Linux's; elsewhere every open takes
// openUnderRoot's path-by-path check.
func openat2Beneath(*os.File, string) (*os.File, bool) { return nil, false }
