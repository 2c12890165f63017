package schedule

import (
	"strconv"
	"strings"
	"testing"
	"time"

	robfig "github.com/robfig/cron/v3"
)

// robfigStar is the bit that robfig/cron sets in a field written with * or ?.
const robfigStar = 1 << 63

// robfigDow returns cron, a String with H resolved, with the items of its
// day-of-week field that robfig/cron reads differently, or not at all,
// written as lists of their days: robfig's day of week ends at 6, so it
// refuses 7 (5-7, 1,7) and MON-SUN, and reads N/step as N-6/step (3/2 as
// Wednesday and Friday, not Sunday too). Stars stay, since */n has the
// same days either way.
func robfigDow(t *testing.T, cron string) string {
	t.Helper()
	words := strings.Fields(cron)
	if len(words) < 5 {
		return cron // a descriptor
	}
	f := fieldAt(posDow)
	items := strings.Split(words[len(words)-1], ",")
	for i, text := range items {
		it, err := f.parseItem(text, "")
		if err != nil {
			t.Fatalf("%q: %v", cron, err)
		}
		if it.star || it.hi < 7 {
			continue
		}
		var days []string
		for v := it.lo; v <= it.hi; v += it.step {
			days = append(days, strconv.Itoa(v%7))
		}
		items[i] = strings.Join(days, ",")
	}
	words[len(words)-1] = strings.Join(items, ",")
	return strings.Join(words, " ")
}

// compareRobfig checks a schedule against robfig/cron's reading of its
// String (which has no H; see robfigDow for the day of week): the same
// values in every field and, in UTC, where robfig's DST handling plays no
// part, the same fire times whenever both apply the same day rule (robfig
// counts */2 in a day field as restricted; crontab(5) and this package do
// not).
func compareRobfig(t *testing.T, cron string, c *cronSchedule) {
	t.Helper()
	p := robfig.NewParser(robfig.SecondOptional | robfig.Minute | robfig.Hour |
		robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)
	cron = robfigDow(t, cron)
	rs, err := p.Parse(cron)
	if err != nil {
		t.Fatalf("robfig rejects %q, which Parse accepts: %v", cron, err)
	}
	r := rs.(*robfig.SpecSchedule)
	r.Location = time.UTC
	ours := &cronSchedule{
		second: r.Second &^ robfigStar,
		minute: r.Minute &^ robfigStar,
		hour:   r.Hour &^ robfigStar,
		dom:    uint32(r.Dom &^ robfigStar),
		month:  uint16(r.Month &^ robfigStar),
	}
	if ours.second != c.second || ours.minute != c.minute || ours.hour != c.hour ||
		ours.dom != c.dom || ours.month != c.month {
		t.Fatalf("%q: robfig's fields %+v differ from %+v", cron, ours, c)
	}
	for first := range 7 {
		var days uint32
		for day := 1; day <= 31; day++ {
			if r.Dow&(1<<((first+day-1)%7)) != 0 {
				days |= 1 << day
			}
		}
		if days != c.dowDays[first] {
			t.Fatalf("%q: robfig's day-of-week %b differs", cron, r.Dow)
		}
	}
	if robfigOr := r.Dom&robfigStar == 0 && r.Dow&robfigStar == 0; robfigOr != c.dayOr {
		return
	}
	utc := *c
	utc.loc = time.UTC
	at := time.Date(2026, 1, 30, 12, 0, 0, 0, time.UTC)
	for range 5 {
		want, got := r.Next(at), utc.Next(at)
		if want.IsZero() {
			return // robfig gives up after five years
		}
		if !got.Equal(want) {
			t.Fatalf("%q: Next(%v) = %v, robfig says %v", cron, at, got, want)
		}
		at = got
	}
}

func TestMatchesRobfig(t *testing.T) {
	t.Parallel()
	for _, cron := range []string{
		"* * * * *", "*/5 * * * *", "5/20 * * * *", "10-30/10 1-5 * * *",
		"0,15,45 * * * *", "0 12 * JAN,mar sun", "0 9 * * MON-FRI", "0 0 31 * *",
		"0 0 29 2 *", "0 0 13 * FRI", "0 0 */2 * MON", "0 0 ? * MON", "30 */10 * * * *",
		"? ? ? ? ?", "*/1 * * * *", "0-5/10 * * * *", "@yearly", "@weekly", "@hourly",
		"0 0 1-31 * 1", "0 0 1,* * MON", "@Daily", "H/15 H(9-17) * * *",
		"0 0 * * 7", "0 0 * * 5-7", "0 0 13 * 1,7", "0 0 * * 3/2", "0 0 * * */2",
		"0 0 * * MON-SUN", "0 0 1 * FRI-SUN/2", "0 0 */2 * 6-7,*/3",
	} {
		t.Run(cron, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(Spec{Cron: cron}, "")
			if err != nil {
				t.Fatal(err)
			}
			compareRobfig(t, s.String(), s.(*cronSchedule))
		})
	}
}
