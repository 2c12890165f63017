package jailfs

import (
	"errors"
	"io"
	"os"
	"sync/atomic"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// file is a file or directory opened from an FS. Like the rest of wazero's
// file implementations it is not safe for concurrent use.
type file struct {
	f *os.File

	// writable reports whether f was opened for writing.
	writable bool
	// readOnly reports whether the FS was read-only, which also forbids
	// changing timestamps.
	readOnly bool
	// appending reports whether writes go to the end of the file.
	appending bool
	// closed is set by Close.
	closed bool
	// quota, if not nil, is charged for writes and truncations, and counts
	// the file as open if it is a regular file.
	quota *Quota
	// written, if not nil, counts the bytes written through the file.
	written *atomic.Int64

	// Stable while the file is open, so cached at open time.
	isDir bool
	dev   uint64
	ino   sys.Inode
}

var _ experimentalsys.File = (*file)(nil)

// newFile wraps f, caching its type and identity, and records it as open
// in quota, if not nil.
func newFile(f *os.File, writable, readOnly bool, quota *Quota) (*file, experimentalsys.Errno) {
	fi, err := f.Stat()
	if err != nil {
		return nil, toErrno(err)
	}
	st := sys.NewStat_t(fi)
	file := &file{
		f:        f,
		writable: writable,
		readOnly: readOnly,
		isDir:    fi.IsDir(),
		dev:      st.Dev,
		ino:      st.Ino,
	}
	if quota != nil && fi.Mode().IsRegular() {
		file.quota = quota
		quota.opened(file.id())
	}
	return file, 0
}

// id returns the identity of the host file.
func (f *file) id() fileID { return fileID{f.dev, f.ino} }

// size returns the current size of the host file.
func (f *file) size() (int64, experimentalsys.Errno) {
	fi, err := f.f.Stat()
	if err != nil {
		return 0, toErrno(err)
	}
	return fi.Size(), 0
}

// write writes buf at off, or at the end in append mode, through do. With
// a quota, the growth of the file is reserved first, and the whole write
// refused if it does not fit; what was not written is released afterwards.
// off < 0 means the file's current offset.
func (f *file) write(buf []byte, off int64, do func() (int, error)) (int, experimentalsys.Errno) {
	if f.quota == nil {
		n, err := do()
		f.count(n)
		return n, toErrno(err)
	}
	size, errno := f.size()
	if errno != 0 {
		return 0, errno
	}
	switch {
	case f.appending:
		off = size
	case off < 0:
		cur, err := f.f.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, toErrno(err)
		}
		off = cur
	}
	growth := max(off+int64(len(buf))-size, 0)
	if errno := f.quota.reserve(growth); errno != 0 {
		return 0, errno
	}
	n, err := do()
	f.count(n)
	f.quota.release(growth - max(off+int64(n)-size, 0))
	return n, toErrno(err)
}

// count adds n written bytes to the FS's counter, if it has one.
func (f *file) count(n int) {
	if f.written != nil && n > 0 {
		f.written.Add(int64(n))
	}
}

// Dev implements experimentalsys.File.Dev.
func (f *file) Dev() (uint64, experimentalsys.Errno) { return f.dev, 0 }

// Ino implements experimentalsys.File.Ino.
func (f *file) Ino() (sys.Inode, experimentalsys.Errno) { return f.ino, 0 }

// IsDir implements experimentalsys.File.IsDir.
func (f *file) IsDir() (bool, experimentalsys.Errno) { return f.isDir, 0 }

// IsAppend implements experimentalsys.File.IsAppend.
func (f *file) IsAppend() bool { return f.appending }

// SetAppend implements experimentalsys.File.SetAppend. The host file's own
// append mode is switched, so that appends stay atomic with respect to
// other writers of the same host file.
func (f *file) SetAppend(enable bool) experimentalsys.Errno {
	switch {
	case f.closed:
		return experimentalsys.EBADF
	case f.isDir:
		return experimentalsys.EISDIR
	case enable == f.appending:
		return 0
	}
	if errno := setAppend(f.f, enable); errno != 0 {
		return errno
	}
	f.appending = enable
	return 0
}

// Stat implements experimentalsys.File.Stat.
func (f *file) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	fi, err := f.f.Stat()
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// regular returns the Errno for a data operation on f: EBADF once closed or
// if write is set and f is not open for writing, EISDIR for a directory.
func (f *file) regular(write bool) experimentalsys.Errno {
	switch {
	case f.closed:
		return experimentalsys.EBADF
	case f.isDir:
		return experimentalsys.EISDIR
	case write && !f.writable:
		return experimentalsys.EBADF
	}
	return 0
}

// Read implements experimentalsys.File.Read.
func (f *file) Read(buf []byte) (int, experimentalsys.Errno) {
	if errno := f.regular(false); errno != 0 || len(buf) == 0 {
		return 0, errno
	}
	n, err := f.f.Read(buf)
	return n, toErrno(err) // io.EOF maps to success
}

// Pread implements experimentalsys.File.Pread.
func (f *file) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if errno := f.regular(false); errno != 0 || len(buf) == 0 {
		return 0, errno
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	n, err := f.f.ReadAt(buf, off)
	return n, toErrno(err) // io.EOF maps to success
}

// Seek implements experimentalsys.File.Seek. A directory only supports
// rewinding, (0, io.SeekStart), which restarts Readdir.
func (f *file) Seek(offset int64, whence int) (int64, experimentalsys.Errno) {
	switch {
	case f.closed:
		return 0, experimentalsys.EBADF
	case whence < io.SeekStart || whence > io.SeekEnd:
		return 0, experimentalsys.EINVAL
	case f.isDir && (offset != 0 || whence != io.SeekStart):
		return 0, experimentalsys.EISDIR
	}
	n, err := f.f.Seek(offset, whence)
	return n, toErrno(err)
}

// Readdir implements experimentalsys.File.Readdir. For n > 0 it reads at
// most n entries from the host directory, through a fixed-size buffer;
// wazero always passes such an n, sized to the guest's buffer. For n <= 0
// it returns all remaining entries, as the interface requires, so memory
// then grows with the directory. "." and ".." are left out: wazero
// synthesizes them.
func (f *file) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	switch {
	case f.closed:
		return nil, experimentalsys.EBADF
	case !f.isDir:
		return nil, experimentalsys.ENOTDIR
	}
	entries, err := f.f.ReadDir(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, toErrno(err)
	}
	dirents := make([]experimentalsys.Dirent, 0, len(entries))
	for _, e := range entries {
		d := experimentalsys.Dirent{Name: e.Name(), Type: e.Type()}
		// For a directory opened in an os.Root, ReadDir has already
		// stat'ed each entry relative to the directory, so this is free.
		// Entries removed meanwhile keep inode zero, which means unknown.
		if fi, err := e.Info(); err == nil {
			d.Ino = sys.NewStat_t(fi).Ino
		}
		dirents = append(dirents, d)
	}
	return dirents, 0
}

// Write implements experimentalsys.File.Write.
func (f *file) Write(buf []byte) (int, experimentalsys.Errno) {
	if errno := f.regular(true); errno != 0 || len(buf) == 0 {
		return 0, errno
	}
	return f.write(buf, -1, func() (int, error) { return f.f.Write(buf) })
}

// Pwrite implements experimentalsys.File.Pwrite. In append mode, Linux
// appends regardless of off, as it does for native programs.
func (f *file) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if errno := f.regular(true); errno != 0 || len(buf) == 0 {
		return 0, errno
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	return f.write(buf, off, func() (int, error) { return f.f.WriteAt(buf, off) })
}

// Truncate implements experimentalsys.File.Truncate.
func (f *file) Truncate(size int64) experimentalsys.Errno {
	if errno := f.regular(true); errno != 0 {
		return errno
	}
	if size < 0 {
		return experimentalsys.EINVAL
	}
	if f.quota == nil {
		return toErrno(f.f.Truncate(size))
	}
	old, errno := f.size()
	if errno != 0 {
		return errno
	}
	if errno := f.quota.reserve(size - old); errno != 0 {
		return errno
	}
	if err := f.f.Truncate(size); err != nil {
		f.quota.release(size - old)
		return toErrno(err)
	}
	f.quota.release(old - size)
	return 0
}

// Sync implements experimentalsys.File.Sync.
func (f *file) Sync() experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return toErrno(f.f.Sync())
}

// Datasync implements experimentalsys.File.Datasync.
func (f *file) Datasync() experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return datasync(f.f)
}

// Utimens implements experimentalsys.File.Utimens. It is only supported on
// Linux (ENOSYS elsewhere).
func (f *file) Utimens(atim, mtim int64) experimentalsys.Errno {
	switch {
	case f.closed:
		return experimentalsys.EBADF
	case f.readOnly:
		return experimentalsys.EROFS
	}
	return futimens(f.f, atim, mtim)
}

// Close implements experimentalsys.File.Close. Closing twice is a no-op.
func (f *file) Close() experimentalsys.Errno {
	if f.closed {
		return 0
	}
	f.closed = true
	if f.quota != nil {
		f.quota.closing(f.id(), f.f)
	}
	return toErrno(f.f.Close())
}
