package lifecycle

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cronbox/cronbox"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/internal/build"
)

// The templates of New: template/common for every app, and
// template/<lang> for each language. Every file ending in .tmpl is a
// text/template, written without that suffix.
//
//go:embed all:template
var templateFS embed.FS

// vendored lists what New copies of the SDK of each language (other than
// Go) into the task's folder, a file or a whole folder, by its path in
// cronbox.LangSDKSource and in the task's folder, so that the app builds
// and tests offline and keeps building against the SDK it was made with.
var vendored = map[build.Lang][][2]string{
	build.C:    {{"sdk/c/cronbox.h", "cronbox.h"}},
	build.Rust: {{"sdk/rust", "cronbox"}},
	build.AssemblyScript: {
		{"sdk/assemblyscript/lib/cronbox.ts", "lib/cronbox.ts"},
		{"sdk/assemblyscript/fake.mjs", "test/fake.mjs"},
	},
}

// TemplateTask is the name of the task an app created by New has.
const TemplateTask = "hello"

// DefaultVersion is the version of an app created by New without one.
const DefaultVersion = "0.1.0"

// NewOptions are the variables of the template of New.
type NewOptions struct {
	// Description is one line about the app. Default none.
	Description string
	// Author is who wrote the app. Default none.
	Author string
	// Version is the app's version. Default DefaultVersion.
	Version string
	// Roles are the roles a user needs for the app. Default none.
	Roles []string
	// Now dates the app. Default time.Now.
	Now time.Time
	// Lang is the language of the app's task: build.Go, build.C,
	// build.Rust or build.AssemblyScript. Default build.Go.
	Lang build.Lang
}

// templateData is what the template files see.
type templateData struct {
	Name, Description, Author, Version string
	Roles                              []string
	Year, Date                         string
	Task                               string
	GoVersion, SDKModule, SDKReplace   string
	Lang                               build.Lang
}

// New creates the app name in home from the template built into the
// binary: app.yaml, config/tasks.yaml, a README and a task in opts.Lang
// with a test that runs natively against the SDK's fake host. In Go
// (tasks/hello/main.go and a go.mod) it extracts the SDK (EnsureSDK), which
// the go.mod names, so the app builds (`cronbox build`) and tests (`go
// test ./...`) offline. In C (tasks/hello/main.c), Rust
// (tasks/hello/Cargo.toml) and AssemblyScript (tasks/hello/package.json
// and assembly/index.ts) the language's SDK is copied into the task's
// folder, for the same reason. The task's module is not built.
//
// The app is written in <home>/data/staging and renamed into apps/, so it
// appears whole. An app of that name that exists already is an error
// wrapping ErrExists. It returns the app's folder.
func New(home, name string, opts NewOptions) (string, error) {
	dir, err := Dir(home, name)
	if err != nil {
		return "", fmt.Errorf("creating app: %w", err)
	}
	d, err := newData(name, opts)
	if err != nil {
		return "", fmt.Errorf("creating app %s: %w", name, err)
	}
	if _, err := os.Lstat(dir); err == nil {
		return "", fmt.Errorf("creating app %s: %w: %s exists", name, ErrExists, dir)
	}
	if d.Lang == build.Go {
		if _, err := EnsureSDK(home); err != nil {
			return "", fmt.Errorf("creating app %s: %w", name, err)
		}
	}
	st, err := newStage(home, "new")
	if err != nil {
		return "", fmt.Errorf("creating app %s: %w", name, err)
	}
	defer st.cleanup()
	staged := filepath.Join(st.dir, name)
	if err := render(staged, d); err != nil {
		return "", fmt.Errorf("creating app %s: %w", name, err)
	}
	// The template must make an app that loads; only its module is
	// missing until it is built.
	a, err := app.Load(staged, app.Options{})
	if err != nil {
		return "", fmt.Errorf("creating app %s: the template made an invalid app: %w", name, err)
	}
	for _, p := range a.Errors {
		if !errors.Is(p, app.ErrNotBuilt) {
			return "", fmt.Errorf("creating app %s: the template made an invalid app: %w", name, p)
		}
	}
	if _, err := st.commit(staged, dir, false); err != nil {
		return "", fmt.Errorf("creating app %s: %w", name, err)
	}
	return dir, nil
}

func newData(name string, opts NewOptions) (templateData, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if opts.Lang == "" {
		opts.Lang = build.Go
	}
	if _, ok := vendored[opts.Lang]; !ok && opts.Lang != build.Go {
		return templateData{}, fmt.Errorf("language %q: want go, c, rust or assemblyscript", opts.Lang)
	}
	switch {
	case len(opts.Version) > 64 || strings.ContainsAny(opts.Version, "\r\n"):
		return templateData{}, errors.New("version: want one line of at most 64 characters")
	case strings.ContainsAny(opts.Description, "\r\n"):
		return templateData{}, errors.New("description: want one line")
	case strings.ContainsAny(opts.Author, "\r\n"):
		return templateData{}, errors.New("author: want one line")
	}
	roles := []string{}
	for _, r := range opts.Roles {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		if err := app.ValidName(r); err != nil {
			return templateData{}, fmt.Errorf("role: %w", err)
		}
		roles = append(roles, r)
	}
	s, err := loadSDK()
	if err != nil {
		return templateData{}, err
	}
	return templateData{
		Name:        name,
		Description: opts.Description,
		Author:      opts.Author,
		Version:     opts.Version,
		Roles:       roles,
		Year:        opts.Now.Format("2006"),
		Date:        opts.Now.Format("2006-01-02"),
		Task:        TemplateTask,
		GoVersion:   s.goVersion,
		SDKModule:   cronbox.SDKModule,
		SDKReplace:  sdkReplace(),
		Lang:        opts.Lang,
	}, nil
}

var templateFuncs = template.FuncMap{
	// yaml writes v as one YAML flow value, quoted where needed.
	"yaml": func(v any) (string, error) {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		n := new(yaml.Node)
		if err := n.Encode(v); err != nil {
			return "", err
		}
		n.Style |= yaml.FlowStyle
		if err := enc.Encode(n); err != nil {
			return "", err
		}
		return strings.TrimSuffix(buf.String(), "\n"), enc.Close()
	},
	// comment makes s safe in a // comment.
	"comment": func(s string) string { return strings.Join(strings.Fields(s), " ") },
}

// render writes the templates of d.Lang, filled in with d, to the new
// folder dir, and copies the language's SDK into the task's folder.
func render(dir string, d templateData) error {
	for _, root := range []string{"template/common", "template/" + string(d.Lang)} {
		if err := renderTree(dir, root, d); err != nil {
			return err
		}
	}
	taskDir := filepath.Join(dir, "tasks", d.Task)
	for _, v := range vendored[d.Lang] {
		err := fs.WalkDir(cronbox.LangSDKSource, v[0], func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := fs.ReadFile(cronbox.LangSDKSource, p)
			if err != nil {
				return err
			}
			rel := strings.TrimPrefix(strings.TrimPrefix(p, v[0]), "/")
			out := filepath.Join(taskDir, filepath.FromSlash(path.Join(v[1], rel)))
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			return os.WriteFile(out, b, 0o644)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// renderTree writes the templates under root, filled in with d, to dir.
func renderTree(dir, root string, d templateData) error {
	return fs.WalkDir(templateFS, root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		out := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(rel, ".tmpl")))
		if e.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := fs.ReadFile(templateFS, p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".tmpl") {
			t, err := template.New(rel).Funcs(templateFuncs).Option("missingkey=error").Parse(string(b))
			if err != nil {
				return fmt.Errorf("template %s: %w", p, err)
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, d); err != nil {
				return fmt.Errorf("template %s: %w", p, err)
			}
			b = buf.Bytes()
		}
		return os.WriteFile(out, b, 0o644)
	})
}
