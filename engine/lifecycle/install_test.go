package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exportZip exports the app folder dir (named name) to a zip file and
// returns its path.
func exportZip(t *testing.T, dir, name string) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := exportDir(dir, name, &buf, Limits{}, false); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name+".zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// srcApp writes an app to a folder of its own outside any home.
func srcApp(t *testing.T, name string, files map[string][]byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	writeFiles(t, dir, files)
	return dir
}

func TestInstall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	home := t.TempDir()
	v1 := demoFiles("demo")
	v2 := demoFiles("demo")
	v2["app.yaml"] = []byte("name: demo\nversion: 2.0.0\n")
	v2[".git/config"] = []byte("hidden, not exported")
	zip1 := exportZip(t, srcApp(t, "demo", v1), "demo")
	zip2 := exportZip(t, srcApp(t, "demo", v2), "demo")

	res, err := Install(ctx, home, zip1, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.App != "demo" || res.Version != "1.0.0" || !res.Verified || res.Replaced || len(res.Files) != 4 {
		t.Errorf("install = %+v", res)
	}
	if got := hashTree(t, res.Dir); !equalHashes(got, res.Files) {
		t.Errorf("installed files %v, reported %v", got, res.Files)
	}

	if _, err := Install(ctx, home, zip2, InstallOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("install over an installed app: err = %v, want ErrExists", err)
	}
	res, err = Install(ctx, home, zip2, InstallOptions{Upgrade: true, Now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Replaced || res.Version != "2.0.0" || filepath.Base(res.Backup) != "demo-v1.0.0-20260304T050607Z.zip" {
		t.Errorf("upgrade = %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(home, "apps", "demo", "app.yaml")); !bytes.Contains(b, []byte("2.0.0")) {
		t.Errorf("app.yaml after upgrade: %s", b)
	}
	if _, err := os.Stat(filepath.Join(home, "apps", "demo", ".git")); err == nil {
		t.Errorf("a hidden folder was exported")
	}
	// The backup is the old version, and installs.
	other := t.TempDir()
	back, err := Install(ctx, other, res.Backup, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != "1.0.0" {
		t.Errorf("backup holds version %q", back.Version)
	}
	emptyStaging(t, home)
	if ents, _ := os.ReadDir(filepath.Join(home, "apps")); len(ents) != 1 {
		t.Errorf("apps holds %d entries, want 1", len(ents))
	}
}

func equalHashes(a, b []FileHash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestInstallDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T) string // returns the folder to install
		want  string                    // in the error; "" for success
	}{
		{name: "plain", setup: func(t *testing.T) string { return srcApp(t, "demo", demoFiles("demo")) }},
		{name: "symlink inside", setup: func(t *testing.T) string {
			dir := srcApp(t, "demo", demoFiles("demo"))
			os.Symlink("/etc/passwd", filepath.Join(dir, "passwd"))
			return dir
		}, want: "symlink"},
		{name: "names differing in case", setup: func(t *testing.T) string {
			f := demoFiles("demo")
			f["TASKS/x"] = []byte("x")
			return srcApp(t, "demo", f)
		}, want: `differs from "TASKS" only in case`},
		{name: "bidirectional override in a name", setup: func(t *testing.T) string {
			f := demoFiles("demo")
			f["invoice\u202etxt.exe"] = []byte("x")
			return srcApp(t, "demo", f)
		}, want: "invisible formatting character"},
		{name: "folder name not an app name", setup: func(t *testing.T) string { return srcApp(t, "de mo", demoFiles("de mo")) }, want: "invalid name"},
		{name: "app.yaml names another app", setup: func(t *testing.T) string { return srcApp(t, "demo", demoFiles("other")) }, want: `names app "other"`},
		{name: "app with errors", setup: func(t *testing.T) string {
			f := demoFiles("demo")
			f["config/tasks.yaml"] = []byte("tasks:\n  - name: hello\n    schedule: \"99 * * * *\"\n")
			return srcApp(t, "demo", f)
		}, want: "schedule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			src := tt.setup(t)
			res, err := Install(ctx, home, src, InstallOptions{Validate: ValidateOptions{}})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !equalHashes(hashTree(t, src), res.Files) || res.Verified {
					t.Errorf("install = %+v", res)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want one containing %q", err, tt.want)
				}
				if ents, _ := os.ReadDir(filepath.Join(home, "apps")); len(ents) != 0 {
					t.Errorf("apps holds %d entries", len(ents))
				}
			}
			emptyStaging(t, home)
		})
	}
}

// TestInstallInterrupted fails an install at each of its writes and at its
// commit, for a new app and for an upgrade: the apps folder must hold the
// old state, whole, and staging nothing.
func TestInstallInterrupted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	files := demoFiles("demo")
	files["app.yaml"] = []byte("name: demo\nversion: 2.0.0\n")
	zip := exportZip(t, srcApp(t, "demo", files), "demo")
	injected := errors.New("disk full")
	steps := []string{"write 1", "write 2", "write 4", "commit"}
	for _, upgrade := range []bool{false, true} {
		for _, step := range steps {
			t.Run(fmt.Sprintf("upgrade=%v/%s", upgrade, step), func(t *testing.T) {
				t.Parallel()
				home := t.TempDir()
				installDemo(t, home, "keep")
				if upgrade {
					installDemo(t, home, "demo")
				}
				before := tree(t, filepath.Join(home, "apps"))
				writes := 0
				hook := func(op, path string) error {
					if op == "write" {
						writes++
					}
					if step == op || step == fmt.Sprintf("%s %d", op, writes) {
						return injected
					}
					return nil
				}
				_, err := Install(ctx, home, zip, InstallOptions{Upgrade: upgrade, hook: hook})
				if !errors.Is(err, injected) {
					t.Fatalf("err = %v, want the injected one", err)
				}
				if after := tree(t, filepath.Join(home, "apps")); !maps.Equal(before, after) {
					t.Errorf("apps folder changed:\nbefore %v\nafter  %v", before, after)
				}
				emptyStaging(t, home)
			})
		}
	}
}

// TestInstallKilled kills a process in the middle of an install: the app
// must not appear, and the next operation must remove what the process
// left in staging.
func TestInstallKilled(t *testing.T) {
	if home := os.Getenv("CRONBOX_TEST_INSTALL_KILLED"); home != "" {
		writes := 0
		Install(context.Background(), home, os.Getenv("CRONBOX_TEST_ZIP"), InstallOptions{hook: func(op, path string) error {
			if writes++; writes == 3 {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal ends the process
			}
			return nil
		}})
		os.Exit(0)
	}
	t.Parallel()
	home := t.TempDir()
	installDemo(t, home, "keep")
	before := tree(t, filepath.Join(home, "apps"))
	zip := exportZip(t, srcApp(t, "demo", demoFiles("demo")), "demo")
	cmd := exec.Command(os.Args[0], "-test.run=^TestInstallKilled$")
	cmd.Env = append(os.Environ(), "CRONBOX_TEST_INSTALL_KILLED="+home, "CRONBOX_TEST_ZIP="+zip)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed: %s", err, out)
	}
	if after := tree(t, filepath.Join(home, "apps")); !maps.Equal(before, after) {
		t.Errorf("apps folder changed:\nbefore %v\nafter  %v", before, after)
	}
	ents, _ := os.ReadDir(stagingDir(home))
	if len(ents) != 1 {
		t.Fatalf("staging holds %d entries, want the killed install's", len(ents))
	}
	// A live operation's folder is kept while the dead one's goes.
	live, err := newStage(home, "live")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(stagingDir(home), ents[0].Name())); !os.IsNotExist(err) {
		t.Errorf("the killed install's folder is still there: %v", err)
	}
	if n := CleanStaging(home); n != 0 {
		t.Errorf("CleanStaging removed %d folders while one is in use", n)
	}
	if _, err := os.Stat(live.dir); err != nil {
		t.Errorf("the live folder went: %v", err)
	}
	live.cleanup()
	if _, err := Install(context.Background(), home, zip, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	emptyStaging(t, home)
}
