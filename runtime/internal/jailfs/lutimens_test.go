package jailfs_test

import (
	"runtime"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// TestLutimens sets a symbolic link's own times, leaving its target's, and
// a plain file's times as Utimens does.
func TestLutimens(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("Lutimens is only supported on Linux")
	}
	jail, _ := newJail(t, false, map[string]string{"d/f": ""})
	wantErrno(t, "Symlink", jail.Symlink("f", "d/l"), 0)
	before, errno := jail.Stat("d/f")
	if errno != 0 {
		t.Fatal(errno)
	}
	const mtim = int64(2_000_000_002)
	wantErrno(t, "Lutimens(link)", jail.Lutimens("d/l", experimentalsys.UTIME_OMIT, mtim), 0)
	if st, _ := jail.Lstat("d/l"); st.Mtim != mtim {
		t.Errorf("link mtim = %d, want %d", st.Mtim, mtim)
	}
	if st, _ := jail.Stat("d/f"); st.Mtim != before.Mtim {
		t.Errorf("target mtim changed from %d to %d", before.Mtim, st.Mtim)
	}
	wantErrno(t, "Lutimens(file)", jail.Lutimens("d/f", experimentalsys.UTIME_OMIT, mtim+1), 0)
	if st, _ := jail.Stat("d/f"); st.Mtim != mtim+1 {
		t.Errorf("file mtim = %d, want %d", st.Mtim, mtim+1)
	}
	wantErrno(t, "Lutimens(missing)", jail.Lutimens("d/missing", 0, 0), experimentalsys.ENOENT)

	ro, _ := newJail(t, true, map[string]string{"f": ""})
	wantErrno(t, "Lutimens(read-only)", ro.Lutimens("f", 0, 0), experimentalsys.EROFS)
}

// TestLinkOfLoopingSymlink hard-links a symbolic link that loops: it leads
// nowhere, so not out of the jail either.
func TestLinkOfLoopingSymlink(t *testing.T) {
	t.Parallel()
	jail, _ := newJail(t, false, nil)
	wantErrno(t, "Symlink(a)", jail.Symlink("b", "a"), 0)
	wantErrno(t, "Symlink(b)", jail.Symlink("a", "b"), 0)
	wantErrno(t, "Link", jail.Link("a", "c"), 0)
	if st, errno := jail.Lstat("c"); errno != 0 || st.Nlink != 2 {
		t.Errorf("Lstat(c) = %+v, %v", st, errno)
	}
	// A link leading out is still refused, however it is reached.
	wantErrno(t, "Symlink(out)", jail.Symlink("../x", "out"), experimentalsys.EPERM)
}
