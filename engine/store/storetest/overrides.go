package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// Overrides checks an implementation of store.Overrides. open returns a
// new, empty store for each test, whose clock is now.
func Overrides(t *testing.T, open func(t *testing.T, now func() time.Time) store.Overrides) {
	t.Run("RoundTrip", func(t *testing.T) { overridesRoundTrip(t, open) })
	t.Run("PutInvalid", func(t *testing.T) { overridesPutInvalid(t, open) })
	t.Run("Delete", func(t *testing.T) { overridesDelete(t, open) })
}

// OverridesOutcomes is what the Outcomes suite checks: the failure state
// that store.Outcomes keeps is read back with the overrides.
type OverridesOutcomes interface {
	store.Overrides
	store.Outcomes
}

// Outcomes checks an implementation of store.Outcomes, with the overrides
// that hold the failure state. open returns a new, empty store for each
// test, whose clock is now.
func Outcomes(t *testing.T, open func(t *testing.T, now func() time.Time) OverridesOutcomes) {
	t.Run("Record", func(t *testing.T) { outcomesRecord(t, open) })
}

func ptr[T any](v T) *T { return &v }

func overridesRoundTrip(t *testing.T, open func(t *testing.T, now func() time.Time) store.Overrides) {
	t.Parallel()
	clk := newClock(epoch)
	s := open(t, clk.Now)
	ctx := t.Context()
	if list, err := s.Overrides(ctx); err != nil || len(list) != 0 {
		t.Fatalf("Overrides of a new store = %v, %v", list, err)
	}
	puts := []store.Override{
		{App: "b", Task: "t", Enabled: ptr(false)},
		{App: "a", Task: "t", Enabled: ptr(true), Schedule: json.RawMessage(`{"cron":"H 1 * * *","timezone":"Europe/Berlin"}`),
			Environment: map[string]string{"LOG_LEVEL": "DEBUG"}},
		{App: "a", Task: "custom", Custom: true, Definition: json.RawMessage(`{"name":"custom","module":"tasks/c.wasm"}`)},
		{App: "a", Task: "gone", Deleted: true, Environment: map[string]string{}},
		{App: "a", Task: "plain", Schedule: json.RawMessage(`"@every 5m"`),
			Fields: json.RawMessage(`{"limits":{"memory":"32MiB"},"retry":{"backoff":"10s","max":3}}`)},
	}
	for _, o := range puts {
		if err := s.PutOverride(ctx, o); err != nil {
			t.Fatalf("PutOverride(%s/%s) = %v", o.App, o.Task, err)
		}
	}
	clk.Advance(time.Minute)
	// Replacing an override replaces its configuration as a whole.
	replaced := store.Override{App: "b", Task: "t", Schedule: json.RawMessage(`"0 3 * * *"`)}
	if err := s.PutOverride(ctx, replaced); err != nil {
		t.Fatal(err)
	}
	got, err := s.Overrides(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Override{puts[2], puts[3], puts[4], puts[1], replaced}
	for i := range want {
		want[i].CreatedAt, want[i].UpdatedAt = epoch, epoch
	}
	want[4].UpdatedAt = epoch.Add(time.Minute)
	if !reflect.DeepEqual(normalize(got), normalize(want)) {
		t.Errorf("Overrides =\n%+v\nwant\n%+v", got, want)
	}
	if got[1].Environment == nil {
		t.Error("an empty environment came back nil: it must stay distinct from no environment override")
	}
	if got[0].Environment != nil {
		t.Error("no environment override came back as an environment")
	}
}

// normalize returns overrides with times in UTC, for comparison.
func normalize(list []store.Override) []store.Override {
	out := make([]store.Override, len(list))
	for i, o := range list {
		o.CreatedAt, o.UpdatedAt, o.Failures.DisabledAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC(), o.Failures.DisabledAt.UTC()
		out[i] = o
	}
	return out
}

func overridesPutInvalid(t *testing.T, open func(t *testing.T, now func() time.Time) store.Overrides) {
	t.Parallel()
	s := open(t, fixed(epoch))
	tests := []struct {
		name string
		o    store.Override
	}{
		{"no app", store.Override{Task: "t"}},
		{"no task", store.Override{App: "a"}},
		{"schedule not JSON", store.Override{App: "a", Task: "t", Schedule: json.RawMessage("0 3 * * *")}},
		{"fields not JSON", store.Override{App: "a", Task: "t", Fields: json.RawMessage("{limits: 1}")}},
		{"custom without definition", store.Override{App: "a", Task: "t", Custom: true}},
		{"definition without custom", store.Override{App: "a", Task: "t", Definition: json.RawMessage(`{}`)}},
		{"definition not JSON", store.Override{App: "a", Task: "t", Custom: true, Definition: json.RawMessage(`{`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := s.PutOverride(t.Context(), tt.o); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("PutOverride = %v, want %v", err, store.ErrInvalid)
			}
		})
	}
}

func overridesDelete(t *testing.T, open func(t *testing.T, now func() time.Time) store.Overrides) {
	t.Parallel()
	s := open(t, fixed(epoch))
	ctx := t.Context()
	for _, o := range []store.Override{{App: "a", Task: "t", Deleted: true}, {App: "b", Task: "t", Deleted: true}} {
		if err := s.PutOverride(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, app, task string
		want            error
	}{
		{"present", "a", "t", nil},
		{"again", "a", "t", store.ErrNotFound},
		{"never there", "c", "t", store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.DeleteOverride(t.Context(), tt.app, tt.task); !errors.Is(err, tt.want) {
				t.Errorf("DeleteOverride = %v, want %v", err, tt.want)
			}
		})
	}
	if list, err := s.Overrides(ctx); err != nil || len(list) != 1 || list[0].App != "b" {
		t.Errorf("Overrides = %+v, %v; want only b/t", list, err)
	}
}

func outcomesRecord(t *testing.T, open func(t *testing.T, now func() time.Time) OverridesOutcomes) {
	t.Parallel()
	clk := newClock(epoch)
	s := open(t, clk.Now)
	ctx := t.Context()
	if err := s.PutOverride(ctx, store.Override{App: "a", Task: "t", Environment: map[string]string{"K": "v"}}); err != nil {
		t.Fatal(err)
	}
	fail := store.Outcome{Failed: true, MaxFailures: 3}
	ok := store.Outcome{MaxFailures: 3}
	disabled := store.FailureState{ConsecutiveFailures: 3, DisabledReason: "disabled after 3 consecutive failures", DisabledAt: epoch}
	// The steps run in order on one store.
	tests := []struct {
		name      string
		app, task string
		outcome   store.Outcome
		want      store.FailureState
		wantErr   error
	}{
		{"first failure", "a", "t", fail, store.FailureState{ConsecutiveFailures: 1}, nil},
		{"second failure", "a", "t", fail, store.FailureState{ConsecutiveFailures: 2}, nil},
		{"success resets", "a", "t", ok, store.FailureState{}, nil},
		{"success again", "a", "t", ok, store.FailureState{}, nil},
		{"failure 1 of 3", "a", "t", fail, store.FailureState{ConsecutiveFailures: 1}, nil},
		{"failure 2 of 3", "a", "t", fail, store.FailureState{ConsecutiveFailures: 2}, nil},
		{"failure 3 of 3 disables", "a", "t", fail, disabled, nil},
		{"later failure keeps the reason", "a", "t", fail, store.FailureState{ConsecutiveFailures: 4, DisabledReason: disabled.DisabledReason, DisabledAt: epoch}, nil},
		{"success keeps the reason", "a", "t", ok, store.FailureState{DisabledReason: disabled.DisabledReason, DisabledAt: epoch}, nil},
		{"no limit", "a", "u", store.Outcome{Failed: true}, store.FailureState{ConsecutiveFailures: 1}, nil},
		{"own reason, no override yet", "b", "t", store.Outcome{Failed: true, MaxFailures: 1, Reason: "exit code 2, twice"},
			store.FailureState{ConsecutiveFailures: 1, DisabledReason: "exit code 2, twice", DisabledAt: epoch}, nil},
		{"success without override", "c", "t", ok, store.FailureState{}, nil},
		{"no app", "", "t", fail, store.FailureState{}, store.ErrInvalid},
		{"negative limit", "a", "t", store.Outcome{Failed: true, MaxFailures: -1}, store.FailureState{}, store.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.RecordOutcome(t.Context(), tt.app, tt.task, tt.outcome)
			if !errors.Is(err, tt.wantErr) || got.ConsecutiveFailures != tt.want.ConsecutiveFailures ||
				got.DisabledReason != tt.want.DisabledReason || !got.DisabledAt.Equal(tt.want.DisabledAt) {
				t.Errorf("RecordOutcome = %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}

	list, err := s.Overrides(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byTask := map[string]store.Override{}
	for _, o := range list {
		byTask[o.App+"/"+o.Task] = o
	}
	if _, ok := byTask["c/t"]; ok || len(list) != 3 {
		t.Errorf("overrides of %v; want a/t, a/u and b/t (a success records nothing)", keys(byTask))
	}
	at := byTask["a/t"]
	if at.Enabled == nil || *at.Enabled || at.Environment["K"] != "v" || at.Failures.DisabledReason == "" {
		t.Errorf("a/t = %+v; want disabled with a reason, its environment kept", at)
	}
	if bt := byTask["b/t"]; bt.Enabled == nil || *bt.Enabled {
		t.Errorf("b/t = %+v; want disabled", bt)
	}
	if au := byTask["a/u"]; au.Enabled != nil || au.Failures.ConsecutiveFailures != 1 {
		t.Errorf("a/u = %+v; want only a failure count", au)
	}

	// PutOverride leaves the failure state alone; ResetFailures clears it.
	if err := s.PutOverride(ctx, store.Override{App: "a", Task: "t", Enabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if o := overrideOf(t, s, "a", "t"); o.Failures.DisabledReason == "" || *o.Enabled != true {
		t.Errorf("after PutOverride: %+v; want enabled, failure state kept", o)
	}
	for _, task := range []string{"t", "none"} {
		if err := s.ResetFailures(ctx, "a", task); err != nil {
			t.Fatalf("ResetFailures(a/%s) = %v", task, err)
		}
	}
	if o := overrideOf(t, s, "a", "t"); o.Failures != (store.FailureState{}) || *o.Enabled != true {
		t.Errorf("after ResetFailures: %+v; want no failure state", o)
	}
	if list, err := s.Overrides(ctx); err != nil || len(list) != 3 {
		t.Errorf("%d overrides after ResetFailures, %v; want 3: it creates none", len(list), err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// overrideOf returns the override of app/task, failing the test if none.
func overrideOf(t *testing.T, s store.Overrides, app, task string) store.Override {
	t.Helper()
	list, err := s.Overrides(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list {
		if o.App == app && o.Task == task {
			return o
		}
	}
	t.Fatalf("no override of %s/%s", app, task)
	return store.Override{}
}
