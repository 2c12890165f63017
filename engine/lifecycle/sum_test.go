package lifecycle

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestManifestSum(t *testing.T) {
	m := &ArchiveManifest{App: "a", Files: []FileHash{{Path: "b.txt", Size: 1, SHA256: "01"}, {Path: "a.txt", Size: 2, SHA256: "02"}}}
	sum := m.Sum()
	// The order of the listing does not count; every other part does.
	same := &ArchiveManifest{App: "a", Version: "2", Files: []FileHash{m.Files[1], m.Files[0]}}
	if got := same.Sum(); got != sum {
		t.Errorf("Sum of the same files in another order = %s, want %s", got, sum)
	}
	for name, other := range map[string]*ArchiveManifest{
		"app":  {App: "b", Files: m.Files},
		"size": {App: "a", Files: []FileHash{{Path: "b.txt", Size: 3, SHA256: "01"}, m.Files[1]}},
		"hash": {App: "a", Files: []FileHash{{Path: "b.txt", Size: 1, SHA256: "03"}, m.Files[1]}},
		"path": {App: "a", Files: []FileHash{{Path: "c.txt", Size: 1, SHA256: "01"}, m.Files[1]}},
		"file": {App: "a", Files: m.Files[:1]},
		// A name that holds the separators cannot pass for two files.
		"quoted": {App: "a", Files: []FileHash{{Path: "b.txt\" 1 01\n\"a.txt", Size: 2, SHA256: "02"}}},
	} {
		if other.Sum() == sum {
			t.Errorf("Sum with another %s = Sum of the first: %s", name, sum)
		}
	}
}

// TestSumOfInstall: an export, the install of that export and an export
// of the installed folder have one sum; an upgrade with NoBackup keeps no
// backup.
func TestSumOfInstall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := t.TempDir()
	installDemo(t, src, "demo")
	var zipped bytes.Buffer
	m, err := Export(src, "demo", &zipped, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	installDemo(t, home, "demo")
	writeFiles(t, filepath.Join(home, "apps", "demo"), map[string][]byte{"README.md": []byte("an older version\n")})
	res, err := InstallArchive(ctx, home, bytes.NewReader(zipped.Bytes()), int64(zipped.Len()), InstallOptions{Upgrade: true, NoBackup: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Replaced || res.Backup != "" {
		t.Errorf("upgrade with NoBackup = replaced %v, backup %q; want replaced, no backup", res.Replaced, res.Backup)
	}
	if ents, _ := os.ReadDir(filepath.Join(home, "data", "backups")); len(ents) != 0 {
		t.Errorf("data/backups holds %d files, want none", len(ents))
	}
	var again bytes.Buffer
	m2, err := Export(home, "demo", &again, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	installed := &ArchiveManifest{App: res.App, Files: res.Files}
	if m.Sum() != installed.Sum() || m.Sum() != m2.Sum() {
		t.Errorf("sums of the export %s, the install %s, the export of the install %s: want one", m.Sum(), installed.Sum(), m2.Sum())
	}
}
