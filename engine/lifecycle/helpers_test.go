package lifecycle

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/cronbox/cronbox/internal/wasmtest"
)

// demoFiles are the files of a small valid app named name, with a module
// assembled by hand (no Go toolchain needed).
func demoFiles(name string) map[string][]byte {
	return map[string][]byte{
		"app.yaml":          []byte("name: " + name + "\nversion: 1.0.0\npermissions:\n  kv: true\n"),
		"config/tasks.yaml": []byte("tasks:\n  - name: hello\n    schedule: \"H * * * *\"\n"),
		"tasks/hello.wasm":  wasmtest.Hello(),
		"README.md":         []byte("# " + name + "\n"),
	}
}

// writeFiles writes files (by slash path) under dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for p, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// installDemo writes the app name into home's apps folder.
func installDemo(t *testing.T, home, name string) string {
	t.Helper()
	dir := filepath.Join(home, "apps", name)
	writeFiles(t, dir, demoFiles(name))
	return dir
}

// zent is one entry of a zip built by makeZip.
type zent struct {
	name   string
	body   []byte
	mode   fs.FileMode // 0: a regular file, 0644
	method uint16      // 0: deflate, unless stored
	stored bool
	flags  uint16
	// declared, when set, is the uncompressed size the header claims,
	// whatever body holds.
	declared uint64
}

// makeZip builds a zip archive from entries, writing headers as given:
// names are not cleaned, sizes may lie.
func makeZip(t testing.TB, entries ...zent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: e.method, Flags: e.flags}
		if e.method == 0 && !e.stored {
			h.Method = zip.Deflate
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		var raw bytes.Buffer
		if h.Method == zip.Deflate {
			fw, _ := flate.NewWriter(&raw, flate.BestCompression)
			fw.Write(e.body)
			fw.Close()
		} else {
			raw.Write(e.body)
		}
		h.CRC32 = crc32.ChecksumIEEE(e.body)
		h.CompressedSize64 = uint64(raw.Len())
		h.UncompressedSize64 = uint64(len(e.body))
		if e.declared != 0 {
			h.UncompressedSize64 = e.declared
		}
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw.Bytes())
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// appEntries are the entries of the app name's files, in path order.
func appEntries(name string, files map[string][]byte) []zent {
	var list []zent
	for p, b := range files {
		list = append(list, zent{name: name + "/" + p, body: b})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	return list
}

// tree lists every file and folder under dir with its size, for
// comparing a folder before and after.
func tree(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err == nil {
			m[filepath.ToSlash(rel)] = info.Size()
			if d.IsDir() {
				m[filepath.ToSlash(rel)] = -1
			}
		}
		return nil
	})
	return m
}

// hashTree returns the hashes of the app files under dir, as Export lists
// them.
func hashTree(t *testing.T, dir string) []FileHash {
	t.Helper()
	var buf bytes.Buffer
	m, err := exportDir(dir, filepath.Base(dir), &buf, Limits{}, false)
	if err != nil {
		t.Fatal(err)
	}
	return m.Files
}

// emptyStaging fails t unless home's staging folder holds nothing.
func emptyStaging(t *testing.T, home string) {
	t.Helper()
	ents, err := os.ReadDir(stagingDir(home))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("staging holds %v, want nothing", names)
	}
}
