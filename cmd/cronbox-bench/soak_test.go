package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// series returns samples every 5 s up to total, with RSS and descriptors
// from f.
func series(total time.Duration, f func(at time.Duration) float64) []soakSample {
	var out []soakSample
	for at := 5 * time.Second; at <= total; at += 5 * time.Second {
		v := f(at)
		out = append(out, soakSample{At: at, RSS: int64(v), FDs: int(v), Goroutines: -1})
	}
	return out
}

func rssOf(s soakSample) float64 { return float64(s.RSS) }

func TestSoakWindows(t *testing.T) {
	for _, c := range []struct{ total, refFrom, refTo, lateFrom time.Duration }{
		{10 * time.Minute, time.Minute, 2 * time.Minute, 9 * time.Minute},
		{4 * time.Minute, time.Minute, 2 * time.Minute, 3 * time.Minute},
		{3 * time.Minute, 45 * time.Second, 90 * time.Second, 135 * time.Second},
		{time.Minute, 15 * time.Second, 30 * time.Second, 45 * time.Second},
	} {
		f, to, l := soakWindows(c.total)
		if f != c.refFrom || to != c.refTo || l != c.lateFrom {
			t.Errorf("soakWindows(%s) = %s, %s, %s; want %s, %s, %s", c.total, f, to, l, c.refFrom, c.refTo, c.lateFrom)
		}
	}
}

func TestJudgeFlat(t *testing.T) {
	rule := flatRule{Tolerance: 0.25, Slack: 5} // exact in binary, for the boundary cases
	const mb = 1e6
	for _, c := range []struct {
		name            string
		samples         []soakSample
		ok              bool
		refMax, lateMax float64
		problem         string
	}{
		{
			name: "steady with noise",
			samples: series(10*time.Minute, func(at time.Duration) float64 {
				return 100*mb + float64(at/time.Second%7)*mb // within 6 MB
			}),
			ok: true, refMax: 106 * mb, lateMax: 106 * mb,
		},
		{
			name: "growing after the first minute",
			samples: series(10*time.Minute, func(at time.Duration) float64 {
				return 100*mb + float64(at/time.Second)*0.5*mb // 30 MB a minute
			}),
			ok: false, refMax: 100*mb + 115*0.5*mb, lateMax: 400 * mb,
		},
		{
			name: "a start-up peak in minute 0 is not the reference",
			samples: series(10*time.Minute, func(at time.Duration) float64 {
				if at < 30*time.Second {
					return 500 * mb
				}
				return 100 * mb
			}),
			ok: true, refMax: 100 * mb, lateMax: 100 * mb,
		},
		{
			name: "a late value just within the limit",
			samples: series(10*time.Minute, func(at time.Duration) float64 {
				if at == 10*time.Minute {
					return 125*mb + 5
				}
				return 100 * mb
			}),
			ok: true, refMax: 100 * mb, lateMax: 125*mb + 5,
		},
		{
			name: "a late value just past the limit",
			samples: series(10*time.Minute, func(at time.Duration) float64 {
				if at == 9*time.Minute+30*time.Second {
					return 125*mb + 6
				}
				return 100 * mb
			}),
			ok: false, refMax: 100 * mb, lateMax: 125*mb + 6,
		},
		{
			name: "a burst in the middle that passes is not growth",
			samples: series(10*time.Minute, func(at time.Duration) float64 {
				if at > 4*time.Minute && at < 6*time.Minute {
					return 300 * mb
				}
				return 100 * mb
			}),
			ok: true, refMax: 100 * mb, lateMax: 100 * mb,
		},
		{
			name: "one minute: the second quarter against the last",
			samples: series(time.Minute, func(at time.Duration) float64 {
				return float64(at / time.Second) // 5, 10, ... 60
			}),
			ok: false, refMax: 25, lateMax: 60,
		},
		{
			name:    "no sample in the reference window",
			samples: []soakSample{{At: 5 * time.Second, RSS: 1}, {At: 10 * time.Minute, RSS: 1}},
			problem: "no sample in the reference window 1:00–2:00",
		},
		{name: "no samples", problem: "no samples"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := judgeFlat(c.samples, rssOf, rule)
			if c.problem != "" {
				if f.OK || !strings.Contains(f.Problem, c.problem) {
					t.Fatalf("judgeFlat = %+v, want not OK with problem %q", f, c.problem)
				}
				return
			}
			if f.Problem != "" || f.OK != c.ok || f.RefMax != c.refMax || f.LateMax != c.lateMax {
				t.Errorf("judgeFlat = %+v, want OK %v, refMax %v, lateMax %v", f, c.ok, c.refMax, c.lateMax)
			}
			if want := c.refMax*1.25 + 5; f.Limit != want {
				t.Errorf("limit %v, want %v", f.Limit, want)
			}
		})
	}
}

func TestJudgeSoak(t *testing.T) {
	const mb = 1 << 20
	good := func() soakInput {
		s := series(10*time.Minute, func(time.Duration) float64 { return 100 })
		for i := range s {
			s[i].DB = 50 * mb
			s[i].Files = 10 * mb
			s[i].Runs = normalRuns{Succeeded: 10 * (i + 1), Skipped: 1}
		}
		return soakInput{
			Samples: s, BaseDB: 1 * mb,
			Quotas: soakQuotas{"kvQuota": 9 * mb, "filesQuota": 24 * mb, "historyQuota": 144 * mb},
		}
	}
	failing := func(checks []soakCheck) []string {
		var out []string
		for _, c := range checks {
			if !c.OK {
				out = append(out, c.Name)
			}
		}
		return out
	}
	for _, c := range []struct {
		name   string
		adjust func(*soakInput)
		fail   []string
		detail string // in some check's detail
	}{
		{name: "all within", adjust: func(*soakInput) {}, detail: "history 151.0 MB"},
		{
			name: "no history quota: history counts against none",
			adjust: func(in *soakInput) {
				delete(in.Quotas, "historyQuota")
			},
			fail: []string{"database within quotas"}, detail: "reports no history quota",
		},
		{
			name: "database one byte past base and quotas",
			adjust: func(in *soakInput) {
				in.Samples[3].DB = 1*mb + 9*mb + 144*mb + 1
			},
			fail: []string{"database within quotas"},
		},
		{
			name: "database exactly at base and quotas",
			adjust: func(in *soakInput) {
				in.Samples[3].DB = 1*mb + 9*mb + 144*mb
			},
		},
		{
			name: "files past their quotas",
			adjust: func(in *soakInput) {
				in.Samples[len(in.Samples)-1].Files = 24*mb + 1
			},
			fail: []string{"files within quotas"},
		},
		{
			name: "a failed normal run",
			adjust: func(in *soakInput) {
				in.Samples[len(in.Samples)-1].Runs.Failed = 1
			},
			fail: []string{"no failed normal run"}, detail: "1 failed",
		},
		{
			name: "no normal run succeeded",
			adjust: func(in *soakInput) {
				for i := range in.Samples {
					in.Samples[i].Runs = normalRuns{}
				}
			},
			fail: []string{"no failed normal run"},
		},
		{
			name: "RSS and descriptors growing",
			adjust: func(in *soakInput) {
				for i := range in.Samples {
					in.Samples[i].RSS = int64(100e6 + 1e6*i)
					in.Samples[i].FDs = 100 + i
				}
			},
			fail: []string{"RSS flat", "descriptors flat"},
		},
		{
			name:   "stopped early",
			adjust: func(in *soakInput) { in.Stopped = "the server exited" },
			fail:   []string{"ran its full time"},
		},
		{
			name:   "no samples",
			adjust: func(in *soakInput) { in.Samples = nil },
			fail:   []string{"RSS flat", "descriptors flat", "database within quotas", "files within quotas", "no failed normal run"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := good()
			c.adjust(&in)
			checks := judgeSoak(in)
			if got := failing(checks); fmt.Sprint(got) != fmt.Sprint(c.fail) {
				t.Errorf("failing checks %q, want %q; checks: %+v", got, c.fail, checks)
			}
			if c.detail != "" && !strings.Contains(fmt.Sprint(checks), c.detail) {
				t.Errorf("no check says %q: %+v", c.detail, checks)
			}
		})
	}
}

// fakeRuns is GET /runs over a list of runs, newest first, counting the
// pages asked.
type fakeRuns struct {
	runs  []runRow // by ID ascending
	pages int
}

func (f *fakeRuns) add(app, status string) int64 {
	id := int64(len(f.runs) + 1)
	f.runs = append(f.runs, runRow{ID: id, App: app, Status: status})
	return id
}

func (f *fakeRuns) set(id int64, status string) { f.runs[id-1].Status = status }

func (f *fakeRuns) page(before int64) ([]runRow, error) {
	f.pages++
	var out []runRow
	for i := len(f.runs) - 1; i >= 0 && len(out) < runPage; i-- {
		if before == 0 || f.runs[i].ID < before {
			out = append(out, f.runs[i])
		}
	}
	return out, nil
}

func TestRunCounter(t *testing.T) {
	f := &fakeRuns{}
	c := newRunCounter()
	for i := range 2500 {
		switch {
		case i%100 == 7:
			f.add("a", "failed")
		case i%10 == 3:
			f.add("a", "skipped")
		default:
			f.add([]string{"a", "b"}[i%2], "succeeded")
		}
	}
	open := f.add("a", "running")
	f.add("b", "succeeded")
	if err := c.look(f.page); err != nil {
		t.Fatal(err)
	}
	// 2502 runs: a's 1250 succeeded, 25 failed, 250 skipped and 1
	// running; b's 976 succeeded.
	if got, want := c.normal([]string{"a"}), (normalRuns{Succeeded: 1250, Failed: 25, Skipped: 250}); got != want {
		t.Errorf("after the first look, a: %+v, want %+v", got, want)
	}
	if got, want := c.normal([]string{"b"}), (normalRuns{Succeeded: 976}); got != want {
		t.Errorf("after the first look, b: %+v, want %+v", got, want)
	}
	if f.pages != 3 || c.open != 1 || c.floor != open {
		t.Errorf("first look: %d pages, %d open, floor %d; want 3 pages, 1 open, floor %d", f.pages, c.open, c.floor, open)
	}

	// The running run ends, a new one fails: counted once each, reading
	// one page from the floor.
	f.set(open, "timed_out")
	f.add("a", "failed")
	f.pages = 0
	if err := c.look(f.page); err != nil {
		t.Fatal(err)
	}
	if got, want := c.normal([]string{"a", "b"}), (normalRuns{Succeeded: 1250 + 976, Failed: 27, Skipped: 250}); got != want {
		t.Errorf("after the second look: %+v, want %+v", got, want)
	}
	if f.pages != 1 || c.open != 0 || c.floor != int64(len(f.runs))+1 || len(c.counted) != 0 {
		t.Errorf("second look: %d pages, %d open, floor %d, %d remembered; want 1, 0, %d, 0", f.pages, c.open, c.floor, len(c.counted), len(f.runs)+1)
	}
	if last := c.last["a"]; last.ID != int64(len(f.runs)) || last.Status != "failed" {
		t.Errorf("a's last run %+v, want the newest, failed", last)
	}

	// Nothing new: nothing changes.
	if err := c.look(f.page); err != nil {
		t.Fatal(err)
	}
	if got, want := c.normal([]string{"a", "b"}), (normalRuns{Succeeded: 1250 + 976, Failed: 27, Skipped: 250}); got != want {
		t.Errorf("after a look at nothing new: %+v, want %+v", got, want)
	}
}

func TestRunCounterBounded(t *testing.T) {
	f := &fakeRuns{}
	f.add("a", "running")
	c := newRunCounter()
	if err := c.look(f.page); err != nil {
		t.Fatal(err)
	}
	for range maxRunPages * runPage {
		f.add("a", "succeeded")
	}
	f.pages = 0
	if err := c.look(f.page); err == nil || f.pages != maxRunPages {
		t.Errorf("a look past %d pages: err %v after %d pages; want an error after %d", maxRunPages, err, f.pages, maxRunPages)
	}
}

func TestMetricValue(t *testing.T) {
	text := "# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\n" +
		"go_goroutines_extra 7\ncronbox_x{app=\"go_goroutines\"} 3\ngo_goroutines 42\nprocess_open_fds 1e+03\n"
	if v, ok := metricValue(text, "go_goroutines"); !ok || v != 42 {
		t.Errorf("go_goroutines = %v, %v; want 42", v, ok)
	}
	if v, ok := metricValue(text, "process_open_fds"); !ok || v != 1000 {
		t.Errorf("process_open_fds = %v, %v; want 1000", v, ok)
	}
	if _, ok := metricValue(text, "go_threads"); ok {
		t.Error("found go_threads, which text lacks")
	}
}
