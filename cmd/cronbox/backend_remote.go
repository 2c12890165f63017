package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/lifecycle"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/client"
)

// remoteBackend acts on a server over its API, or on a running serve
// over its home's local socket (local).
type remoteBackend struct {
	c     *client.Client
	local bool
}

func (b *remoteBackend) Close() error { return nil }

func taskPath(appName, task string) string {
	return "/tasks/" + url.PathEscape(appName) + "/" + url.PathEscape(task)
}

// apiTask is a task of GET /tasks, in the fields the CLI prints.
type apiTask struct {
	App      string `json:"app"`
	Name     string `json:"name"`
	Enabled  bool   `json:"enabled"`
	Schedule *struct {
		Cron     string     `json:"cron"`
		Timezone string     `json:"timezone"`
		At       *time.Time `json:"at"`
	} `json:"schedule"`
	LastStatus   string `json:"lastStatus"`
	LoadError    string `json:"loadError"`
	AppLoadError string `json:"appLoadError"`
	Custom       bool   `json:"custom"`
}

func (b *remoteBackend) Tasks(ctx context.Context) ([]taskRow, error) {
	var rows []taskRow
	for after := ""; ; {
		var page struct {
			Tasks []apiTask `json:"tasks"`
			Next  string    `json:"next"`
		}
		path := fmt.Sprintf("/tasks?limit=%d", store.MaxLimit)
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		if err := b.c.Do(ctx, client.Request{Method: "GET", Path: path, Want: http.StatusOK}, &page); err != nil {
			return nil, err
		}
		for _, t := range page.Tasks {
			r := taskRow{App: t.App, Task: t.Name, Enabled: t.Enabled, Custom: t.Custom, LastStatus: store.Status(t.LastStatus)}
			if s := t.Schedule; s != nil {
				r.Schedule = app.ScheduleSpec{Cron: s.Cron, Timezone: s.Timezone}
				if s.Timezone == "UTC" {
					r.Schedule.Timezone = "" // the API's default, which a home leaves unsaid
				}
				if s.At != nil {
					r.Schedule.At = *s.At
				}
			}
			for _, msg := range []string{t.LoadError, t.AppLoadError} {
				if msg != "" {
					r.Errors = append(r.Errors, msg)
				}
			}
			rows = append(rows, r)
		}
		if page.Next == "" {
			return rows, nil
		}
		after = page.Next
	}
}

func (b *remoteBackend) SetTaskEnabled(ctx context.Context, appName, task string, on bool) error {
	verb := "/disable"
	if on {
		verb = "/enable"
	}
	return b.c.Do(ctx, client.Request{Method: "POST", Path: taskPath(appName, task) + verb, Want: http.StatusOK}, nil)
}

// pollInterval is how often Trigger asks for a run's new log lines.
const pollInterval = 200 * time.Millisecond

// Trigger asks the server to run app/task once with input, follows the
// run, printing its log lines to e.stderr as they come, and returns it
// once it has ended. Interrupted, it cancels the run.
func (b *remoteBackend) Trigger(ctx context.Context, e *env, appName, task string, input json.RawMessage) (runRow, error) {
	var body any
	if input != nil {
		body = map[string]json.RawMessage{"input": input}
	}
	bg := context.WithoutCancel(ctx)
	var run runRow
	if err := b.c.Do(bg, client.Request{Method: "POST", Path: taskPath(appName, task) + "/trigger", Body: body, Want: http.StatusAccepted}, &run); err != nil {
		return runRow{}, err
	}
	var seq int64
	logs := func() (int, error) {
		var page struct {
			Logs []struct {
				Seq     int64  `json:"seq"`
				Level   string `json:"level"`
				Message string `json:"message"`
			} `json:"logs"`
		}
		if err := b.c.Do(bg, client.Request{Method: "GET", Path: fmt.Sprintf("/runs/%d/logs?after=%d", run.ID, seq), Want: http.StatusOK}, &page); err != nil {
			return 0, err
		}
		for _, l := range page.Logs {
			fmt.Fprintf(e.stderr, "[%s] %s\n", l.Level, l.Message)
			seq = l.Seq
		}
		return len(page.Logs), nil
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		n, err := logs()
		if err != nil {
			return runRow{}, err
		}
		if n > 0 {
			continue // there may be more
		}
		if err := b.c.Do(bg, client.Request{Method: "GET", Path: fmt.Sprintf("/runs/%d", run.ID), Want: http.StatusOK}, &run); err != nil {
			return runRow{}, err
		}
		if run.Status != string(store.StatusRunning) {
			// Lines written with the run's end come after its status.
			logs()
			return run, nil
		}
		select {
		case <-ctx.Done():
			// Stop the run; its end is then recorded as cancelled.
			_ = b.c.Do(bg, client.Request{Method: "POST", Path: fmt.Sprintf("/runs/%d/cancel", run.ID), Want: http.StatusAccepted}, nil)
			ctx = bg
		case <-tick.C:
		}
	}
}

func (b *remoteBackend) Runs(ctx context.Context, q runQuery) ([]runRow, error) {
	v := url.Values{}
	if q.App != "" {
		v.Set("app", q.App)
	}
	if q.Task != "" {
		v.Set("task", q.Task)
	}
	if len(q.Statuses) > 0 {
		parts := make([]string, len(q.Statuses))
		for i, s := range q.Statuses {
			parts[i] = string(s)
		}
		v.Set("status", strings.Join(parts, ","))
	}
	limit := q.Limit
	if limit <= 0 || limit > store.MaxLimit {
		limit = store.MaxLimit
	}
	v.Set("limit", strconv.Itoa(limit))
	var page struct {
		Runs []runRow `json:"runs"`
	}
	if err := b.c.Do(ctx, client.Request{Method: "GET", Path: "/runs?" + v.Encode(), Want: http.StatusOK}, &page); err != nil {
		return nil, err
	}
	return page.Runs, nil
}

func (b *remoteBackend) SetAppEnabled(ctx context.Context, name string, on bool) error {
	verb := "/disable"
	if on {
		verb = "/enable"
	}
	return b.c.Do(ctx, client.Request{Method: "POST", Path: "/apps/" + url.PathEscape(name) + verb, Want: http.StatusOK}, nil)
}

func (b *remoteBackend) ValidateApp(ctx context.Context, name string) (*lifecycle.Report, error) {
	var v struct {
		App      string           `json:"app"`
		Version  string           `json:"version"`
		Tasks    int              `json:"tasks"`
		Errors   []client.Finding `json:"errors"`
		Warnings []client.Finding `json:"warnings"`
	}
	if err := b.c.Do(ctx, client.Request{Method: "GET", Path: "/apps/" + url.PathEscape(name) + "/validation", Want: http.StatusOK}, &v); err != nil {
		return nil, err
	}
	return &lifecycle.Report{App: v.App, Version: v.Version, Tasks: v.Tasks, Errors: findings(v.Errors), Warnings: findings(v.Warnings)}, nil
}

func findings(fs []client.Finding) []lifecycle.Finding {
	out := make([]lifecycle.Finding, 0, len(fs))
	for _, f := range fs {
		out = append(out, lifecycle.Finding{File: f.File, Line: f.Line, Column: f.Column, Field: f.Field, Task: f.Task, Message: f.Message})
	}
	return out
}

// ExportApp downloads the app's zip into outDir (default the current
// folder) under the name the server gives it.
func (b *remoteBackend) ExportApp(ctx context.Context, name, outDir string) (string, *lifecycle.ArchiveManifest, error) {
	resp, err := b.c.Stream(ctx, client.Request{Method: "GET", Path: "/apps/" + url.PathEscape(name) + "/export", Want: http.StatusOK})
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	file := ""
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		file = filepath.Base(params["filename"])
	}
	if file == "" || file == "." || file == "/" || !strings.HasSuffix(file, ".zip") {
		file = name + ".zip"
	}
	if outDir == "" {
		outDir = "."
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", nil, err
	}
	tmp, err := os.CreateTemp(outDir, ".export-*.zip")
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(tmp.Name())
	size, err := io.Copy(tmp, resp.Body)
	if err == nil {
		err = tmp.Sync()
	}
	var m *lifecycle.ArchiveManifest
	if err == nil {
		// The download is checked as an install would check it.
		var a *lifecycle.Archive
		if a, err = lifecycle.OpenArchive(tmp, size, lifecycle.Limits{}); err == nil {
			m = a.Manifest
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", nil, fmt.Errorf("downloading the export of %s: %w", name, err)
	}
	p := filepath.Join(outDir, file)
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", nil, err
	}
	return p, m, nil
}

// InstallApp uploads the zip src, or an app folder zipped on the fly.
func (b *remoteBackend) InstallApp(ctx context.Context, src string, upgrade, strict bool) (installRow, error) {
	if strict {
		return installRow{}, errors.New("--strict is checked by a local install only; run `cronbox app validate --strict` on the folder first")
	}
	fi, err := os.Stat(src)
	if err != nil {
		return installRow{}, err
	}
	var body io.Reader
	if fi.IsDir() {
		var buf bytes.Buffer
		if _, err := lifecycle.ExportDir(src, &buf, lifecycle.Limits{}); err != nil {
			return installRow{}, err
		}
		body = &buf
	} else {
		f, err := os.Open(src)
		if err != nil {
			return installRow{}, err
		}
		defer f.Close()
		body = f
	}
	path := "/apps"
	if upgrade {
		path += "?upgrade=true"
	}
	var res struct {
		App struct {
			Name string `json:"name"`
		} `json:"app"`
		Version  string           `json:"version"`
		Files    int              `json:"files"`
		Verified bool             `json:"verified"`
		Replaced bool             `json:"replaced"`
		Backup   string           `json:"backup"`
		Warnings []client.Finding `json:"warnings"`
	}
	err = b.c.Do(ctx, client.Request{Method: "POST", Path: path, Body: body, ContentType: "application/zip"}, &res)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status == http.StatusConflict {
		return installRow{}, fmt.Errorf("%s; add --upgrade to replace it", strings.TrimSuffix(ce.Message, "; set upgrade=true to replace it"))
	}
	if err != nil {
		return installRow{}, err
	}
	return installRow{App: res.App.Name, Version: res.Version, Files: res.Files, Verified: res.Verified, Replaced: res.Replaced,
		Backup: res.Backup, Warnings: findings(res.Warnings)}, nil
}

func (b *remoteBackend) UninstallApp(ctx context.Context, name string, purge bool) (*lifecycle.Uninstalled, error) {
	path := "/apps/" + url.PathEscape(name)
	if purge {
		path += "?purge=true"
	}
	var res lifecycle.Uninstalled
	if err := b.c.Do(ctx, client.Request{Method: "DELETE", Path: path, Want: http.StatusOK}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

func (b *remoteBackend) Backups() string { return "the server's data/backups" }

func (b *remoteBackend) ExportConfig(ctx context.Context) ([]byte, error) {
	var file json.RawMessage
	if err := b.c.Do(ctx, client.Request{Method: "GET", Path: "/config/tasks", Want: http.StatusOK}, &file); err != nil {
		return nil, err
	}
	// As the server wrote it: the file is its answer.
	var buf bytes.Buffer
	if err := json.Indent(&buf, file, "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func (b *remoteBackend) ImportConfig(ctx context.Context, e *env, data []byte) (int, error) {
	var res struct {
		Imported int      `json:"imported"`
		Warnings []string `json:"warnings"`
	}
	req := client.Request{Method: "PUT", Path: "/config/tasks", Body: bytes.NewReader(data), ContentType: "application/json", Want: http.StatusOK}
	if err := b.c.Do(ctx, req, &res); err != nil {
		return 0, err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(e.stderr, "cronbox: warning: %s\n", w)
	}
	return res.Imported, nil
}

func (b *remoteBackend) CreateToken(ctx context.Context, name, role string, apps []string) (string, error) {
	var made struct {
		Token string `json:"token"`
	}
	body := map[string]any{"name": name, "role": role, "apps": apps}
	if err := b.c.Do(ctx, client.Request{Method: "POST", Path: "/tokens", Body: body, Want: http.StatusCreated}, &made); err != nil {
		return "", err
	}
	return made.Token, nil
}

func (b *remoteBackend) ListTokens(ctx context.Context) ([]tokenRow, error) {
	var list struct {
		Tokens []tokenRow `json:"tokens"`
	}
	if err := b.c.Do(ctx, client.Request{Method: "GET", Path: "/tokens", Want: http.StatusOK}, &list); err != nil {
		return nil, err
	}
	return list.Tokens, nil
}

func (b *remoteBackend) RevokeToken(ctx context.Context, id int64) error {
	return b.c.Do(ctx, client.Request{Method: "DELETE", Path: fmt.Sprintf("/tokens/%d", id), Want: http.StatusOK}, nil)
}
