package lifecycle

import "testing"

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
