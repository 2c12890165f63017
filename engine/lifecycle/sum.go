package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Sum is the content hash of the app m lists: "sha256:" and the hex
// SHA-256 of the app's name and of each file's path, size and hash, in
// path order. Exports of the same files have the same sum whatever the
// bytes of their archives (another compressor, another order of
// entries), and so have an archive and the folder it installs into.
func (m *ArchiveManifest) Sum() string {
	files := slices.Clone(m.Files)
	slices.SortFunc(files, func(a, b FileHash) int { return strings.Compare(a.Path, b.Path) })
	h := sha256.New()
	fmt.Fprintf(h, "%q\n", m.App)
	for _, f := range files {
		fmt.Fprintf(h, "%q %d %s\n", f.Path, f.Size, f.SHA256)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
