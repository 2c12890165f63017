package engine

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"

	"github.com/cronbox/cronbox/engine/app"
)

// appComplete reports whether app folder name looks whole, as an app
// folder renamed into apps/ is and one still being copied seldom is: its
// definition reads without a problem and every module it names is a whole
// WebAssembly binary. An app with a genuine problem is not complete
// either; Watch loads it once two looks agree.
func (e *Engine) appComplete(name string) bool {
	a, err := app.Load(filepath.Join(e.appsDir(), name), app.Options{})
	if err != nil || len(a.Errors) > 0 {
		return false
	}
	modules := make([]string, 0, len(a.Tasks)+len(a.Manifest.Routes))
	for _, t := range a.Tasks {
		modules = append(modules, t.Module)
	}
	for _, r := range a.Manifest.Routes {
		modules = append(modules, r.Module)
	}
	seen := map[string]bool{}
	for _, path := range modules {
		if seen[path] {
			continue
		}
		seen[path] = true
		b, err := os.ReadFile(path)
		if err != nil || !wasmWhole(b) {
			return false
		}
	}
	return true
}

// wasmWhole reports whether b is a WebAssembly binary whose sections, as
// their headers state their sizes, end exactly where b does: a module cut
// short, as one half-copied is, is not whole (unless cut right at the end
// of a section). It checks the framing only; the runtime checks the rest.
func wasmWhole(b []byte) bool {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return false
	}
	for rest := b[8:]; len(rest) > 0; {
		rest = rest[1:] // section id
		size, n := binary.Uvarint(rest)
		if n <= 0 || n > 5 || size > uint64(len(rest)-n) {
			return false
		}
		rest = rest[n+int(size):]
	}
	return true
}
