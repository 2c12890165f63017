package lifecycle

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/internal/bytesize"
)

// ErrArchive is wrapped by the errors of archives that are refused:
// malformed, unsafe (paths leaving the app's folder, symlinks, entries of
// another app), too large, or not matching their manifest.
var ErrArchive = errors.New("archive refused")

// ManifestName is the name of the manifest at the root of an exported
// archive, beside the app's folder.
const ManifestName = "MANIFEST.json"

// ManifestFormat is the format of the manifests Export writes.
const ManifestFormat = 1

// ArchiveManifest lists the files of an exported app with their hashes.
type ArchiveManifest struct {
	// Format is ManifestFormat.
	Format int `json:"format"`
	// App is the app's name, the archive's folder.
	App string `json:"app"`
	// Version is app.yaml's version.
	Version string `json:"version,omitempty"`
	// Files are the app's files, ordered by path.
	Files []FileHash `json:"files"`
}

// FileHash is one file of an app.
type FileHash struct {
	// Path is relative to the app folder, with forward slashes.
	Path string `json:"path"`
	// Size is in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the content.
	SHA256 string `json:"sha256"`
}

// Limits bound what an archive or an app folder may hold, against
// archives built to exhaust the disk or the memory.
type Limits struct {
	// MaxFileSize is the largest file. Default 64 MiB (the runtime's
	// largest module).
	MaxFileSize int64
	// MaxTotalSize is the most all files may hold together, and the
	// largest archive. Default 256 MiB.
	MaxTotalSize int64
	// MaxFiles is how many files an app may have. Default 10,000.
	MaxFiles int
	// MaxRatio is the largest ratio of a file's size to its compressed
	// size, for files over 64 KiB: past it an entry is taken for a zip
	// bomb. Default 200 (Go modules compress about 4:1).
	MaxRatio int64
}

// DefaultLimits are the limits used where a Limits field is zero.
var DefaultLimits = Limits{MaxFileSize: 64 << 20, MaxTotalSize: 256 << 20, MaxFiles: 10_000, MaxRatio: 200}

// ratioFloor is the size below which the ratio is not checked: small
// files of repeated text compress well and can do no harm.
const ratioFloor = 64 << 10

func (l Limits) withDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultLimits.MaxFileSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = DefaultLimits.MaxTotalSize
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultLimits.MaxFiles
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = DefaultLimits.MaxRatio
	}
	return l
}

// Archive is a zip archive of one app whose every entry has been checked
// by OpenArchive; Extract writes it out.
type Archive struct {
	// App is the name of the app: the archive's one top-level folder.
	App string
	// Manifest is the archive's MANIFEST.json, or nil when it has none.
	Manifest *ArchiveManifest
	// Files are the app's files, by path relative to the app folder.
	Files []string
	// LeftOut are the hidden files of the archive (app.Hidden), which are
	// not part of the app and are not extracted: a backup holds them.
	LeftOut []string

	entries map[string]*zip.File
	lim     Limits
}

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrArchive, fmt.Sprintf(format, args...))
}

// OpenArchive reads the directory of the zip archive r (size bytes) and
// checks every entry before anything is extracted. The archive must hold
// one folder, the app's, whose name is a valid app name, and may hold a
// MANIFEST.json beside it. Refused, with an error wrapping ErrArchive:
// absolute paths, "..", "." or empty path elements, names that
// app.CheckFileName refuses (control and non-ASCII characters, backslashes,
// colons), names that differ only in case at any level, symlinks
// and other special files, encrypted entries, methods other than store and
// deflate, entries outside the app's folder, and archives over the limits
// (files, sizes as declared, compression ratio). Hidden entries
// (app.Hidden) are listed in LeftOut, not in Files, and are not extracted;
// a manifest's hidden files are not compared. The sizes are checked
// again while extracting, where a lying header cannot hide them.
func OpenArchive(r io.ReaderAt, size int64, lim Limits) (*Archive, error) {
	lim = lim.withDefaults()
	if size > lim.MaxTotalSize {
		return nil, refuse("the archive is %s, more than %s", bytesize.Format(size), bytesize.Format(lim.MaxTotalSize))
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, refuse("not a zip archive: %v", err)
	}
	a := &Archive{entries: map[string]*zip.File{}, lim: lim}
	var manifest *zip.File
	seen := map[string]string{} // lower-case path → path, files and folders
	isDir := map[string]bool{}
	var total int64
	for _, f := range zr.File {
		name := f.Name
		if err := checkEntryName(name); err != nil {
			return nil, err
		}
		dir := strings.HasSuffix(name, "/")
		clean := strings.TrimSuffix(name, "/")
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return nil, refuse("%q is a symlink", name)
		case dir != mode.IsDir() && mode.Type() != 0:
			return nil, refuse("%q is a %v", name, mode.Type())
		case !dir && !mode.IsRegular():
			return nil, refuse("%q is not a regular file (%v)", name, mode.Type())
		case f.Flags&0x1 != 0:
			return nil, refuse("%q is encrypted", name)
		case f.Method != zip.Store && f.Method != zip.Deflate:
			return nil, refuse("%q uses compression method %d; only store and deflate are read", name, f.Method)
		}
		top, rel, nested := strings.Cut(clean, "/")
		if !nested {
			if clean == ManifestName && !dir {
				if manifest != nil {
					return nil, refuse("%s appears twice", ManifestName)
				}
				if f.UncompressedSize64 > app.MaxFileSize {
					return nil, refuse("%s is larger than %s", ManifestName, bytesize.Format(app.MaxFileSize))
				}
				manifest = f
				continue
			}
			if !dir {
				return nil, refuse("%q is outside the app's folder: an archive holds one folder, named after the app", name)
			}
		}
		if a.App == "" {
			if err := app.ValidName(top); err != nil {
				return nil, refuse("the archive's folder %q is not an app name: %v", top, err)
			}
			a.App = top
		} else if top != a.App {
			return nil, refuse("%q is outside the app's folder %q: an archive holds one app", name, a.App)
		}
		if !nested {
			continue // the app's folder itself
		}
		if app.Hidden(rel) {
			if !dir {
				a.LeftOut = append(a.LeftOut, rel)
			}
			continue
		}
		low := app.FoldFileName(rel)
		if prev, ok := seen[low]; ok && !(dir && isDir[low] && prev == rel) {
			return nil, refuse("%q appears twice (as %q)%s", name, prev, caseNote(prev, rel))
		}
		seen[low] = rel
		// Each parent must be a folder, never a file, and spelt alike
		// wherever it appears: "a/B/x" and "a/b/y" collide at "a/b".
		for p := path.Dir(rel); p != "."; p = path.Dir(p) {
			lp := app.FoldFileName(p)
			prev, ok := seen[lp]
			switch {
			case ok && !isDir[lp]:
				return nil, refuse("%q is inside %q, which is a file", name, prev)
			case ok && prev != p:
				return nil, refuse("%q is inside the folder %q, which appears as %q too%s", name, p, prev, caseNote(prev, p))
			}
			seen[lp], isDir[lp] = p, true
		}
		if dir {
			isDir[low] = true
			continue
		}
		if f.UncompressedSize64 > uint64(lim.MaxFileSize) {
			return nil, refuse("%q is %s, more than %s", name, bytesize.Format(int64(min(f.UncompressedSize64, 1<<62))), bytesize.Format(lim.MaxFileSize))
		}
		if f.UncompressedSize64 > ratioFloor && f.CompressedSize64*uint64(lim.MaxRatio) < f.UncompressedSize64 {
			return nil, refuse("%q expands %d times (%s from %s): a zip bomb?", name, f.UncompressedSize64/max(f.CompressedSize64, 1), bytesize.Format(int64(f.UncompressedSize64)), bytesize.Format(int64(f.CompressedSize64)))
		}
		total += int64(f.UncompressedSize64)
		if total > lim.MaxTotalSize {
			return nil, refuse("the app's files hold more than %s", bytesize.Format(lim.MaxTotalSize))
		}
		if len(a.Files) >= lim.MaxFiles {
			return nil, refuse("more than %d files", lim.MaxFiles)
		}
		a.entries[rel] = f
		a.Files = append(a.Files, rel)
	}
	if a.App == "" {
		return nil, refuse("no app folder in the archive")
	}
	if _, ok := a.entries[app.ManifestPath]; !ok {
		return nil, refuse("no %s in the app's folder %q", app.ManifestPath, a.App)
	}
	sort.Strings(a.Files)
	sort.Strings(a.LeftOut)
	if manifest != nil {
		m, err := readManifest(manifest)
		if err != nil {
			return nil, err
		}
		if m.App != a.App {
			return nil, refuse("%s is of app %q, the archive's folder is %q", ManifestName, m.App, a.App)
		}
		a.Manifest = m
	}
	return a, nil
}

// checkEntryName refuses names that could leave the folder they are
// extracted to, or mean different things on different systems.
func checkEntryName(name string) error {
	switch {
	case name == "" || name == "/":
		return refuse("an entry has an empty name")
	case len(name) > 1024:
		return refuse("an entry's name is longer than 1024 bytes")
	case strings.HasPrefix(name, "/"):
		return refuse("%q is an absolute path", name)
	}
	if err := app.CheckFileName(name); err != nil {
		return refuse("%v", err)
	}
	for _, e := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
		switch e {
		case "..":
			return refuse("%q leads out of the folder (..)", name)
		case "", ".":
			return refuse("%q has an empty or '.' path element", name)
		}
	}
	return nil
}

// caseNote explains why the different names a and b are the same.
func caseNote(a, b string) string {
	if a == b {
		return ""
	}
	return ": names that differ only in case are one file on macOS and Windows"
}

func readManifest(f *zip.File) (*ArchiveManifest, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, refuse("reading %s: %v", ManifestName, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, app.MaxFileSize+1))
	if err != nil {
		return nil, refuse("reading %s: %v", ManifestName, err)
	}
	var m ArchiveManifest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, refuse("reading %s: %v", ManifestName, err)
	}
	if m.Format != ManifestFormat {
		return nil, refuse("%s has format %d; this Cronbox reads %d", ManifestName, m.Format, ManifestFormat)
	}
	return &m, nil
}

// Extract writes the app's files into the folder dir, which must not
// exist yet, and returns their hashes. Sizes are counted as the bytes
// come, whatever the headers said. When the archive has a manifest, the
// files must be exactly those it lists, with its sizes and hashes. Writes
// go through an os.Root at dir, so no path can leave it. On error, what
// was written stays for the caller to remove.
func (a *Archive) Extract(dir string) ([]FileHash, error) {
	return a.extract(dir, nil)
}

func (a *Archive) extract(dir string, hook func(op, path string) error) ([]FileHash, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var total int64
	hashes := make([]FileHash, 0, len(a.Files))
	for _, rel := range a.Files {
		if hook != nil {
			if err := hook("write", filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
				return nil, err
			}
		}
		f := a.entries[rel]
		if d := path.Dir(rel); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		h, err := a.extractFile(root, rel, f, a.lim.MaxTotalSize-total)
		if err != nil {
			return nil, err
		}
		total += h.Size
		hashes = append(hashes, h)
	}
	if a.Manifest != nil {
		listed := slices.DeleteFunc(slices.Clone(a.Manifest.Files), func(f FileHash) bool { return app.Hidden(f.Path) })
		if err := compareManifest(listed, hashes); err != nil {
			return nil, err
		}
	}
	return hashes, nil
}

func (a *Archive) extractFile(root *os.Root, rel string, f *zip.File, left int64) (FileHash, error) {
	rc, err := f.Open()
	if err != nil {
		return FileHash{}, refuse("reading %q: %v", f.Name, err)
	}
	defer rc.Close()
	out, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return FileHash{}, err
	}
	h := sha256.New()
	limit := min(a.lim.MaxFileSize, left)
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(rc, limit+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil && (errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF)):
		return FileHash{}, refuse("reading %q: %v", f.Name, err)
	case err != nil:
		return FileHash{}, err
	case n > a.lim.MaxFileSize:
		return FileHash{}, refuse("%q is more than %s", f.Name, bytesize.Format(a.lim.MaxFileSize))
	case n > limit:
		return FileHash{}, refuse("the app's files hold more than %s", bytesize.Format(a.lim.MaxTotalSize))
	case uint64(n) != f.UncompressedSize64:
		return FileHash{}, refuse("%q holds %d bytes, its header says %d", f.Name, n, f.UncompressedSize64)
	}
	return FileHash{Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// compareManifest checks the extracted files against the manifest's list.
func compareManifest(want, got []FileHash) error {
	byPath := make(map[string]FileHash, len(want))
	for _, w := range want {
		if _, dup := byPath[w.Path]; dup {
			return refuse("%s lists %q twice", ManifestName, w.Path)
		}
		byPath[w.Path] = w
	}
	for _, g := range got {
		w, ok := byPath[g.Path]
		switch {
		case !ok:
			return refuse("%q is not in %s", g.Path, ManifestName)
		case w.Size != g.Size || !strings.EqualFold(w.SHA256, g.SHA256):
			return refuse("%q does not match %s (size %d, sha256 %s; listed %d, %s)", g.Path, ManifestName, g.Size, g.SHA256, w.Size, w.SHA256)
		}
		delete(byPath, g.Path)
	}
	for p := range byPath {
		return refuse("%q is listed in %s but missing", p, ManifestName)
	}
	return nil
}
