package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook's signature: "t=UNIX,v1=HEX", HEX
// being the HMAC-SHA256, keyed with the channel's secret, of the decimal
// UNIX time, a full stop, and the request body.
const SignatureHeader = "Cronbox-Signature"

// Sign returns the value of SignatureHeader for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp outside the tolerance")
)

// Verify checks a webhook's SignatureHeader value against its body, as a
// receiver does: the signature must match and its time be within
// tolerance of now, so that a recorded request cannot be replayed later.
// (A receiver that must refuse a replay within the tolerance too keeps
// the signatures it has seen for that long.)
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadSignature
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		ok = ok || hmac.Equal(s, want)
	}
	if !ok {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}

// post sends body to u and classifies the answer: a 2xx is delivered, a
// 4xx other than 408 and 429 is permanent, anything else is retried.
func (n *Notifier) post(ctx context.Context, u *url.URL, body []byte, header http.Header) (permanent bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return true, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Cronbox-Notify/1")
	resp, err := n.client.Do(req)
	if err != nil {
		return errors.Is(err, errRefused), redact(err, u)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	err = fmt.Errorf("%s answered %s: %s", u.Host, resp.Status, strings.TrimSpace(string(snippet)))
	return resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests, err
}

// redact keeps a URL's path (which often holds a token, as Slack's do)
// out of an error that is recorded and shown.
func redact(err error, u *url.URL) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("POST %s://%s/…: %w", u.Scheme, u.Host, ue.Err)
	}
	return err
}

func (n *Notifier) postWebhook(ctx context.Context, u *url.URL, secret string, m Message, now time.Time) (bool, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return true, err
	}
	h := http.Header{"Cronbox-Event": {m.Event}}
	if secret != "" {
		h.Set(SignatureHeader, Sign(secret, now, body))
	}
	return n.post(ctx, u, body, h)
}

func (n *Notifier) postSlack(ctx context.Context, u *url.URL, m Message) (bool, error) {
	body, err := json.Marshal(map[string]string{"text": slackText(m)})
	if err != nil {
		return true, err
	}
	return n.post(ctx, u, body, nil)
}

// subject is a message's one-line summary.
func subject(m Message) string {
	what := m.App
	if m.Task != "" {
		what += "/" + m.Task
	}
	switch {
	case m.Event == "summary":
		return fmt.Sprintf("%s: %d more notifications were held back since %s", what, m.Suppressed, m.SuppressedSince.Format(time.RFC3339))
	case m.Event == "recovered":
		return what + " recovered"
	case m.Event == "disabled":
		return what + " was disabled after repeated failures"
	case m.Event == "load_error":
		return what + " failed to load"
	case m.Run != nil:
		return fmt.Sprintf("%s %s after %s", what, strings.ReplaceAll(m.Event, "_", " "), time.Duration(m.Run.DurationMS)*time.Millisecond)
	}
	return what + ": " + m.Event
}

// details are the lines under the subject.
func details(m Message) []string {
	var out []string
	if m.Run != nil && m.Run.Error != "" {
		out = append(out, "Error: "+m.Run.Error)
	}
	if m.Error != "" {
		out = append(out, "Error: "+m.Error)
	}
	if m.Node != "" {
		out = append(out, "Node: "+m.Node)
	}
	if m.Run != nil && m.Run.URL != "" {
		out = append(out, "Run: "+m.Run.URL)
	} else if m.URL != "" {
		out = append(out, "More: "+m.URL)
	}
	return out
}

// slackText writes m as the text of an incoming webhook, which Slack,
// Mattermost and Teams-compatible receivers all show.
func slackText(m Message) string {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	var b strings.Builder
	b.WriteString("*Cronbox:* " + esc.Replace(subject(m)))
	for _, d := range details(m) {
		b.WriteString("\n" + esc.Replace(d))
	}
	return b.String()
}

// SMTP is the mail server email channels send through.
type SMTP struct {
	// Addr is the server's host:port, e.g. smtp.example.com:587.
	Addr string `json:"addr"`
	// From is the sender's address.
	From string `json:"from"`
	// Username and Password authenticate (PLAIN, only over TLS); may be
	// ${secret:NAME}. Default: no authentication.
	Username string `json:"username"`
	Password string `json:"password"`
	// RequireTLS refuses to send when the server does not offer STARTTLS.
	// STARTTLS is always used when offered. Default false.
	RequireTLS bool `json:"requireTLS"`
	// TLS, if set, is the TLS configuration of STARTTLS (for a private
	// CA); its ServerName defaults to Addr's host.
	TLS *tls.Config `json:"-"`
}

// sendMail sends m to to through the server's SMTP server.
func (n *Notifier) sendMail(ctx context.Context, to []string, m Message) (bool, error) {
	cfg := n.cfg.Server.SMTP
	if cfg.Addr == "" || cfg.From == "" {
		return true, errors.New("no SMTP server is configured (the server's notify.smtp)")
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return true, fmt.Errorf("notify.smtp.addr: %w", err)
	}
	d := &net.Dialer{Timeout: n.cfg.Timeout}
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return false, fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if err := c.Hello("cronbox"); err != nil {
		return false, fmt.Errorf("smtp EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if cfg.TLS != nil {
			tc = cfg.TLS.Clone()
			if tc.ServerName == "" {
				tc.ServerName = host
			}
		}
		if err := c.StartTLS(tc); err != nil {
			return false, fmt.Errorf("smtp STARTTLS: %w", err)
		}
	} else if cfg.RequireTLS {
		return false, fmt.Errorf("smtp: %s does not offer STARTTLS, which notify.smtp.requireTLS requires", cfg.Addr)
	}
	if cfg.Username != "" {
		user, err := n.cfg.Secrets.Resolve(ctx, "", cfg.Username)
		if err != nil {
			return false, err
		}
		pass, err := n.cfg.Secrets.Resolve(ctx, "", cfg.Password)
		if err != nil {
			return false, err
		}
		if err := c.Auth(smtp.PlainAuth("", user, pass, host)); err != nil {
			return false, fmt.Errorf("smtp AUTH: %w", err)
		}
	}
	if err := c.Mail(cfg.From); err != nil {
		return false, fmt.Errorf("smtp MAIL: %w", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return false, fmt.Errorf("smtp RCPT %s: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return false, fmt.Errorf("smtp DATA: %w", err)
	}
	if _, err := w.Write(mailText(cfg.From, to, m)); err != nil {
		return false, fmt.Errorf("smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return false, fmt.Errorf("smtp DATA: %w", err)
	}
	return false, c.Quit()
}

// mailText writes m as a plain-text mail.
func mailText(from string, to []string, m Message) []byte {
	oneLine := strings.NewReplacer("\r", " ", "\n", " ")
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: [Cronbox] %s\r\nDate: %s\r\n", from, strings.Join(to, ", "),
		oneLine.Replace(subject(m)), m.Time.Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(subject(m) + "\r\n\r\n")
	for _, d := range details(m) {
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(d, "\r", ""), "\n", "\r\n") + "\r\n")
	}
	return b.Bytes()
}
