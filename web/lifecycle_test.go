package web

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronbox/cronbox/internal/testenv"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// zipEntry is one entry of a test archive.
type zipEntry struct {
	name string
	body []byte
	mode fs.FileMode // 0: a regular file, 0644
}

func makeZip(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr.SetMode(mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// appZip is an archive of the app name with the task hi, of version
// 2.0.0; extra entries are added.
func appZip(t *testing.T, name string, extra ...zipEntry) []byte {
	t.Helper()
	entries := []zipEntry{
		{name: name + "/app.yaml", body: []byte("name: " + name + "\nversion: 2.0.0\nenabled: true\n")},
		{name: name + "/config/tasks.yaml", body: []byte("tasks:\n  - name: hi\n    description: Installed through the API\n    schedule: \"H * * * *\"\n")},
		{name: name + "/tasks/hi.wasm", body: wasmtest.Hello()},
	}
	return makeZip(t, append(entries, extra...)...)
}

// multipartBody is a form with the given fields, each a file part.
func multipartBody(t *testing.T, fields ...struct {
	name string
	body []byte
}) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		w, err := mw.CreateFormFile(f.name, f.name+".zip")
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.body)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), mw.FormDataContentType()
}

type formField = struct {
	name string
	body []byte
}

// noLeftovers waits until uploads and exports have left nothing in the
// server's TempDir. A handler removes its file when it returns, which may
// be just after the client has read the answer.
func (f *fixture) noLeftovers() {
	f.t.Helper()
	var left []string
	testenv.WaitFor(f.t, "uploads and exports to remove their temporary files", func() bool {
		ents, err := os.ReadDir(f.srv.cfg.TempDir)
		if err != nil && !os.IsNotExist(err) {
			f.t.Fatal(err)
		}
		left = left[:0]
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".upload-") || strings.HasPrefix(e.Name(), ".export-") {
				left = append(left, e.Name())
			}
		}
		return len(left) == 0
	})
}

// conformsTo checks a JSON body against a schema of openapi.json.
func conformsTo(t *testing.T, body []byte, schema string) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	for _, p := range conform(loadOpenAPI(t), map[string]any{"$ref": "#/components/schemas/" + schema}, v, "$") {
		t.Error(p)
	}
}

func TestInstallApp(t *testing.T) {
	f := newFixture(t)
	fresh := string(appZip(t, "fresh"))
	form, formType := multipartBody(t, formField{"file", appZip(t, "formed")})
	extraForm, extraType := multipartBody(t, formField{"file", appZip(t, "formed2")}, formField{"upgrade", []byte("true")})
	twoFiles, twoType := multipartBody(t, formField{"file", appZip(t, "formed3")}, formField{"file", appZip(t, "formed3")})
	noFile, noFileType := multipartBody(t)
	zipType := "application/zip"
	f.run(t, []check{
		{name: "no token", req: req{method: "POST", path: "/api/v1/apps", body: fresh, contentType: zipType}, status: 401},
		{name: "revoked", req: req{method: "POST", path: "/api/v1/apps", token: "revoked", body: fresh, contentType: zipType}, status: 401},
		{name: "viewer", req: req{method: "POST", path: "/api/v1/apps", token: "viewer", body: fresh, contentType: zipType}, status: 403},
		{name: "operator", req: req{method: "POST", path: "/api/v1/apps", token: "operator", body: fresh, contentType: zipType}, status: 403},
		{name: "scoped to other apps", req: req{method: "POST", path: "/api/v1/apps", token: "scoped", body: fresh, contentType: zipType}, status: 403},
		{name: "install", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: fresh, contentType: zipType}, status: 201,
			contains: []string{`"app":{"name":"fresh","version":"2.0.0","description":"","enabled":true,"status":"ok","errors":[],"tasks":1,"storage":{"kv":0,"kvQuota":268435456,"files":0,"filesQuota":0,"history":0,"historyQuota":1073741824},"usage":{"last24h":{"runs":0,`, `"replaced":false`, `"files":3`, `"warnings":[]`},
			absent:   []string{`"backup"`, f.home}},
		{name: "its task runs on schedule", req: req{method: "GET", path: "/api/v1/tasks?app=fresh", token: "viewer"}, status: 200,
			contains: []string{`"app":"fresh","name":"hi","description":"Installed through the API","enabled":true`, `"total":1`, `"scheduleText":"At minute `, `"next":"20`}},
		{name: "installed already", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: fresh, contentType: zipType}, status: 409, field: "upgrade",
			contains: []string{"app already installed: fresh; set upgrade=true to replace it"}},
		{name: "upgrade", req: req{method: "POST", path: "/api/v1/apps?upgrade=true", token: "admin", body: fresh, contentType: "application/x-zip-compressed"}, status: 200,
			contains: []string{`"replaced":true`, `"backup":"fresh-v2.0.0-`}, absent: []string{f.home}},
		{name: "bad upgrade", req: req{method: "POST", path: "/api/v1/apps?upgrade=yes", token: "admin", body: fresh, contentType: zipType}, status: 400, field: "upgrade"},
		{name: "unknown parameter", req: req{method: "POST", path: "/api/v1/apps?force=true", token: "admin", body: fresh, contentType: zipType}, status: 400, field: "force"},
		{name: "form", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: form, contentType: formType}, status: 201, contains: []string{`"name":"formed"`}},
		{name: "form with another field", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: extraForm, contentType: extraType}, status: 400, field: "upgrade"},
		{name: "form with two files", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: twoFiles, contentType: twoType}, status: 400, field: "file"},
		{name: "form without a file", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: noFile, contentType: noFileType}, status: 400, field: "file"},
		{name: "form without a boundary", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: form, contentType: "multipart/form-data"}, status: 400},
		{name: "not a zip type", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: fresh, contentType: "text/plain"}, status: 415},
		{name: "empty", req: req{method: "POST", path: "/api/v1/apps", token: "admin", header: map[string]string{"Content-Type": zipType}}, status: 400},
		{name: "not a zip", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: "PK\x03\x04 this is not an archive", contentType: zipType}, status: 422, contains: []string{"archive refused"}},
		{name: "zip slip", req: req{method: "POST", path: "/api/v1/apps", token: "admin", contentType: zipType,
			body: string(appZip(t, "slip", zipEntry{name: "slip/../../../escaped.txt", body: []byte("x")}))}, status: 422, contains: []string{"archive refused"}},
		{name: "absolute path", req: req{method: "POST", path: "/api/v1/apps", token: "admin", contentType: zipType,
			body: string(makeZip(t, zipEntry{name: "/etc/cronbox-escaped", body: []byte("x")}))}, status: 422},
		{name: "symlink", req: req{method: "POST", path: "/api/v1/apps", token: "admin", contentType: zipType,
			body: string(appZip(t, "linked", zipEntry{name: "linked/secret", body: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}))}, status: 422},
		{name: "two apps", req: req{method: "POST", path: "/api/v1/apps", token: "admin", contentType: zipType,
			body: string(makeZip(t, zipEntry{name: "a/app.yaml", body: []byte("name: a\n")}, zipEntry{name: "b/app.yaml", body: []byte("name: b\n")}))}, status: 422},
		{name: "another app's name", req: req{method: "POST", path: "/api/v1/apps", token: "admin", contentType: zipType,
			body: string(makeZip(t, zipEntry{name: "sneaky/app.yaml", body: []byte("name: hello\n")}))}, status: 422, contains: []string{"names app"}},
		{name: "invalid app", req: req{method: "POST", path: "/api/v1/apps", token: "admin", contentType: zipType,
			body: string(makeZip(t,
				zipEntry{name: "broken/app.yaml", body: []byte("name: broken\n")},
				zipEntry{name: "broken/config/tasks.yaml", body: []byte("tasks:\n  - name: x\n    schedule: \"61 * * * *\"\n")}))},
			status: 422, contains: []string{`"findings":[{"level":"error","file":"config/tasks.yaml","line":2,`, `"line":3,"column":15,"field":"tasks[0].schedule.cron","message":"minute: 61`}},
	})
	if _, err := os.Stat(filepath.Join(f.home, "escaped.txt")); err == nil {
		t.Error("the zip slip wrote outside the app")
	}
	for _, name := range []string{"slip", "linked", "broken", "sneaky", "a", "b"} {
		if _, err := os.Stat(filepath.Join(f.home, "apps", name)); err == nil {
			t.Errorf("the refused app %s was installed", name)
		}
	}
	f.noLeftovers()
	if b, err := os.ReadFile(filepath.Join(f.home, "apps", "hello", "app.yaml")); err != nil || !strings.Contains(string(b), "version: 1.0.0") {
		t.Errorf("hello's app.yaml after an archive claimed its name: %s %v", b, err)
	}

	t.Run("answers conform", func(t *testing.T) {
		resp := f.send(req{method: "POST", path: "/api/v1/apps?upgrade=true", token: "admin", body: fresh, contentType: zipType})
		if resp.status != 200 {
			t.Fatalf("status %d: %s", resp.status, resp.body)
		}
		conformsTo(t, resp.body, "Installed")
		resp = f.send(req{method: "POST", path: "/api/v1/apps", token: "admin", contentType: zipType,
			body: string(makeZip(t, zipEntry{name: "broken/app.yaml", body: []byte("name: broken\n")}, zipEntry{name: "broken/config/tasks.yaml", body: []byte("tasks: 3\n")}))})
		if resp.status != 422 {
			t.Fatalf("status %d: %s", resp.status, resp.body)
		}
		conformsTo(t, resp.body, "Error")
	})
}

// TestInstallScoped checks that a token scoped to hello may upgrade hello,
// and nothing else.
func TestInstallScoped(t *testing.T) {
	f := newFixture(t)
	export := f.send(req{method: "GET", path: "/api/v1/apps/hello/export", token: "scoped"})
	if export.status != 200 {
		t.Fatalf("export: %d %s", export.status, export.body)
	}
	other := f.send(req{method: "GET", path: "/api/v1/apps/other/export", token: "admin"})
	if other.status != 200 {
		t.Fatalf("export: %d %s", other.status, other.body)
	}
	f.run(t, []check{
		{name: "its app", req: req{method: "POST", path: "/api/v1/apps?upgrade=true", token: "scoped", body: string(export.body), contentType: "application/zip"}, status: 200,
			contains: []string{`"name":"hello"`, `"replaced":true`, `"verified":true`}},
		// 403, not 409: the answer is the same whether other exists or not.
		{name: "another app", req: req{method: "POST", path: "/api/v1/apps", token: "scoped", body: string(other.body), contentType: "application/zip"}, status: 403},
		{name: "another app, upgrade", req: req{method: "POST", path: "/api/v1/apps?upgrade=true", token: "scoped", body: string(other.body), contentType: "application/zip"}, status: 403},
	})
}

func TestInstallTooLarge(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxUpload = 4 << 10 })
	noise := make([]byte, 8<<10)
	rand.Read(noise) // random bytes do not compress
	big := appZip(t, "big", zipEntry{name: "big/noise.bin", body: noise})
	if len(big) <= 4<<10 {
		t.Fatalf("the archive is %d bytes, not over the limit", len(big))
	}
	form, formType := multipartBody(t, formField{"file", big})
	f.run(t, []check{
		{name: "zip", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: string(big), contentType: "application/zip"}, status: 413},
		{name: "form", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: form, contentType: formType}, status: 413},
	})
	// Without a Content-Length, the server counts the bytes as they come.
	for _, c := range []struct{ name, ctype, body string }{
		{"chunked zip", "application/zip", string(big)},
		{"chunked form", formType, form},
	} {
		t.Run(c.name, func(t *testing.T) {
			hr, err := http.NewRequest("POST", f.http.URL+"/api/v1/apps", io.MultiReader(strings.NewReader(c.body)))
			if err != nil {
				t.Fatal(err)
			}
			hr.Header.Set("Content-Type", c.ctype)
			hr.Header.Set("Authorization", "Bearer "+f.tokens["admin"])
			resp, err := f.http.Client().Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if hr.ContentLength != 0 || resp.StatusCode != 413 {
				t.Fatalf("length %d: status %d, want 413: %s", hr.ContentLength, resp.StatusCode, b)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(f.home, "apps", "big")); err == nil {
		t.Error("the archive over the limit was installed")
	}
	f.noLeftovers()
}

func TestExportApp(t *testing.T) {
	f := newFixture(t)
	f.run(t, []check{
		{name: "no token", req: req{method: "GET", path: "/api/v1/apps/hello/export"}, status: 401},
		{name: "viewer", req: req{method: "GET", path: "/api/v1/apps/hello/export", token: "viewer"}, status: 403},
		{name: "operator", req: req{method: "GET", path: "/api/v1/apps/hello/export", token: "operator"}, status: 403},
		{name: "scoped other app", req: req{method: "GET", path: "/api/v1/apps/other/export", token: "scoped"}, status: 404},
		{name: "unknown app", req: req{method: "GET", path: "/api/v1/apps/nope/export", token: "admin"}, status: 404, absent: []string{f.home}},
		{name: "bad name", req: req{method: "GET", path: "/api/v1/apps/..%2Fother/export", token: "admin"}, status: 404},
		{name: "unknown parameter", req: req{method: "GET", path: "/api/v1/apps/hello/export?x=1", token: "admin"}, status: 400, field: "x"},
	})
	for _, tok := range []string{"admin", "scoped"} {
		t.Run(tok, func(t *testing.T) {
			resp := f.send(req{method: "GET", path: "/api/v1/apps/hello/export", token: tok})
			if resp.status != 200 {
				t.Fatalf("status %d: %s", resp.status, resp.body)
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/zip" {
				t.Errorf("Content-Type %q", ct)
			}
			_, params, err := mime.ParseMediaType(resp.header.Get("Content-Disposition"))
			if err != nil || params["filename"] != "hello-v1.0.0-20260105.zip" || !strings.HasPrefix(resp.header.Get("Content-Disposition"), "attachment") {
				t.Errorf("Content-Disposition %q", resp.header.Get("Content-Disposition"))
			}
			if cl := resp.header.Get("Content-Length"); cl != fmt.Sprint(len(resp.body)) {
				t.Errorf("Content-Length %q for %d bytes", cl, len(resp.body))
			}
			zr, err := zip.NewReader(bytes.NewReader(resp.body), int64(len(resp.body)))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, zf := range zr.File {
				names = append(names, zf.Name)
			}
			want := "hello/app.yaml hello/config/tasks.yaml hello/tasks/echo.wasm hello/tasks/greet.wasm hello/tasks/spin.wasm MANIFEST.json"
			if got := strings.Join(names, " "); got != want {
				t.Errorf("entries %s, want %s", got, want)
			}
		})
	}
	f.noLeftovers()
}

// TestUninstallRoundTrip exports hello, uninstalls it, and installs the
// export again.
func TestUninstallRoundTrip(t *testing.T) {
	f := newFixture(t)
	run := f.trigger("hello", "echo", `{"a":1}`)
	f.idle()
	export := f.send(req{method: "GET", path: "/api/v1/apps/hello/export", token: "admin"})
	if export.status != 200 {
		t.Fatalf("export: %d %s", export.status, export.body)
	}
	f.run(t, []check{
		{name: "no token", req: req{method: "DELETE", path: "/api/v1/apps/hello"}, status: 401},
		{name: "viewer", req: req{method: "DELETE", path: "/api/v1/apps/hello", token: "viewer"}, status: 403},
		{name: "operator", req: req{method: "DELETE", path: "/api/v1/apps/hello", token: "operator"}, status: 403},
		{name: "scoped other app", req: req{method: "DELETE", path: "/api/v1/apps/other", token: "scoped"}, status: 404},
		{name: "unknown app", req: req{method: "DELETE", path: "/api/v1/apps/nope", token: "admin"}, status: 404},
		{name: "bad purge", req: req{method: "DELETE", path: "/api/v1/apps/hello?purge=1", token: "admin"}, status: 400, field: "purge"},
		{name: "uninstall", req: req{method: "DELETE", path: "/api/v1/apps/hello", token: "admin"}, status: 200,
			contains: []string{`{"app":"hello","backup":"hello-v1.0.0-`, `.zip","purged":false}`}, absent: []string{f.home}},
		{name: "gone from the apps", req: req{method: "GET", path: "/api/v1/apps", token: "admin"}, status: 200, absent: []string{`"hello"`}},
		{name: "its tasks are gone", req: req{method: "GET", path: "/api/v1/tasks/hello/greet", token: "admin"}, status: 404},
		{name: "its history stays", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", run), token: "admin"}, status: 200},
		{name: "again", req: req{method: "DELETE", path: "/api/v1/apps/hello", token: "admin"}, status: 404},
		{name: "no validation", req: req{method: "GET", path: "/api/v1/apps/hello/validation", token: "admin"}, status: 404, absent: []string{f.home}},
		{name: "install the export", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: string(export.body), contentType: "application/zip"}, status: 201,
			contains: []string{`"name":"hello","version":"1.0.0"`, `"status":"ok"`, `"tasks":3`, `"verified":true`}},
		{name: "its tasks are back", req: req{method: "GET", path: "/api/v1/tasks/hello/greet", token: "viewer"}, status: 200, contains: []string{`"enabled":true`}},
		{name: "it validates", req: req{method: "GET", path: "/api/v1/apps/hello/validation", token: "viewer"}, status: 200, contains: []string{`"ok":true`}},
	})
	backups, _ := filepath.Glob(filepath.Join(f.home, "data", "backups", "hello-v1.0.0-*.zip"))
	if len(backups) != 1 {
		t.Errorf("backups %v, want one", backups)
	}
	// The reinstalled app runs.
	id := f.trigger("hello", "greet", "")
	f.idle()
	resp := f.send(req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", id), token: "admin"})
	if !strings.Contains(string(resp.body), `"status":"succeeded"`) {
		t.Errorf("a run of the reinstalled app: %s", resp.body)
	}
	// A second export is the same bytes as the first.
	again := f.send(req{method: "GET", path: "/api/v1/apps/hello/export", token: "admin"})
	if !bytes.Equal(again.body, export.body) {
		t.Error("the export of the reinstalled app differs from the one it was installed from")
	}
}

func TestUninstallPurge(t *testing.T) {
	f := newFixture(t)
	run := f.trigger("other", "job", "")
	f.idle()
	writeFile(t, filepath.Join(f.home, "data", "files", "other", "kept.txt"), []byte("x"))
	resp := f.send(req{method: "DELETE", path: "/api/v1/apps/other?purge=true", token: "admin"})
	if resp.status != 200 {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	if !strings.Contains(string(resp.body), `"purged":true`) {
		t.Errorf("body %s", resp.body)
	}
	conformsTo(t, resp.body, "Uninstalled")
	f.run(t, []check{
		{name: "history gone", req: req{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", run), token: "admin"}, status: 404},
		{name: "hello stays", req: req{method: "GET", path: "/api/v1/tasks/hello/greet", token: "admin"}, status: 200},
	})
	if _, err := os.Stat(filepath.Join(f.home, "data", "files", "other")); err == nil {
		t.Error("the app's files survived the purge")
	}
}

func TestValidateApp(t *testing.T) {
	f := newFixture(t)
	writeFile(t, filepath.Join(f.home, "apps", "hello", "tasks", "unused.wasm"), wasmtest.Hello())
	writeFile(t, filepath.Join(f.home, "apps", "other", "config", "tasks.yaml"), []byte(otherTasks+"  - name: broken\n    limits: { memory: lots }\n"))
	f.run(t, []check{
		{name: "no token", req: req{method: "GET", path: "/api/v1/apps/hello/validation"}, status: 401},
		{name: "warnings", req: req{method: "GET", path: "/api/v1/apps/hello/validation", token: "viewer"}, status: 200,
			contains: []string{`{"app":"hello","version":"1.0.0","tasks":3,"ok":true,"errors":[],"warnings":[{"level":"warning","file":"tasks/unused.wasm","message":`}},
		{name: "scoped", req: req{method: "GET", path: "/api/v1/apps/hello/validation", token: "scoped"}, status: 200},
		{name: "scoped other app", req: req{method: "GET", path: "/api/v1/apps/other/validation", token: "scoped"}, status: 404},
		{name: "errors", req: req{method: "GET", path: "/api/v1/apps/other/validation", token: "viewer"}, status: 200,
			contains: []string{`"ok":false`, `"errors":[{"level":"error","file":"config/tasks.yaml","line":6,`, `"line":7,"column":23,"field":"tasks[1].limits.memory","message":"\"lots\" is not a size`}},
		{name: "unknown app", req: req{method: "GET", path: "/api/v1/apps/nope/validation", token: "viewer"}, status: 404},
		{name: "unknown parameter", req: req{method: "GET", path: "/api/v1/apps/hello/validation?strict=true", token: "viewer"}, status: 400, field: "strict"},
	})
	for _, app := range []string{"hello", "other"} {
		resp := f.send(req{method: "GET", path: "/api/v1/apps/" + app + "/validation", token: "viewer"})
		conformsTo(t, resp.body, "Validation")
	}
}

func TestLifecycleWithout(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Lifecycle = nil })
	f.run(t, []check{
		{name: "install", req: req{method: "POST", path: "/api/v1/apps", token: "admin", body: string(appZip(t, "fresh")), contentType: "application/zip"}, status: 501},
		{name: "export", req: req{method: "GET", path: "/api/v1/apps/hello/export", token: "admin"}, status: 501},
		{name: "uninstall", req: req{method: "DELETE", path: "/api/v1/apps/hello", token: "admin"}, status: 501},
		{name: "validation", req: req{method: "GET", path: "/api/v1/apps/hello/validation", token: "viewer"}, status: 501},
		// Scope comes first: another tenant's app is not found.
		{name: "scoped other app", req: req{method: "GET", path: "/api/v1/apps/other/validation", token: "scoped"}, status: 404},
	})
}

// FuzzReadUpload checks that any upload gets its archive's bytes, or a
// 4xx error of the documented kinds, never a panic, a 5xx or more than
// the limit.
func FuzzReadUpload(f *testing.F) {
	const max = 64
	form := func(fields ...formField) (string, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.SetBoundary("xyz")
		for _, fd := range fields {
			w, _ := mw.CreateFormFile(fd.name, "a.zip")
			w.Write(fd.body)
		}
		mw.Close()
		return buf.String(), mw.FormDataContentType()
	}
	f.Add([]byte("PK\x03\x04"), "application/zip")
	f.Add(bytes.Repeat([]byte("x"), max+1), "application/octet-stream")
	for _, fields := range [][]formField{
		{{"file", []byte("PK\x05\x06")}},
		{{"file", bytes.Repeat([]byte("y"), max+1)}},
		{{"other", []byte("1")}},
		{{"file", []byte("a")}, {"file", []byte("b")}},
		{},
	} {
		body, ct := form(fields...)
		f.Add([]byte(body), ct)
	}
	f.Add([]byte("--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc"), "multipart/form-data; boundary=xyz")
	f.Add([]byte("abc"), "multipart/form-data")
	f.Add([]byte("abc"), "text/plain")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r := httptest.NewRequest("POST", "/api/v1/apps", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		var dst bytes.Buffer
		n, err := readUpload(httptest.NewRecorder(), r, &dst, max)
		if err == nil {
			if n != int64(dst.Len()) || n > max {
				t.Fatalf("read %d bytes, wrote %d, limit %d", n, dst.Len(), max)
			}
			if mt, _, _ := mime.ParseMediaType(contentType); mt != "multipart/form-data" && !bytes.Equal(dst.Bytes(), body) {
				t.Fatalf("the archive %q came out as %q", body, dst.Bytes())
			}
			return
		}
		checkRefusal(t, err, body)
	})
}
