// Package client speaks Cronbox's REST API (web/openapi.json): the CLI's
// commands use it against a remote server (--server, a context of the
// config file) and against the local socket of a running serve alike.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// maxAnswer is the largest JSON answer the client reads.
const maxAnswer = 64 << 20

// Client sends requests to one server. Its zero value is not usable: set
// BaseURL.
type Client struct {
	// BaseURL is the server's address, "https://cron.example.com" or
	// "http://127.0.0.1:8080"; the API's paths (/api/v1/...) are appended.
	BaseURL string
	// Token is sent as "Authorization: Bearer TOKEN". Default "": no
	// header (the local socket needs none).
	Token string
	// HTTP sends the requests. Default nil: http.DefaultClient.
	HTTP *http.Client
	// Where names the server in errors about reaching it. Default "":
	// BaseURL.
	Where string
}

// Config says how to reach a server.
type Config struct {
	// Server is the server's URL, http:// or https://. Required.
	Server string
	// Token is the API token. Default "": requests carry none (and most
	// answer 401).
	Token string
	// CAFile is a PEM file of the certificates to trust for https, in
	// place of the system's roots. Default "": the system's roots.
	CAFile string
	// Timeout bounds each request, answer included. Default 0: 5 minutes
	// (an upload of a large app takes a while).
	Timeout time.Duration
}

// DefaultTimeout is Config.Timeout's default.
const DefaultTimeout = 5 * time.Minute

// New returns a client for cfg, or an error naming what is wrong with it.
func New(cfg Config) (*Client, error) {
	base, err := CheckServer(cfg.Server)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the CA file %s holds no PEM certificate", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{BaseURL: base, Token: cfg.Token, HTTP: &http.Client{Transport: tr, Timeout: timeout}}, nil
}

// CheckServer checks a server URL: http or https, a host, no query; it
// returns it without a trailing slash.
func CheckServer(server string) (string, error) {
	u, err := url.Parse(server)
	switch {
	case server == "":
		return "", errors.New("no server URL")
	case err != nil:
		return "", fmt.Errorf("server URL %q: %v", server, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("server URL %q: want http:// or https://", server)
	case u.Host == "":
		return "", fmt.Errorf("server URL %q has no host", server)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", fmt.Errorf("server URL %q: want no user, query or fragment", server)
	}
	return strings.TrimRight(server, "/"), nil
}

// Error is an answer of the server other than the one expected: its
// {"error", "field"} message, or its status when it sent none.
type Error struct {
	Status  int
	Message string `json:"error"`
	Field   string `json:"field"`
	// Findings are the problems of an app the server refused.
	Findings []Finding `json:"findings"`
}

// Finding is one problem of an app, as the API lists it.
type Finding struct {
	Level   string `json:"level"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Field   string `json:"field"`
	Task    string `json:"task"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = fmt.Sprintf("the server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Status == http.StatusUnauthorized {
		msg += " (the token is missing, wrong, expired or revoked: `cronbox login` stores a new one)"
	}
	if e.Field != "" && !strings.HasPrefix(msg, e.Field) {
		return e.Field + ": " + msg
	}
	return msg
}

// Request is one call of the API.
type Request struct {
	Method, Path string // Path from /api/v1 on, with its query
	// Body is sent as JSON unless it is an io.Reader (sent as is, with
	// ContentType).
	Body        any
	ContentType string
	// Want is the status of success. Default 0: any 2xx.
	Want int
}

// Do sends req and decodes the JSON answer into out (if not nil); an
// answer of another status is an *Error.
func (c *Client) Do(ctx context.Context, req Request, out any) error {
	resp, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return c.reachError(err)
	}
	if out == nil || len(bytes.TrimSpace(b)) == 0 && resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s answered %s %s with what is not the JSON expected: %v", c.where(), req.Method, req.Path, err)
	}
	return nil
}

// Stream sends req and returns the body of a successful answer, for the
// caller to read and close.
func (c *Client) Stream(ctx context.Context, req Request) (*http.Response, error) {
	return c.send(ctx, req)
}

func (c *Client) send(ctx context.Context, req Request) (*http.Response, error) {
	var body io.Reader
	ct := req.ContentType
	switch b := req.Body.(type) {
	case nil:
	case io.Reader:
		body = b
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		body, ct = bytes.NewReader(data), "application/json"
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, c.BaseURL+"/api/v1"+req.Path, body)
	if err != nil {
		return nil, err
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	hr.Header.Set("Accept", "application/json")
	if c.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, c.reachError(err)
	}
	ok := resp.StatusCode == req.Want || req.Want == 0 && resp.StatusCode/100 == 2
	if ok {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ae := &Error{Status: resp.StatusCode}
	if json.Unmarshal(b, ae) != nil || ae.Message == "" {
		ae.Message = ""
		if resp.StatusCode == http.StatusNotFound && !strings.Contains(resp.Header.Get("Content-Type"), "json") {
			ae.Message = fmt.Sprintf("%s has no %s %s: is it a Cronbox server, of this version?", c.where(), req.Method, "/api/v1"+req.Path)
		}
	}
	return nil, ae
}

func (c *Client) where() string {
	if c.Where != "" {
		return c.Where
	}
	return c.BaseURL
}

func (c *Client) reachError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("reaching %s: %w", c.where(), err)
}
