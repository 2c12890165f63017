package jailfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sync"
	"sync/atomic"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// EntryCost is what every file, directory and symbolic link costs against a
// Quota besides its data, so that a guest cannot exhaust the host's inodes
// with empty files.
const EntryCost = 4096

// errQuota is the errno of an operation refused for a Quota. wazero's
// experimental/sys has no ENOSPC or EDQUOT, and maps any errno it does not
// know to EIO for WASI guests anyway; EIO is also what POSIX programs are
// prepared to get from any write, so guests report it rather than retry.
const errQuota = experimentalsys.EIO

// Quota bounds the bytes stored under a directory, shared by every FS that
// is given it: the concurrent runs of one app. It counts the size of regular
// files plus EntryCost for every file, directory and symbolic link.
//
// Its usage starts from what is already in the directory, measured when
// the first FS is made with it. All FSes sharing a Quota must be on that
// same directory. Usage then follows the operations of those FSes; changes
// made to the directory by others are not seen. Accounting is approximate
// when FSes race on the same entries, but the FSes never store more than
// the limit.
type Quota struct {
	limit int64
	// refused counts the operations refused for the quota.
	refused atomic.Int64

	// measure serializes the first use; dir is the directory measured.
	measure sync.Mutex
	dir     os.FileInfo

	mu   sync.Mutex
	used int64
	// open counts the open files of the FSes by identity, so that the data
	// of a file unlinked while open is credited when it is last closed,
	// when the host frees it, and not before.
	open map[fileID]*openFile
}

// fileID identifies a host file.
type fileID struct {
	dev uint64
	ino sys.Inode
}

// openFile is an entry of Quota.open.
type openFile struct {
	count int
	// unlinked is set when the file's last name was removed while it was
	// open: its data is credited at its last Close.
	unlinked bool
}

// NewQuota returns a Quota of limit bytes. A limit of zero or less allows
// storing nothing more.
func NewQuota(limit int64) *Quota {
	return &Quota{limit: max(limit, 0), open: map[fileID]*openFile{}}
}

// Limit returns q's limit in bytes.
func (q *Quota) Limit() int64 { return q.limit }

// Used returns the bytes counted against q.
func (q *Quota) Used() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.used
}

// Refusals returns how many operations of the FSes sharing q it has
// refused so far.
func (q *Quota) Refusals() int64 { return q.refused.Load() }

// attach measures the directory of root on q's first use, and checks that
// later uses are on the same directory. A failed measurement is retried by
// the next use.
func (q *Quota) attach(root *os.Root) error {
	fi, err := root.Stat(".")
	if err != nil {
		return err
	}
	q.measure.Lock()
	defer q.measure.Unlock()
	if q.dir != nil {
		if !os.SameFile(q.dir, fi) {
			return errors.New("the quota is already in use for another directory")
		}
		return nil
	}
	used, err := usage(root)
	if err != nil {
		return fmt.Errorf("measuring the directory for its quota: %w", err)
	}
	q.mu.Lock()
	q.used += used
	q.mu.Unlock()
	q.dir = fi
	return nil
}

// Measure counts what dir holds against q, as the first FS made with q
// would: once, and only for one directory.
func (q *Quota) Measure(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return q.attach(root)
}

// usage returns what the tree under root counts against a quota. Symbolic
// links are not followed; the data of a file with several hard links is
// counted once. Entries removed during the walk are skipped.
//
// It does not use fs.WalkDir on root.FS(), which refuses names that are not
// valid UTF-8: a guest may create those.
func usage(root *os.Root) (int64, error) {
	var total int64
	linked := map[fileID]bool{}
	var walk func(dir string) error
	walk = func(dir string) error {
		d, err := root.Open(dir)
		if err != nil {
			return err
		}
		entries, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := path.Join(dir, e.Name())
			total += EntryCost
			switch {
			case e.IsDir():
				if err := walk(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			case e.Type().IsRegular():
				fi, err := e.Info()
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					return err
				}
				if st := sys.NewStat_t(fi); st.Nlink > 1 {
					id := fileID{st.Dev, st.Ino}
					if linked[id] {
						continue
					}
					linked[id] = true
				}
				total += fi.Size()
			}
		}
		return nil
	}
	err := walk(".")
	return total, err
}

// reserve counts n more bytes against q, or returns errQuota and counts a
// refusal if that would pass the limit. n <= 0 always succeeds.
func (q *Quota) reserve(n int64) experimentalsys.Errno {
	if n <= 0 {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.used > q.limit-n {
		q.refused.Add(1)
		return errQuota
	}
	q.used += n
	return 0
}

// release credits n bytes to q, never taking its usage below zero. n <= 0
// does nothing, even on a nil Quota.
func (q *Quota) release(n int64) {
	if n <= 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.used = max(q.used-n, 0)
}

// removed credits q for a removed entry, fi as it was before. A regular
// file's data is credited too if that was its last link, unless it is open,
// in which case it is credited when last closed.
func (q *Quota) removed(fi os.FileInfo) {
	n := int64(EntryCost)
	if st := sys.NewStat_t(fi); fi.Mode().IsRegular() && st.Nlink <= 1 {
		q.mu.Lock()
		o := q.open[fileID{st.Dev, st.Ino}]
		if o != nil {
			o.unlinked = true
		}
		q.mu.Unlock()
		if o == nil {
			n += fi.Size()
		}
	}
	q.release(n)
}

// opened records that the regular file id was opened.
func (q *Quota) opened(id fileID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	o := q.open[id]
	if o == nil {
		o = &openFile{}
		q.open[id] = o
	}
	o.count++
}

// closing records that the regular file id, f, is about to be closed, and
// credits its data if this is its last close and its last name is gone.
func (q *Quota) closing(id fileID, f *os.File) {
	q.mu.Lock()
	o := q.open[id]
	o.count--
	last := o.count == 0
	if last {
		delete(q.open, id)
	}
	q.mu.Unlock()
	if !last || !o.unlinked {
		return
	}
	if fi, err := f.Stat(); err == nil {
		q.release(fi.Size())
	}
}
