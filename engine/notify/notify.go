// Package notify tells people what the engine's runs did: on a run's end,
// a task's recovery or auto-disable, and an app that fails to load, it
// sends a signed webhook, a Slack-compatible message or an email to the
// channels the app, the task or the operator configured.
//
// The Notifier subscribes to the engine's events. What it decides to send
// is queued in the store (store.Notifications) before anything is sent, so
// a restart loses nothing; one goroutine delivers the queue, retrying a
// failed attempt with exponential backoff up to Config.MaxAttempts, and
// records every attempt. A channel sends at most one message per task per
// window (app.Channel.Window); the events it keeps quiet about are counted
// and reported in one summary when the window ends.
package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/hostapi"
)

// Source is what the Notifier needs of the engine: its events, and the
// configuration of the apps and tasks they are about.
type Source interface {
	Subscribe() (<-chan engine.Event, func())
	App(name string) (engine.AppInfo, bool)
	Task(app, task string) (engine.TaskInfo, bool)
}

// SecretResolver turns a setting that may reference a secret
// ("${secret:NAME}") into its value, for the app that wrote it (""
// for the server's own settings). It is called when a message is sent,
// so a rotated secret is used from the next message on.
type SecretResolver interface {
	Resolve(ctx context.Context, app, value string) (string, error)
}

// Passthrough is the SecretResolver that returns every value as written.
type Passthrough struct{}

// Resolve implements SecretResolver.
func (Passthrough) Resolve(_ context.Context, _, value string) (string, error) { return value, nil }

// Config configures a Notifier.
type Config struct {
	// Source is the engine whose events are reported. Required.
	Source Source
	// Runs reads the runs the events are about. Required.
	Runs store.RunReader
	// Store queues the notifications. Required.
	Store store.Notifications
	// Server is the operator's configuration: server-wide channels, the
	// allow-list, SMTP. Default: none of them.
	Server Server
	// Clock is the source of time. Default engine.RealClock.
	Clock engine.Clock
	// Secrets resolves ${secret:NAME} in settings. Default Passthrough.
	Secrets SecretResolver
	// MaxAttempts is how many times a message is tried before it is given
	// up. Default 8.
	MaxAttempts int
	// Backoff is the wait after the first failed attempt, doubled after
	// each further one up to MaxBackoff. Defaults 30s and 1h.
	Backoff, MaxBackoff time.Duration
	// Timeout bounds one attempt. Default 10s.
	Timeout time.Duration
	// Keep is how long sent and given-up notifications stay listed.
	// Default 14 days.
	Keep time.Duration
	// Logger receives delivery failures. Default slog.Default().
	Logger *slog.Logger
}

// Server is the operator's notification settings, from the server's
// configuration file (see LoadServer).
type Server struct {
	// Channels are told of every app's events, whatever the apps and
	// tasks configure.
	Channels []app.Channel
	// Allow lists the hosts app and task channels may send to, as
	// permissions.http does for tasks (hostapi.HTTP.Allows); an app's own
	// permissions.http also allows its channels. Default none. The
	// server's own channels are always allowed.
	Allow []string
	// AllowLoopback lets messages go to loopback addresses and to the
	// server's own listen address. Default false: refused.
	AllowLoopback bool
	// PublicURL is the base of links to the UI in messages, e.g.
	// https://cronbox.example.com. Default: none, and messages carry no
	// links.
	PublicURL string
	// Listen is the server's own listen address, which messages may not
	// reach unless AllowLoopback.
	Listen string
	// Node names this server in messages; "" on a single node.
	Node string
	// SMTP is the mail server that email channels send through.
	SMTP SMTP
}

// Notifier turns the engine's events into notifications and delivers
// them. Start it with Start and stop it with Stop.
type Notifier struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	allow  hostapi.HTTP

	poke       chan struct{}
	mu         sync.Mutex
	timer      engine.Timer
	stopEvents chan struct{}
	cancel     context.CancelFunc
	eventsDone sync.WaitGroup
	done       sync.WaitGroup
	pruned     time.Time // when the queue was last pruned

	// armed, if set (by tests), is called each time the delivery loop
	// goes idle, with when it wakes next (zero: only on an event).
	armed func(next time.Time)
}

// New returns a Notifier for cfg.
func New(cfg Config) (*Notifier, error) {
	if cfg.Source == nil || cfg.Runs == nil || cfg.Store == nil {
		return nil, errors.New("notify: Config.Source, Runs and Store are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = engine.RealClock{}
	}
	if cfg.Secrets == nil {
		cfg.Secrets = Passthrough{}
	}
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, 8)
	cfg.Backoff = cmp.Or(cfg.Backoff, 30*time.Second)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, time.Hour)
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Second)
	cfg.Keep = cmp.Or(cfg.Keep, 14*24*time.Hour)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Notifier{cfg: cfg, log: cfg.Logger.With("component", "notify"), poke: make(chan struct{}, 1),
		allow: hostapi.HTTP{Allow: cfg.Server.Allow}}
	if err := n.allow.Validate(); err != nil {
		return nil, fmt.Errorf("notify: allow: %w", err)
	}
	n.client = &http.Client{
		Transport: &http.Transport{
			DialContext:         n.guardedDialer().DialContext,
			TLSHandshakeTimeout: cfg.Timeout,
			MaxIdleConns:        4,
			IdleConnTimeout:     time.Minute,
		},
		Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect could lead past the allow-list
		},
	}
	return n, nil
}

// Start subscribes to the engine's events and starts delivering the queue,
// including what an earlier process left in it. Call it before the
// engine starts, so that no event is missed.
func (n *Notifier) Start() {
	events, unsubscribe := n.cfg.Source.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.stopEvents = make(chan struct{})
	n.eventsDone.Add(1)
	go func() {
		defer n.eventsDone.Done()
		defer unsubscribe()
		// Events are handled with a context of their own: on Stop, those
		// already received are still queued (the runs a stop interrupts).
		hctx := context.WithoutCancel(ctx)
		for {
			select {
			case <-n.stopEvents:
				for {
					select {
					case ev, ok := <-events:
						if !ok {
							return
						}
						n.handle(hctx, ev)
					default:
						return
					}
				}
			case ev, ok := <-events:
				if !ok {
					return
				}
				n.handle(hctx, ev)
			}
		}
	}()
	n.done.Add(1)
	go func() {
		defer n.done.Done()
		n.deliverLoop(ctx)
	}()
	n.wake()
}

// Stop stops the Notifier's goroutines and its timer and waits for them.
// The events it has received are queued first; what is queued is
// delivered after the next Start. Stop it after the engine, so that the
// events of the engine's stop are among them.
func (n *Notifier) Stop() {
	if n.cancel == nil {
		return
	}
	select {
	case <-n.stopEvents:
	default:
		close(n.stopEvents)
	}
	n.eventsDone.Wait()
	n.cancel()
	n.done.Wait()
	n.mu.Lock()
	if n.timer != nil {
		n.timer.Stop()
		n.timer = nil
	}
	n.mu.Unlock()
	n.client.CloseIdleConnections()
}

// wake makes the delivery loop look at the queue.
func (n *Notifier) wake() {
	select {
	case n.poke <- struct{}{}:
	default:
	}
}

// Message is what a notification says: the body of a webhook, and what
// Slack messages and mails are written from.
type Message struct {
	// Event is a run's status, recovered, disabled, load_error or summary.
	Event string    `json:"event"`
	Time  time.Time `json:"time"`
	App   string    `json:"app"`
	Task  string    `json:"task,omitempty"`
	// Node names the server; empty on a single node.
	Node string `json:"node"`
	// Run is the run the event is about, if any.
	Run *RunInfo `json:"run,omitempty"`
	// Error is a load error or an auto-disable's reason.
	Error string `json:"error,omitempty"`
	// Suppressed counts, for a summary, the events the channel kept
	// quiet about, since SuppressedSince.
	Suppressed      int        `json:"suppressed,omitempty"`
	SuppressedSince *time.Time `json:"suppressedSince,omitempty"`
	// URL links to the task (or app) in the UI; "" without a public URL.
	URL string `json:"url,omitempty"`
}

// RunInfo is a run as a message reports it.
type RunInfo struct {
	ID         int64     `json:"id"`
	Status     string    `json:"status"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"durationMs"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end,omitzero"`
	Attempt    int       `json:"attempt"`
	Trigger    string    `json:"trigger"`
	// URL links to the run in the UI; "" without a public URL.
	URL string `json:"url,omitempty"`
}

// payload is what the queue holds for one notification.
type payload struct {
	App     string      `json:"app"` // whose secrets the channel may use; "" for a server channel
	Channel app.Channel `json:"channel"`
	Message Message     `json:"message"`
}

// failing reports a status that counts as a failure for recovery.
func failing(s store.Status) bool {
	switch s {
	case store.StatusFailed, store.StatusTimedOut, store.StatusOutOfMemory, store.StatusTrapped, store.StatusInterrupted:
		return true
	}
	return false
}

// scoped is a channel with where it was configured.
type scoped struct {
	scope string // server, app or task
	ch    app.Channel
	app   string // whose allow-list and secrets apply; "" for server
}

func (s scoped) key() string { return s.scope + ":" + s.ch.Name }

// channels returns the channels told of events of appName/task (task ""
// for the app as a whole).
func (n *Notifier) channels(appName, task string) []scoped {
	var out []scoped
	for _, ch := range n.cfg.Server.Channels {
		out = append(out, scoped{"server", ch, ""})
	}
	if task != "" {
		if ti, ok := n.cfg.Source.Task(appName, task); ok && ti.Task.NotifySet {
			for _, ch := range ti.Task.Notify {
				out = append(out, scoped{"task", ch, appName})
			}
			return out
		}
	}
	if ai, ok := n.cfg.Source.App(appName); ok {
		for _, ch := range ai.Manifest.Notify {
			out = append(out, scoped{"app", ch, appName})
		}
	}
	return out
}

// handle turns an event into the notifications it calls for.
func (n *Notifier) handle(ctx context.Context, ev engine.Event) {
	if ev.Time.IsZero() {
		ev.Time = n.cfg.Clock.Now()
	}
	msg := Message{Time: ev.Time.UTC(), App: ev.App, Task: ev.Task, Node: n.cfg.Server.Node}
	switch ev.Type {
	case engine.EventRunFinished, engine.EventTaskChanged, engine.EventAppReloaded:
	default:
		return
	}
	chans := n.channels(ev.App, ev.Task)
	if len(chans) == 0 {
		return // nobody to tell: no reads, no writes
	}
	var events []string // the message's event for a channel: the first of these it wants
	bypass := false     // state changes, which happen once a streak, skip the quiet window
	switch ev.Type {
	case engine.EventRunFinished:
		if ev.Status == store.StatusSkipped || ev.Status == store.StatusRunning {
			return
		}
		r, err := n.cfg.Runs.GetRun(ctx, ev.RunID)
		if err != nil {
			n.log.Warn("reading the run to notify of", "run", ev.RunID, "err", err)
			r = &store.Run{ID: ev.RunID, App: ev.App, Task: ev.Task, Status: ev.Status, Error: ev.Message}
		}
		msg.Run = n.runInfo(r)
		events = []string{string(ev.Status)}
		if ev.Status == store.StatusSucceeded && n.recovered(ctx, ev) {
			events = []string{app.NotifyRecovered, string(ev.Status)}
		}
	case engine.EventTaskChanged:
		ti, ok := n.cfg.Source.Task(ev.App, ev.Task)
		if ev.Message == "" || !ok || ti.DisabledReason != ev.Message {
			return
		}
		events, msg.Error, bypass = []string{app.NotifyDisabled}, ev.Message, true
	case engine.EventAppReloaded:
		ai, ok := n.cfg.Source.App(ev.App)
		if ev.Message == "" || !ok || ai.LoadError != ev.Message {
			return
		}
		events, msg.Error = []string{app.NotifyLoadError}, ev.Message
	}
	msg.URL = n.link("tasks", ev.App, ev.Task)
	if ev.Task == "" {
		msg.URL = n.link("apps")
	}
	touched := false // the queue or a window changed: the loop re-arms
	for _, sc := range chans {
		event := ""
		for _, e := range events {
			if sc.ch.Wants(e) {
				event = e
				break
			}
		}
		if event == "" {
			continue
		}
		m := msg
		m.Event = event
		if !bypass && event != app.NotifyRecovered {
			open, err := n.cfg.Store.OpenWindow(ctx, store.WindowKey{App: ev.App, Task: ev.Task, Channel: sc.key()}, ev.Time, sc.ch.Window)
			if err != nil {
				n.log.Error("notification window", "app", ev.App, "task", ev.Task, "channel", sc.key(), "err", err)
				continue
			}
			touched = true
			if !open {
				continue
			}
		}
		if n.enqueue(ctx, sc, m, ev.RunID) {
			touched = true
		}
	}
	if touched {
		n.wake()
	}
}

// recovered reports whether the run before ev's finished run of its task
// failed.
func (n *Notifier) recovered(ctx context.Context, ev engine.Event) bool {
	runs, err := n.cfg.Runs.ListRuns(ctx, store.RunFilter{
		Apps: []string{ev.App}, Task: ev.Task, BeforeID: ev.RunID, Limit: 1,
		Statuses: []store.Status{store.StatusSucceeded, store.StatusFailed, store.StatusTimedOut, store.StatusOutOfMemory, store.StatusTrapped, store.StatusInterrupted},
	})
	if err != nil {
		n.log.Warn("reading the run before", "run", ev.RunID, "err", err)
		return false
	}
	return len(runs) == 1 && failing(runs[0].Status)
}

func (n *Notifier) runInfo(r *store.Run) *RunInfo {
	return &RunInfo{
		ID: r.ID, Status: string(r.Status), Error: r.Error, DurationMS: r.Duration.Milliseconds(),
		Start: r.StartTime.UTC(), End: r.EndTime.UTC(), Attempt: r.Attempt, Trigger: string(r.Trigger),
		URL: n.link("runs", strconv.FormatInt(r.ID, 10)),
	}
}

// link returns the UI's URL of the path made of parts, or "" without a
// public URL.
func (n *Notifier) link(parts ...string) string {
	base := strings.TrimSuffix(n.cfg.Server.PublicURL, "/")
	if base == "" {
		return ""
	}
	for _, p := range parts {
		if p != "" {
			base += "/" + url.PathEscape(p)
		}
	}
	return base
}

func (n *Notifier) enqueue(ctx context.Context, sc scoped, m Message, runID int64) bool {
	data, err := json.Marshal(payload{App: sc.app, Channel: sc.ch, Message: m})
	if err != nil {
		n.log.Error("encoding notification", "err", err)
		return false
	}
	_, err = n.cfg.Store.EnqueueNotification(ctx, store.Notification{
		App: m.App, Task: m.Task, Channel: sc.key(), Kind: sc.ch.Kind, Event: m.Event, RunID: runID,
		Suppressed: m.Suppressed, Payload: data, Created: n.cfg.Clock.Now(),
	})
	if err != nil {
		n.log.Error("queueing notification", "app", m.App, "task", m.Task, "channel", sc.key(), "err", err)
		return false
	}
	return true
}

// deliverLoop delivers due notifications and summaries until ctx is done,
// sleeping on the clock until the next is due.
func (n *Notifier) deliverLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.poke:
		}
		n.summarize(ctx)
		n.prune(ctx)
		for ctx.Err() == nil {
			due, err := n.cfg.Store.DueNotifications(ctx, n.cfg.Clock.Now(), 50)
			if err != nil {
				if ctx.Err() == nil {
					n.log.Error("reading the notification queue", "err", err)
				}
				break
			}
			for _, x := range due {
				n.deliver(ctx, x)
			}
			if len(due) < 50 {
				break
			}
		}
		n.arm(ctx)
	}
}

// arm sets the timer for the next due notification or window end.
func (n *Notifier) arm(ctx context.Context) {
	next, err := n.cfg.Store.NextWake(ctx)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Error("reading the notification queue", "err", err)
		}
		return
	}
	n.mu.Lock()
	if n.timer != nil {
		n.timer.Stop()
		n.timer = nil
	}
	if !next.IsZero() && ctx.Err() == nil {
		n.timer = n.cfg.Clock.AfterFunc(max(next.Sub(n.cfg.Clock.Now()), 0), n.wake)
	}
	n.mu.Unlock()
	if n.armed != nil {
		n.armed(next)
	}
}

// prune deletes old notifications, at most once an hour.
func (n *Notifier) prune(ctx context.Context) {
	now := n.cfg.Clock.Now()
	if now.Sub(n.pruned) < time.Hour {
		return
	}
	n.pruned = now
	if _, err := n.cfg.Store.PruneNotifications(ctx, now.Add(-n.cfg.Keep)); err != nil && ctx.Err() == nil {
		n.log.Error("pruning notifications", "err", err)
	}
}

// summarize queues a summary for each window that ended having suppressed
// events.
func (n *Notifier) summarize(ctx context.Context) {
	now := n.cfg.Clock.Now()
	sups, err := n.cfg.Store.TakeSuppressed(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Error("reading suppressed notifications", "err", err)
		}
		return
	}
	for _, s := range sups {
		var sc *scoped
		for _, c := range n.channels(s.App, s.Task) {
			if c.key() == s.Channel {
				sc = &c
				break
			}
		}
		if sc == nil {
			n.log.Info("dropping a summary of a channel no longer configured", "app", s.App, "task", s.Task, "channel", s.Channel, "suppressed", s.Count)
			continue
		}
		since := s.First.UTC()
		m := Message{Event: "summary", Time: now.UTC(), App: s.App, Task: s.Task, Node: n.cfg.Server.Node,
			Suppressed: s.Count, SuppressedSince: &since, URL: n.link("tasks", s.App, s.Task)}
		if s.Task == "" {
			m.URL = n.link("apps")
		}
		n.enqueue(ctx, *sc, m, 0)
	}
}

// deliver makes one attempt at x and records it.
func (n *Notifier) deliver(ctx context.Context, x store.Notification) {
	now := n.cfg.Clock.Now()
	var p payload
	err := json.Unmarshal(x.Payload, &p)
	permanent := err != nil
	if err == nil {
		actx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
		permanent, err = n.send(actx, p, now)
		cancel()
	}
	if ctx.Err() != nil {
		return // stopping: the attempt is made again after the next start
	}
	a := store.NotificationAttempt{Time: now}
	if err != nil {
		a.Err = err.Error()
		if !permanent && x.Attempts+1 < n.cfg.MaxAttempts {
			a.Next = now.Add(n.backoff(x.Attempts + 1))
		}
		n.log.Warn("notification not delivered", "id", x.ID, "channel", x.Channel, "attempt", x.Attempts+1, "retry", !a.Next.IsZero(), "err", err)
	}
	if err := n.cfg.Store.RecordAttempt(ctx, x.ID, a); err != nil && ctx.Err() == nil {
		n.log.Error("recording notification attempt", "id", x.ID, "err", err)
	}
}

// backoff returns the wait after the attempt-th failed attempt.
func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.cfg.Backoff
	for i := 1; i < attempt && d < n.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, n.cfg.MaxBackoff)
}

// send delivers p once. permanent reports an error that no retry can
// fix.
func (n *Notifier) send(ctx context.Context, p payload, now time.Time) (permanent bool, err error) {
	switch p.Channel.Kind {
	case app.ChannelWebhook, app.ChannelSlack:
		target, err := n.cfg.Secrets.Resolve(ctx, p.App, p.Channel.URL)
		if err != nil {
			return false, fmt.Errorf("resolving the URL: %w", err)
		}
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return true, errors.New("the channel's URL is not an http or https URL")
		}
		if p.App != "" && !n.allowed(p.App, u) {
			return true, fmt.Errorf("%s is not in the allow-list of notification targets (the server's notify.allow or the app's permissions.http)", u.Host)
		}
		if p.Channel.Kind == app.ChannelSlack {
			return n.postSlack(ctx, u, p.Message)
		}
		secret, err := n.cfg.Secrets.Resolve(ctx, p.App, p.Channel.Secret)
		if err != nil {
			return false, fmt.Errorf("resolving the secret: %w", err)
		}
		return n.postWebhook(ctx, u, secret, p.Message, now)
	case app.ChannelEmail:
		return n.sendMail(ctx, p.Channel.To, p.Message)
	}
	return true, fmt.Errorf("unknown channel kind %q", p.Channel.Kind)
}

// allowed reports whether appName's channel may send to u.
func (n *Notifier) allowed(appName string, u *url.URL) bool {
	if n.allow.Allows(u) {
		return true
	}
	ai, ok := n.cfg.Source.App(appName)
	if !ok {
		return false
	}
	own := hostapi.HTTP{Allow: ai.Manifest.Permissions.HTTP}
	return own.Allows(u)
}

// errRefused is the error of a connection the guarded dialer refused.
var errRefused = errors.New("notifications may not reach this server or its loopback addresses (the server's notify.allowLoopback allows it)")

// guardedDialer refuses connections to loopback addresses and to the
// server's own listen address, unless the operator allows them. It checks
// the address it connects to, after name resolution, so a name that
// resolves to 127.0.0.1 is refused too.
func (n *Notifier) guardedDialer() *net.Dialer {
	d := &net.Dialer{Timeout: n.cfg.Timeout}
	if n.cfg.Server.AllowLoopback {
		return d
	}
	_, listenPort, _ := net.SplitHostPort(n.cfg.Server.Listen)
	d.Control = func(network, address string, _ syscall.RawConn) error {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip := net.ParseIP(host)
		if ip == nil {
			return fmt.Errorf("refusing %s: not an IP address", address)
		}
		if refuseIP(ip, port, listenPort) {
			return fmt.Errorf("%w: %s", errRefused, address)
		}
		return nil
	}
	return d
}

// refuseIP reports whether ip:port is loopback, unspecified, or one of
// this host's own addresses on the server's listen port.
func refuseIP(ip net.IP, port, listenPort string) bool {
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	if port != listenPort || listenPort == "" {
		return false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.Equal(ip) {
			return true
		}
	}
	return false
}
