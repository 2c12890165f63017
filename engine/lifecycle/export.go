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
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/internal/homedir"
)

// zipTime is the time of every entry of an export, so that exports of the
// same files are the same bytes.
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// ExportName is the file name of an export of app name at version,
// dated t: NAME-vVERSION-YYYYMMDD.zip, with characters of the version
// other than letters, digits, '.', '-' and '_' replaced by '_'.
func ExportName(name, version string, t time.Time) string {
	return fmt.Sprintf("%s-v%s-%s.zip", name, safeVersion(version), t.UTC().Format("20060102"))
}

func safeVersion(v string) string {
	if v == "" {
		return "0"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (isAlnum(byte(r)) || r == '.' || r == '-' || r == '_') {
			return r
		}
		return '_'
	}, v)
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// Export writes the app name of home to w as a zip archive: the app's
// files under a folder named after it, in path order, then MANIFEST.json
// listing each file's size and SHA-256. Entries carry a fixed time and
// mode, so an export of the same files is the same bytes. Hidden files
// and folders (app.Hidden) are left out; symlinks, special
// files and an app over lim are errors (an install would refuse them).
// The manifest is returned.
func Export(home, name string, w io.Writer, lim Limits) (*ArchiveManifest, error) {
	dir, err := existing(home, name)
	if err != nil {
		return nil, fmt.Errorf("exporting app %s: %w", name, err)
	}
	m, err := exportDir(dir, name, w, lim, false)
	if err != nil {
		return nil, fmt.Errorf("exporting app %s: %w", name, err)
	}
	return m, nil
}

// ExportFile exports the app name of home into the folder outDir (default
// <home>/data/exports) as ExportName(name, version, now), written under a
// temporary name and renamed, and returns its path.
func ExportFile(home, name, outDir string, now time.Time, lim Limits) (string, *ArchiveManifest, error) {
	dir, err := existing(home, name)
	if err != nil {
		return "", nil, fmt.Errorf("exporting app %s: %w", name, err)
	}
	if outDir == "" {
		outDir = homedir.Home(home).Exports()
	}
	p, m, err := exportTo(dir, name, outDir, func(version string) string { return ExportName(name, version, now) }, lim, false)
	if err != nil {
		return "", nil, fmt.Errorf("exporting app %s: %w", name, err)
	}
	return p, m, nil
}

// exportTo writes the export of the app in dir to outDir, under the name
// that file gives for the app's version; a backup is as exportDir makes it.
func exportTo(dir, name, outDir string, file func(version string) string, lim Limits, backup bool) (string, *ArchiveManifest, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", nil, err
	}
	tmp, err := os.CreateTemp(outDir, "."+name+"-*.zip.tmp")
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	m, err := exportDir(dir, name, tmp, lim, backup)
	if err != nil {
		return "", nil, err
	}
	if err := tmp.Sync(); err != nil {
		return "", nil, err
	}
	if err := tmp.Close(); err != nil {
		return "", nil, err
	}
	out := filepath.Join(outDir, file(m.Version))
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", nil, err
	}
	return out, m, syncDir(outDir)
}

// exportDir writes the app in dir, named name, to w as Export describes.
// A backup, made before the folder is deleted, holds everything in it
// instead: the names that start with '.' too, and symlinks as links (an
// install refuses them, but what they were is kept).
func exportDir(dir, name string, w io.Writer, lim Limits, backup bool) (*ArchiveManifest, error) {
	lim = lim.withDefaults()
	version := ""
	if a, err := app.Load(dir, app.Options{}); err == nil {
		version = a.Manifest.Version
	}
	m := &ArchiveManifest{Format: ManifestFormat, App: name, Version: version, Files: []FileHash{}}
	// Entries in the order of their paths as strings, the order in which
	// archives are read and manifests listed.
	var files []string
	sizes := map[string]int64{}
	links := map[string]bool{}
	err := walkApp(dir, backup, func(rel string, info fs.FileInfo) error {
		files = append(files, rel)
		sizes[rel] = info.Size()
		links[rel] = info.Mode()&fs.ModeSymlink != 0
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	zw := zip.NewWriter(w)
	var total int64
	for _, rel := range files {
		if links[rel] {
			if err := exportLink(zw, dir, name, rel); err != nil {
				return nil, err
			}
			continue
		}
		if err := exportFile(zw, dir, name, rel, sizes[rel], lim, m, &total); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	hdr := &zip.FileHeader{Name: ManifestName, Method: zip.Deflate, Modified: zipTime}
	hdr.SetMode(0o644)
	zf, err := zw.CreateHeader(hdr)
	if err != nil {
		return nil, err
	}
	if _, err := zf.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	return m, zw.Close()
}

// exportLink adds the symlink rel of the app in dir to zw, as zip records
// links: the entry's mode says symlink and its content is the target.
func exportLink(zw *zip.Writer, dir, name, rel string) error {
	target, err := os.Readlink(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	hdr := &zip.FileHeader{Name: name + "/" + rel, Method: zip.Store, Modified: zipTime}
	hdr.SetMode(fs.ModeSymlink | 0o777)
	zf, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	_, err = io.WriteString(zf, target)
	return err
}

// exportFile adds the file rel of the app in dir to zw and m.
func exportFile(zw *zip.Writer, dir, name, rel string, size int64, lim Limits, m *ArchiveManifest, total *int64) error {
	if size > lim.MaxFileSize {
		return fmt.Errorf("%s is %s, more than an archive may hold (%s)", rel, bytesize.Format(size), bytesize.Format(lim.MaxFileSize))
	}
	if len(m.Files) >= lim.MaxFiles {
		return fmt.Errorf("more than %d files", lim.MaxFiles)
	}
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := &zip.FileHeader{Name: name + "/" + rel, Method: zip.Deflate, Modified: zipTime}
	hdr.SetMode(0o644)
	zf, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(zf, h), io.LimitReader(f, lim.MaxFileSize+1))
	if err != nil {
		return err
	}
	if n > lim.MaxFileSize {
		return fmt.Errorf("%s grew past %s while it was read", rel, bytesize.Format(lim.MaxFileSize))
	}
	*total += n
	if *total > lim.MaxTotalSize {
		return fmt.Errorf("the app's files hold more than an archive may (%s)", bytesize.Format(lim.MaxTotalSize))
	}
	m.Files = append(m.Files, FileHash{Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

// walkApp calls f for each regular file under dir in path order, with
// its slash path relative to dir, leaving out hidden ones (app.Hidden).
// A symlink or special file is an error. With all, names that start with
// '.' are walked too, and f is called for symlinks (not followed).
func walkApp(dir string, all bool, f func(rel string, info fs.FileInfo) error) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !all && app.Hidden(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0 && all:
		case t&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symlink; an app must hold its files itself", rel)
		case d.IsDir():
			return nil
		case !t.IsRegular():
			return fmt.Errorf("%s is not a regular file", rel)
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		return f(rel, info)
	})
}

// ExportDir writes the app folder dir, wherever it is, to w as Export
// does, named by the folder: a client sends an app folder to a server so.
func ExportDir(dir string, w io.Writer, lim Limits) (*ArchiveManifest, error) {
	m, err := exportDir(dir, filepath.Base(dir), w, lim, false)
	if err != nil {
		return nil, fmt.Errorf("exporting %s: %w", dir, err)
	}
	return m, nil
}
