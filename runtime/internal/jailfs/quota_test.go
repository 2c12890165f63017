package jailfs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/cronbox/cronbox/runtime/internal/jailfs"
)

// refused is the errno of an operation refused for the quota.
const refused = experimentalsys.EIO

const rw = experimentalsys.O_RDWR | experimentalsys.O_CREAT

// newQuotaJail returns an FS with q on a fresh directory, or on dir if
// given.
func newQuotaJail(t *testing.T, q *jailfs.Quota, dir string) (*jailfs.FS, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	jail, err := jailfs.NewWithQuota(dir, false, q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jail.Close() })
	return jail, dir
}

// wantUsed fails the test unless q counts want bytes.
func wantUsed(t *testing.T, q *jailfs.Quota, want int64) {
	t.Helper()
	if got := q.Used(); got != want {
		t.Errorf("Used() = %d, want %d", got, want)
	}
}

// hostSize returns the size of the host file at path.
func hostSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestQuotaWrite(t *testing.T) {
	q := jailfs.NewQuota(jailfs.EntryCost + 100)
	jail, dir := newQuotaJail(t, q, "")
	f := open(t, jail, "f", rw)
	wantUsed(t, q, jailfs.EntryCost)

	for i := 0; i < 10; i++ {
		if n, errno := f.Write([]byte("0123456789")); errno != 0 || n != 10 {
			t.Fatalf("write %d within the quota: %d, %v", i, n, errno)
		}
	}
	wantUsed(t, q, jailfs.EntryCost+100)
	if n := q.Refusals(); n != 0 {
		t.Errorf("%d refusals before any", n)
	}
	n, errno := f.Write([]byte("x"))
	wantErrno(t, "Write past the quota", errno, refused)
	if n != 0 || hostSize(t, filepath.Join(dir, "f")) != 100 {
		t.Errorf("refused write wrote %d bytes; file is %d bytes", n, hostSize(t, filepath.Join(dir, "f")))
	}
	if n := q.Refusals(); n != 1 {
		t.Errorf("%d refusals after one", n)
	}
	// Overwriting does not grow the file.
	if _, errno := f.Pwrite([]byte("abcdefghij"), 0); errno != 0 {
		t.Errorf("overwrite within the file: %v", errno)
	}
	wantUsed(t, q, jailfs.EntryCost+100)

	// Truncating frees space; growing it back is charged.
	wantErrno(t, "Truncate(50)", f.Truncate(50), 0)
	wantUsed(t, q, jailfs.EntryCost+50)
	wantErrno(t, "Truncate(101)", f.Truncate(101), refused)
	if got := hostSize(t, filepath.Join(dir, "f")); got != 50 {
		t.Errorf("refused truncate left the file at %d bytes", got)
	}
	wantErrno(t, "Truncate(100)", f.Truncate(100), 0)
	wantUsed(t, q, jailfs.EntryCost+100)
	wantErrno(t, "Truncate(0)", f.Truncate(0), 0)
	if _, errno := f.Seek(0, 0); errno != 0 {
		t.Fatal(errno)
	}
	if n, errno := f.Write(make([]byte, 100)); errno != 0 || n != 100 {
		t.Errorf("write after truncating: %d, %v", n, errno)
	}
}

func TestQuotaSparsePwrite(t *testing.T) {
	q := jailfs.NewQuota(1 << 20)
	jail, dir := newQuotaJail(t, q, "")
	f := open(t, jail, "sparse", rw)
	_, errno := f.Pwrite([]byte("x"), 1<<30)
	wantErrno(t, "Pwrite at 1 GiB", errno, refused)
	if got := hostSize(t, filepath.Join(dir, "sparse")); got != 0 {
		t.Errorf("refused Pwrite left the file at %d bytes", got)
	}
	if _, errno := f.Pwrite([]byte("x"), 1<<19); errno != 0 {
		t.Fatalf("Pwrite at 512 KiB: %v", errno)
	}
	wantUsed(t, q, jailfs.EntryCost+1<<19+1)
	// The seek offset also counts for Write.
	if _, errno := f.Seek(1<<20, 0); errno != 0 {
		t.Fatal(errno)
	}
	_, errno = f.Write([]byte("x"))
	wantErrno(t, "Write at 1 MiB", errno, refused)
}

func TestQuotaAppend(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("append mode is only implemented on Linux")
	}
	q := jailfs.NewQuota(jailfs.EntryCost + 10)
	jail, dir := newQuotaJail(t, q, "")
	f := open(t, jail, "log", rw|experimentalsys.O_APPEND)
	for _, off := range []int64{0, 0} {
		if _, errno := f.Pwrite([]byte("12345"), off); errno != 0 {
			t.Fatalf("append within the quota: %v", errno)
		}
	}
	// In append mode the offset is the end of the file, whatever off says.
	_, errno := f.Pwrite([]byte("6"), 0)
	wantErrno(t, "append past the quota", errno, refused)
	if got := hostSize(t, filepath.Join(dir, "log")); got != 10 {
		t.Errorf("file is %d bytes, want 10", got)
	}
}

func TestQuotaEntries(t *testing.T) {
	const limit = 10 * jailfs.EntryCost
	q := jailfs.NewQuota(limit)
	jail, dir := newQuotaJail(t, q, "")
	created := 0
	for i := 0; i < 20; i++ {
		f, errno := jail.OpenFile(fmt.Sprint("empty", i), rw, 0o644)
		if errno != 0 {
			wantErrno(t, "creating a file past the quota", errno, refused)
			break
		}
		f.Close()
		created++
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if created != limit/jailfs.EntryCost || len(entries) != created {
		t.Fatalf("created %d files (%d on disk), want %d", created, len(entries), limit/jailfs.EntryCost)
	}
	wantErrno(t, "Mkdir past the quota", jail.Mkdir("d", 0o755), refused)
	wantErrno(t, "Symlink past the quota", jail.Symlink("empty0", "l"), refused)
	wantErrno(t, "Link past the quota", jail.Link("empty0", "h"), refused)
	for _, name := range []string{"d", "l", "h"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s was created past the quota", name)
		}
	}
	// Opening existing files costs nothing.
	f := open(t, jail, "empty0", rw)
	f.Close()

	// Removing frees entries.
	wantErrno(t, "Unlink", jail.Unlink("empty0"), 0)
	wantErrno(t, "Mkdir after Unlink", jail.Mkdir("d", 0o755), 0)
	wantErrno(t, "Rmdir", jail.Rmdir("d"), 0)
	wantErrno(t, "Symlink after Rmdir", jail.Symlink("empty1", "l"), 0)
	wantErrno(t, "Unlink symlink", jail.Unlink("l"), 0)
	wantErrno(t, "Link after Unlink", jail.Link("empty1", "h"), 0)
	wantUsed(t, q, limit)
	// Replacing an entry by renaming frees it.
	wantErrno(t, "Rename onto a file", jail.Rename("h", "empty2"), 0)
	wantUsed(t, q, limit-jailfs.EntryCost)
}

func TestQuotaFreesData(t *testing.T) {
	q := jailfs.NewQuota(jailfs.EntryCost + 1000)
	jail, _ := newQuotaJail(t, q, "")
	fill := func(name string, flag experimentalsys.Oflag) experimentalsys.Errno {
		f, errno := jail.OpenFile(name, flag, 0o644)
		if errno != 0 {
			return errno
		}
		defer f.Close()
		_, errno = f.Write(make([]byte, 1000))
		return errno
	}
	wantErrno(t, "fill a", fill("a", rw), 0)
	wantErrno(t, "fill b", fill("b", rw), refused)
	wantErrno(t, "Unlink a", jail.Unlink("a"), 0)
	wantUsed(t, q, 0)
	wantErrno(t, "fill b after Unlink", fill("b", rw), 0)
	// O_TRUNC frees the old content.
	wantErrno(t, "refill b with O_TRUNC", fill("b", experimentalsys.O_RDWR|experimentalsys.O_TRUNC), 0)
	wantUsed(t, q, jailfs.EntryCost+1000)

	q = jailfs.NewQuota(1 << 20)
	jail, _ = newQuotaJail(t, q, "")
	// Renaming onto a file frees what it held.
	wantErrno(t, "fill a", fill("a", rw), 0)
	f := open(t, jail, "b", rw)
	f.Close()
	wantErrno(t, "Rename b onto a", jail.Rename("b", "a"), 0)
	wantUsed(t, q, jailfs.EntryCost)
	// A hard-linked file's data is freed with its last name only.
	wantErrno(t, "fill c", fill("c", rw), 0)
	wantErrno(t, "Link", jail.Link("c", "d"), 0)
	wantUsed(t, q, 3*jailfs.EntryCost+1000)
	wantErrno(t, "Unlink c", jail.Unlink("c"), 0)
	wantUsed(t, q, 2*jailfs.EntryCost+1000)
	wantErrno(t, "Unlink d", jail.Unlink("d"), 0)
	wantUsed(t, q, jailfs.EntryCost)
}

func TestQuotaUnlinkedOpenFile(t *testing.T) {
	// A file unlinked while open keeps its data on the host until closed:
	// unlinking must not let a guest store more.
	q := jailfs.NewQuota(jailfs.EntryCost + 1000)
	jail, _ := newQuotaJail(t, q, "")
	f, errno := jail.OpenFile("a", rw, 0o644)
	if errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := f.Write(make([]byte, 1000)); errno != 0 {
		t.Fatal(errno)
	}
	wantErrno(t, "Unlink a", jail.Unlink("a"), 0)
	wantUsed(t, q, 1000)
	g := open(t, jail, "b", rw)
	_, errno = g.Write([]byte("x"))
	wantErrno(t, "write while the unlinked file is open", errno, refused)
	// Writes to the unlinked file are charged too.
	_, errno = f.Write([]byte("x"))
	wantErrno(t, "write to the unlinked file", errno, refused)
	wantErrno(t, "Close", f.Close(), 0)
	wantUsed(t, q, jailfs.EntryCost)
	if _, errno := g.Write(make([]byte, 1000)); errno != 0 {
		t.Errorf("write after closing the unlinked file: %v", errno)
	}
}

func TestQuotaCountsExistingContent(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "big"), make([]byte, 5000), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "sub", "small"), make([]byte, 10), 0o644))
	must(t, os.Link(filepath.Join(dir, "big"), filepath.Join(dir, "sub", "big")))
	must(t, os.Symlink("/", filepath.Join(dir, "root"))) // not followed
	const existing = 5*jailfs.EntryCost + 5000 + 10

	q := jailfs.NewQuota(existing + 100)
	jail, _ := newQuotaJail(t, q, dir)
	wantUsed(t, q, existing)
	f := open(t, jail, "sub/small", experimentalsys.O_RDWR)
	if _, errno := f.Pwrite(make([]byte, 100), 10); errno != 0 {
		t.Errorf("write within the quota: %v", errno)
	}
	_, errno := f.Pwrite([]byte("x"), 110)
	wantErrno(t, "write past the quota", errno, refused)

	// Content above the limit is kept, but nothing can be added.
	full := jailfs.NewQuota(1000)
	jail, _ = newQuotaJail(t, full, dir)
	wantErrno(t, "Mkdir in a full directory", jail.Mkdir("d", 0o755), refused)
	wantErrno(t, "Unlink in a full directory", jail.Unlink("root"), 0)
}

func TestQuotaShared(t *testing.T) {
	q := jailfs.NewQuota(2*jailfs.EntryCost + 1000)
	a, dir := newQuotaJail(t, q, "")
	b, _ := newQuotaJail(t, q, dir)
	fa := open(t, a, "a", rw)
	if _, errno := fa.Write(make([]byte, 600)); errno != 0 {
		t.Fatal(errno)
	}
	fb := open(t, b, "b", rw)
	_, errno := fb.Write(make([]byte, 600))
	wantErrno(t, "write past the shared quota", errno, refused)
	if _, errno := fb.Write(make([]byte, 400)); errno != 0 {
		t.Errorf("write within the shared quota: %v", errno)
	}
	wantUsed(t, q, 2*jailfs.EntryCost+1000)

	if _, err := jailfs.NewWithQuota(t.TempDir(), false, q); err == nil || !strings.Contains(err.Error(), "another directory") {
		t.Errorf("NewWithQuota on another directory: %v", err)
	}
}

func TestQuotaConcurrentWriters(t *testing.T) {
	const limit = 64 << 10
	q := jailfs.NewQuota(limit)
	_, dir := newQuotaJail(t, q, "")
	var files []experimentalsys.File
	for i := 0; i < 8; i++ {
		jail, _ := newQuotaJail(t, q, dir)
		files = append(files, open(t, jail, fmt.Sprint("f", i), rw))
	}
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Go(func() {
			for {
				if _, errno := f.Write(make([]byte, 1000)); errno != 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	var total int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		total += jailfs.EntryCost + hostSize(t, filepath.Join(dir, e.Name()))
	}
	if total > limit || total != q.Used() {
		t.Errorf("%d bytes stored, %d counted; limit %d", total, q.Used(), limit)
	}
}

func TestQuotaReadOnlyOpenIsFree(t *testing.T) {
	q := jailfs.NewQuota(0)
	jail, dir := newQuotaJail(t, q, "")
	_, errno := jail.OpenFile("new", rw, 0o644)
	wantErrno(t, "create with a zero quota", errno, refused)
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Error("the file was created")
	}
	must(t, os.WriteFile(filepath.Join(dir, "host"), []byte("from the host"), 0o644))
	f := open(t, jail, "host", experimentalsys.O_RDONLY)
	if got := readAll(t, f); got != "from the host" {
		t.Errorf("read %q", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestQuotaMeasure measures a directory before any FS uses the quota: an
// FS made later counts from it, and measuring again adds nothing.
func TestQuotaMeasure(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "f"), make([]byte, 300), 0o644))
	q := jailfs.NewQuota(1 << 20)
	must(t, q.Measure(dir))
	wantUsed(t, q, jailfs.EntryCost+300)
	must(t, q.Measure(dir))
	jail, _ := newQuotaJail(t, q, dir)
	wantUsed(t, q, jailfs.EntryCost+300)
	f := open(t, jail, "f", experimentalsys.O_RDWR)
	if _, errno := f.Pwrite(make([]byte, 100), 300); errno != 0 {
		t.Fatal(errno)
	}
	wantUsed(t, q, jailfs.EntryCost+400)
	if err := q.Measure(t.TempDir()); err == nil || !strings.Contains(err.Error(), "another directory") {
		t.Errorf("Measure of another directory: %v", err)
	}
}
