package app

import (
	"fmt"
	"net/mail"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The events a notification channel may listen for: the final statuses of
// a run, and three of the engine's own.
const (
	// NotifyRecovered is a task's first successful run after failed ones.
	NotifyRecovered = "recovered"
	// NotifyDisabled is a task switched off by its failures
	// (termination.maxFailures).
	NotifyDisabled = "disabled"
	// NotifyLoadError is an app that failed to load.
	NotifyLoadError = "load_error"
)

// NotifyEvents lists every event a channel's on: may name.
var NotifyEvents = []string{
	"failed", "timed_out", "out_of_memory", "trapped", "interrupted", "succeeded", "cancelled",
	NotifyRecovered, NotifyDisabled, NotifyLoadError,
}

// DefaultNotifyOn is what a channel without on: listens for: every way a
// run fails, recovery, auto-disable and load errors.
var DefaultNotifyOn = []string{"failed", "timed_out", "out_of_memory", "trapped", "interrupted",
	NotifyRecovered, NotifyDisabled, NotifyLoadError}

// The kinds of notification channel.
const (
	ChannelWebhook = "webhook"
	ChannelSlack   = "slack"
	ChannelEmail   = "email"
)

// Limits of a notification channel.
const (
	// DefaultNotifyWindow is how long a channel stays quiet about a task
	// after a message, counting what it suppresses, when window: is not
	// given.
	DefaultNotifyWindow = 10 * time.Minute
	// maxChannels is the most channels one notify: list may have.
	maxChannels = 20
	// maxRecipients is the most addresses one email channel may have.
	maxRecipients = 50
)

// ChannelSpec is one entry of a notify: list as written. Exactly one of
// Webhook, Slack and Email is set.
type ChannelSpec struct {
	// Name labels the channel in the notifications list; default its
	// kind and target.
	Name string `json:"name,omitempty"`
	// Webhook is the URL a signed JSON POST goes to.
	Webhook string `json:"webhook,omitempty"`
	// Secret signs webhook requests; may be ${secret:NAME}.
	Secret string `json:"secret,omitempty"`
	// Slack is the URL of a Slack-compatible incoming webhook.
	Slack string `json:"slack,omitempty"`
	// Email lists the addresses a mail goes to.
	Email []string `json:"email,omitempty"`
	// On lists the events the channel is told of.
	On []string `json:"on,omitempty"`
	// Window is the least time between two messages about one task.
	Window string `json:"window,omitempty"`
}

// Channel is a checked notification channel.
type Channel struct {
	// Name is the channel's label, unique in its list.
	Name string
	// Kind is ChannelWebhook, ChannelSlack or ChannelEmail.
	Kind string
	// URL is a webhook's or Slack channel's address; "" for email.
	URL string
	// Secret signs a webhook's requests, as written (a ${secret:NAME}
	// reference is resolved when a message is sent).
	Secret string
	// To lists an email channel's addresses.
	To []string
	// On lists the events the channel is told of. Default DefaultNotifyOn.
	On []string
	// Window is the least time between two messages about one task; the
	// messages in between are counted, then summed up. Default 10m.
	Window time.Duration
}

// secretRef matches a setting that is wholly a reference to a secret.
var secretRef = regexp.MustCompile(`^\$\{secret:[A-Za-z0-9_.-]+\}$`)

// Wants reports whether c is told of event.
func (c Channel) Wants(event string) bool { return slices.Contains(c.On, event) }

// checkChannels checks a notify: list written at field.
func (c *checker) checkChannels(field string, specs []ChannelSpec) []Channel {
	if len(specs) > maxChannels {
		c.errorf(field, "has %d channels, more than %d", len(specs), maxChannels)
		return nil
	}
	out := make([]Channel, 0, len(specs))
	names := make(map[string]int)
	for i, s := range specs {
		f := fmt.Sprintf("%s[%d]", field, i)
		ch, ok := c.checkChannel(f, s)
		if !ok {
			continue
		}
		if j, dup := names[ch.Name]; dup {
			c.errorf(f+".name", "%q is already the name of %s[%d]; give each channel its own name", ch.Name, field, j)
			continue
		}
		names[ch.Name] = i
		out = append(out, ch)
	}
	return out
}

func (c *checker) checkChannel(f string, s ChannelSpec) (Channel, bool) {
	n0 := len(c.errs)
	ch := Channel{Name: s.Name, Secret: s.Secret, Window: DefaultNotifyWindow}
	kinds := 0
	if s.Webhook != "" {
		kinds++
		ch.Kind, ch.URL = ChannelWebhook, c.notifyURL(f+".webhook", s.Webhook)
	}
	if s.Slack != "" {
		kinds++
		ch.Kind, ch.URL = ChannelSlack, c.notifyURL(f+".slack", s.Slack)
	}
	if s.Email != nil {
		kinds++
		ch.Kind = ChannelEmail
		if len(s.Email) == 0 || len(s.Email) > maxRecipients {
			c.errorf(f+".email", "want 1 to %d addresses, got %d", maxRecipients, len(s.Email))
		}
		for j, a := range s.Email {
			addr, err := mail.ParseAddress(a)
			if err != nil || addr.Name != "" || strings.ContainsAny(a, "\r\n") {
				c.errorf(fmt.Sprintf("%s.email[%d]", f, j), "%s is not an email address such as ops@example.com", quote(a))
				continue
			}
			ch.To = append(ch.To, addr.Address)
		}
	}
	if kinds != 1 {
		c.errorf(f, "want exactly one of webhook, slack and email, got %d", kinds)
	}
	if s.Secret != "" && ch.Kind != ChannelWebhook {
		c.errorf(f+".secret", "only a webhook channel is signed")
	}
	if strings.ContainsAny(s.Name, "\r\n") || len(s.Name) > 100 {
		c.errorf(f+".name", "want one line of at most 100 characters")
	}
	if ch.Name == "" {
		target := ch.URL
		if u, err := url.Parse(ch.URL); err == nil {
			target = u.Host
		}
		if ch.Kind == ChannelEmail {
			target = strings.Join(ch.To, ",")
		}
		ch.Name = ch.Kind + ":" + target
	}
	switch {
	case s.On == nil:
		ch.On = slices.Clone(DefaultNotifyOn)
	case len(s.On) == 0:
		c.errorf(f+".on", "is empty; list the events to be told of, or leave it out for the default (%s)", strings.Join(DefaultNotifyOn, ", "))
	}
	for j, ev := range s.On {
		if !slices.Contains(NotifyEvents, ev) {
			c.errorf(fmt.Sprintf("%s.on[%d]", f, j), "unknown event %s; the events are %s", quote(ev), strings.Join(NotifyEvents, ", "))
			continue
		}
		if !slices.Contains(ch.On, ev) {
			ch.On = append(ch.On, ev)
		}
	}
	if s.Window != "" {
		if d, ok := c.duration(f+".window", s.Window, false); ok {
			ch.Window = d
		}
	}
	return ch, len(c.errs) == n0
}

// notifyURL checks a channel's URL: http or https, with a host, and
// without user information (a secret belongs in secret:).
func (c *checker) notifyURL(field, s string) string {
	if secretRef.MatchString(s) {
		return s // resolved, and checked, when a message is sent
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		c.errorf(field, "%s is not a URL", quote(s))
	case u.Scheme != "http" && u.Scheme != "https":
		c.errorf(field, "%s is not an http or https URL", quote(s))
	case u.Host == "" || u.Hostname() == "":
		c.errorf(field, "%s has no host", quote(s))
	case u.User != nil:
		c.errorf(field, "%s holds a user name or password; put secrets in the URL's path or in secret:", quote(s))
	default:
		return s
	}
	return ""
}

// Decoded is a file DecodeYAML decoded: where each of its values was
// written, for the checks that follow.
type Decoded struct {
	file string
	pos  map[string]position
}

// DecodeYAML decodes the YAML document data, read from file, into v (a
// pointer to a struct with json tags) as strictly as app.yaml: unknown
// and repeated fields and values of the wrong kind are problems that name
// the file, the line and the field. The error wraps ErrInvalid and is an
// *InvalidError.
func DecodeYAML(data []byte, file string, v any) (Decoded, error) {
	root, problem := parseYAML(data, file)
	if problem != nil {
		return Decoded{}, invalid(file, []Problem{*problem})
	}
	if root == nil {
		return Decoded{file: file}, nil
	}
	d := newDecoder(file)
	d.decode(root, reflect.ValueOf(v).Elem(), "", 0)
	errs, pos := d.take()
	if len(errs) > 0 {
		sortProblems(errs)
		return Decoded{}, invalid(file, errs)
	}
	return Decoded{file: file, pos: pos}, nil
}

// Channels checks the notify: list decoded at field as app.yaml's is
// checked, its problems placed where their values were written.
func (d Decoded) Channels(field string, specs []ChannelSpec) ([]Channel, error) {
	c := &checker{file: d.file, pos: d.pos}
	chans := c.checkChannels(field, specs)
	if len(c.errs) > 0 {
		sortProblems(c.errs)
		return nil, invalid(d.file, c.errs)
	}
	return chans, nil
}

func invalid(file string, ps []Problem) error {
	return &InvalidError{What: "reading " + file, Problems: ps}
}
