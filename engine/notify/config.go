package notify

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strings"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/hostapi"
)

// maxConfigFile is the size of the largest server configuration file.
const maxConfigFile = 1 << 20

// serverFile is the server's configuration file as written. Only its
// notify: section exists so far; unknown sections are errors.
type serverFile struct {
	Notify *serverSpec `json:"notify"`
}

type serverSpec struct {
	PublicURL     string            `json:"publicURL"`
	Node          string            `json:"node"`
	Allow         []string          `json:"allow"`
	AllowLoopback *bool             `json:"allowLoopback"`
	SMTP          *SMTP             `json:"smtp"`
	Channels      []app.ChannelSpec `json:"channels"`
}

// LoadServer reads the server's configuration file at path (serve
// --config) and returns its notify: section. An error names the file, the
// line and the field of each problem.
func LoadServer(path string) (Server, error) {
	f, err := os.Open(path)
	if err != nil {
		return Server{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return Server{}, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxConfigFile {
		return Server{}, fmt.Errorf("reading %s: larger than %d bytes", path, maxConfigFile)
	}
	return ParseServer(data, path)
}

// ParseServer decodes a server configuration file read from file, strictly,
// as app.yaml is decoded, and checks its notify: section.
func ParseServer(data []byte, file string) (Server, error) {
	var spec serverFile
	d, err := app.DecodeYAML(data, file, &spec)
	if err != nil {
		return Server{}, err
	}
	s := spec.Notify
	if s == nil {
		return Server{}, nil
	}
	var problems []string
	bad := func(field, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: notify.%s: %s", file, field, fmt.Sprintf(format, args...)))
	}
	out := Server{PublicURL: strings.TrimSuffix(s.PublicURL, "/"), Node: s.Node, AllowLoopback: s.AllowLoopback != nil && *s.AllowLoopback}
	if s.PublicURL != "" {
		if u, err := url.Parse(s.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("publicURL", "%q is not an http or https URL", s.PublicURL)
		}
	}
	if strings.ContainsAny(s.Node, "\r\n") || len(s.Node) > 100 {
		bad("node", "want one line of at most 100 characters")
	}
	for i, a := range s.Allow {
		if err := (&hostapi.HTTP{Allow: []string{a}}).Validate(); err != nil {
			bad(fmt.Sprintf("allow[%d]", i), "%v", err)
		}
	}
	out.Allow = s.Allow
	if m := s.SMTP; m != nil {
		if _, port, err := net.SplitHostPort(m.Addr); err != nil || port == "" {
			bad("smtp.addr", "%q is not a host:port such as smtp.example.com:587", m.Addr)
		}
		if a, err := mail.ParseAddress(m.From); err != nil || a.Name != "" || strings.ContainsAny(m.From, "\r\n") {
			bad("smtp.from", "%q is not an email address such as cronbox@example.com", m.From)
		}
		if m.Password != "" && m.Username == "" {
			bad("smtp.password", "is given without a username")
		}
		out.SMTP = *m
	}
	chans, err := d.Channels("notify.channels", s.Channels)
	if err != nil {
		problems = append(problems, err.Error())
	}
	out.Channels = chans
	if len(problems) > 0 {
		return Server{}, errors.New(strings.Join(problems, "\n"))
	}
	return out, nil
}
