package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/cronbox/cronbox/internal/homedir"
	"github.com/cronbox/cronbox/web"
)

// The local socket: serve also answers the API on a Unix socket in the
// home's data folder, <home>/data/cronbox.sock, which only the home's owner
// can open. Requests over it act as the local admin without a token, so
// that `cronbox task trigger` can hand a run to a running serve, which then
// applies the task's overlap policy and quotas and shows the run live.

// socketPath is the local socket of home.
func socketPath(home string) string { return homedir.Home(home).Socket() }

// maxSocketPath is the longest path a Unix socket may have (sun_path, less
// its terminating NUL, on Linux; shorter elsewhere).
const maxSocketPath = 107

// listenLocal listens on home's local socket, replacing a stale one a
// killed serve left. It fails when another serve answers on it.
func listenLocal(home string) (net.Listener, error) {
	path, err := filepath.Abs(socketPath(home))
	if err != nil {
		return nil, err
	}
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("the local socket's path %s is longer than %d bytes", path, maxSocketPath)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another cronbox serve answers on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// serveLocal serves ws's API on home's local socket until it is shut down,
// or logs why it cannot; the returned server is nil then. It has lim's
// timeouts and at most localMaxConns connections.
func serveLocal(log *slog.Logger, home string, ws *web.Server, lim httpLimits) *http.Server {
	ln, err := listenLocal(home)
	if err != nil {
		log.Warn("not serving the local socket; `cronbox task trigger` runs tasks in its own process", "err", err)
		return nil
	}
	srv := newHTTPServer(ws.Handler(), lim)
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		c = unwrapConn(c)
		if !samePeer(c) {
			return ctx
		}
		return ws.LocalContext(ctx, c)
	}
	srv.RegisterOnShutdown(ws.CloseStreams)
	go srv.Serve(limitListen(ln, localMaxConns)) // ends with Shutdown, which also removes the socket
	return srv
}

// localClient returns an HTTP client for the local socket of home, or nil
// when no serve answers there.
func localClient(home string) *http.Client {
	path := socketPath(home)
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil
	}
	c.Close()
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
}

// remoteRun is a run as the API answers it, in the fields the CLI prints.
type remoteRun struct {
	ID       int64           `json:"id"`
	App      string          `json:"app"`
	Task     string          `json:"task"`
	Status   string          `json:"status"`
	Trigger  string          `json:"trigger"`
	User     string          `json:"user"`
	ExitCode *int            `json:"exitCode"`
	Error    string          `json:"error"`
	Reason   string          `json:"reason"`
	Output   string          `json:"output"`
	Result   json.RawMessage `json:"result,omitempty"`
}

// triggerRemote asks the serve behind client to run app/task once with
// input, follows the run, printing its log lines to stderr as it goes,
// and returns it once it has ended. Interrupted, it cancels the run.
func triggerRemote(ctx context.Context, e *env, client *http.Client, appName, task string, input json.RawMessage) (*remoteRun, error) {
	var body []byte
	if input != nil {
		body, _ = json.Marshal(map[string]json.RawMessage{"input": input})
	}
	var run remoteRun
	path := "/api/v1/tasks/" + url.PathEscape(appName) + "/" + url.PathEscape(task) + "/trigger"
	if err := callLocal(context.WithoutCancel(ctx), client, "POST", path, body, http.StatusAccepted, &run); err != nil {
		return nil, err
	}
	var seq int64
	for {
		var page struct {
			Logs []struct {
				Seq     int64  `json:"seq"`
				Level   string `json:"level"`
				Message string `json:"message"`
			} `json:"logs"`
		}
		logsPath := fmt.Sprintf("/api/v1/runs/%d/logs?after=%d", run.ID, seq)
		if err := callLocal(context.WithoutCancel(ctx), client, "GET", logsPath, nil, http.StatusOK, &page); err != nil {
			return nil, err
		}
		for _, l := range page.Logs {
			fmt.Fprintf(e.stderr, "[%s] %s\n", l.Level, l.Message)
			seq = l.Seq
		}
		if len(page.Logs) > 0 {
			continue // there may be more
		}
		if err := callLocal(context.WithoutCancel(ctx), client, "GET", fmt.Sprintf("/api/v1/runs/%d", run.ID), nil, http.StatusOK, &run); err != nil {
			return nil, err
		}
		if run.Status != "running" {
			// Lines written with the run's end come after its status.
			if err := callLocal(context.WithoutCancel(ctx), client, "GET", fmt.Sprintf("/api/v1/runs/%d/logs?after=%d", run.ID, seq), nil, http.StatusOK, &page); err == nil {
				for _, l := range page.Logs {
					fmt.Fprintf(e.stderr, "[%s] %s\n", l.Level, l.Message)
				}
			}
			return &run, nil
		}
		select {
		case <-ctx.Done():
			// Stop the run; its end is then recorded as cancelled.
			_ = callLocal(context.WithoutCancel(ctx), client, "POST", fmt.Sprintf("/api/v1/runs/%d/cancel", run.ID), nil, http.StatusAccepted, nil)
			ctx = context.WithoutCancel(ctx)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// callLocal sends a request to the local socket and decodes a JSON answer
// of status want into out (if not nil); another status is an error with
// the server's message.
func callLocal(ctx context.Context, client *http.Client, method, path string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://cronbox"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("asking the running serve: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("asking the running serve: %w", err)
	}
	if resp.StatusCode != want {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("the running serve answered %s", resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}
