package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cronbox/cronbox/internal/bytesize"
)

// checker collects the problems of one definition (app.yaml, one task, one
// override), placing each where its field was written.
type checker struct {
	file   string
	prefix string              // path of the definition: "tasks[1]", "" for app.yaml
	pos    map[string]position // field path → position, from the decoder
	errs   []Problem
	warns  []Problem
}

// path returns the full path of field, which is relative to the
// definition.
func (c *checker) path(field string) string {
	switch {
	case field == "":
		return c.prefix
	case c.prefix == "":
		return field
	}
	return c.prefix + "." + field
}

// at returns where path was written, or where its closest enclosing value
// was when it was not (a default, a missing field).
func (c *checker) at(path string) position {
	for {
		if p, ok := c.pos[path]; ok {
			return p
		}
		if path == "" {
			return position{}
		}
		path = path[:max(strings.LastIndexAny(path, ".["), 0)]
	}
}

func (c *checker) problem(field, format string, args []any) Problem {
	path := c.path(field)
	p := c.at(path)
	return Problem{File: c.file, Line: p.line, Column: p.column, Field: path, Message: fmt.Sprintf(format, args...)}
}

func (c *checker) errorf(field, format string, args ...any) {
	c.errs = append(c.errs, c.problem(field, format, args))
}

func (c *checker) warnf(field, format string, args ...any) {
	c.warns = append(c.warns, c.problem(field, format, args))
}

// size parses a size such as 64MiB.
func (c *checker) size(field, s string) (int64, bool) {
	n, err := bytesize.Parse(s)
	if err != nil {
		c.errorf(field, "%s is not a size; want a number with an optional unit such as 512KiB or 64MiB", quote(s))
		return 0, false
	}
	return n, true
}

// duration parses a positive Go duration such as 30s or 1h30m or, when
// seconds is true, a whole number of seconds.
func (c *checker) duration(field, s string, seconds bool) (time.Duration, bool) {
	hint := "want a duration such as 30s, 5m or 1h30m"
	if seconds {
		hint += ", or a whole number of seconds"
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n <= int64(maxDuration/time.Second) {
			return time.Duration(n) * time.Second, true
		}
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		c.errorf(field, "%s is not a duration; %s", quote(s), hint)
		return 0, false
	case d <= 0:
		c.errorf(field, "%s is not positive; %s", quote(s), hint)
		return 0, false
	}
	return d, true
}

// maxDuration bounds every duration of a task definition, so that sums
// and doublings of them cannot overflow.
const maxDuration = 100 * 365 * 24 * time.Hour

// problemf records an error that wraps sentinel.
func (c *checker) problemf(field string, sentinel error, format string, args ...any) {
	p := c.problem(field, format, args)
	p.Err = sentinel
	c.errs = append(c.errs, p)
}
