package schedule

import (
	"fmt"
	"strconv"
	"strings"
)

// A field is one position of a cron expression.
type field struct {
	name     string // as used in errors, e.g. "day-of-month"
	unit     string // as used in descriptions, e.g. "day"
	pos      int    // position in the six-field layout, mixed into the H hash
	min, max int    // smallest and largest value
	hashMax  int    // largest value that H and H/n may pick
	// alias, if not 0, is a second number for min: 7 for Sunday in the
	// day of week, as in crontab(5). The field then has max-min distinct
	// values, and a range that ends in min after a later start ends at
	// alias (MON-SUN is 1-7), as in cronie.
	alias    int
	names    []string // full English names of the distinct values from min on, if any
	nameKind string   // what a name is called in errors, e.g. "day name"
}

// Positions of the fields in the six-field layout.
const (
	posSecond = iota
	posMinute
	posHour
	posDom
	posMonth
	posDow
	numFields
	// posEvery is not a field: it is the hash position of @every's phase.
	posEvery = numFields
)

var (
	monthNames = []string{"January", "February", "March", "April", "May", "June",
		"July", "August", "September", "October", "November", "December"}
	dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

// fieldAt returns the definition of the field at position pos.
func fieldAt(pos int) field {
	switch pos {
	case posSecond:
		return field{name: "second", unit: "second", pos: pos, min: 0, max: 59, hashMax: 59}
	case posMinute:
		return field{name: "minute", unit: "minute", pos: pos, min: 0, max: 59, hashMax: 59}
	case posHour:
		return field{name: "hour", unit: "hour", pos: pos, min: 0, max: 23, hashMax: 23}
	case posDom:
		// H and H/n stay within 1..28 so that the task fires in every month.
		return field{name: "day-of-month", unit: "day", pos: pos, min: 1, max: 31, hashMax: 28}
	case posMonth:
		return field{name: "month", unit: "month", pos: pos, min: 1, max: 12, hashMax: 12,
			names: monthNames, nameKind: "month name"}
	default:
		// 0 and 7 are Sunday; H and H/n pick among 0..6.
		return field{name: "day-of-week", unit: "day of the week", pos: pos, min: 0, max: 7, hashMax: 6,
			alias: 7, names: dayNames, nameKind: "day name"}
	}
}

// An item is one element of a field's comma-separated list, with H resolved:
// the values lo, lo+step, lo+2·step, … up to hi.
type item struct {
	lo, hi, step int
	// star is set for * and ?, which leave a day field unrestricted.
	star bool
	// text is the item as written, or for H its resolved numeric form.
	text string
}

// size returns how many distinct values the field has (7 for the day of
// week, where 7 is 0 again).
func (f field) size() int {
	if f.alias != 0 {
		return f.max - f.min
	}
	return f.max - f.min + 1
}

// fold returns the bit set m of the field's values with the alias's bit
// moved onto min's: bit 7 of the day of week onto bit 0.
func (f field) fold(m uint64) uint64 {
	if f.alias != 0 && m&(1<<f.alias) != 0 {
		m = m&^(1<<f.alias) | 1<<f.min
	}
	return m
}

// valueName returns the full English name of value v of a named field.
func (f field) valueName(v int) string {
	return f.names[(v-f.min)%len(f.names)]
}

// fail returns a *ParseError for this field.
func (f field) fail(value, format string, args ...any) error {
	return &ParseError{Field: f.name, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// parse parses the text of one field. key is the task's identity for H.
func (f field) parse(text, key string) ([]item, error) {
	parts := strings.Split(text, ",")
	items := make([]item, 0, len(parts))
	for _, p := range parts {
		if p == "" {
			return nil, f.fail(text, "%q has an empty list element", text)
		}
		it, err := f.parseItem(p, key)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

// parseItem parses one list element: *, ?, H, H(a-b), a value or a range,
// optionally followed by /step.
func (f field) parseItem(text, key string) (item, error) {
	base, stepText, hasStep := strings.Cut(text, "/")
	step := 1
	if hasStep {
		var err error
		if step, err = f.parseStep(text, stepText); err != nil {
			return item{}, err
		}
	}
	switch {
	case base == "*" || base == "?":
		return item{lo: f.min, hi: f.max, step: step, star: true, text: text}, nil
	case base == "H" || strings.HasPrefix(base, "H("):
		return f.parseHash(base, step, hasStep, key)
	}
	lo, hi, isRange, err := f.parseRange(base)
	if err != nil {
		return item{}, err
	}
	if hasStep && !isRange {
		hi = f.max // "a/n" means "a-max/n"
	}
	return item{lo: lo, hi: hi, step: step, text: text}, nil
}

// parseStep parses the n of "/n" in item.
func (f field) parseStep(item, text string) (int, error) {
	if strings.Contains(text, "/") {
		return 0, f.fail(item, "%q has more than one /", item)
	}
	if !isDigits(text) {
		return 0, f.fail(text, "step %q is not a number", text)
	}
	n, err := strconv.Atoi(text)
	switch {
	case err != nil || n > f.size():
		return 0, f.fail(text, "step %s is above the maximum %d", text, f.size())
	case n == 0:
		return 0, f.fail(text, "step 0 must be at least 1")
	}
	return n, nil
}

// parseRange parses "a" or "a-b".
func (f field) parseRange(text string) (lo, hi int, isRange bool, err error) {
	loText, hiText, isRange := strings.Cut(text, "-")
	switch {
	case loText == "":
		return 0, 0, false, f.fail(text, "%q is missing a value", text)
	case isRange && hiText == "":
		return 0, 0, false, f.fail(text, "range %q is missing its end", text)
	case strings.Contains(hiText, "-"):
		return 0, 0, false, f.fail(text, "%q has more than one -", text)
	}
	if lo, err = f.parseValue(loText); err != nil {
		return 0, 0, false, err
	}
	if !isRange {
		return lo, lo, false, nil
	}
	if hi, err = f.parseValue(hiText); err != nil {
		return 0, 0, false, err
	}
	if f.alias != 0 && hi == f.min && lo > hi {
		hi = f.alias // MON-SUN, 5-0: through Sunday
	}
	if lo > hi {
		if f.alias != 0 {
			return 0, 0, false, f.fail(text, "range %q starts after it ends (ranges do not wrap around the week; as a list: %s,%s)",
				text, rangeText(lo, f.alias), rangeText(f.min+1, hi))
		}
		return 0, 0, false, f.fail(text, "range %q starts after it ends", text)
	}
	return lo, hi, true, nil
}

// parseValue parses a number or, for months and days of the week, a
// three-letter English name in any case.
func (f field) parseValue(text string) (int, error) {
	if !isDigits(text) {
		for i, name := range f.names {
			if strings.EqualFold(text, name[:3]) {
				return f.min + i, nil
			}
		}
		if f.names != nil {
			return 0, f.fail(text, "%q is not a %s", text, f.nameKind)
		}
		return 0, f.fail(text, "%q is not a number", text)
	}
	n, err := strconv.Atoi(text)
	switch {
	case err != nil || n > f.max:
		return 0, f.fail(text, "%s is above the maximum %d", text, f.max)
	case n < f.min:
		return 0, f.fail(text, "%s is below the minimum %d", text, f.min)
	}
	return n, nil
}

// parseHash parses H or H(a-b), with an optional step, and resolves it to
// numbers with the hash of the task's key and the field's position.
func (f field) parseHash(base string, step int, hasStep bool, key string) (item, error) {
	lo, hi := f.min, f.hashMax
	if base != "H" {
		inner, ok := strings.CutSuffix(strings.TrimPrefix(base, "H("), ")")
		if !ok || !strings.Contains(inner, "-") {
			return item{}, f.fail(base, "%q is not H or H(low-high)", base)
		}
		var err error
		if lo, hi, _, err = f.parseRange(inner); err != nil {
			return item{}, err
		}
		// H(0-7) names Sunday twice; it picks among the seven days as H does.
		hi = min(hi, lo+f.size()-1)
	}
	h := hashKey(key, f.pos)
	span := hi - lo + 1
	if !hasStep {
		v := lo + pick(h, span)
		return item{lo: v, hi: v, step: 1, text: strconv.Itoa(v)}, nil
	}
	start := lo + pick(h, min(step, span))
	return item{lo: start, hi: hi, step: step, text: fmt.Sprintf("%d-%d/%d", start, hi, step)}, nil
}

// rangeText returns "lo-hi", or "lo" if they are equal.
func rangeText(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// isDigits reports whether s is a non-empty string of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
