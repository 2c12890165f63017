package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// spec is a test's .json file: how to run it and what it must leave.
// Absent fields take the suite's defaults: no arguments, an empty
// environment, no folders, exit code 0, and any output.
type spec struct {
	Args []string          `json:"args"`
	Env  map[string]string `json:"env"`
	// Root is a folder beside the test granted to it as "/".
	Root string `json:"root"`
	// Dirs are folders beside the test, each granted under "/" + its name
	// (so that a relative path names it from the guest's working folder).
	Dirs     []string `json:"dirs"`
	ExitCode int      `json:"exit_code"`
	Stdout   *string  `json:"stdout"`
	Stderr   *string  `json:"stderr"`
}

// parseSpec reads a test's .json file. Fields it does not know are
// ignored, as the suite's own runner does; folders must be plain relative
// paths inside the test's folder.
func parseSpec(b []byte) (spec, error) {
	var s spec
	if err := json.Unmarshal(b, &s); err != nil {
		return spec{}, fmt.Errorf("test spec: %w", err)
	}
	dirs := slices.Clip(s.Dirs)
	if s.Root != "" {
		dirs = append(dirs, s.Root)
	}
	for _, d := range dirs {
		if !localPath(d) {
			return spec{}, fmt.Errorf("test spec: folder %q is not a relative path inside the test's folder", d)
		}
	}
	for k, v := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return spec{}, fmt.Errorf("test spec: environment variable %q=%q cannot be set", k, v)
		}
	}
	for _, a := range s.Args {
		if strings.ContainsRune(a, 0) {
			return spec{}, fmt.Errorf("test spec: argument %q holds a NUL byte", a)
		}
	}
	if s.ExitCode < 0 || s.ExitCode > 255 {
		return spec{}, fmt.Errorf("test spec: exit code %d is not in 0-255", s.ExitCode)
	}
	return s, nil
}

// localPath reports whether p is a clean relative slash path with no ".."
// element, naming a folder below the test's.
func localPath(p string) bool {
	return p != "" && p != "." && path.Clean(p) == p && !path.IsAbs(p) &&
		!slices.Contains(strings.Split(p, "/"), "..") && !strings.ContainsAny(p, "\\:\x00")
}

// mounts lists the spec's folders, relative to the test's folder, and where
// the guest sees them.
func (s spec) mounts() []mount {
	var ms []mount
	if s.Root != "" {
		ms = append(ms, mount{host: s.Root, guest: "/"})
	}
	for _, d := range s.Dirs {
		ms = append(ms, mount{host: d, guest: "/" + d})
	}
	return ms
}

// envKeys returns the environment's names in order, so that every run sees
// the same environment.
func (s spec) envKeys() []string { return slices.Sorted(maps.Keys(s.Env)) }

// check compares a run's output with the spec's expectations.
func (s spec) check(out output) error {
	var errs []string
	if out.exitCode != s.ExitCode {
		errs = append(errs, fmt.Sprintf("exit code %d, want %d", out.exitCode, s.ExitCode))
	}
	if s.Stdout != nil && !bytes.Equal(out.stdout, []byte(*s.Stdout)) {
		errs = append(errs, fmt.Sprintf("stdout %q, want %q", out.stdout, *s.Stdout))
	}
	if s.Stderr != nil && !bytes.Equal(out.stderr, []byte(*s.Stderr)) {
		errs = append(errs, fmt.Sprintf("stderr %q, want %q", out.stderr, *s.Stderr))
	}
	if errs == nil {
		return nil
	}
	if len(out.stderr) > 0 && s.Stderr == nil {
		errs = append(errs, fmt.Sprintf("stderr:\n%s", clip(out.stderr, 600)))
	}
	return fmt.Errorf("%s", strings.Join(errs, "; "))
}

func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

// randReader is the guest's source of random numbers for bare wazero.
type randReader struct{}

func (randReader) Read(p []byte) (int, error) { return rand.Read(p) }
