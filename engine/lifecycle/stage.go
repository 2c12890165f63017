package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cronbox/cronbox/internal/homedir"
)

// staleAge is how old a work folder without a lock must be before it is
// taken for the leftover of a crash.
const staleAge = time.Minute

// stage is a work folder in <home>/data/staging, on the same file system
// as apps/ so that renames between them are atomic. It holds a lock while
// it is in use, so that a later stage can tell a live folder from one a
// killed process left behind, and remove the latter.
type stage struct {
	home string
	dir  string
	lock *os.File
	// hook, when set, is called before each file is written and before
	// the commit; an error it returns fails the operation there.
	hook func(op, path string) error
}

func stagingDir(home string) string { return homedir.Home(home).Staging() }

// newStage makes a work folder, first removing those that crashed
// operations left behind.
func newStage(home, kind string) (*stage, error) {
	base := stagingDir(home)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	CleanStaging(home)
	dir, err := os.MkdirTemp(base, kind+"-*")
	if err != nil {
		return nil, err
	}
	lock, err := lockStage(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &stage{home: home, dir: dir, lock: lock}, nil
}

// cleanup removes the work folder and whatever is still in it.
func (s *stage) cleanup() {
	os.RemoveAll(s.dir)
	if s.lock != nil {
		s.lock.Close()
	}
}

func (s *stage) check(op, path string) error {
	if s.hook == nil {
		return nil
	}
	return s.hook(op, path)
}

// CleanStaging removes the work folders in <home>/data/staging that no
// running operation holds: the leftovers of an install, creation or
// removal whose process was killed. It reports how many it removed.
func CleanStaging(home string) int {
	base := stagingDir(home)
	ents, err := os.ReadDir(base)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		p := filepath.Join(base, e.Name())
		if !e.IsDir() {
			continue
		}
		if stale(p) {
			if os.RemoveAll(p) == nil {
				n++
			}
		}
	}
	return n
}

// stale reports whether the work folder dir is not in use.
func stale(dir string) bool {
	free, err := stageFree(dir)
	if err == nil {
		return free
	}
	// No lock file: a folder being set up right now, or the leftover of a
	// crash right after it was made.
	fi, serr := os.Stat(dir)
	return serr == nil && time.Since(fi.ModTime()) > staleAge
}

// commit renames the folder staged to target in apps/. Without replace,
// an existing target is an error wrapping ErrExists. With replace, an
// existing target is swapped with staged, so staged then holds the old
// app, and commit reports replaced; where the system cannot swap two
// folders in one step, target is moved aside and staged renamed in, with
// target absent in between.
func (s *stage) commit(staged, target string, replace bool) (replaced bool, err error) {
	if err := s.check("commit", target); err != nil {
		return false, err
	}
	parent := filepath.Dir(target)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return false, err
	}
	if err := syncTree(staged); err != nil {
		return false, err
	}
	_, lerr := os.Lstat(target)
	exists := lerr == nil
	switch {
	case lerr != nil && !errors.Is(lerr, os.ErrNotExist):
		return false, lerr
	case exists && !replace:
		return false, fmt.Errorf("%w: %s exists", ErrExists, target)
	case exists:
		if err := exchange(staged, target); err != nil {
			return false, err
		}
		return true, syncDir(parent)
	}
	if err := renameNoReplace(staged, target); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, fmt.Errorf("%w: %s exists", ErrExists, target)
		}
		return false, err
	}
	return false, syncDir(parent)
}

// exchangeByRenames swaps a and b with two renames and a third name,
// undoing the first when the second fails.
func exchangeByRenames(a, b string) error {
	aside := a + ".old"
	if err := os.Rename(b, aside); err != nil {
		return err
	}
	if err := os.Rename(a, b); err != nil {
		if rerr := os.Rename(aside, b); rerr != nil {
			return fmt.Errorf("%w (and moving %s back failed: %v)", err, b, rerr)
		}
		return err
	}
	return os.Rename(aside, a)
}
