package ui_test

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/web/ui"
)

func get(t *testing.T, h http.Handler, method, path string, header map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	rd := resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			t.Fatal(err)
		}
		rd = zr
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandler(t *testing.T) {
	t.Parallel()
	h := ui.Handler()
	v := ui.Version()
	if len(v) != 16 {
		t.Fatalf("Version() = %q, want 16 hex digits", v)
	}
	tests := []struct {
		name, method, path string
		header             map[string]string
		status             int
		ctype, cache       string
		contains           string
	}{
		{"root", "GET", "/", nil, 200, "text/html", "no-cache", `/ui/` + v + `/app.js`},
		{"client route", "GET", "/tasks/hello/greet", nil, 200, "text/html", "no-cache", `<div id="app">`},
		{"run page", "GET", "/runs/12", nil, 200, "text/html", "no-cache", `<div id="app">`},
		{"head", "HEAD", "/runs", nil, 200, "text/html", "no-cache", ""},
		{"versioned asset", "GET", "/ui/" + v + "/app.js", nil, 200, "text/javascript", "immutable", "import"},
		{"versioned module", "GET", "/ui/" + v + "/views/tasks.js", nil, 200, "text/javascript", "immutable", "export function tasksView"},
		{"old version", "GET", "/ui/0123456789abcdef/app.css", nil, 200, "text/css", "no-cache", ":root"},
		{"unversioned asset", "GET", "/ui/app.css", nil, 200, "text/css", "no-cache", ":root"},
		{"icon", "GET", "/ui/icon.svg", nil, 200, "image/svg+xml", "no-cache", "<svg"},
		{"missing asset", "GET", "/ui/" + v + "/nope.js", nil, 404, "", "", ""},
		{"no directory listing", "GET", "/ui/", nil, 404, "", "", ""},
		{"missing file", "GET", "/favicon.ico", nil, 404, "", "", ""},
		{"API path", "GET", "/api/v1/nope", nil, 404, "application/json", "", `"error"`},
		{"post", "POST", "/tasks", nil, 405, "", "", ""},
		{"gzip", "GET", "/ui/" + v + "/app.css", map[string]string{"Accept-Encoding": "gzip, br"}, 200, "text/css", "immutable", ":root"},
		{"gzip refused", "GET", "/ui/" + v + "/app.css", map[string]string{"Accept-Encoding": "gzip;q=0"}, 200, "text/css", "immutable", ":root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := get(t, h, tt.method, tt.path, tt.header)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") {
				t.Errorf("Content-Security-Policy = %q", got)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.ctype) {
				t.Errorf("Content-Type = %q, want %s", resp.Header.Get("Content-Type"), tt.ctype)
			}
			if !strings.Contains(resp.Header.Get("Cache-Control"), tt.cache) {
				t.Errorf("Cache-Control = %q, want %s", resp.Header.Get("Cache-Control"), tt.cache)
			}
			if enc := resp.Header.Get("Content-Encoding"); (enc == "gzip") != (tt.name == "gzip") {
				t.Errorf("Content-Encoding = %q", enc)
			}
			if b := body(t, resp); !strings.Contains(b, tt.contains) {
				t.Errorf("body does not contain %q:\n%.300s", tt.contains, b)
			}
		})
	}
}

func TestHandlerETag(t *testing.T) {
	t.Parallel()
	h := ui.Handler()
	for _, path := range []string{"/", "/ui/app.js"} {
		resp := get(t, h, "GET", path, nil)
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("%s: no ETag", path)
		}
		again := get(t, h, "GET", path, map[string]string{"If-None-Match": etag})
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match = %d, want 304", path, again.StatusCode)
		}
	}
}

// TestHandlerKeepsServerCSP checks that a policy the server set wins.
func TestHandlerKeepsServerCSP(t *testing.T) {
	t.Parallel()
	h := ui.Handler()
	w := httptest.NewRecorder()
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if got := w.Result().Header.Get("Content-Security-Policy"); got != "default-src 'none'" {
		t.Errorf("Content-Security-Policy = %q", got)
	}
}

// TestAssetsSafe checks the sources for what the UI promises: no HTML
// parsing of data, no eval, no inline script or style, and every module
// import names an embedded file.
func TestAssetsSafe(t *testing.T) {
	t.Parallel()
	root := os.DirFS("static")
	forbidden := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\(\s*['"]on|setAttribute\(\s*['"]style|createContextualFragment|DOMParser`)
	imports := regexp.MustCompile(`(?m)^import .* from '([^']+)';$`)
	inline := regexp.MustCompile(`<script>|<script [^>]*>[^<]|\sstyle=|\son[a-z]+=|<style`)
	n := 0
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		src := string(b)
		switch filepath.Ext(p) {
		case ".js":
			n++
			if m := forbidden.FindString(src); m != "" {
				t.Errorf("%s uses %s", p, m)
			}
			for _, m := range imports.FindAllStringSubmatch(src, -1) {
				dep := filepath.ToSlash(filepath.Join(filepath.Dir(p), m[1]))
				if _, err := fs.Stat(root, dep); err != nil {
					t.Errorf("%s imports %s, which is not embedded", p, m[1])
				}
			}
		case ".html":
			if m := inline.FindString(src); m != "" {
				t.Errorf("%s has inline code or style: %s", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Errorf("found %d scripts under static/", n)
	}
}
