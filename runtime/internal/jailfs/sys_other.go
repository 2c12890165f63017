//go:build !linux

package jailfs

import (
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// osDirectory is not passed to the host: OpenFile checks the opened file's
// type instead.
const osDirectory = 0

// setAppend is only implemented on Linux.
func setAppend(*os.File, bool) experimentalsys.Errno {
	return experimentalsys.ENOSYS
}

// datasync falls back to a full sync.
func datasync(f *os.File) experimentalsys.Errno {
	return toErrno(f.Sync())
}

// futimens is only implemented on Linux.
func futimens(*os.File, int64, int64) experimentalsys.Errno {
	return experimentalsys.ENOSYS
}

// lutimensAt is only implemented on Linux.
func lutimensAt(*os.File, string, int64, int64) experimentalsys.Errno {
	return experimentalsys.ENOSYS
}
