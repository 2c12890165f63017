// Package ui is Cronbox's management UI: plain HTML, CSS and JavaScript
// modules embedded in the binary, talking to the REST API under /api/v1.
//
// Handler serves index.html at / and at every client-side route (/tasks,
// /runs/12, …) and the assets under /ui/. index.html names the assets by a
// version derived from their contents (/ui/<version>/app.js), so they are
// cached for a year; the unversioned /ui/app.js is served too, revalidated
// by its ETag. Every response carries a strict Content-Security-Policy: the
// UI has no inline script or style.
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy the UI is written for, and the one
// source of it: the server (package web) sets it on every response, and
// Handler sets it on its own unless the server set one already.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// assetPrefix is the path under which the assets are served.
const assetPrefix = "/ui/"

type asset struct {
	body  []byte
	gz    []byte // nil when compressing does not pay
	ctype string
	etag  string
}

type site struct {
	version string
	assets  map[string]*asset // by path below /ui/, e.g. "views/tasks.js"
	index   *asset
}

var load = sync.OnceValues(build)

// Handler returns the UI's http.Handler. Mount it at / behind the API:
// requests under /api/ that reach it get a JSON 404.
func Handler() http.Handler {
	s, err := load()
	if err != nil {
		// The assets are embedded at build time; this cannot happen in a
		// binary that passed its tests.
		panic("ui: loading the embedded assets: " + err.Error())
	}
	return s
}

// Version identifies the embedded assets: it changes when any of them does.
func Version() string {
	s, err := load()
	if err != nil {
		return ""
	}
	return s.version
}

func build() (*site, error) {
	root, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	s := &site{assets: map[string]*asset{}}
	all := sha256.New()
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		a := newAsset(p, b)
		all.Write([]byte(p + "\x00" + a.etag + "\x00"))
		if p != "index.html" {
			s.assets[p] = a
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.version = hex.EncodeToString(all.Sum(nil))[:16]
	idx, err := fs.ReadFile(root, "index.html")
	if err != nil {
		return nil, err
	}
	// Point index.html at the versioned asset paths.
	idx = bytes.ReplaceAll(idx, []byte(`"`+assetPrefix), []byte(`"`+assetPrefix+s.version+"/"))
	s.index = newAsset("index.html", idx)
	return s, nil
}

func newAsset(name string, b []byte) *asset {
	sum := sha256.Sum256(b)
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".html":
		ctype = "text/html; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	a := &asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	if len(b) > 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		if buf.Len() < len(b)*9/10 {
			a.gz = buf.Bytes()
		}
	}
	return a
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", CSP)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")

	p := r.URL.Path
	if p == "/api" || strings.HasPrefix(p, "/api/") {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"no such API endpoint"}` + "\n"))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if rest, ok := strings.CutPrefix(p, assetPrefix); ok {
		s.serveAsset(w, r, rest)
		return
	}
	// A path whose last segment has a dot (favicon.ico, robots.txt) is a
	// missing file, not a page; app and task names have no dots.
	if strings.Contains(path.Base(p), ".") {
		http.NotFound(w, r)
		return
	}
	h.Set("Cache-Control", "no-cache")
	s.serve(w, r, s.index)
}

func (s *site) serveAsset(w http.ResponseWriter, r *http.Request, rest string) {
	immutable := false
	if v, name, ok := strings.Cut(rest, "/"); ok && isVersion(v) {
		// Only the current version may be cached for good; an old one
		// gets today's file, revalidated.
		immutable = v == s.version
		rest = name
	}
	a := s.assets[rest]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	if immutable {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	s.serve(w, r, a)
}

func isVersion(v string) bool {
	if len(v) != 16 {
		return false
	}
	for _, c := range v {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *site) serve(w http.ResponseWriter, r *http.Request, a *asset) {
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	body, etag := a.body, a.etag
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body = a.gz
			etag = strings.TrimSuffix(a.etag, `"`) + `-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		if v, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			q, err := strconv.ParseFloat(v, 64)
			return err == nil && q > 0
		}
		return true
	}
	return false
}
