package schedule

import (
	"fmt"
	"math/bits"
	"strings"
	"time"
)

// expr is a parsed cron expression: six fields, H resolved.
type expr struct {
	fields [numFields][]item
	// seconds is set when the expression was written with a seconds field.
	seconds bool
	// text is the expression with H resolved, as String returns it.
	text string
}

// parseExpr parses a five- or six-field cron expression.
func parseExpr(text, key string) (*expr, error) {
	words := strings.Fields(text)
	e := &expr{seconds: len(words) == 6}
	switch len(words) {
	case 5:
		words = append([]string{"0"}, words...)
	case 6:
	default:
		return nil, &ParseError{Value: text,
			Reason: fmt.Sprintf("expected 5 or 6 fields, found %d in %q", len(words), text)}
	}
	resolved := make([]string, 0, numFields)
	for pos, w := range words {
		items, err := fieldAt(pos).parse(w, key)
		if err != nil {
			return nil, err
		}
		e.fields[pos] = items
		if pos != posSecond || e.seconds {
			resolved = append(resolved, joinItems(items))
		}
	}
	e.text = strings.Join(resolved, " ")
	if err := e.checkDays(); err != nil {
		return nil, err
	}
	return e, nil
}

// joinItems returns the resolved text of a field.
func joinItems(items []item) string {
	texts := make([]string, len(items))
	for i, it := range items {
		texts[i] = it.text
	}
	return strings.Join(texts, ",")
}

// mask returns the bit set of the values of field pos: bit v is set when v
// is one of them. Day of week 7 is bit 0, Sunday.
func (e *expr) mask(pos int) uint64 {
	var m uint64
	for _, it := range e.fields[pos] {
		for v := it.lo; v <= it.hi; v += it.step {
			m |= 1 << v
		}
	}
	return fieldAt(pos).fold(m)
}

// restricted reports whether the day field pos restricts the days, in the
// sense of crontab(5): it contains neither * nor ?.
func (e *expr) restricted(pos int) bool {
	for _, it := range e.fields[pos] {
		if it.star {
			return false
		}
	}
	return true
}

// checkDays rejects an expression that can never fire because its days of
// the month occur in none of its months (30 February, 31 April). That can
// only happen when the day of the month alone decides the day; otherwise
// every weekday occurs in every month, and every day of the month on every
// weekday over the years.
func (e *expr) checkDays() error {
	if !e.restricted(posDom) || e.restricted(posDow) {
		return nil
	}
	dom, months := uint32(e.mask(posDom)), e.mask(posMonth)
	for m := 1; m <= 12; m++ {
		if months&(1<<m) != 0 && dom&validDays(daysIn(2000, m)) != 0 { // 2000 is a leap year
			return nil
		}
	}
	text := joinItems(e.fields[posDom])
	return &ParseError{Field: "day-of-month", Value: text,
		Reason: fmt.Sprintf("%q never occurs in month %q", text, joinItems(e.fields[posMonth]))}
}

// cronSchedule is a compiled cron expression. It is small (about 100 bytes)
// because the engine holds one per task.
type cronSchedule struct {
	second, minute, hour uint64 // bit v set: value v matches
	dom                  uint32 // bits 1..31
	month                uint16 // bits 1..12
	// dowDays[w] holds the days of a month (bits 1..31) that fall on one of
	// the expression's weekdays, for a month whose first day is weekday w.
	dowDays [7]uint32
	// dayOr is set when both day fields are restricted: a day matches when
	// either field matches (crontab(5)); otherwise both must match.
	dayOr bool
	// everyHour is set when the hour field matches all 24 hours. Such
	// schedules follow elapsed time across DST changes; the others are
	// wall-clock appointments (see the package documentation).
	everyHour bool
	loc       *time.Location
	text      string
}

// compile turns a parsed expression into a schedule in loc.
func (e *expr) compile(loc *time.Location) *cronSchedule {
	c := &cronSchedule{
		second:    e.mask(posSecond),
		minute:    e.mask(posMinute),
		hour:      e.mask(posHour),
		dom:       uint32(e.mask(posDom)),
		month:     uint16(e.mask(posMonth)),
		dayOr:     e.restricted(posDom) && e.restricted(posDow),
		everyHour: e.mask(posHour) == 1<<24-1,
		loc:       loc,
		text:      e.text,
	}
	dow := e.mask(posDow)
	for first := range 7 {
		for day := 1; day <= 31; day++ {
			if dow&(1<<((first+day-1)%7)) != 0 {
				c.dowDays[first] |= 1 << day
			}
		}
	}
	return c
}

// String returns the expression with H resolved.
func (c *cronSchedule) String() string { return c.text }

const (
	secondsPerDay = 24 * 60 * 60
	// maxUnix is the last second of year 9999; Next finds nothing after it.
	maxUnix = 253402300799
	// searchMonths bounds the search for a matching day: the Gregorian
	// calendar repeats every 400 years, so what is not found within them
	// never occurs. (Parse rejects such expressions; this is a backstop.)
	searchMonths = 400*12 + 1
)

// Next returns the first fire time strictly after t, in the schedule's
// location, at a whole second.
//
// It searches wall-clock time within one UTC-offset period of the location
// at a time (one step in the common case), applying the DST rules of the
// package documentation where a period ends.
func (c *cronSchedule) Next(t time.Time) time.Time {
	from := t.Unix() + 1 // fire times are whole seconds
	if from > maxUnix {
		return time.Time{}
	}
	if c.loc == time.UTC {
		w, ok := c.nextWall(from)
		if !ok {
			return time.Time{}
		}
		return time.Unix(w, 0).UTC()
	}
	prevOff, havePrev := 0, false
	for {
		at := time.Unix(from, 0).In(c.loc)
		_, off := at.Zone()
		start, end := at.ZoneBounds()
		if !end.IsZero() && !end.After(at) {
			// ZoneBounds ends a period that a zone's TZ rule computes a day
			// early in leap years, before the instant asked about
			// (golang/go#81583). Go ends such periods with the UTC year.
			end = time.Date(at.UTC().Year()+1, time.January, 1, 0, 0, 0, 0, time.UTC)
		}
		earliest := from + int64(off) // earliest wall time to consider
		if !c.everyHour && !start.IsZero() && from-start.Unix() < 2*secondsPerDay {
			zs := start.Unix()
			if !havePrev {
				_, prevOff = time.Unix(zs-1, 0).In(c.loc).Zone()
			}
			switch {
			case prevOff > off:
				// Fall back: the wall times from zs+off to zs+prevOff
				// occurred before zs and fired then.
				earliest = max(earliest, zs+int64(prevOff))
			case prevOff < off && from == zs:
				// Spring forward: wall times from zs+prevOff to zs+off
				// do not exist; if one matches, fire at zs, the first
				// instant after the gap.
				if w, ok := c.nextWall(zs + int64(prevOff)); ok && w < zs+int64(off) {
					return at
				}
			}
		}
		w, ok := c.nextWall(earliest)
		if !ok {
			return time.Time{}
		}
		if fire := w - int64(off); end.IsZero() || fire < end.Unix() {
			return time.Unix(fire, 0).In(c.loc)
		}
		// The match lies beyond this period: search again from its end
		// with the next period's offset.
		from, prevOff, havePrev = end.Unix(), off, true
	}
}

// nextWall returns the first matching wall-clock time at or after w. Wall
// times are counted in seconds like Unix times but on the clock of the
// schedule's location, as if it were UTC.
func (c *cronSchedule) nextWall(w int64) (int64, bool) {
	tm := time.Unix(w, 0).UTC()
	y, mon, d := tm.Date()
	hh, mm, ss := tm.Clock()
	m := int(mon)
	first := floorDiv(w, secondsPerDay) - int64(d-1) // day number of the month's 1st
	weekday := (int(tm.Weekday()) - (d-1)%7 + 7) % 7 // weekday of the month's 1st
	for range searchMonths {
		n := daysIn(y, m)
		if c.month&(1<<m) != 0 {
			days := c.days(weekday, n)
			for matching := days >> d << d; matching != 0; matching = days >> d << d {
				if next := bits.TrailingZeros32(matching); next != d {
					d, hh, mm, ss = next, 0, 0, 0
				}
				if sec, ok := c.timeOfDay(hh, mm, ss); ok {
					return (first+int64(d-1))*secondsPerDay + int64(sec), true
				}
				d, hh, mm, ss = d+1, 0, 0, 0
			}
		}
		first += int64(n)
		weekday = (weekday + n) % 7
		if m++; m > 12 {
			y, m = y+1, 1
		}
		d, hh, mm, ss = 1, 0, 0, 0
	}
	return 0, false
}

// days returns the matching days (bits 1..n) of a month of n days whose
// first day is the given weekday.
func (c *cronSchedule) days(weekday, n int) uint32 {
	dow := c.dowDays[weekday]
	if c.dayOr {
		return (c.dom | dow) & validDays(n)
	}
	return c.dom & dow & validDays(n)
}

// timeOfDay returns the first matching time of day at or after hh:mm:ss, in
// seconds after midnight, or false if the rest of the day has none.
func (c *cronSchedule) timeOfDay(hh, mm, ss int) (int, bool) {
	for {
		hours := c.hour >> hh << hh
		if hours == 0 {
			return 0, false
		}
		if h := bits.TrailingZeros64(hours); h != hh {
			hh, mm, ss = h, 0, 0
		}
		minutes := c.minute >> mm << mm
		if minutes == 0 {
			hh, mm, ss = hh+1, 0, 0
			continue
		}
		if m := bits.TrailingZeros64(minutes); m != mm {
			mm, ss = m, 0
		}
		seconds := c.second >> ss << ss
		if seconds == 0 {
			mm, ss = mm+1, 0
			continue
		}
		return hh*3600 + mm*60 + bits.TrailingZeros64(seconds), true
	}
}

// validDays returns bits 1..n.
func validDays(n int) uint32 { return 1<<(n+1) - 2 }

// daysIn returns the number of days of month m (1..12) of year y.
func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// floorDiv returns a/b rounded toward negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
