package schedule

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// Describe returns a schedule in English, for example
// "At minute 7 past every hour (UTC)",
// "Every 15 minutes, starting at minute 3 (UTC)",
// "At 02:30 on day 1 of the month and on Sunday (Europe/Berlin)",
// "Every 90s" or "Once at 2026-12-01 10:00 (UTC)".
// H is shown with the values it takes for key. Errors are those of [Parse].
func Describe(spec Spec, key string) (string, error) {
	loc, err := loadZone(spec.Timezone)
	if err != nil {
		return "", err
	}
	s, e, err := parse(spec, key, loc)
	if err != nil {
		return "", err
	}
	zone := " (" + loc.String() + ")"
	switch s := s.(type) {
	case *everySchedule:
		return "Every " + s.duration, nil
	case onceSchedule:
		layout := "2006-01-02 15:04"
		if s.at.Second() != 0 {
			layout += ":05"
		}
		return "Once at " + s.at.Format(layout) + zone, nil
	}
	return e.describe() + zone, nil
}

// describe returns the expression in English, without the time zone.
func (e *expr) describe() string {
	parts := []string{e.describeTime()}
	if days := e.describeDays(); days != "" {
		parts = append(parts, days)
	}
	if !e.all(posMonth) {
		parts = append(parts, "in "+e.namedPhrase(posMonth, " and "))
	}
	return strings.Join(parts, " ")
}

// describeTime describes the second, minute and hour fields.
func (e *expr) describeTime() string {
	sec, secondOK := e.single(posSecond)
	_, minuteOK := e.single(posMinute)
	secondZero := secondOK && sec == 0
	switch {
	case secondOK && minuteOK && e.singles(posHour):
		return "At " + e.clockTimes(sec)
	case secondZero && e.all(posMinute) && e.all(posHour):
		return "Every minute"
	case e.all(posSecond) && e.all(posMinute) && e.all(posHour):
		return "Every second"
	}
	if secondZero && e.all(posHour) {
		if text, ok := e.every(posMinute); ok {
			return text
		}
	}
	if e.all(posMinute) && e.all(posHour) {
		if text, ok := e.every(posSecond); ok {
			return text
		}
	}
	// The general form: "At <second> past <minute> past <hour>", without
	// the seconds when they are 0 and without the repetitions of "every"
	// at the end: "At second 30 past every minute".
	positions := []int{posSecond, posMinute, posHour}
	if secondZero {
		positions = positions[1:]
	}
	last := 0
	for i, pos := range positions {
		if !e.all(pos) {
			last = i
		}
	}
	positions = positions[:min(last+2, len(positions))]
	phrases := make([]string, len(positions))
	for i, pos := range positions {
		phrases[i] = e.phrase(pos)
	}
	return "At " + strings.Join(phrases, " past ")
}

// clockTimes lists the times of day of an expression with one second, one
// minute and a list of hours: "02:30", "09:00 and 17:00", "02:30:15".
func (e *expr) clockTimes(sec int) string {
	minute, _ := e.single(posMinute)
	var times []string
	for _, h := range values(e.mask(posHour)) {
		t := fmt.Sprintf("%02d:%02d", h, minute)
		if sec != 0 {
			t += fmt.Sprintf(":%02d", sec)
		}
		times = append(times, t)
	}
	return joinList(times, " and ")
}

// every describes a field that repeats evenly through the hour or minute,
// such as "*/15" or "3-59/15": "Every 15 minutes, starting at minute 3".
func (e *expr) every(pos int) (string, bool) {
	f := fieldAt(pos)
	items := e.fields[pos]
	if len(items) != 1 {
		return "", false
	}
	it := items[0]
	if it.step == 1 || it.hi != f.max || it.lo >= it.step || f.size()%it.step != 0 {
		return "", false
	}
	text := fmt.Sprintf("Every %d %ss", it.step, f.unit)
	if it.lo != 0 {
		text += fmt.Sprintf(", starting at %s %d", f.unit, it.lo)
	}
	return text, true
}

// describeDays describes the day-of-month and day-of-week fields, or
// returns "" when every day matches.
func (e *expr) describeDays() string {
	domAll, dowAll := e.all(posDom), e.all(posDow)
	switch {
	case e.restricted(posDom) && e.restricted(posDow):
		return "on " + e.domPhrase() + " and on " + e.namedPhrase(posDow, " and ")
	case !domAll && !dowAll:
		return "on " + e.domPhrase() + " if it is a " + joinList(e.names(posDow), " or ")
	case !domAll:
		return "on " + e.domPhrase()
	case !dowAll:
		return "on " + e.namedPhrase(posDow, " and ")
	}
	return ""
}

// domPhrase describes the day-of-month field: "day 1 of the month".
func (e *expr) domPhrase() string {
	return e.phrase(posDom) + " of the month"
}

// phrase describes a numeric field: "every minute", "minute 7",
// "minutes 0, 15 and 45", "every 2nd hour",
// "every hour from 9 through 17 and hour 20".
func (e *expr) phrase(pos int) string {
	f := fieldAt(pos)
	if e.all(pos) {
		return "every " + f.unit
	}
	if e.singles(pos) {
		vs := values(e.mask(pos))
		texts := make([]string, len(vs))
		for i, v := range vs {
			texts[i] = strconv.Itoa(v)
		}
		if len(vs) == 1 {
			return f.unit + " " + texts[0]
		}
		return f.unit + "s " + joinList(texts, " and ")
	}
	texts := make([]string, len(e.fields[pos]))
	for i, it := range e.fields[pos] {
		last := it.lo + (it.hi-it.lo)/it.step*it.step
		switch {
		case it.lo == last:
			texts[i] = fmt.Sprintf("%s %d", f.unit, it.lo)
		case it.step == 1:
			texts[i] = fmt.Sprintf("every %s from %d through %d", f.unit, it.lo, last)
		case it.lo == f.min && it.hi == f.max:
			texts[i] = fmt.Sprintf("every %s %s", ordinal(it.step), f.unit)
		default:
			texts[i] = fmt.Sprintf("every %s %s from %d through %d", ordinal(it.step), f.unit, it.lo, last)
		}
	}
	return joinList(texts, " and ")
}

// namedPhrase describes the month or day-of-week field by names, in the
// order written: "Monday through Friday", "January, April, July and
// October", "Friday through Sunday" (5-7). A day named alone is named once
// (0,7 is "Sunday").
func (e *expr) namedPhrase(pos int, conj string) string {
	f := fieldAt(pos)
	var texts []string
	var named uint64 // the values named alone so far, folded
	for _, it := range e.fields[pos] {
		switch {
		case it.step == 1 && it.hi-it.lo >= 2:
			texts = append(texts, f.valueName(it.lo)+" through "+f.valueName(it.hi))
		default:
			for v := it.lo; v <= it.hi; v += it.step {
				if bit := f.fold(1 << v); named&bit == 0 {
					named |= bit
					texts = append(texts, f.valueName(v))
				}
			}
		}
	}
	return joinList(texts, conj)
}

// names returns the names of the values of the month or day-of-week field.
func (e *expr) names(pos int) []string {
	f := fieldAt(pos)
	var names []string
	for _, v := range values(e.mask(pos)) {
		names = append(names, f.valueName(v))
	}
	return names
}

// all reports whether field pos matches every value.
func (e *expr) all(pos int) bool {
	f := fieldAt(pos)
	return e.mask(pos) == (uint64(1)<<f.size()-1)<<f.min
}

// single returns the value of field pos if it has exactly one.
func (e *expr) single(pos int) (int, bool) {
	m := e.mask(pos)
	return bits.TrailingZeros64(m), bits.OnesCount64(m) == 1
}

// singles reports whether field pos is a list of single values.
func (e *expr) singles(pos int) bool {
	for _, it := range e.fields[pos] {
		if it.lo != it.hi {
			return false
		}
	}
	return true
}

// values returns the values in the bit set m, in order.
func values(m uint64) []int {
	var vs []int
	for ; m != 0; m &= m - 1 {
		vs = append(vs, bits.TrailingZeros64(m))
	}
	return vs
}

// joinList joins "a", "b" and "c" as "a, b and c" (conj being " and ").
func joinList(texts []string, conj string) string {
	if len(texts) <= 1 {
		return strings.Join(texts, "")
	}
	return strings.Join(texts[:len(texts)-1], ", ") + conj + texts[len(texts)-1]
}

// ordinal returns "2nd", "3rd", "11th" and so on.
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}
