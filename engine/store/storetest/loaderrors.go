package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cronbox/cronbox/engine/store"
)

// LoadErrors checks an implementation of store.LoadErrors. open returns a
// new, empty store for each test, whose clock is now.
func LoadErrors(t *testing.T, open func(t *testing.T, now func() time.Time) store.LoadErrors) {
	t.Run("LoadErrors", func(t *testing.T) { loadErrorsLoadErrors(t, open) })
}

func loadErrorsLoadErrors(t *testing.T, open func(t *testing.T, now func() time.Time) store.LoadErrors) {
	t.Parallel()
	s := open(t, fixed(epoch))
	ctx := t.Context()
	aErrs := []store.LoadError{
		{App: "a", Message: "app.yaml: unknown field \"permision\"", File: "apps/a/app.yaml", Line: 7, Time: epoch.Add(-time.Minute)},
		{App: "a", Task: "cleanup", Message: "bad cron expression", File: "apps/a/config/tasks.yaml", Line: 12},
	}
	bErrs := []store.LoadError{{App: "b", Message: "tasks/x.wasm: not a WebAssembly module"}}
	steps := []struct {
		name string
		app  string
		errs []store.LoadError
		want map[string][]store.LoadError
		err  error
	}{
		{"set a", "a", aErrs, map[string][]store.LoadError{"a": aErrs}, nil},
		{"set b", "b", bErrs, map[string][]store.LoadError{"a": aErrs, "b": bErrs}, nil},
		{"replace a", "a", aErrs[1:], map[string][]store.LoadError{"a": aErrs[1:], "b": bErrs}, nil},
		{"clear a", "a", nil, map[string][]store.LoadError{"b": bErrs}, nil},
		{"clear unknown", "zz", nil, map[string][]store.LoadError{"b": bErrs}, nil},
		{"no app", "", bErrs, nil, store.ErrInvalid},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.SetLoadErrors(t.Context(), tt.app, tt.errs); !errors.Is(err, tt.err) {
				t.Fatalf("SetLoadErrors = %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				return
			}
			got, err := s.LoadErrors(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]store.LoadError{}
			for app, errs := range tt.want {
				for _, e := range errs {
					if e.Time.IsZero() {
						e.Time = epoch // the store's clock
					}
					want[app] = append(want[app], e)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("LoadErrors =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}
