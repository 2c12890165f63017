package sdk

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Level is the severity of a log line, numbered as in the ABI.
type Level int32

// The log levels of the ABI.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// String returns "debug", "info", "warn" or "error".
func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// Log records the log line msg at the given level for the run. Messages
// longer than 64 KiB are truncated, and invalid UTF-8 is replaced. The error
// is [ErrInvalid] for a level other than the four defined ones.
func Log(level Level, msg string) error {
	return check("log", hostLog(level, msg))
}

// logger logs through the host; it is never modified.
var logger = slog.New(handler{})

// Logger returns a logger that writes through the host's log function. Its
// lines are formatted as those of [Info]; records below [slog.LevelInfo] are
// logged at [LevelDebug], below [slog.LevelWarn] at [LevelInfo], below
// [slog.LevelError] at [LevelWarn], and the others at [LevelError].
func Logger() *slog.Logger { return logger }

// Debug logs msg with the key/value pairs args at [LevelDebug]. See [Info]
// for the format.
func Debug(msg string, args ...any) { logger.Debug(msg, args...) }

// Info logs msg with the key/value pairs args at [LevelInfo]. Arguments are
// paired as by [slog.Logger.Info] and appended to msg as key=value, quoted
// like a Go string when needed:
//
//	sdk.Info("archived", "files", 12, "dir", "/data/old logs")
//	// archived files=12 dir="/data/old logs"
//
// Attributes of a group are written as group.key=value; times in RFC 3339
// format.
func Info(msg string, args ...any) { logger.Info(msg, args...) }

// Warn logs msg with the key/value pairs args at [LevelWarn]. See [Info]
// for the format.
func Warn(msg string, args ...any) { logger.Warn(msg, args...) }

// Error logs msg with the key/value pairs args at [LevelError]. See [Info]
// for the format.
func Error(msg string, args ...any) { logger.Error(msg, args...) }

// handler is the [slog.Handler] of [Logger]: it formats a record into one
// line and logs it through the host.
type handler struct {
	attrs  string // attributes added by WithAttrs, formatted, each after a space
	prefix string // the open groups, as "a.b."
}

var _ slog.Handler = handler{}

// Enabled reports true: the host decides which levels it keeps.
func (handler) Enabled(context.Context, slog.Level) bool { return true }

func (h handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.prefix, a)
		return true
	})
	return Log(levelOf(r.Level), b.String())
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		appendAttr(&b, h.prefix, a)
	}
	h.attrs = b.String()
	return h
}

func (h handler) WithGroup(name string) slog.Handler {
	if name != "" {
		h.prefix += name + "."
	}
	return h
}

func levelOf(l slog.Level) Level {
	switch {
	case l < slog.LevelInfo:
		return LevelDebug
	case l < slog.LevelWarn:
		return LevelInfo
	case l < slog.LevelError:
		return LevelWarn
	}
	return LevelError
}

// appendAttr writes a to b as " key=value", following the rules of
// [slog.Handler]: empty attributes and groups are left out, and the
// attributes of a group without a key are inlined.
func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	var val string
	switch a.Value.Kind() {
	case slog.KindGroup:
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			appendAttr(b, prefix, g)
		}
		return
	case slog.KindTime:
		val = a.Value.Time().Format(time.RFC3339Nano)
	default:
		val = a.Value.String()
	}
	b.WriteByte(' ')
	b.WriteString(quote(prefix + a.Key))
	b.WriteByte('=')
	b.WriteString(quote(val))
}

// quote returns s, quoted as a Go string literal when it is empty or holds
// a space, '=', '"' or a character that is not printable.
func quote(s string) string {
	if s == "" || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
		return r == ' ' || r == '=' || r == '"' || !unicode.IsPrint(r)
	}) {
		return strconv.Quote(s)
	}
	return s
}
