package lifecycle

import (
	"os"
	"path/filepath"
	"testing"
)

func TestValidatePublic(t *testing.T) {
	dir := t.TempDir()
	pub := filepath.Join(dir, "public")
	if err := os.MkdirAll(filepath.Join(pub, "js"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"leak": "../app.yaml", "js/ok.js": "../index.html", "gone": "nowhere"} {
		if err := os.Symlink(target, filepath.Join(pub, name)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "app.yaml"), []byte("name: x\n"), 0o644)
	os.WriteFile(filepath.Join(pub, "index.html"), []byte("<p>hi"), 0o644)
	var r Report
	r.public(dir)
	files := map[string]bool{}
	for _, f := range r.Errors {
		files[f.File] = true
	}
	if !files["public/leak"] || !files["public/gone"] || files["public/js/ok.js"] || len(r.Warnings) != 0 {
		t.Errorf("errors %+v, warnings %+v", r.Errors, r.Warnings)
	}
}
