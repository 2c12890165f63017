package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/client"
	"github.com/cronbox/cronbox/web"
)

// cliActor names the person at the command line in the audit log.
func cliActor() string { return "cli:" + currentUser() }

// recordAudit records a change the command line made on the store
// directly. The change is made already: a failure to record it is a
// warning on stderr.
func recordAudit(ctx context.Context, stderr io.Writer, st store.Audit, action, app, target string, before, after any) {
	_, err := st.AppendAudit(context.WithoutCancel(ctx), store.AuditEntry{Actor: cliActor(), Action: action, App: app, Target: target,
		Before: web.AuditJSON(before), After: web.AuditJSON(after)})
	if err != nil {
		fmt.Fprintf(stderr, "cronbox: warning: the change is made, but recording it in the audit log failed: %v\n", err)
	}
}

func runAudit(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "audit")
	t := targetFlags(fs)
	appName := fs.String("app", "", "only this `APP`'s entries")
	actor := fs.String("actor", "", "only this `ACTOR`'s entries (token:NAME, local, cli:USER)")
	action := fs.String("action", "", "only entries of this `ACTION` (task.update, secret.set, ...)")
	since := fs.String("since", "", "only entries of the last `DURATION` (e.g. 24h) or since a time (RFC 3339)")
	limit := fs.Int("limit", 100, "at most `N` entries, newest first (up to 1000)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) != 0 {
		fmt.Fprintln(e.stderr, "cronbox audit: takes no arguments")
		return exitUsage
	}
	f := store.AuditFilter{App: *appName, Actor: *actor, Action: *action, Limit: *limit}
	if *since != "" {
		if d, err := time.ParseDuration(*since); err == nil && d > 0 {
			f.Since = time.Now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339, *since); err == nil {
			f.Since = t
		} else {
			fmt.Fprintf(e.stderr, "cronbox audit: --since %q: want a duration (24h) or an RFC 3339 time\n", *since)
			return exitUsage
		}
	}
	if *limit < 1 || *limit > store.MaxLimit {
		fmt.Fprintf(e.stderr, "cronbox audit: --limit %d: want 1 to %d\n", *limit, store.MaxLimit)
		return exitUsage
	}
	return withBackend(ctx, e, t, func(b backend) error {
		rows, err := b.Audit(ctx, f)
		if err != nil {
			return err
		}
		return printAudit(e.stdout, rows, *asJSON)
	})
}

// auditRow is an audit entry as `cronbox audit --json` prints it.
type auditRow struct {
	ID      int64           `json:"id"`
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`
	TokenID int64           `json:"tokenId,omitempty"`
	Action  string          `json:"action"`
	App     string          `json:"app"`
	Target  string          `json:"target"`
	Before  json.RawMessage `json:"before"`
	After   json.RawMessage `json:"after"`
}

func printAudit(w io.Writer, rows []auditRow, asJSON bool) error {
	if asJSON {
		return printJSON(w, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tACTOR\tACTION\tTARGET\tCHANGE")
	for _, r := range rows {
		actor := r.Actor
		if r.TokenID != 0 {
			actor += fmt.Sprintf(" (#%d)", r.TokenID)
		}
		change := strings.TrimSpace(string(r.Before) + " -> " + string(r.After))
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Time.Format(time.RFC3339), actor, r.Action, orDash(r.Target), oneLine(change, 120))
	}
	return tw.Flush()
}

func orNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// audit records a change the backend made on the home's store itself.
func (b *localBackend) audit(ctx context.Context, action, app, target string, before, after any) {
	st, err := b.store(ctx)
	if err != nil {
		fmt.Fprintf(b.warn, "cronbox: warning: the change is made, but recording it in the audit log failed: %v\n", err)
		return
	}
	recordAudit(ctx, b.warn, st, action, app, target, before, after)
}

// auditOverrides records a config.import entry for each override that
// differs between before and after.
func auditOverrides(ctx context.Context, w io.Writer, st store.Audit, before, after []store.Override) {
	was := map[string]store.Override{}
	for _, o := range before {
		was[o.App+"/"+o.Task] = o
	}
	for _, o := range after {
		key := o.App + "/" + o.Task
		old, ok := was[key]
		if ok && bytes.Equal(web.AuditJSON(old), web.AuditJSON(o)) {
			continue
		}
		var b any
		if ok {
			b = old
		}
		recordAudit(ctx, w, st, web.ActionConfigImport, o.App, key, b, o)
	}
}

func (b *localBackend) Audit(ctx context.Context, f store.AuditFilter) ([]auditRow, error) {
	st, err := b.store(ctx)
	if err != nil {
		return nil, err
	}
	list, err := st.ListAudit(ctx, f)
	if err != nil {
		return nil, err
	}
	rows := make([]auditRow, len(list))
	for i, a := range list {
		rows[i] = auditRow{ID: a.ID, Time: a.Time.UTC(), Actor: a.Actor, TokenID: a.TokenID, Action: a.Action, App: a.App, Target: a.Target,
			Before: orNull(a.Before), After: orNull(a.After)}
	}
	return rows, nil
}

// Audit pages through GET /audit with its cursor until it has f.Limit
// entries or the log ends.
func (b *remoteBackend) Audit(ctx context.Context, f store.AuditFilter) ([]auditRow, error) {
	v := url.Values{}
	for k, s := range map[string]string{"app": f.App, "actor": f.Actor, "action": f.Action} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !f.Since.IsZero() {
		v.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		v.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	limit := f.Limit
	if limit <= 0 || limit > store.MaxLimit {
		limit = store.MaxLimit
	}
	var rows []auditRow
	for {
		v.Set("limit", strconv.Itoa(limit-len(rows)))
		var page struct {
			Entries []auditRow `json:"entries"`
			Next    string     `json:"next"`
		}
		if err := b.c.Do(ctx, client.Request{Method: "GET", Path: "/audit?" + v.Encode(), Want: http.StatusOK}, &page); err != nil {
			return nil, err
		}
		rows = append(rows, page.Entries...)
		if page.Next == "" || len(page.Entries) == 0 || len(rows) >= limit {
			return rows, nil
		}
		v.Set("cursor", page.Next)
	}
}
