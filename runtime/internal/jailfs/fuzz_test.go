package jailfs_test

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/cronbox/cronbox/runtime/internal/jailfs"
)

// FuzzPath feeds arbitrary guest paths to the FS of a jail whose parent
// holds a sentinel file, and checks that nothing outside the jail is ever
// created, changed or read, and that no link the guest leaves leads out
// on the host. a is the path operated on, b a second path or a symbolic
// link target. The jail has a quota, whose count must match the
// jail's content at the end.
func FuzzPath(f *testing.F) {
	f.Fuzz(func(t *testing.T, a, b string) {
		top := t.TempDir()
		sentinel := filepath.Join(top, "sentinel.txt")
		if err := os.WriteFile(sentinel, []byte(secretMarker+" sentinel"), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(top, "jail")
		if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "file"), []byte("inside"), 0o644); err != nil {
			t.Fatal(err)
		}
		links := map[string]string{
			"link-up":       "..",
			"link-sentinel": "../sentinel.txt",
			"link-abs":      sentinel,
			"sub/link-top":  "../..",
		}
		for name, target := range links {
			if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
				t.Fatal(err)
			}
		}
		before := snapshot(t, top, "jail")

		quota := jailfs.NewQuota(1 << 30)
		jail, err := jailfs.NewWithQuota(dir, false, quota)
		if err != nil {
			t.Fatal(err)
		}
		defer jail.Close()

		tryRead(t, jail, dir, a)
		for _, stat := range []func(string) (sys.Stat_t, experimentalsys.Errno){jail.Stat, jail.Lstat} {
			if st, errno := stat(a); errno == 0 && !inodes(t, dir)[st.Ino] {
				t.Fatalf("stat %q: inode %d is not in the jail", a, st.Ino)
			}
		}
		jail.Readlink(a)
		if file, errno := jail.OpenFile(a, experimentalsys.O_RDWR|experimentalsys.O_CREAT, 0o644); errno == 0 {
			file.Write([]byte("x"))
			file.Close()
		}
		jail.Mkdir(a, 0o755)
		jail.Symlink(b, a)
		tryRead(t, jail, dir, a) // possibly through the link just made
		jail.Chmod(a, 0o700)
		jail.Utimens(a, 0, 0)
		jail.Rename(a, b)
		jail.Link(b, a)
		tryRead(t, jail, dir, b)
		jail.Unlink(b)
		jail.Rmdir(a)

		checkGuestLinks(t, dir, slices.Collect(maps.Keys(links)))
		if after := snapshot(t, top, "jail"); after != before {
			t.Fatalf("outside of the jail changed for (%q, %q):\nbefore:\n%s\nafter:\n%s", a, b, before, after)
		}
		// A new quota measures the jail afresh.
		measured := jailfs.NewQuota(0)
		check, err := jailfs.NewWithQuota(dir, true, measured)
		if err != nil {
			t.Fatal(err)
		}
		check.Close()
		if quota.Used() != measured.Used() {
			t.Fatalf("for (%q, %q), the quota counts %d bytes; the jail holds %d", a, b, quota.Used(), measured.Used())
		}
	})
}

// tryRead opens path for reading and fails the test if it opened anything
// but an entry of the jail at dir, or read the sentinel.
func tryRead(t *testing.T, jail *jailfs.FS, dir, path string) {
	t.Helper()
	file, errno := jail.OpenFile(path, experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		return
	}
	defer file.Close()
	ino, _ := file.Ino()
	if !inodes(t, dir)[ino] {
		t.Fatalf("opened %q: inode %d is not in the jail", path, ino)
	}
	buf := make([]byte, 256)
	if n, _ := file.Read(buf); strings.Contains(string(buf[:n]), secretMarker) {
		t.Fatalf("read the sentinel through %q", path)
	}
}

// inodes returns the inode numbers of dir and everything in it.
func inodes(t *testing.T, dir string) map[sys.Inode]bool {
	t.Helper()
	set := map[sys.Inode]bool{}
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		set[sys.NewStat_t(fi).Ino] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return set
}
