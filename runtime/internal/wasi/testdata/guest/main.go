// Command guest checks Cronbox's WASI functions by calling them directly:
// its argument names a check, it prints "ok" when the check holds and
// exits 1 saying why when it does not. It expects a writable directory
// preopened as descriptor 3 and named "/".
//
// Built by the tests with GOOS=wasip1 GOARCH=wasm (see internal/wasmtest).
package main

import (
	"fmt"
	"os"
	"time"
	"unsafe"
)

//go:wasmimport wasi_snapshot_preview1 fd_close
func fd_close(fd uint32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_renumber
func fd_renumber(from, to uint32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_fdstat_get
func fd_fdstat_get(fd uint32, buf unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 fd_fdstat_set_rights
func fd_fdstat_set_rights(fd uint32, base, inh uint64) uint32

//go:wasmimport wasi_snapshot_preview1 fd_prestat_dir_name
func fd_prestat_dir_name(fd uint32, buf unsafe.Pointer, n uint32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_read
func fd_read(fd uint32, iovs unsafe.Pointer, n uint32, nread unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 fd_write
func fd_write(fd uint32, iovs unsafe.Pointer, n uint32, nwritten unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 fd_allocate
func fd_allocate(fd uint32, off, n uint64) uint32

//go:wasmimport wasi_snapshot_preview1 path_open
func path_open(fd, dirflags uint32, path unsafe.Pointer, pathLen, oflags uint32, base, inh uint64, fdflags uint32, out unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 path_symlink
func path_symlink(old unsafe.Pointer, oldLen, fd uint32, new unsafe.Pointer, newLen uint32) uint32

//go:wasmimport wasi_snapshot_preview1 path_link
func path_link(oldFd, oldFlags uint32, old unsafe.Pointer, oldLen, newFd uint32, new unsafe.Pointer, newLen uint32) uint32

//go:wasmimport wasi_snapshot_preview1 path_readlink
func path_readlink(fd uint32, path unsafe.Pointer, pathLen uint32, buf unsafe.Pointer, bufLen uint32, used unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 path_filestat_get
func path_filestat_get(fd, flags uint32, path unsafe.Pointer, pathLen uint32, buf unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 path_filestat_set_times
func path_filestat_set_times(fd, flags uint32, path unsafe.Pointer, pathLen uint32, atim, mtim uint64, fst uint32) uint32

//go:wasmimport wasi_snapshot_preview1 poll_oneoff
func poll_oneoff(in, out unsafe.Pointer, n uint32, nevents unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 sock_shutdown
func sock_shutdown(fd, how uint32) uint32

const (
	root = 3

	errnoBadf        = 8
	errnoInval       = 28
	errnoNametoolong = 37
	errnoNotsock     = 57
	errnoNotcapable  = 76

	rightFdRead              = 1 << 1
	rightFdWrite             = 1 << 6
	rightPathFilestatSetSize = 1 << 19

	oflagsCreat     = 1
	oflagsDirectory = 2
	oflagsTrunc     = 8
	fdflagsSync     = 16
	symlinkFollow   = 1
	fstflagsMtim    = 4
	allRights       = 1<<29 - 1
)

func main() {
	checks := map[string]func() error{
		"rights":      rights,
		"renumber":    renumber,
		"sync":        syncFlag,
		"prestat":     prestat,
		"readlink":    readlink,
		"link-times":  linkTimes,
		"poll-stdin":  pollStdin,
		"shutdown":    shutdown,
		"link-follow": linkFollow,
		"dir-rights":  dirRights,
	}
	check := checks[os.Args[len(os.Args)-1]]
	if check == nil {
		fmt.Fprintln(os.Stderr, "usage: guest CHECK")
		os.Exit(64)
	}
	if err := check(); err != nil {
		fmt.Println("FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}

func ptr(s string) (unsafe.Pointer, uint32) {
	b := []byte(s)
	return unsafe.Pointer(&b[0]), uint32(len(b))
}

func open(dir uint32, name string, oflags uint32, base uint64, fdflags uint32) (uint32, uint32) {
	p, n := ptr(name)
	var fd uint32
	errno := path_open(dir, 0, p, n, oflags, base, allRights, fdflags, unsafe.Pointer(&fd))
	return fd, errno
}

// fdstat returns a descriptor's file type, flags and base rights.
func fdstat(fd uint32) (filetype uint8, flags uint16, base uint64, errno uint32) {
	var buf [24]byte
	errno = fd_fdstat_get(fd, unsafe.Pointer(&buf))
	return buf[0], uint16(buf[2]) | uint16(buf[3])<<8, *(*uint64)(unsafe.Pointer(&buf[8])), errno
}

func want(what string, got, want uint32) error {
	if got != want {
		return fmt.Errorf("%s: errno %d, want %d", what, got, want)
	}
	return nil
}

func write(fd uint32, s string) uint32 {
	p, n := ptr(s)
	iov := [2]uint32{uint32(uintptr(p)), n}
	var written uint32
	return fd_write(fd, unsafe.Pointer(&iov), 1, unsafe.Pointer(&written))
}

func read(fd uint32) uint32 {
	var buf [16]byte
	iov := [2]uint32{uint32(uintptr(unsafe.Pointer(&buf))), 16}
	var nread uint32
	return fd_read(fd, unsafe.Pointer(&iov), 1, unsafe.Pointer(&nread))
}

// rights: a file opened for reading only cannot be written, rights can be
// dropped but not added, and a directory without the right to truncate
// cannot open a file truncating it.
func rights() error {
	fd, errno := open(root, "f", oflagsCreat, rightFdRead, 0)
	if errno != 0 {
		return want("path_open", errno, 0)
	}
	if _, _, base, _ := fdstat(fd); base != rightFdRead {
		return fmt.Errorf("fd_fdstat_get: base rights %#x, want only FD_READ", base)
	}
	if err := want("fd_write without FD_WRITE", write(fd, "x"), errnoNotcapable); err != nil {
		return err
	}
	if err := want("fd_fdstat_set_rights adding FD_WRITE", fd_fdstat_set_rights(fd, rightFdRead|rightFdWrite, 0), errnoNotcapable); err != nil {
		return err
	}
	if err := want("fd_fdstat_set_rights dropping FD_READ", fd_fdstat_set_rights(fd, 0, 0), 0); err != nil {
		return err
	}
	if err := want("fd_read without FD_READ", read(fd), errnoNotcapable); err != nil {
		return err
	}
	var buf [24]byte
	fd_fdstat_get(root, unsafe.Pointer(&buf))
	base, inh := *(*uint64)(unsafe.Pointer(&buf[8])), *(*uint64)(unsafe.Pointer(&buf[16]))
	if err := want("dropping PATH_FILESTAT_SET_SIZE", fd_fdstat_set_rights(root, base&^rightPathFilestatSetSize, inh), 0); err != nil {
		return err
	}
	_, errno = open(root, "f", oflagsTrunc, 0, 0)
	return want("path_open truncating without PATH_FILESTAT_SET_SIZE", errno, errnoNotcapable)
}

// renumber: a file moves over standard input, a directory over the
// preopen, and a closed destination is refused.
func renumber() error {
	fd, errno := open(root, "f", oflagsCreat, allRights, 0)
	if errno != 0 {
		return want("path_open", errno, 0)
	}
	if err := want("fd_renumber over stdin", fd_renumber(fd, 0), 0); err != nil {
		return err
	}
	if _, _, _, errno := fdstat(fd); errno != errnoBadf {
		return want("fd_fdstat_get of the old number", errno, errnoBadf)
	}
	if typ, _, _, _ := fdstat(0); typ != 4 {
		return fmt.Errorf("descriptor 0 has file type %d, want a regular file (4)", typ)
	}
	dir, errno := open(root, ".", oflagsDirectory, allRights&^rightFdWrite, 0)
	if errno != 0 {
		return want("path_open .", errno, 0)
	}
	if err := want("fd_renumber over the preopen", fd_renumber(dir, root), 0); err != nil {
		return err
	}
	var name [1]byte
	if err := want("fd_prestat_dir_name of the replaced preopen", fd_prestat_dir_name(root, unsafe.Pointer(&name), 1), errnoBadf); err != nil {
		return err
	}
	if err := want("fd_renumber to a closed descriptor", fd_renumber(root, 99), errnoBadf); err != nil {
		return err
	}
	return want("fd_close", fd_close(root), 0)
}

// syncFlag: a file opened with FD_SYNC says so.
func syncFlag() error {
	fd, errno := open(root, "f", oflagsCreat, allRights, fdflagsSync)
	if errno != 0 {
		return want("path_open", errno, 0)
	}
	if _, flags, _, _ := fdstat(fd); flags&fdflagsSync == 0 {
		return fmt.Errorf("fd_fdstat_get: flags %#x lack FD_SYNC", flags)
	}
	return nil
}

// prestat: the name of "/" fits a buffer of 2 bytes, not one of 0.
func prestat() error {
	var name [2]byte
	if err := want("fd_prestat_dir_name into 2 bytes", fd_prestat_dir_name(root, unsafe.Pointer(&name), 2), 0); err != nil {
		return err
	}
	if name[0] != '/' {
		return fmt.Errorf("name %q, want /", name[:1])
	}
	return want("fd_prestat_dir_name into 0 bytes", fd_prestat_dir_name(root, unsafe.Pointer(&name), 0), errnoNametoolong)
}

// readlink: a target longer than the buffer is truncated to it.
func readlink() error {
	target, tn := ptr("target-name")
	link, ln := ptr("link")
	if err := want("path_symlink", path_symlink(target, tn, root, link, ln), 0); err != nil {
		return err
	}
	var buf [4]byte
	var used uint32
	if err := want("path_readlink into 4 bytes", path_readlink(root, link, ln, unsafe.Pointer(&buf), 4, unsafe.Pointer(&used)), 0); err != nil {
		return err
	}
	if used != 4 || string(buf[:]) != "targ" {
		return fmt.Errorf("read %q (%d bytes), want \"targ\"", buf[:used], used)
	}
	return nil
}

// mtime returns the modification time of name, following a final link or
// not.
func mtime(name string, flags uint32) (uint64, uint32) {
	p, n := ptr(name)
	var buf [64]byte
	errno := path_filestat_get(root, flags, p, n, unsafe.Pointer(&buf))
	return *(*uint64)(unsafe.Pointer(&buf[48])), errno
}

// linkTimes: setting a link's times without following it leaves its
// target's alone.
func linkTimes() error {
	if _, errno := open(root, "f", oflagsCreat, allRights, 0); errno != 0 {
		return want("path_open", errno, 0)
	}
	target, tn := ptr("f")
	link, ln := ptr("l")
	if err := want("path_symlink", path_symlink(target, tn, root, link, ln), 0); err != nil {
		return err
	}
	fileBefore, _ := mtime("f", symlinkFollow)
	set := uint64(time.Date(2001, 2, 3, 4, 5, 6, 700, time.UTC).UnixNano())
	if err := want("path_filestat_set_times", path_filestat_set_times(root, 0, link, ln, 0, set, fstflagsMtim), 0); err != nil {
		return err
	}
	if got, _ := mtime("l", 0); got != set {
		return fmt.Errorf("the link's mtime is %d, want %d", got, set)
	}
	if got, _ := mtime("f", symlinkFollow); got != fileBefore {
		return fmt.Errorf("the target's mtime changed from %d to %d", fileBefore, got)
	}
	return nil
}

// pollStdin: waiting for stdin to be readable, or 10 s, returns at once
// with stdin's event.
func pollStdin() error {
	var subs [2][48]byte
	subs[0][0] = 1 // userdata
	subs[0][8] = 0 // clock
	subs[0][16] = 1
	*(*uint64)(unsafe.Pointer(&subs[0][24])) = uint64(10 * time.Second)
	subs[1][0] = 2
	subs[1][8] = 1 // fd_read, of descriptor 0
	var events [2][32]byte
	var n uint32
	start := time.Now()
	if err := want("poll_oneoff", poll_oneoff(unsafe.Pointer(&subs), unsafe.Pointer(&events), 2, unsafe.Pointer(&n)), 0); err != nil {
		return err
	}
	if n != 1 || events[0][0] != 2 || events[0][10] != 1 || events[0][8] != 0 {
		return fmt.Errorf("%d events, the first %v; want stdin's fd_read without error", n, events[0][:12])
	}
	if d := time.Since(start); d > 5*time.Second {
		return fmt.Errorf("poll_oneoff took %s", d)
	}
	return nil
}

// shutdown: standard output is not a socket.
func shutdown() error {
	return want("sock_shutdown of stdout", sock_shutdown(1, 1), errnoNotsock)
}

// linkFollow: path_link does not follow a link at the source.
func linkFollow() error {
	target, tn := ptr("missing")
	link, ln := ptr("dangling")
	if err := want("path_symlink", path_symlink(target, tn, root, link, ln), 0); err != nil {
		return err
	}
	hard, hn := ptr("hard")
	return want("path_link following a dangling link", path_link(root, symlinkFollow, link, ln, root, hard, hn), errnoInval)
}

// dirRights: a directory cannot be allocated to.
func dirRights() error {
	return want("fd_allocate of a directory", fd_allocate(root, 0, 1), errnoNotcapable)
}
