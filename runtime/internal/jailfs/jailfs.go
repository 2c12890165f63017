// Package jailfs is a wazero filesystem confined to one host directory.
//
// wazero's own directory filesystem follows host symbolic links wherever
// they point, so a link placed in a granted directory exposes the rest of
// the host. FS instead resolves every path through an [os.Root], which
// guarantees that no resolution leaves the directory: not through "..", not
// through absolute paths and not through symbolic links, whether they were
// on the host beforehand or created by the guest. Escaping paths fail with
// EPERM.
//
// Mount an FS with
//
//	wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(fs, "/data")
//
// # Paths
//
// wazero hands FS paths relative to the mount point, already cleaned, with
// one exception: for a file opened relative to a directory descriptor that
// was itself opened as the mount's root ("."), it passes "/" + name. FS
// therefore reads leading slashes as the jail's root; a path can never name
// a host path outside the jail, because os.Root resolves it.
//
// # Symbolic links
//
// The guest may create symbolic links; their targets are stored verbatim and
// Readlink returns them unchanged. Following a link is confined like any
// other resolution: a link whose target is absolute, or climbs out of the
// jail, cannot be followed (EPERM).
//
// Host programs are not confined, so the guest may not leave links that
// lead out for them to follow: Symlink refuses with EPERM a target that is
// absolute, has ".." after a name, or climbs above the jail's root when
// resolved from the link's folder (following the links on the way, as
// the host would); Rename and Link refuse to move a link, or a folder
// holding links, where one would then lead out. The checks run before the
// operation, so a concurrent run on the same directory could still race
// one past them, and links put in the directory by the host are left as
// they are (they can be followed only inside, and not moved). Host
// programs that walk a granted directory should still not follow links.
//
// # Quotas
//
// An FS made by NewWithQuota counts what it stores against a Quota, which
// the FSes of an app's concurrent runs share, and refuses with EIO any
// operation that would store more than the Quota's limit.
//
// # Limits
//
// os.Root confines path resolution only. Hard links, bind mounts and device
// files placed in the directory by the host remain reachable through it.
// Append mode and File.Utimens are only implemented on Linux.
package jailfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// FS is a wazero filesystem confined to a host directory.
//
// It deliberately does not embed experimentalsys.UnimplementedFS: a method
// added by a future wazero release should fail the build, not silently
// answer ENOSYS.
type FS struct {
	root     *os.Root
	readOnly bool
	// quota, if not nil, bounds what the FS stores.
	quota *Quota
	// written, if not nil, counts the bytes written to files opened from
	// the FS (see CountWrites).
	written *atomic.Int64
}

// CountWrites makes every write to a file opened from now on add the bytes
// it wrote to c. Call it before the FS is used.
func (f *FS) CountWrites(c *atomic.Int64) { f.written = c }

var _ experimentalsys.FS = (*FS)(nil)

// New opens dir as a jail. readOnly makes every mutating operation fail with
// EROFS, including opening a file for writing, creating or truncating it.
//
// The FS keeps dir open until Close. Files opened from it stay usable after
// Close.
func New(dir string, readOnly bool) (*FS, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("jailfs: %w", err)
	}
	return &FS{root: root, readOnly: readOnly}, nil
}

// NewWithQuota is New with the FS's storage bounded by q, which may be
// shared with other FSes on the same directory. If q is new, what dir
// already holds is measured and counted against it first.
//
// Writing, truncating, creating files, directories and links are charged
// before they happen and refused with EIO (see errQuota) if they would
// pass the limit; removing, truncating and replacing entries credit q.
func NewWithQuota(dir string, readOnly bool, q *Quota) (*FS, error) {
	f, err := New(dir, readOnly)
	if err != nil {
		return nil, err
	}
	if err := q.attach(f.root); err != nil {
		f.root.Close()
		return nil, fmt.Errorf("jailfs: %s: %w", dir, err)
	}
	f.quota = q
	return f, nil
}

// Close releases the jail's directory. Close the modules using the FS
// first: wazero opens a mount's root lazily, and panics if that fails.
func (f *FS) Close() error {
	return f.root.Close()
}

// rootName turns a path from wazero into a name for the os.Root. Leading
// slashes denote the jail's root (see the package documentation).
func rootName(path string) string {
	name := strings.TrimLeft(path, "/")
	if name == "" {
		return "."
	}
	return name
}

// OpenFile implements experimentalsys.FS.OpenFile.
//
// O_NONBLOCK is ignored, as the returned files are not pollable. O_APPEND
// is only supported on Linux (ENOSYS elsewhere).
func (f *FS) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	const accessMask = experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY
	access := flag & accessMask
	if access == accessMask {
		return nil, experimentalsys.EINVAL
	}
	writable := access != experimentalsys.O_RDONLY
	if f.readOnly && (writable || flag&(experimentalsys.O_CREAT|experimentalsys.O_TRUNC|experimentalsys.O_APPEND) != 0) {
		return nil, experimentalsys.EROFS
	}
	if flag&experimentalsys.O_DIRECTORY != 0 && flag&experimentalsys.O_CREAT != 0 {
		return nil, experimentalsys.EINVAL
	}
	name := rootName(path)

	if flag&experimentalsys.O_NOFOLLOW != 0 {
		// os.Root follows a final symbolic link itself, so refuse one up
		// front. Should the entry change in between, the open is still
		// confined to the jail.
		if fi, err := f.root.Lstat(name); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, experimentalsys.ELOOP
		}
	}

	// With a quota, a file about to be created costs an entry, and one
	// about to be truncated frees its data. Stat follows a final symbolic
	// link, as the open does.
	var reserved, truncated int64
	if f.quota != nil && flag&(experimentalsys.O_CREAT|experimentalsys.O_TRUNC) != 0 {
		fi, err := f.root.Stat(name)
		switch {
		case err == nil && flag&experimentalsys.O_TRUNC != 0 && fi.Mode().IsRegular():
			truncated = fi.Size()
		case errors.Is(err, fs.ErrNotExist) && flag&experimentalsys.O_CREAT != 0:
			if errno := f.quota.reserve(EntryCost); errno != 0 {
				return nil, errno
			}
			reserved = EntryCost
		}
	}

	osf, err := f.root.OpenFile(name, osFlag(flag), perm&fs.ModePerm)
	if err != nil {
		f.quota.release(reserved)
		return nil, toErrno(err)
	}
	f.quota.release(truncated)
	file, errno := newFile(osf, writable, f.readOnly, f.quota)
	if errno != 0 {
		osf.Close()
		return nil, errno
	}
	file.written = f.written
	if flag&experimentalsys.O_DIRECTORY != 0 && !file.isDir {
		errno = experimentalsys.ENOTDIR
	}
	if errno == 0 && flag&experimentalsys.O_APPEND != 0 {
		errno = file.SetAppend(true)
	}
	if errno != 0 {
		file.Close()
		return nil, errno
	}
	return file, 0
}

// osFlag translates flag for os.Root.OpenFile. O_APPEND is applied after
// opening (see file.SetAppend) and O_NOFOLLOW is checked by OpenFile, which
// also checks O_DIRECTORY where the host flag is not used.
func osFlag(flag experimentalsys.Oflag) int {
	var of int
	switch flag & (experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		of = os.O_RDWR
	case experimentalsys.O_WRONLY:
		of = os.O_WRONLY
	default:
		of = os.O_RDONLY
	}
	if flag&experimentalsys.O_CREAT != 0 {
		of |= os.O_CREATE
	}
	if flag&experimentalsys.O_EXCL != 0 {
		of |= os.O_EXCL
	}
	if flag&experimentalsys.O_TRUNC != 0 {
		of |= os.O_TRUNC
	}
	if flag&experimentalsys.O_DIRECTORY != 0 {
		of |= osDirectory
	}
	if flag&(experimentalsys.O_SYNC|experimentalsys.O_DSYNC|experimentalsys.O_RSYNC) != 0 {
		of |= os.O_SYNC
	}
	return of
}

// Lstat implements experimentalsys.FS.Lstat.
func (f *FS) Lstat(path string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := f.root.Lstat(rootName(path))
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Stat implements experimentalsys.FS.Stat.
func (f *FS) Stat(path string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := f.root.Stat(rootName(path))
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Mkdir implements experimentalsys.FS.Mkdir. Only permission bits of perm
// are applied.
func (f *FS) Mkdir(path string, perm fs.FileMode) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	return f.charge(EntryCost, func() error {
		return f.root.Mkdir(rootName(path), perm&fs.ModePerm)
	})
}

// charge runs op, which stores n more bytes, after reserving them from the
// quota, if any; they are released if op fails.
func (f *FS) charge(n int64, op func() error) experimentalsys.Errno {
	if f.quota == nil {
		return toErrno(op())
	}
	if errno := f.quota.reserve(n); errno != 0 {
		return errno
	}
	if err := op(); err != nil {
		f.quota.release(n)
		return toErrno(err)
	}
	return 0
}

// Chmod implements experimentalsys.FS.Chmod. Only permission bits of perm
// are applied: the guest cannot set setuid, setgid or sticky bits.
func (f *FS) Chmod(path string, perm fs.FileMode) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	return toErrno(f.root.Chmod(rootName(path), perm&fs.ModePerm))
}

// Rename implements experimentalsys.FS.Rename with POSIX semantics. Moving
// a symbolic link, or a folder holding one, where the link would lead out
// of the jail fails with EPERM (see checkMove).
//
// os.Root refuses to rename onto an existing directory, which POSIX allows
// when the directory is empty. Rename emulates that by removing the empty
// directory first and recreating it should the rename then fail, so the
// replacement is not atomic.
func (f *FS) Rename(from, to string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	from, to = rootName(from), rootName(to)
	fromInfo, err := f.root.Lstat(from)
	if err != nil {
		return toErrno(err)
	}
	if errno := f.checkMove(from, to, fromInfo); errno != 0 {
		return errno
	}
	toInfo, err := f.root.Lstat(to)
	if err != nil {
		return toErrno(f.root.Rename(from, to))
	}
	switch {
	case os.SameFile(fromInfo, toInfo):
		// Two names of one file: POSIX renames nothing.
		return 0
	case !toInfo.IsDir():
		if err := f.root.Rename(from, to); err != nil {
			return toErrno(err)
		}
	case !fromInfo.IsDir():
		return experimentalsys.EISDIR
	default:
		if err := f.root.Remove(to); err != nil {
			return toErrno(err)
		}
		if err := f.root.Rename(from, to); err != nil {
			// Best effort: the rename failed, so put the empty directory back.
			_ = f.root.Mkdir(to, toInfo.Mode().Perm())
			return toErrno(err)
		}
	}
	// The replaced entry is gone.
	if f.quota != nil {
		f.quota.removed(toInfo)
	}
	return 0
}

// Rmdir implements experimentalsys.FS.Rmdir.
func (f *FS) Rmdir(path string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	return f.remove(rootName(path), true)
}

// Unlink implements experimentalsys.FS.Unlink.
func (f *FS) Unlink(path string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	return f.remove(rootName(path), false)
}

// remove removes name, which must be a directory if dir is set and must not
// be one otherwise. os.Root only offers a Remove that takes either, so the
// type is checked first; should the entry change in between, the removal
// still stays inside the jail.
func (f *FS) remove(name string, dir bool) experimentalsys.Errno {
	fi, err := f.root.Lstat(name)
	if err != nil {
		return toErrno(err)
	}
	switch {
	case dir && !fi.IsDir():
		return experimentalsys.ENOTDIR
	case !dir && fi.IsDir():
		return experimentalsys.EISDIR
	}
	if err := f.root.Remove(name); err != nil {
		return toErrno(err)
	}
	if f.quota != nil {
		f.quota.removed(fi)
	}
	return 0
}

// Link implements experimentalsys.FS.Link. If oldPath is a symbolic link,
// the new name links to the symbolic link, not to its target, and is
// refused with EPERM if the link would lead out of the jail from there.
func (f *FS) Link(oldPath, newPath string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	if fi, err := f.root.Lstat(rootName(oldPath)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if errno := f.checkMove(rootName(oldPath), rootName(newPath), fi); errno != 0 {
			return errno
		}
	}
	// A new name costs an entry; the data is already counted.
	return f.charge(EntryCost, func() error {
		return f.root.Link(rootName(oldPath), rootName(newPath))
	})
}

// Symlink implements experimentalsys.FS.Symlink. oldPath is stored verbatim;
// following the link later is confined to the jail. A link that a host
// program following it would see leave the jail is refused with EPERM
// (see checkLink): an absolute target, or one climbing above the root.
func (f *FS) Symlink(oldPath, linkName string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	if errno := f.checkLink(oldPath, linkName); errno != 0 {
		return errno
	}
	return f.charge(EntryCost, func() error {
		return f.root.Symlink(oldPath, rootName(linkName))
	})
}

// Readlink implements experimentalsys.FS.Readlink.
func (f *FS) Readlink(path string) (string, experimentalsys.Errno) {
	target, err := f.root.Readlink(rootName(path))
	if err != nil {
		return "", toErrno(err)
	}
	return filepath.ToSlash(target), 0
}

// Utimens implements experimentalsys.FS.Utimens, following a final symbolic
// link.
func (f *FS) Utimens(path string, atim, mtim int64) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	return toErrno(f.root.Chtimes(rootName(path), utimeToTime(atim), utimeToTime(mtim)))
}

// Lutimens sets the timestamps of path itself: unlike Utimens it does not
// follow a final symbolic link. UTIME_OMIT leaves a timestamp unchanged.
// Like File.Utimens, it is only supported on Linux (ENOSYS elsewhere).
func (f *FS) Lutimens(p string, atim, mtim int64) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	name := rootName(p)
	if fi, err := f.root.Lstat(name); err != nil {
		return toErrno(err)
	} else if fi.Mode()&fs.ModeSymlink == 0 {
		return f.Utimens(p, atim, mtim)
	}
	// A link: set it through its folder, which os.Root confines.
	dir, base := path.Split(strings.TrimRight(name, "/"))
	d, err := f.root.Open(rootName(dir))
	if err != nil {
		return toErrno(err)
	}
	defer d.Close()
	return lutimensAt(d, base, atim, mtim)
}

// utimeToTime converts a timestamp for Utimens to the argument of
// os.Root.Chtimes, which leaves a time unchanged when it is the zero Time.
func utimeToTime(nanos int64) time.Time {
	if nanos == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, nanos)
}

// toErrno maps an error of os or os.Root to an Errno. os.Root reports a path
// that would leave the jail with an error of its own that wazero cannot
// classify; that becomes EPERM, the errno wazero itself returns for guest
// paths that escape a mount.
func toErrno(err error) experimentalsys.Errno {
	errno := experimentalsys.UnwrapOSError(err)
	if errno == experimentalsys.EIO && !errors.As(err, new(osErrno)) {
		return experimentalsys.EPERM
	}
	return errno
}
