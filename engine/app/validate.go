package app

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"github.com/cronbox/cronbox/internal/secrets"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cronbox/cronbox/engine/schedule"
	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/runtime"
)

// Bounds of a task definition's values.
const (
	// MaxRetries is the largest retry.max.
	MaxRetries = 100
	// maxBackoff bounds retry.backoff and retry.maxBackoff.
	maxBackoff = 24 * time.Hour
	// maxMisfireWindow bounds misfireWindow.
	maxMisfireWindow = 7 * 24 * time.Hour
	// MaxKeep is the largest retention.keep.
	MaxKeep = 1_000_000
	// maxArgs is how many args a task may have.
	maxArgs = 1000
)

// Defaults of a task definition that are not the runtime's.
const (
	// DefaultBackoff is the wait before the first retry.
	DefaultBackoff = 30 * time.Second
	// DefaultMaxBackoff caps the wait between retries.
	DefaultMaxBackoff = time.Hour
	// DefaultMisfireWindow is how far back a missed fire time counts for
	// misfire: run-once.
	DefaultMisfireWindow = time.Hour
	// DefaultKeep is how many runs of a task are kept in the history.
	DefaultKeep = 1000
	// DefaultLogLimit is how many bytes of log messages a run stores
	// when limits.logs is not given: as much as its output.
	DefaultLogLimit = 1 << 20
	// MaxLogLimit is the largest limits.logs.
	MaxLogLimit = 64 << 20
)

// pageSize is the size of a WebAssembly memory page, the smallest memory
// limit.
const pageSize = 64 << 10

// taskContext is what checking a task needs to know about its app.
type taskContext struct {
	app      string
	dir      string // the app folder's real path
	quotaMem int64
	ceiling  runtime.Limits
	zones    map[string]error      // time zones already looked up
	modules  map[string]moduleFile // module paths already looked up
	// crons holds one copy of each cron expression, which the tasks
	// that share it then share: "H H * * *" written for every task is
	// otherwise a string of its own for each.
	crons map[string]string
	// schedules checks the schedules, each zone loaded and each cron
	// expression compiled once a load (Options.Schedules).
	schedules *schedule.Parser
}

func newTaskContext(dir string, m Manifest, opts Options) *taskContext {
	ceiling := runtime.Limits{Memory: runtime.MaxMemory, Timeout: runtime.MaxTimeout, Output: runtime.MaxOutput}
	if c := opts.Ceiling; c.Memory > 0 {
		ceiling.Memory = min(c.Memory, ceiling.Memory)
	}
	if c := opts.Ceiling; c.Timeout > 0 {
		ceiling.Timeout = min(c.Timeout, ceiling.Timeout)
	}
	if c := opts.Ceiling; c.Output > 0 {
		ceiling.Output = min(c.Output, ceiling.Output)
	}
	return &taskContext{
		app:       m.Name,
		dir:       dir,
		quotaMem:  m.Quotas.Memory,
		ceiling:   ceiling,
		zones:     make(map[string]error),
		modules:   make(map[string]moduleFile),
		crons:     make(map[string]string),
		schedules: cmp.Or(opts.Schedules, new(schedule.Parser)),
	}
}

// task checks spec and returns the task with its defaults applied and the
// problems found in c. The task's name is spec.Name as written, checked or
// not.
func (x *taskContext) task(c *checker, spec TaskSpec) Task {
	t := Task{
		App:         x.app,
		Name:        spec.Name,
		Description: spec.Description,
		Enabled:     deref(spec.Enabled, true),
		Concurrency: ConcurrencyForbid,
		Misfire:     MisfireSkip,
		Environment: maps.Clone(spec.Environment),
		file:        c.file,
	}
	nameOK := true
	if spec.Name == "" {
		c.errorf("name", "is required")
		nameOK = false
	} else if err := ValidName(spec.Name); err != nil {
		c.errorf("name", "%v", err)
		nameOK = false
	}
	t.Schedule = x.schedule(c, "schedule", spec.Schedule, t.Key())
	switch {
	case spec.Module != "":
		t.Module, t.Source = x.module(c, "module", spec.Module)
	case nameOK:
		t.Module, t.Source = x.module(c, "module", "tasks/"+spec.Name+".wasm")
	}
	if len(spec.Args) > maxArgs {
		c.errorf("args", "has %d entries, more than %d", len(spec.Args), maxArgs)
	}
	for i, a := range spec.Args {
		if strings.ContainsRune(a, 0) {
			c.errorf(fmt.Sprintf("args[%d]", i), "contains a NUL character")
		}
	}
	t.Args = slices.Clone(spec.Args)
	x.termination(c, &t, spec.Termination)
	x.limits(c, &t, spec.Limits)
	t.Retry = retry(c, spec.Retry)
	concurrency(c, &t, spec.Concurrency)
	misfire(c, &t, spec.Misfire, spec.MisfireWindow)
	after(c, &t, spec.After)
	environment(c, "environment", t.Environment)
	t.Config = config(c, spec.Config)
	t.Tags = tags(c, spec.Tags)
	if w := spec.Webhook; w != nil {
		if err := secrets.ValidName(w.Secret); err != nil {
			c.errorf("webhook.secret", "%v; the webhook needs the name of the app's secret that signs its requests", err)
		} else {
			t.Webhook = w.Secret
		}
	}
	t.Retention = retention(c, spec.Retention)
	if spec.Notify != nil {
		t.Notify, t.NotifySet = c.checkChannels("notify", *spec.Notify), true
	}
	t.own = problems{errs: slices.Clip(c.errs), warns: slices.Clip(c.warns)}
	return t
}

// schedule checks a schedule with the scheduler's own parser; key is the
// task's key, for the stagger hash of H.
func (x *taskContext) schedule(c *checker, field string, s *ScheduleSpec, key string) ScheduleSpec {
	if s == nil {
		return ScheduleSpec{}
	}
	spec := *s
	spec.Cron = strings.TrimSpace(spec.Cron)
	if cron, ok := x.crons[spec.Cron]; ok {
		spec.Cron = cron
	} else {
		x.crons[spec.Cron] = spec.Cron
	}
	n := len(c.errs)
	switch {
	case s.Cron != "" && spec.Cron == "":
		c.errorf(field+".cron", "is blank; leave the schedule out for a task that runs only when triggered")
	case spec.Cron != "" && !spec.At.IsZero():
		c.errorf(field, "give either cron or at, not both")
	case spec.Timezone != "" && spec.Cron == "":
		c.errorf(field+".timezone", "applies only to cron; at carries its own zone offset")
	}
	if spec.Timezone != "" {
		err, seen := x.zones[spec.Timezone]
		if !seen {
			_, err = time.LoadLocation(spec.Timezone)
			x.zones[spec.Timezone] = err
		}
		if err != nil {
			c.errorf(field+".timezone", "unknown time zone %s; want an IANA name such as Europe/Berlin, or UTC", quote(spec.Timezone))
		}
	}
	if len(c.errs) > n || spec.IsZero() {
		return spec
	}
	if _, err := x.schedules.Parse(schedule.Spec{Cron: spec.Cron, Timezone: spec.Timezone, At: spec.At}, key); err != nil {
		f := field + ".cron"
		if spec.Cron == "" {
			f = field + ".at"
		}
		c.errorf(f, "%v", err)
	}
	return spec
}

func (x *taskContext) termination(c *checker, t *Task, spec *TerminationSpec) {
	t.MaxRuntime = min(runtime.DefaultTimeout, x.ceiling.Timeout)
	t.KillOnTimeout = true
	hard := x.ceiling.Timeout
	if spec != nil {
		if spec.MaxRuntime != "" {
			if d, ok := c.duration("termination.maxRuntime", spec.MaxRuntime, true); ok {
				if d > x.ceiling.Timeout {
					c.errorf("termination.maxRuntime", "%v is more than the longest a run may take, %v", d, x.ceiling.Timeout)
				} else {
					t.MaxRuntime = d
				}
			}
		}
		if spec.MaxFailures < 0 {
			c.errorf("termination.maxFailures", "%d is negative; want 0 (never disable the task) or more", spec.MaxFailures)
		} else {
			t.MaxFailures = spec.MaxFailures
		}
		t.KillOnTimeout = deref(spec.KillOnTimeout, true)
		if spec.HardLimit != "" {
			if d, ok := c.duration("termination.hardLimit", spec.HardLimit, true); ok {
				switch {
				case d > x.ceiling.Timeout:
					c.errorf("termination.hardLimit", "%v is more than the longest a run may take, %v", d, x.ceiling.Timeout)
				case t.KillOnTimeout:
					c.warnf("termination.hardLimit", "has no effect while killOnTimeout is true: runs stop at maxRuntime")
				case d < t.MaxRuntime:
					c.errorf("termination.hardLimit", "%v is shorter than maxRuntime %v", d, t.MaxRuntime)
				default:
					hard = d
				}
			}
		}
	}
	if t.KillOnTimeout {
		hard = t.MaxRuntime
	}
	t.HardLimit = hard
	t.Limits.Timeout = hard
}

func (x *taskContext) limits(c *checker, t *Task, spec *LimitsSpec) {
	t.Limits.Memory = min(runtime.DefaultMemory, x.ceiling.Memory, x.quotaMem)
	t.Limits.Output = min(runtime.DefaultOutput, x.ceiling.Output)
	t.LogLimit = DefaultLogLimit
	if spec == nil {
		return
	}
	if spec.Logs != "" {
		if n, ok := c.size("limits.logs", spec.Logs); ok {
			switch {
			case n < 1:
				c.errorf("limits.logs", "must be more than 0 B (leave it out for the default, %s)", bytesize.Format(DefaultLogLimit))
			case n > MaxLogLimit:
				c.errorf("limits.logs", "%s is more than the most a run may keep, %s", bytesize.Format(n), bytesize.Format(MaxLogLimit))
			default:
				t.LogLimit = n
			}
		}
	}
	if spec.Memory != "" {
		if n, ok := c.size("limits.memory", spec.Memory); ok {
			switch {
			case n < pageSize:
				c.errorf("limits.memory", "%s is less than one 64 KiB page", bytesize.Format(n))
			case n > x.ceiling.Memory:
				c.errorf("limits.memory", "%s is more than the most a run may have, %s", bytesize.Format(n), bytesize.Format(x.ceiling.Memory))
			case n > x.quotaMem:
				c.errorf("limits.memory", "%s is more than the app's memory quota, %s (quotas.memory in app.yaml)", bytesize.Format(n), bytesize.Format(x.quotaMem))
			default:
				t.Limits.Memory = n
			}
		}
	}
	if spec.Output != "" {
		if n, ok := c.size("limits.output", spec.Output); ok {
			switch {
			case n < 1:
				c.errorf("limits.output", "must be more than 0 B (leave it out for the default, %s)", bytesize.Format(t.Limits.Output))
			case n > x.ceiling.Output:
				c.errorf("limits.output", "%s is more than the most a run may keep, %s", bytesize.Format(n), bytesize.Format(x.ceiling.Output))
			default:
				t.Limits.Output = n
			}
		}
	}
}

func retry(c *checker, spec *RetrySpec) Retry {
	r := Retry{Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff}
	if spec == nil {
		return r
	}
	if spec.Max < 0 || spec.Max > MaxRetries {
		c.errorf("retry.max", "%d is outside 0..%d", spec.Max, MaxRetries)
	} else {
		r.Max = spec.Max
	}
	parse := func(field, s string) (time.Duration, bool) {
		if s == "" {
			return 0, false
		}
		d, ok := c.duration(field, s, false)
		if ok && d > maxBackoff {
			c.errorf(field, "%v is more than %v", d, maxBackoff)
			return 0, false
		}
		return d, ok
	}
	if d, ok := parse("retry.backoff", spec.Backoff); ok {
		r.Backoff = d
		r.MaxBackoff = max(r.MaxBackoff, d)
	}
	if d, ok := parse("retry.maxBackoff", spec.MaxBackoff); ok {
		if d < r.Backoff {
			c.errorf("retry.maxBackoff", "%v is shorter than backoff %v", d, r.Backoff)
		} else {
			r.MaxBackoff = d
		}
	}
	if r.Max == 0 && (spec.Backoff != "" || spec.MaxBackoff != "") {
		c.warnf("retry", "backoff has no effect while max is 0: failed runs are not retried")
	}
	return r
}

// concurrency sets t's overlap policy from policy as written ("" for the
// default, forbid).
func concurrency(c *checker, t *Task, policy string) {
	t.Concurrency = ConcurrencyForbid
	switch Concurrency(policy) {
	case "":
	case ConcurrencyAllow, ConcurrencyForbid, ConcurrencyReplace:
		t.Concurrency = Concurrency(policy)
	default:
		c.errorf("concurrency", "%s is not a policy; want allow, forbid (the default) or replace", quote(policy))
	}
}

// misfire sets t's misfire policy and window from policy and window as
// written ("" for the defaults).
func misfire(c *checker, t *Task, policy, window string) {
	t.Misfire = MisfireSkip
	t.MisfireWindow = DefaultMisfireWindow
	switch Misfire(policy) {
	case "":
	case MisfireSkip, MisfireRunOnce:
		t.Misfire = Misfire(policy)
	default:
		c.errorf("misfire", "%s is not a policy; want skip (the default) or run-once", quote(policy))
	}
	if window == "" {
		return
	}
	if d, ok := c.duration("misfireWindow", window, false); ok {
		if d > maxMisfireWindow {
			c.errorf("misfireWindow", "%v is more than %v", d, maxMisfireWindow)
			return
		}
		t.MisfireWindow = d
	}
	if t.Misfire != MisfireRunOnce {
		c.warnf("misfireWindow", "has no effect unless misfire is run-once")
	}
}

// after checks the names of the tasks t runs after; whether they exist is
// checked by link, which sees all tasks.
func after(c *checker, t *Task, names []string) {
	seen := make(map[string]bool)
	for i, name := range names {
		field := fmt.Sprintf("after[%d]", i)
		switch err := ValidName(name); {
		case strings.Contains(name, "/"):
			c.errorf(field, "%s: a task can only run after tasks of its own app", quote(name))
		case err != nil:
			c.errorf(field, "%v", err)
		case name == t.Name:
			c.errorf(field, "a task cannot run after itself")
		case seen[name]:
			c.warnf(field, "%q is listed twice", name)
		default:
			seen[name] = true
			t.After = append(t.After, name)
			path := c.path(field)
			t.afterAt = append(t.afterAt, place{field: path, pos: c.at(path)})
		}
	}
}

// environment checks the names and values of environment variables.
func environment(c *checker, field string, env map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if err := validEnvName(k); err != nil {
			c.errorf(joinField(field, k), "%v", err)
		} else if strings.ContainsRune(env[k], 0) {
			c.errorf(joinField(field, k), "contains a NUL character")
		}
	}
}

func config(c *checker, raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("{}")
	}
	var buf bytes.Buffer
	switch err := json.Compact(&buf, raw); {
	case err != nil:
		c.errorf("config", "is not valid JSON: %v", err)
	case buf.Bytes()[0] != '{':
		c.errorf("config", "want a mapping (a JSON object), got %s", quote(buf.String()))
	case buf.Len() > maxConfigJSON:
		c.errorf("config", "is more than %s as JSON", bytesize.Format(maxConfigJSON))
	default:
		return buf.Bytes()
	}
	return json.RawMessage("{}")
}

func tags(c *checker, in []string) []string {
	var out []string
	seen := make(map[string]bool)
	for i, tag := range in {
		field := fmt.Sprintf("tags[%d]", i)
		if err := ValidName(tag); err != nil {
			c.errorf(field, "%v", err)
		} else if seen[tag] {
			c.warnf(field, "%q is listed twice", tag)
		} else {
			seen[tag] = true
			out = append(out, tag)
		}
	}
	return out
}

func retention(c *checker, spec *RetentionSpec) Retention {
	r := Retention{Keep: DefaultKeep}
	if spec == nil {
		return r
	}
	if spec.Keep != nil {
		if n := *spec.Keep; n < 1 || n > MaxKeep {
			c.errorf("retention.keep", "%d is outside 1..%d", n, MaxKeep)
		} else {
			r.Keep = n
		}
	}
	if spec.MaxAge != "" {
		if d, ok := c.duration("retention.maxAge", spec.MaxAge, false); ok {
			r.MaxAge = d
		}
	}
	return r
}
