package jailfs_test

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/cronbox/cronbox/runtime/internal/jailfs"
)

// newJail returns an FS on a fresh directory holding files, a map from
// slash-separated path to content. Parent directories are created.
func newJail(t *testing.T, readOnly bool, files map[string]string) (*jailfs.FS, string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	jail, err := jailfs.New(dir, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jail.Close() })
	return jail, dir
}

// open opens path in jail, failing the test on error, and closes the file
// at cleanup.
func open(t *testing.T, jail *jailfs.FS, path string, flag experimentalsys.Oflag) experimentalsys.File {
	t.Helper()
	f, errno := jail.OpenFile(path, flag, 0o644)
	if errno != 0 {
		t.Fatalf("OpenFile(%q, %#x): %v", path, flag, errno)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// readAll reads f from its current offset to the end.
func readAll(t *testing.T, f experimentalsys.File) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 3) // small, to exercise repeated reads
	for {
		n, errno := f.Read(buf)
		if errno != 0 {
			t.Fatalf("Read: %v", errno)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

// wantErrno fails the test unless got is want.
func wantErrno(t *testing.T, op string, got, want experimentalsys.Errno) {
	t.Helper()
	if got != want {
		t.Errorf("%s: errno %v (%d), want %v (%d)", op, got, got, want, want)
	}
}

// readHost returns the content of the host file at path.
func readHost(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNew(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing"), file} {
		if jail, err := jailfs.New(path, false); err == nil {
			jail.Close()
			t.Errorf("New(%q) succeeded, want an error", path)
		}
	}
}

func TestFileReadWrite(t *testing.T) {
	t.Parallel()
	jail, dir := newJail(t, false, nil)

	f := open(t, jail, "data.txt", experimentalsys.O_RDWR|experimentalsys.O_CREAT|experimentalsys.O_EXCL)
	if n, errno := f.Write([]byte("hello, world")); errno != 0 || n != 12 {
		t.Fatalf("Write: %d, %v", n, errno)
	}
	if off, errno := f.Seek(0, io.SeekStart); errno != 0 || off != 0 {
		t.Fatalf("Seek: %d, %v", off, errno)
	}
	if got := readAll(t, f); got != "hello, world" {
		t.Errorf("Read after Seek = %q", got)
	}
	if off, errno := f.Seek(-5, io.SeekEnd); errno != 0 || off != 7 {
		t.Errorf("Seek(-5, end) = %d, %v; want 7", off, errno)
	}
	if off, errno := f.Seek(2, io.SeekCurrent); errno != 0 || off != 9 {
		t.Errorf("Seek(2, current) = %d, %v; want 9", off, errno)
	}

	buf := make([]byte, 5)
	if n, errno := f.Pread(buf, 7); errno != 0 || string(buf[:n]) != "world" {
		t.Errorf("Pread = %q, %v", buf[:n], errno)
	}
	if n, errno := f.Pread(buf, 10); errno != 0 || string(buf[:n]) != "ld" {
		t.Errorf("Pread at the end = %q, %v; want a short read", buf[:n], errno)
	}
	if n, errno := f.Pwrite([]byte("W"), 7); errno != 0 || n != 1 {
		t.Errorf("Pwrite: %d, %v", n, errno)
	}
	wantErrno(t, "Truncate", f.Truncate(8), 0)
	wantErrno(t, "Sync", f.Sync(), 0)
	wantErrno(t, "Datasync", f.Datasync(), 0)

	st, errno := f.Stat()
	if errno != 0 {
		t.Fatal(errno)
	}
	if st.Size != 8 || !st.Mode.IsRegular() {
		t.Errorf("Stat: size %d, mode %v; want 8, regular", st.Size, st.Mode)
	}
	ino, _ := f.Ino()
	if ino == 0 || ino != st.Ino {
		t.Errorf("Ino() = %d, Stat().Ino = %d", ino, st.Ino)
	}
	if dev, _ := f.Dev(); dev != st.Dev {
		t.Errorf("Dev() = %d, Stat().Dev = %d", dev, st.Dev)
	}
	if isDir, _ := f.IsDir(); isDir {
		t.Error("IsDir() = true for a file")
	}
	if got := readHost(t, filepath.Join(dir, "data.txt")); got != "hello, W" {
		t.Errorf("host file = %q, want %q", got, "hello, W")
	}
}

func TestFileAppend(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("append mode is only supported on Linux")
	}
	jail, dir := newJail(t, false, map[string]string{"log": "a"})

	f := open(t, jail, "log", experimentalsys.O_WRONLY|experimentalsys.O_APPEND)
	if !f.IsAppend() {
		t.Error("IsAppend() = false after O_APPEND")
	}
	if _, errno := f.Write([]byte("b")); errno != 0 {
		t.Fatal(errno)
	}
	wantErrno(t, "SetAppend(false)", f.SetAppend(false), 0)
	if f.IsAppend() {
		t.Error("IsAppend() = true after SetAppend(false)")
	}
	if _, errno := f.Seek(0, io.SeekStart); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := f.Write([]byte("X")); errno != 0 {
		t.Fatal(errno)
	}
	wantErrno(t, "SetAppend(true)", f.SetAppend(true), 0)
	if _, errno := f.Write([]byte("c")); errno != 0 {
		t.Fatal(errno)
	}
	if got := readHost(t, filepath.Join(dir, "log")); got != "Xbc" {
		t.Errorf("host file = %q, want %q", got, "Xbc")
	}
}

func TestFileUtimens(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("File.Utimens is only supported on Linux")
	}
	jail, _ := newJail(t, false, map[string]string{"f": ""})
	f := open(t, jail, "f", experimentalsys.O_RDONLY)

	const atim, mtim = int64(1_000_000_001), int64(2_000_000_002)
	wantErrno(t, "Utimens", f.Utimens(atim, mtim), 0)
	wantErrno(t, "Utimens(omit atim)", f.Utimens(experimentalsys.UTIME_OMIT, mtim+1), 0)
	st, errno := f.Stat()
	if errno != 0 {
		t.Fatal(errno)
	}
	if st.Atim != atim || st.Mtim != mtim+1 {
		t.Errorf("times = %d, %d; want %d, %d", st.Atim, st.Mtim, atim, mtim+1)
	}
}

func TestFileErrors(t *testing.T) {
	t.Parallel()
	jail, _ := newJail(t, false, map[string]string{"f": "content", "d/x": ""})

	tests := []struct {
		name string
		path string
		flag experimentalsys.Oflag
		op   func(f experimentalsys.File) experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"write read-only file", "f", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Write([]byte("x"))
			return errno
		}, experimentalsys.EBADF},
		{"pwrite read-only file", "f", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Pwrite([]byte("x"), 0)
			return errno
		}, experimentalsys.EBADF},
		{"truncate read-only file", "f", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			return f.Truncate(0)
		}, experimentalsys.EBADF},
		{"read write-only file", "f", experimentalsys.O_WRONLY, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Read(make([]byte, 1))
			return errno
		}, experimentalsys.EBADF},
		{"negative pread", "f", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Pread(make([]byte, 1), -1)
			return errno
		}, experimentalsys.EINVAL},
		{"negative pwrite", "f", experimentalsys.O_RDWR, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Pwrite([]byte("x"), -1)
			return errno
		}, experimentalsys.EINVAL},
		{"negative truncate", "f", experimentalsys.O_RDWR, func(f experimentalsys.File) experimentalsys.Errno {
			return f.Truncate(-1)
		}, experimentalsys.EINVAL},
		{"bad whence", "f", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Seek(0, 3)
			return errno
		}, experimentalsys.EINVAL},
		{"seek before start", "f", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Seek(-1, io.SeekStart)
			return errno
		}, experimentalsys.EINVAL},
		{"readdir file", "f", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Readdir(1)
			return errno
		}, experimentalsys.ENOTDIR},
		{"read directory", "d", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Read(make([]byte, 1))
			return errno
		}, experimentalsys.EISDIR},
		{"pread directory", "d", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Pread(make([]byte, 1), 0)
			return errno
		}, experimentalsys.EISDIR},
		{"write directory", "d", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Write([]byte("x"))
			return errno
		}, experimentalsys.EISDIR},
		{"truncate directory", "d", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			return f.Truncate(0)
		}, experimentalsys.EISDIR},
		{"seek directory", "d", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			_, errno := f.Seek(1, io.SeekStart)
			return errno
		}, experimentalsys.EISDIR},
		{"set append on directory", "d", experimentalsys.O_RDONLY, func(f experimentalsys.File) experimentalsys.Errno {
			return f.SetAppend(true)
		}, experimentalsys.EISDIR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := open(t, jail, tc.path, tc.flag)
			wantErrno(t, tc.name, tc.op(f), tc.want)
		})
	}
}

func TestFileClosed(t *testing.T) {
	t.Parallel()
	jail, _ := newJail(t, false, map[string]string{"f": "content"})
	f, errno := jail.OpenFile("f", experimentalsys.O_RDWR, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	wantErrno(t, "Close", f.Close(), 0)
	wantErrno(t, "second Close", f.Close(), 0)

	ops := map[string]func() experimentalsys.Errno{
		"Read":      func() experimentalsys.Errno { _, e := f.Read(make([]byte, 1)); return e },
		"Pread":     func() experimentalsys.Errno { _, e := f.Pread(make([]byte, 1), 0); return e },
		"Write":     func() experimentalsys.Errno { _, e := f.Write([]byte("x")); return e },
		"Pwrite":    func() experimentalsys.Errno { _, e := f.Pwrite([]byte("x"), 0); return e },
		"Seek":      func() experimentalsys.Errno { _, e := f.Seek(0, io.SeekStart); return e },
		"Stat":      func() experimentalsys.Errno { _, e := f.Stat(); return e },
		"Readdir":   func() experimentalsys.Errno { _, e := f.Readdir(1); return e },
		"Truncate":  func() experimentalsys.Errno { return f.Truncate(0) },
		"Sync":      f.Sync,
		"Datasync":  f.Datasync,
		"Utimens":   func() experimentalsys.Errno { return f.Utimens(0, 0) },
		"SetAppend": func() experimentalsys.Errno { return f.SetAppend(true) },
	}
	for name, op := range ops {
		wantErrno(t, name+" after Close", op(), experimentalsys.EBADF)
	}
}

func TestReaddir(t *testing.T) {
	t.Parallel()
	files := map[string]string{"sub/inner": ""}
	var want []string
	for i := range 10 {
		name := string(rune('a' + i))
		files[name] = ""
		want = append(want, name)
	}
	want = append(want, "sub")
	jail, dir := newJail(t, false, files)
	if err := os.Symlink("a", filepath.Join(dir, "zlink")); err != nil {
		t.Fatal(err)
	}
	want = append(want, "zlink")

	d := open(t, jail, ".", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY)
	if isDir, _ := d.IsDir(); !isDir {
		t.Fatal("IsDir() = false for a directory")
	}
	readAllEntries := func() []experimentalsys.Dirent {
		var all []experimentalsys.Dirent
		for {
			batch, errno := d.Readdir(5)
			if errno != 0 {
				t.Fatalf("Readdir: %v", errno)
			}
			if len(batch) > 5 {
				t.Fatalf("Readdir(5) returned %d entries", len(batch))
			}
			all = append(all, batch...)
			if len(batch) < 5 {
				return all
			}
		}
	}

	entries := readAllEntries()
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
		if e.Ino == 0 {
			t.Errorf("%s: inode 0", e.Name)
		}
		var wantType fs.FileMode
		switch e.Name {
		case "sub":
			wantType = fs.ModeDir
		case "zlink":
			wantType = fs.ModeSymlink
		}
		if e.Type != wantType {
			t.Errorf("%s: type %v, want %v", e.Name, e.Type, wantType)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("names = %q, want %q", names, want)
	}

	// Rewinding restarts the listing and sees new entries.
	if err := os.WriteFile(filepath.Join(dir, "new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errno := d.Seek(0, io.SeekStart); errno != 0 {
		t.Fatalf("rewind: %v", errno)
	}
	if got := len(readAllEntries()); got != len(want)+1 {
		t.Errorf("after rewind: %d entries, want %d", got, len(want)+1)
	}
}

func TestOpenFileErrors(t *testing.T) {
	t.Parallel()
	jail, dir := newJail(t, false, map[string]string{"f": "content", "d/x": ""})
	if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		path string
		flag experimentalsys.Oflag
		want experimentalsys.Errno
	}{
		{"missing", "missing", experimentalsys.O_RDONLY, experimentalsys.ENOENT},
		{"missing parent", "nodir/f", experimentalsys.O_RDWR | experimentalsys.O_CREAT, experimentalsys.ENOENT},
		{"file as directory", "f", experimentalsys.O_RDONLY | experimentalsys.O_DIRECTORY, experimentalsys.ENOTDIR},
		{"trailing slash on file", "f/", experimentalsys.O_RDONLY, experimentalsys.ENOTDIR},
		{"file as parent", "f/x", experimentalsys.O_RDONLY, experimentalsys.ENOTDIR},
		{"write directory", "d", experimentalsys.O_RDWR, experimentalsys.EISDIR},
		{"exclusive create of existing", "f", experimentalsys.O_RDWR | experimentalsys.O_CREAT | experimentalsys.O_EXCL, experimentalsys.EEXIST},
		{"exclusive create through link", "link", experimentalsys.O_RDWR | experimentalsys.O_CREAT | experimentalsys.O_EXCL, experimentalsys.EEXIST},
		{"nofollow on link", "link", experimentalsys.O_RDONLY | experimentalsys.O_NOFOLLOW, experimentalsys.ELOOP},
		{"both access modes", "f", experimentalsys.O_RDWR | experimentalsys.O_WRONLY, experimentalsys.EINVAL},
		{"create directory", "newdir", experimentalsys.O_RDONLY | experimentalsys.O_DIRECTORY | experimentalsys.O_CREAT, experimentalsys.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, errno := jail.OpenFile(tc.path, tc.flag, 0o644)
			if errno == 0 {
				f.Close()
			}
			wantErrno(t, "OpenFile", errno, tc.want)
		})
	}
}

func TestOpenDirectoryFlag(t *testing.T) {
	t.Parallel()
	jail, dir := newJail(t, false, map[string]string{"f": "content", "d/x": ""})
	if err := os.Symlink("d", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}

	_, errno := jail.OpenFile("f", experimentalsys.O_RDWR|experimentalsys.O_DIRECTORY|experimentalsys.O_TRUNC, 0)
	wantErrno(t, "truncating open of a file as a directory", errno, experimentalsys.ENOTDIR)
	wantContent("f", "content")(t, dir)

	for _, path := range []string{"d", "link"} {
		f := open(t, jail, path, experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY)
		if entries, errno := f.Readdir(10); errno != 0 || len(entries) != 1 || entries[0].Name != "x" {
			t.Errorf("Readdir of %s = %v, %v", path, entries, errno)
		}
	}
}

// TestPathForms checks the path spellings wazero hands over: relative to
// the mount, "." for its root, and "/"-prefixed below a directory opened as
// the root.
func TestPathForms(t *testing.T) {
	t.Parallel()
	jail, _ := newJail(t, false, map[string]string{"a.txt": "A", "d/b.txt": "B"})

	tests := []struct {
		path string
		want string // content, or "" for a directory
	}{
		{".", ""},
		{"", ""},
		{"/", ""},
		{"d", ""},
		{"d/", ""},
		{"/d", ""},
		{"d/.", ""},
		{"a.txt", "A"},
		{"/a.txt", "A"},
		{"//a.txt", "A"},
		{"./a.txt", "A"},
		{"d//b.txt", "B"},
		{"/d/b.txt", "B"},
		{"d/../a.txt", "A"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			f := open(t, jail, tc.path, experimentalsys.O_RDONLY)
			isDir, _ := f.IsDir()
			if tc.want == "" {
				if !isDir {
					t.Errorf("not a directory")
				}
				return
			}
			if got := readAll(t, f); got != tc.want {
				t.Errorf("content %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFSOperations(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		files map[string]string
		links map[string]string // link name to target, made on the host
		op    func(jail *jailfs.FS) experimentalsys.Errno
		want  experimentalsys.Errno
		check func(t *testing.T, dir string) // host state after op
	}{
		{
			name: "mkdir",
			op:   func(j *jailfs.FS) experimentalsys.Errno { return j.Mkdir("d", 0o750) },
			check: func(t *testing.T, dir string) {
				fi, err := os.Stat(filepath.Join(dir, "d"))
				if err != nil || !fi.IsDir() {
					t.Errorf("d: %v, %v", fi, err)
				}
			},
		},
		{
			name:  "mkdir existing",
			files: map[string]string{"d/x": ""},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Mkdir("d", 0o750) },
			want:  experimentalsys.EEXIST,
		},
		{
			name: "mkdir drops special bits",
			op:   func(j *jailfs.FS) experimentalsys.Errno { return j.Mkdir("d", fs.ModeSetuid|fs.ModeSticky|0o700) },
			check: func(t *testing.T, dir string) {
				fi, err := os.Stat(filepath.Join(dir, "d"))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode()&(fs.ModeSetuid|fs.ModeSticky) != 0 {
					t.Errorf("mode %v has special bits", fi.Mode())
				}
			},
		},
		{
			name:  "rmdir",
			files: map[string]string{"keep": ""},
			op: func(j *jailfs.FS) experimentalsys.Errno {
				if errno := j.Mkdir("d", 0o755); errno != 0 {
					return errno
				}
				return j.Rmdir("d")
			},
			check: wantMissing("d"),
		},
		{
			name:  "rmdir non-empty",
			files: map[string]string{"d/x": ""},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Rmdir("d") },
			want:  experimentalsys.ENOTEMPTY,
		},
		{
			name:  "rmdir file",
			files: map[string]string{"f": ""},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Rmdir("f") },
			want:  experimentalsys.ENOTDIR,
		},
		{
			name:  "rmdir link to directory",
			files: map[string]string{"d/x": ""},
			links: map[string]string{"link": "d"},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Rmdir("link") },
			want:  experimentalsys.ENOTDIR,
		},
		{
			name:  "unlink",
			files: map[string]string{"f": ""},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Unlink("f") },
			check: wantMissing("f"),
		},
		{
			name:  "unlink link removes the link only",
			files: map[string]string{"f": "content"},
			links: map[string]string{"link": "f"},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Unlink("link") },
			check: func(t *testing.T, dir string) {
				wantMissing("link")(t, dir)
				wantContent("f", "content")(t, dir)
			},
		},
		{
			name:  "unlink directory",
			files: map[string]string{"d/x": ""},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Unlink("d") },
			want:  experimentalsys.EISDIR,
		},
		{
			name: "unlink missing",
			op:   func(j *jailfs.FS) experimentalsys.Errno { return j.Unlink("missing") },
			want: experimentalsys.ENOENT,
		},
		{
			name:  "rename file",
			files: map[string]string{"a": "A", "d/x": ""},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Rename("a", "d/b") },
			check: func(t *testing.T, dir string) {
				wantMissing("a")(t, dir)
				wantContent("d/b", "A")(t, dir)
			},
		},
		{
			name:  "rename onto file",
			files: map[string]string{"a": "A", "b": "B"},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Rename("a", "b") },
			check: wantContent("b", "A"),
		},
		{
			name:  "rename to itself",
			files: map[string]string{"d/x": ""},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Rename("d", "d") },
			check: wantContent("d/x", ""),
		},
		{
			name:  "rename directory onto empty directory",
			files: map[string]string{"a/x": "X"},
			op: func(j *jailfs.FS) experimentalsys.Errno {
				if errno := j.Mkdir("b", 0o755); errno != 0 {
					return errno
				}
				return j.Rename("a", "b")
			},
			check: func(t *testing.T, dir string) {
				wantMissing("a")(t, dir)
				wantContent("b/x", "X")(t, dir)
			},
		},
		{
			name:  "rename directory onto non-empty directory",
			files: map[string]string{"a/x": "X", "b/y": "Y"},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Rename("a", "b") },
			want:  experimentalsys.ENOTEMPTY,
			check: func(t *testing.T, dir string) {
				wantContent("a/x", "X")(t, dir)
				wantContent("b/y", "Y")(t, dir)
			},
		},
		{
			name:  "rename directory into itself keeps the target",
			files: map[string]string{"a/x": "X"},
			op: func(j *jailfs.FS) experimentalsys.Errno {
				if errno := j.Mkdir("a/b", 0o755); errno != 0 {
					return errno
				}
				return j.Rename("a", "a/b")
			},
			want: experimentalsys.EINVAL,
			check: func(t *testing.T, dir string) {
				fi, err := os.Stat(filepath.Join(dir, "a", "b"))
				if err != nil || !fi.IsDir() {
					t.Errorf("a/b: %v, %v", fi, err)
				}
			},
		},
		{
			name:  "rename file onto directory",
			files: map[string]string{"a": "A", "d/x": ""},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Rename("a", "d") },
			want:  experimentalsys.EISDIR,
		},
		{
			name:  "rename directory onto file",
			files: map[string]string{"a": "A", "d/x": ""},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Rename("d", "a") },
			want:  experimentalsys.ENOTDIR,
		},
		{
			name: "rename missing",
			op:   func(j *jailfs.FS) experimentalsys.Errno { return j.Rename("missing", "b") },
			want: experimentalsys.ENOENT,
		},
		{
			name:  "link",
			files: map[string]string{"a": "A"},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Link("a", "b") },
			check: wantContent("b", "A"),
		},
		{
			name:  "link onto existing",
			files: map[string]string{"a": "A", "b": "B"},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Link("a", "b") },
			want:  experimentalsys.EEXIST,
		},
		{
			name:  "symlink",
			files: map[string]string{"a": "A"},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Symlink("a", "s") },
			check: func(t *testing.T, dir string) {
				if target, err := os.Readlink(filepath.Join(dir, "s")); err != nil || target != "a" {
					t.Errorf("s -> %q, %v", target, err)
				}
			},
		},
		{
			name:  "symlink onto existing",
			files: map[string]string{"a": "A"},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Symlink("x", "a") },
			want:  experimentalsys.EEXIST,
		},
		{
			name:  "chmod",
			files: map[string]string{"a": "A"},
			op:    func(j *jailfs.FS) experimentalsys.Errno { return j.Chmod("a", fs.ModeSetuid|0o600) },
			check: func(t *testing.T, dir string) {
				fi, err := os.Stat(filepath.Join(dir, "a"))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != 0o600 {
					t.Errorf("mode %v, want %v", fi.Mode(), fs.FileMode(0o600))
				}
			},
		},
		{
			name: "chmod missing",
			op:   func(j *jailfs.FS) experimentalsys.Errno { return j.Chmod("missing", 0o600) },
			want: experimentalsys.ENOENT,
		},
		{
			name:  "utimens follows links",
			files: map[string]string{"a": "A"},
			links: map[string]string{"link": "a"},
			op: func(j *jailfs.FS) experimentalsys.Errno {
				return j.Utimens("link", experimentalsys.UTIME_OMIT, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
			},
			check: func(t *testing.T, dir string) {
				fi, err := os.Stat(filepath.Join(dir, "a"))
				if err != nil {
					t.Fatal(err)
				}
				if want := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC); !fi.ModTime().Equal(want) {
					t.Errorf("mtime %v, want %v", fi.ModTime(), want)
				}
			},
		},
		{
			name: "utimens missing",
			op:   func(j *jailfs.FS) experimentalsys.Errno { return j.Utimens("missing", 0, 0) },
			want: experimentalsys.ENOENT,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			jail, dir := newJail(t, false, tc.files)
			for link, target := range tc.links {
				if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
					t.Fatal(err)
				}
			}
			wantErrno(t, tc.name, tc.op(jail), tc.want)
			if tc.check != nil {
				tc.check(t, dir)
			}
		})
	}
}

// wantMissing returns a check that name does not exist in the jail.
func wantMissing(name string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name))); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it gone", name, err)
		}
	}
}

// wantContent returns a check that the file name in the jail holds content.
func wantContent(name, content string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if got := readHost(t, filepath.Join(dir, filepath.FromSlash(name))); got != content {
			t.Errorf("%s = %q, want %q", name, got, content)
		}
	}
}

func TestStatAndLinks(t *testing.T) {
	t.Parallel()
	jail, dir := newJail(t, false, map[string]string{"a": "12345", "d/x": ""})
	for link, target := range map[string]string{"link": "a", "d/up": "../a", "dangling": "missing"} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name     string
		stat     func(string) (experimentalsys.Errno, fs.FileMode, int64)
		path     string
		wantMode fs.FileMode // type bits only
		wantSize int64       // -1: don't check
		wantErr  experimentalsys.Errno
	}{
		{"stat file", statOf(jail.Stat), "a", 0, 5, 0},
		{"stat directory", statOf(jail.Stat), "d", fs.ModeDir, -1, 0},
		{"stat follows link", statOf(jail.Stat), "link", 0, 5, 0},
		{"stat follows relative link", statOf(jail.Stat), "d/up", 0, 5, 0},
		{"stat dangling link", statOf(jail.Stat), "dangling", 0, -1, experimentalsys.ENOENT},
		{"lstat link", statOf(jail.Lstat), "link", fs.ModeSymlink, 1, 0},
		{"lstat dangling link", statOf(jail.Lstat), "dangling", fs.ModeSymlink, 7, 0},
		{"lstat missing", statOf(jail.Lstat), "missing", 0, -1, experimentalsys.ENOENT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errno, mode, size := tc.stat(tc.path)
			wantErrno(t, tc.name, errno, tc.wantErr)
			if errno != 0 {
				return
			}
			if mode.Type() != tc.wantMode {
				t.Errorf("type %v, want %v", mode.Type(), tc.wantMode)
			}
			if tc.wantSize >= 0 && size != tc.wantSize {
				t.Errorf("size %d, want %d", size, tc.wantSize)
			}
		})
	}

	for link, want := range map[string]string{"link": "a", "d/up": "../a", "dangling": "missing"} {
		if got, errno := jail.Readlink(link); errno != 0 || got != want {
			t.Errorf("Readlink(%q) = %q, %v; want %q", link, got, errno, want)
		}
	}
	if _, errno := jail.Readlink("a"); errno != experimentalsys.EINVAL {
		t.Errorf("Readlink of a file: %v, want EINVAL", errno)
	}

	// A guest-made link works like a host-made one.
	if errno := jail.Symlink("../a", "d/mine"); errno != 0 {
		t.Fatal(errno)
	}
	if got := readAll(t, open(t, jail, "d/mine", experimentalsys.O_RDONLY)); got != "12345" {
		t.Errorf("read through d/mine = %q", got)
	}
}

// statOf adapts Stat or Lstat for table tests.
func statOf(stat func(string) (sys.Stat_t, experimentalsys.Errno)) func(string) (experimentalsys.Errno, fs.FileMode, int64) {
	return func(path string) (experimentalsys.Errno, fs.FileMode, int64) {
		st, errno := stat(path)
		return errno, st.Mode, st.Size
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	jail, dir := newJail(t, true, map[string]string{"a": "A", "d/x": ""})
	if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir, "")

	openErr := func(flag experimentalsys.Oflag) func() experimentalsys.Errno {
		return func() experimentalsys.Errno {
			f, errno := jail.OpenFile("a", flag, 0o644)
			if errno == 0 {
				f.Close()
			}
			return errno
		}
	}
	tests := []struct {
		name string
		op   func() experimentalsys.Errno
	}{
		{"open write-only", openErr(experimentalsys.O_WRONLY)},
		{"open read-write", openErr(experimentalsys.O_RDWR)},
		{"open create", openErr(experimentalsys.O_RDONLY | experimentalsys.O_CREAT)},
		{"open truncate", openErr(experimentalsys.O_RDONLY | experimentalsys.O_TRUNC)},
		{"open append", openErr(experimentalsys.O_RDONLY | experimentalsys.O_APPEND)},
		{"mkdir", func() experimentalsys.Errno { return jail.Mkdir("new", 0o755) }},
		{"chmod", func() experimentalsys.Errno { return jail.Chmod("a", 0o600) }},
		{"rename", func() experimentalsys.Errno { return jail.Rename("a", "b") }},
		{"rmdir", func() experimentalsys.Errno { return jail.Rmdir("d") }},
		{"unlink", func() experimentalsys.Errno { return jail.Unlink("a") }},
		{"link", func() experimentalsys.Errno { return jail.Link("a", "b") }},
		{"symlink", func() experimentalsys.Errno { return jail.Symlink("a", "b") }},
		{"utimens", func() experimentalsys.Errno { return jail.Utimens("a", 0, 0) }},
		{"file utimens", func() experimentalsys.Errno {
			return open(t, jail, "a", experimentalsys.O_RDONLY).Utimens(0, 0)
		}},
	}
	for _, tc := range tests {
		wantErrno(t, tc.name, tc.op(), experimentalsys.EROFS)
	}

	// Reading still works.
	if got := readAll(t, open(t, jail, "link", experimentalsys.O_RDONLY)); got != "A" {
		t.Errorf("read = %q", got)
	}
	if _, errno := jail.Stat("d/x"); errno != 0 {
		t.Errorf("Stat: %v", errno)
	}
	if got, errno := jail.Readlink("link"); errno != 0 || got != "a" {
		t.Errorf("Readlink = %q, %v", got, errno)
	}
	if entries, errno := open(t, jail, "d", experimentalsys.O_RDONLY).Readdir(10); errno != 0 || len(entries) != 1 {
		t.Errorf("Readdir = %v, %v", entries, errno)
	}
	if after := snapshot(t, dir, ""); after != before {
		t.Errorf("read-only jail changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
