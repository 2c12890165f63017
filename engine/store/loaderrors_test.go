package store

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	aErrs := []LoadError{
		{App: "a", Message: "app.yaml: unknown field \"permision\"", File: "apps/a/app.yaml", Line: 7, Time: epoch.Add(-time.Minute)},
		{App: "a", Task: "cleanup", Message: "bad cron expression", File: "apps/a/config/tasks.yaml", Line: 12},
	}
	bErrs := []LoadError{{App: "b", Message: "tasks/x.wasm: not a WebAssembly module"}}
	steps := []struct {
		name string
		app  string
		errs []LoadError
		want map[string][]LoadError
		err  error
	}{
		{"set a", "a", aErrs, map[string][]LoadError{"a": aErrs}, nil},
		{"set b", "b", bErrs, map[string][]LoadError{"a": aErrs, "b": bErrs}, nil},
		{"replace a", "a", aErrs[1:], map[string][]LoadError{"a": aErrs[1:], "b": bErrs}, nil},
		{"clear a", "a", nil, map[string][]LoadError{"b": bErrs}, nil},
		{"clear unknown", "zz", nil, map[string][]LoadError{"b": bErrs}, nil},
		{"no app", "", bErrs, nil, ErrInvalid},
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
			want := map[string][]LoadError{}
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
