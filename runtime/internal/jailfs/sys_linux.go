package jailfs

import (
	"os"
	"syscall"
	"unsafe"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

const (
	// osDirectory is the host's O_DIRECTORY. With it, the host refuses a
	// non-directory before O_TRUNC could truncate it.
	osDirectory = syscall.O_DIRECTORY

	// utimeOmit is Linux's UTIME_OMIT, which leaves a timestamp unchanged.
	utimeOmit = 1<<30 - 2
)

// control runs fn with the descriptor of f.
func control(f *os.File, fn func(fd uintptr) error) experimentalsys.Errno {
	rc, err := f.SyscallConn()
	if err != nil {
		return toErrno(err)
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = fn(fd) }); err != nil {
		return toErrno(err)
	}
	return toErrno(opErr)
}

// setAppend switches the O_APPEND status flag of f.
func setAppend(f *os.File, enable bool) experimentalsys.Errno {
	return control(f, func(fd uintptr) error {
		flags, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		if e != 0 {
			return e
		}
		if enable {
			flags |= syscall.O_APPEND
		} else {
			flags &^= syscall.O_APPEND
		}
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETFL, flags); e != 0 {
			return e
		}
		return nil
	})
}

// datasync flushes the data of f, like fdatasync(2).
func datasync(f *os.File) experimentalsys.Errno {
	return control(f, func(fd uintptr) error {
		return syscall.Fdatasync(int(fd))
	})
}

// futimens sets the timestamps of f, like futimens(3); UTIME_OMIT leaves
// one unchanged.
func futimens(f *os.File, atim, mtim int64) experimentalsys.Errno {
	ts := [2]syscall.Timespec{timespec(atim), timespec(mtim)}
	return control(f, func(fd uintptr) error {
		// utimensat(2) with a NULL path operates on fd itself.
		_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, fd, 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	})
}

func timespec(nanos int64) syscall.Timespec {
	if nanos == experimentalsys.UTIME_OMIT {
		return syscall.Timespec{Nsec: utimeOmit}
	}
	return syscall.NsecToTimespec(nanos)
}

// lutimensAt sets the timestamps of the entry name in the folder dir,
// without following it if it is a symbolic link, like utimensat(2) with
// AT_SYMLINK_NOFOLLOW; UTIME_OMIT leaves one unchanged.
func lutimensAt(dir *os.File, name string, atim, mtim int64) experimentalsys.Errno {
	ts := [2]syscall.Timespec{timespec(atim), timespec(mtim)}
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return experimentalsys.EINVAL
	}
	return control(dir, func(fd uintptr) error {
		const atSymlinkNofollow = 0x100
		_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, fd, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&ts)), atSymlinkNofollow, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	})
}
