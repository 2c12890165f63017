package main

import (
	"bufio"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// soakSample is one look at the server during the soak.
type soakSample struct {
	At         time.Duration // since the server was ready
	RSS        int64         // VmRSS of the serve process, bytes
	FDs        int           // its open descriptors
	Goroutines int           // go_goroutines from /metrics; -1 when not exported
	DB         int64         // data/cronbox.db and data/cronbox.db-wal, bytes
	Files      int64         // data/files, as the files quota counts it
	Runs       normalRuns    // the normal tasks' runs that ended so far
	Idle       int           // idle connections the client holds
}

// normalRuns counts the normal tasks' runs by how they ended.
type normalRuns struct {
	Succeeded, Failed, Skipped int
}

// flatRule says how much a figure may exceed its reference without
// counting as growth: by Tolerance of the reference, plus Slack.
type flatRule struct {
	Tolerance float64
	Slack     float64
}

// The rules of the verdict: the server's memory and descriptors at the
// end may not exceed those of minute 1 to 2 by more than a tenth, plus a
// little for noise (a run's instance, a connection).
var (
	rssRule       = flatRule{Tolerance: 0.10, Slack: 8e6}
	fdRule        = flatRule{Tolerance: 0.10, Slack: 16}
	goroutineRule = flatRule{Tolerance: 0.10, Slack: 16}
)

// soakWindows returns the windows flatness compares, for a soak that
// lasted total: the reference [refFrom, refTo), minute 1 to 2, and the
// late window [lateFrom, total], the last minute. A soak shorter than 4
// minutes compares its second quarter with its last. The windows are as
// long as each other, so that a noisy but stable figure has the same
// chance of a high sample in each.
func soakWindows(total time.Duration) (refFrom, refTo, lateFrom time.Duration) {
	l := min(time.Minute, total/4)
	return l, 2 * l, total - l
}

// flatness is a figure's reference and late maxima and whether the late
// one stays within the rule's limit.
type flatness struct {
	RefFrom, RefTo, LateFrom, LateTo time.Duration
	RefMax, LateMax, Limit           float64
	OK                               bool
	// Problem, when set, says why the figure could not be judged (and OK
	// is false).
	Problem string
}

// judgeFlat judges one figure of samples (in time order): flat when the
// maximum over the late window is at most the maximum over the reference
// window times 1+Tolerance, plus Slack. A window without a sample fails.
func judgeFlat(samples []soakSample, value func(soakSample) float64, rule flatRule) flatness {
	if len(samples) == 0 {
		return flatness{Problem: "no samples"}
	}
	total := samples[len(samples)-1].At
	f := flatness{LateTo: total, RefMax: math.Inf(-1), LateMax: math.Inf(-1)}
	f.RefFrom, f.RefTo, f.LateFrom = soakWindows(total)
	refN, lateN := 0, 0
	for _, s := range samples {
		v := value(s)
		if s.At >= f.RefFrom && s.At < f.RefTo {
			f.RefMax = max(f.RefMax, v)
			refN++
		}
		if s.At >= f.LateFrom {
			f.LateMax = max(f.LateMax, v)
			lateN++
		}
	}
	switch {
	case refN == 0:
		f.Problem = fmt.Sprintf("no sample in the reference window %s–%s: soak longer or sample more often", clock(f.RefFrom), clock(f.RefTo))
		return f
	case lateN == 0:
		f.Problem = fmt.Sprintf("no sample in the late window %s–%s", clock(f.LateFrom), clock(f.LateTo))
		return f
	}
	f.Limit = f.RefMax*(1+rule.Tolerance) + rule.Slack
	f.OK = f.LateMax <= f.Limit
	return f
}

// describe says what f found, figures formatted by unit.
func (f flatness) describe(unit func(float64) string) string {
	if f.Problem != "" {
		return f.Problem
	}
	return fmt.Sprintf("max %s over %s–%s vs %s over %s–%s (limit %s)",
		unit(f.LateMax), clock(f.LateFrom), clock(f.LateTo), unit(f.RefMax), clock(f.RefFrom), clock(f.RefTo), unit(f.Limit))
}

// soakQuotas are the apps' storage quotas summed, as GET /apps reports
// them in each app's storage: every field named <what>Quota.
type soakQuotas map[string]int64

// dbBound is what the database may hold: its size when the server was
// ready, plus every quota kept in it (all but the files quota, which
// bounds data/files).
func (q soakQuotas) dbBound(base int64) int64 {
	b := base
	for k, v := range q {
		if k != "filesQuota" {
			b += v
		}
	}
	return b
}

// soakCheck is one line of the verdict.
type soakCheck struct {
	Name   string
	OK     bool
	Detail string
}

// soakInput is what the verdict is drawn from.
type soakInput struct {
	Samples []soakSample
	Quotas  soakQuotas
	// QuotaNote, when set, says where a quota not reported by the server
	// came from.
	QuotaNote string
	// BaseDB is the database's size when the server was ready.
	BaseDB int64
	// Stopped, when set, says why the soak ended before its time.
	Stopped string
}

// judgeSoak draws the verdict: the server's memory and descriptors are
// flat (judgeFlat), the database never held more than its base and the
// quotas kept in it, data/files never more than the files quotas, and no
// normal run failed while some succeeded. A soak stopped early fails.
func judgeSoak(in soakInput) []soakCheck {
	var checks []soakCheck
	if in.Stopped != "" {
		checks = append(checks, soakCheck{"ran its full time", false, in.Stopped})
	}
	rss := judgeFlat(in.Samples, func(s soakSample) float64 { return float64(s.RSS) }, rssRule)
	checks = append(checks, soakCheck{"RSS flat", rss.OK, rss.describe(mbString)})
	fds := judgeFlat(in.Samples, func(s soakSample) float64 { return float64(s.FDs) }, fdRule)
	checks = append(checks, soakCheck{"descriptors flat", fds.OK, fds.describe(countString)})

	var dbMax, filesMax int64
	for _, s := range in.Samples {
		dbMax, filesMax = max(dbMax, s.DB), max(filesMax, s.Files)
	}
	bound := in.Quotas.dbBound(in.BaseDB)
	var kept []string
	for _, k := range slices.Sorted(maps.Keys(in.Quotas)) {
		if k != "filesQuota" {
			kept = append(kept, fmt.Sprintf("%s %s", strings.TrimSuffix(k, "Quota"), mbString(float64(in.Quotas[k]))))
		}
	}
	detail := fmt.Sprintf("max %s vs limit %s = %s at start + quotas %s", mbString(float64(dbMax)), mbString(float64(bound)),
		mbString(float64(in.BaseDB)), strings.Join(kept, " + "))
	if _, ok := in.Quotas["historyQuota"]; !ok {
		detail += " (GET /apps reports no history quota: history counts against none)"
	}
	if in.QuotaNote != "" {
		detail += " (" + in.QuotaNote + ")"
	}
	checks = append(checks, soakCheck{"database within quotas", len(in.Samples) > 0 && dbMax <= bound, detail})
	filesQuota, haveFiles := in.Quotas["filesQuota"]
	checks = append(checks, soakCheck{"files within quotas", len(in.Samples) > 0 && haveFiles && filesMax <= filesQuota,
		fmt.Sprintf("max %s vs files quotas %s", mbString(float64(filesMax)), mbString(float64(filesQuota)))})

	var last normalRuns
	if len(in.Samples) > 0 {
		last = in.Samples[len(in.Samples)-1].Runs
	}
	checks = append(checks, soakCheck{"no failed normal run", last.Failed == 0 && last.Succeeded > 0,
		fmt.Sprintf("%d succeeded, %d failed (%d skipped as overlapping, not counted)", last.Succeeded, last.Failed, last.Skipped)})
	return checks
}

func mbString(v float64) string { return fmt.Sprintf("%.1f MB", v/1e6) }

func countString(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

// clock formats d as m:ss.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// metricValue returns the value of the sample of name without labels in
// the Prometheus text exposition text.
func metricValue(text, name string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		return v, err == nil
	}
	return 0, false
}

// runRow is a run as GET /runs lists it.
type runRow struct {
	ID     int64  `json:"id"`
	App    string `json:"app"`
	Task   string `json:"task"`
	Status string `json:"status"`
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

// runCounter counts the runs that ended, by app and status, from looks at
// GET /runs (newest first, pages of runPage). Each look reads back only
// to the oldest run that had not ended at the last look, so a long soak
// costs each look about the runs since; runs a retention policy deletes
// meanwhile are counted already.
type runCounter struct {
	floor   int64          // every run with a smaller ID has ended and is counted
	counted map[int64]bool // runs at or above floor already counted
	ended   map[string]map[string]int
	last    map[string]runRow // the newest run of each app that ended, not skipped
	open    int               // runs not ended at the last look
}

// runPage is the page size the counter asks for: the API's largest.
const runPage = 1000

// maxRunPages bounds one look: 100 pages of runPage runs.
const maxRunPages = 100

func newRunCounter() *runCounter {
	return &runCounter{counted: map[int64]bool{}, ended: map[string]map[string]int{}, last: map[string]runRow{}}
}

// look reads pages from page (before: 0 for the newest, else the ID the
// page must start below) until it reaches the floor, and counts the runs
// that ended since the last look.
func (c *runCounter) look(page func(before int64) ([]runRow, error)) error {
	var before int64
	lowestOpen, highest := int64(-1), c.floor-1
	c.open = 0
	for n := 0; ; n++ {
		if n == maxRunPages {
			return fmt.Errorf("more than %d runs since the oldest one still running, run %d", maxRunPages*runPage, c.floor)
		}
		rows, err := page(before)
		if err != nil {
			return err
		}
		reached := false
		for _, r := range rows {
			if r.ID < c.floor {
				reached = true
				continue
			}
			highest = max(highest, r.ID)
			if r.Status == "running" {
				c.open++
				if lowestOpen < 0 || r.ID < lowestOpen {
					lowestOpen = r.ID
				}
				continue
			}
			if c.counted[r.ID] {
				continue
			}
			c.counted[r.ID] = true
			if c.ended[r.App] == nil {
				c.ended[r.App] = map[string]int{}
			}
			c.ended[r.App][r.Status]++
			if r.Status != "skipped" && r.ID > c.last[r.App].ID {
				c.last[r.App] = r
			}
		}
		if reached || len(rows) < runPage {
			break
		}
		before = rows[len(rows)-1].ID
	}
	floor := highest + 1
	if lowestOpen >= 0 {
		floor = lowestOpen
	}
	for id := range c.counted {
		if id < floor {
			delete(c.counted, id)
		}
	}
	c.floor = floor
	return nil
}

// normal sums the ended runs of apps: succeeded, skipped, and every other
// ending as failed.
func (c *runCounter) normal(apps []string) normalRuns {
	var n normalRuns
	for _, a := range apps {
		for st, k := range c.ended[a] {
			switch st {
			case "succeeded":
				n.Succeeded += k
			case "skipped":
				n.Skipped += k
			default:
				n.Failed += k
			}
		}
	}
	return n
}
