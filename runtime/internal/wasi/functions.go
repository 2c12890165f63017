package wasi

import (
	"time"

	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// WASI errno values.
const (
	errnoSuccess     = 0
	errnoBadf        = 8
	errnoCanceled    = 11
	errnoFault       = 21
	errnoInval       = 28
	errnoIO          = 29
	errnoNametoolong = 37
	errnoNomem       = 48
	errnoNotdir      = 54
	errnoNotsock     = 57
	errnoPerm        = 63
	errnoNotcapable  = 76
)

// File types and flags.
const (
	filetypeDirectory    = 3
	filetypeSocketDgram  = 5
	filetypeSocketStream = 6

	fdflagsSync = 1<<1 | 1<<3 | 1<<4 // DSYNC, RSYNC, SYNC

	oflagsCreat = 1 << 0
	oflagsTrunc = 1 << 3

	lookupSymlinkFollow = 1 << 0

	fstflagsAtim    = 1 << 0
	fstflagsAtimNow = 1 << 1
	fstflagsMtim    = 1 << 2
	fstflagsMtimNow = 1 << 3
)

// Rights.
const (
	rightFdDatasync          = 1 << 0
	rightFdRead              = 1 << 1
	rightFdSeek              = 1 << 2
	rightFdFdstatSetFlags    = 1 << 3
	rightFdSync              = 1 << 4
	rightFdTell              = 1 << 5
	rightFdWrite             = 1 << 6
	rightFdAdvise            = 1 << 7
	rightFdAllocate          = 1 << 8
	rightPathCreateDirectory = 1 << 9
	rightPathCreateFile      = 1 << 10
	rightPathLinkSource      = 1 << 11
	rightPathLinkTarget      = 1 << 12
	rightPathOpen            = 1 << 13
	rightFdReaddir           = 1 << 14
	rightPathReadlink        = 1 << 15
	rightPathRenameSource    = 1 << 16
	rightPathRenameTarget    = 1 << 17
	rightPathFilestatGet     = 1 << 18
	rightPathFilestatSetSize = 1 << 19
	rightPathFilestatSetTime = 1 << 20
	rightFdFilestatGet       = 1 << 21
	rightFdFilestatSetSize   = 1 << 22
	rightFdFilestatSetTimes  = 1 << 23
	rightPathSymlink         = 1 << 24
	rightPathRemoveDirectory = 1 << 25
	rightPathUnlinkFile      = 1 << 26
	rightPollFdReadwrite     = 1 << 27
	rightSockShutdown        = 1 << 28
)

// checked are the functions that only need their descriptors translated:
// the stack indexes of the descriptors and the rights each needs.
var checked = map[string]struct {
	idx    []int
	rights []uint64
}{
	"fd_advise":             {[]int{0}, []uint64{rightFdAdvise}},
	"fd_allocate":           {[]int{0}, []uint64{rightFdAllocate}},
	"fd_datasync":           {[]int{0}, []uint64{rightFdDatasync}},
	"fd_fdstat_set_flags":   {[]int{0}, []uint64{rightFdFdstatSetFlags}},
	"fd_filestat_get":       {[]int{0}, []uint64{rightFdFilestatGet}},
	"fd_filestat_set_size":  {[]int{0}, []uint64{rightFdFilestatSetSize}},
	"fd_filestat_set_times": {[]int{0}, []uint64{rightFdFilestatSetTimes}},
	"fd_pread":              {[]int{0}, []uint64{rightFdRead | rightFdSeek}},
	"fd_pwrite":             {[]int{0}, []uint64{rightFdWrite | rightFdSeek}},
	"fd_read":               {[]int{0}, []uint64{rightFdRead}},
	"fd_readdir":            {[]int{0}, []uint64{rightFdReaddir}},
	"fd_sync":               {[]int{0}, []uint64{rightFdSync}},
	"fd_tell":               {[]int{0}, []uint64{rightFdTell}},
	"fd_write":              {[]int{0}, []uint64{rightFdWrite}},
	"fd_prestat_get":        {[]int{0}, []uint64{0}},
	"path_create_directory": {[]int{0}, []uint64{rightPathCreateDirectory}},
	"path_filestat_get":     {[]int{0}, []uint64{rightPathFilestatGet}},
	"path_remove_directory": {[]int{0}, []uint64{rightPathRemoveDirectory}},
	"path_rename":           {[]int{0, 3}, []uint64{rightPathRenameSource, rightPathRenameTarget}},
	"path_symlink":          {[]int{2}, []uint64{rightPathSymlink}},
	"path_unlink_file":      {[]int{0}, []uint64{rightPathUnlinkFile}},
	"sock_recv":             {[]int{0}, []uint64{rightFdRead}},
	"sock_send":             {[]int{0}, []uint64{rightFdWrite}},
}

// override returns Cronbox's function name, or nil where wazero's serves
// unchanged (arguments, environment, clocks, random, process).
func (w *wrapper) override(name string) api.GoModuleFunction {
	if ch, ok := checked[name]; ok {
		return w.fn(name, func(c *call) uint32 {
			if errno := c.translate(ch.idx, ch.rights); errno != 0 {
				return errno
			}
			return c.delegate(name)
		})
	}
	impl := map[string]func(c *call) uint32{
		"fd_close":                fdClose,
		"fd_renumber":             fdRenumber,
		"fd_fdstat_get":           fdFdstatGet,
		"fd_fdstat_set_rights":    fdFdstatSetRights,
		"fd_prestat_dir_name":     fdPrestatDirName,
		"fd_seek":                 fdSeek,
		"path_link":               pathLink,
		"path_open":               pathOpen,
		"path_readlink":           pathReadlink,
		"path_filestat_set_times": pathFilestatSetTimes,
		"poll_oneoff":             pollOneoff,
		"sock_accept":             sockAccept,
		"sock_shutdown":           sockShutdown,
	}[name]
	if impl == nil {
		return nil
	}
	return w.fn(name, impl)
}

func fdClose(c *call) uint32 {
	fd := uint32(c.stack[0])
	e := c.s.lookup(c.stack[0])
	if e == nil {
		return errnoBadf
	}
	c.stack[0] = uint64(e.host)
	if errno := c.delegate("fd_close"); errno != 0 {
		return errno
	}
	delete(c.s.fds, fd)
	return 0
}

// fdRenumber moves descriptor from to to, closing what to was. Both must be
// open. wazero refuses to close preopens and standard I/O: those are left
// open but out of the guest's reach.
func fdRenumber(c *call) uint32 {
	from, to := uint32(c.stack[0]), uint32(c.stack[1])
	ef, et := c.s.lookup(c.stack[0]), c.s.lookup(c.stack[1])
	if ef == nil || et == nil {
		return errnoBadf
	}
	if from == to {
		return 0
	}
	st := []uint64{uint64(et.host)}
	c.w.orig["fd_close"].Call(c.ctx, c.mod, st)
	c.s.fds[to] = ef
	delete(c.s.fds, from)
	return 0
}

func fdFdstatGet(c *call) uint32 {
	e := c.s.lookup(c.stack[0])
	if e == nil {
		return errnoBadf
	}
	ptr := uint32(c.stack[1])
	c.stack[0] = uint64(e.host)
	if errno := c.delegate("fd_fdstat_get"); errno != 0 {
		return errno
	}
	b, ok := c.mod.Memory().Read(ptr, 24)
	if !ok {
		return errnoFault
	}
	le.PutUint16(b[2:], le.Uint16(b[2:])|e.sync)
	le.PutUint64(b[8:], e.base)
	le.PutUint64(b[16:], e.inh)
	return 0
}

// fdFdstatSetRights drops rights; it cannot add any.
func fdFdstatSetRights(c *call) uint32 {
	e := c.s.lookup(c.stack[0])
	if e == nil {
		return errnoBadf
	}
	base, inh := c.stack[1], c.stack[2]
	if base&^e.base != 0 || inh&^e.inh != 0 {
		return errnoNotcapable
	}
	e.base, e.inh = base, inh
	return 0
}

// fdPrestatDirName writes the preopen's name into a buffer at least as
// long as it (wazero wants one exactly as long).
func fdPrestatDirName(c *call) uint32 {
	e := c.s.lookup(c.stack[0])
	if e == nil {
		return errnoBadf
	}
	var nameLen uint32
	errno := c.scratch(8, func(addr uint32) uint32 {
		st := []uint64{uint64(e.host), uint64(addr)}
		c.w.orig["fd_prestat_get"].Call(c.ctx, c.mod, st)
		if st[0] == 0 {
			b, _ := c.mod.Memory().Read(addr+4, 4)
			nameLen = le.Uint32(b)
		}
		return uint32(st[0])
	})
	if errno != 0 {
		return errno
	}
	if uint32(c.stack[2]) < nameLen {
		return errnoNametoolong
	}
	c.stack[0], c.stack[2] = uint64(e.host), uint64(nameLen)
	return c.delegate("fd_prestat_dir_name")
}

// fdSeek needs FD_TELL only to read the offset, FD_SEEK to move it.
func fdSeek(c *call) uint32 {
	right := uint64(rightFdSeek)
	if int64(c.stack[1]) == 0 && uint32(c.stack[2]) == 1 { // SEEK_CUR by 0
		right = rightFdTell
	}
	if errno := c.translate([]int{0}, []uint64{right}); errno != 0 {
		return errno
	}
	return c.delegate("fd_seek")
}

// pathOpen opens a file as wazero does and gives the new descriptor the
// rights asked for, within the directory's inheriting rights.
func pathOpen(c *call) uint32 {
	dir := c.s.lookup(c.stack[0])
	if dir == nil {
		return errnoBadf
	}
	oflags, base, inh, fdflags := uint16(c.stack[4]), c.stack[5], c.stack[6], uint16(c.stack[7])
	need := uint64(rightPathOpen)
	if oflags&oflagsCreat != 0 {
		need |= rightPathCreateFile
	}
	if oflags&oflagsTrunc != 0 {
		need |= rightPathFilestatSetSize
	}
	if errno := dir.need(need); errno != 0 {
		return errno
	}
	name, _ := c.guestPath(dir, c.stack[2], c.stack[3])
	result := uint32(c.stack[8])
	c.stack[0] = uint64(dir.host)
	if errno := c.delegate("path_open"); errno != 0 {
		return errno
	}
	b, _ := c.mod.Memory().Read(result, 4)
	e := &entry{host: le.Uint32(b), mount: dir.mount, path: name, sync: fdflags & fdflagsSync}
	if errno := c.hostStat(e); errno != 0 {
		return errno
	}
	e.base = e.hostBase & base & dir.inh
	e.inh = e.hostInh & inh & dir.inh
	return c.write(result, le.AppendUint32(nil, c.s.allocate(e)))
}

// pathLink refuses to follow a symbolic link at the source (EINVAL), as
// wazero would not follow it but link the link.
func pathLink(c *call) uint32 {
	if errno := c.translate([]int{0, 4}, []uint64{rightPathLinkSource, rightPathLinkTarget}); errno != 0 {
		return errno
	}
	if uint16(c.stack[1])&lookupSymlinkFollow != 0 {
		return errnoInval
	}
	return c.delegate("path_link")
}

// pathReadlink reads a link's target, truncated to the buffer.
func pathReadlink(c *call) uint32 {
	e := c.s.lookup(c.stack[0])
	if e == nil {
		return errnoBadf
	}
	if errno := e.need(rightPathReadlink); errno != 0 {
		return errno
	}
	fsys := c.fsOf(e)
	if fsys == nil {
		c.stack[0] = uint64(e.host)
		return c.delegate("path_readlink")
	}
	p, errno := c.guestPath(e, c.stack[1], c.stack[2])
	if errno != 0 {
		return errno
	}
	target, serr := fsys.Readlink(p)
	if serr != 0 {
		return toErrno(serr)
	}
	buf, bufLen, used := uint32(c.stack[3]), uint32(c.stack[4]), uint32(c.stack[5])
	n := min(uint32(len(target)), bufLen)
	if errno := c.write(buf, []byte(target[:n])); errno != 0 {
		return errno
	}
	return c.write(used, le.AppendUint32(nil, n))
}

// pathFilestatSetTimes sets a symbolic link's own times when asked not to
// follow it (wazero sets its target's).
func pathFilestatSetTimes(c *call) uint32 {
	e := c.s.lookup(c.stack[0])
	if e == nil {
		return errnoBadf
	}
	if errno := e.need(rightPathFilestatSetTime); errno != 0 {
		return errno
	}
	fsys := c.fsOf(e)
	if uint16(c.stack[1])&lookupSymlinkFollow != 0 || fsys == nil {
		c.stack[0] = uint64(e.host)
		return c.delegate("path_filestat_set_times")
	}
	atim, mtim, errno := times(int64(c.stack[4]), int64(c.stack[5]), uint16(c.stack[6]))
	if errno != 0 {
		return errno
	}
	p, errno := c.guestPath(e, c.stack[2], c.stack[3])
	if errno != 0 {
		return errno
	}
	return toErrno(fsys.Lutimens(p, atim, mtim))
}

// times resolves the times of path_filestat_set_times.
func times(atim, mtim int64, fst uint16) (int64, int64, uint32) {
	if fst&(fstflagsAtim|fstflagsAtimNow) == fstflagsAtim|fstflagsAtimNow ||
		fst&(fstflagsMtim|fstflagsMtimNow) == fstflagsMtim|fstflagsMtimNow {
		return 0, 0, errnoInval
	}
	now := time.Now().UnixNano()
	pick := func(t int64, set, setNow uint16) int64 {
		switch {
		case fst&set != 0:
			return t
		case fst&setNow != 0:
			return now
		}
		return experimentalsys.UTIME_OMIT
	}
	return pick(atim, fstflagsAtim, fstflagsAtimNow), pick(mtim, fstflagsMtim, fstflagsMtimNow), 0
}

func sockAccept(c *call) uint32 {
	e := c.s.lookup(c.stack[0])
	if e == nil {
		return errnoBadf
	}
	result := uint32(c.stack[2])
	c.stack[0] = uint64(e.host)
	if errno := c.delegate("sock_accept"); errno != 0 {
		return errno
	}
	b, _ := c.mod.Memory().Read(result, 4)
	n := &entry{host: le.Uint32(b), mount: -1}
	if errno := c.hostStat(n); errno != 0 {
		return errno
	}
	n.base, n.inh = n.hostBase, n.hostInh
	return c.write(result, le.AppendUint32(nil, c.s.allocate(n)))
}

// sockShutdown fails with ENOTSOCK on a descriptor that is not a socket.
func sockShutdown(c *call) uint32 {
	e := c.s.lookup(c.stack[0])
	if e == nil {
		return errnoBadf
	}
	if e.filetype != filetypeSocketDgram && e.filetype != filetypeSocketStream {
		return errnoNotsock
	}
	if errno := e.need(rightSockShutdown); errno != 0 {
		return errno
	}
	c.stack[0] = uint64(e.host)
	return c.delegate("sock_shutdown")
}

// toErrno maps a file system's errno to WASI's.
func toErrno(e experimentalsys.Errno) uint32 {
	switch e {
	case 0:
		return errnoSuccess
	case experimentalsys.EACCES:
		return 2
	case experimentalsys.EAGAIN:
		return 6
	case experimentalsys.EBADF:
		return errnoBadf
	case experimentalsys.EEXIST:
		return 20
	case experimentalsys.EFAULT:
		return errnoFault
	case experimentalsys.EINTR:
		return 27
	case experimentalsys.EINVAL:
		return errnoInval
	case experimentalsys.EISDIR:
		return 31
	case experimentalsys.ELOOP:
		return 32
	case experimentalsys.ENAMETOOLONG:
		return errnoNametoolong
	case experimentalsys.ENOENT:
		return 44
	case experimentalsys.ENOSYS:
		return 52
	case experimentalsys.ENOTDIR:
		return errnoNotdir
	case experimentalsys.ENOTEMPTY:
		return 55
	case experimentalsys.ENOTSOCK:
		return errnoNotsock
	case experimentalsys.ENOTSUP:
		return 58
	case experimentalsys.EPERM:
		return errnoPerm
	case experimentalsys.ERANGE:
		return 68
	case experimentalsys.EROFS:
		return 69
	}
	return errnoIO
}
