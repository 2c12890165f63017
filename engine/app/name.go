package app

import (
	"errors"
	"fmt"
	"strings"
)

// MaxNameLength is the length of the longest app or task name.
const MaxNameLength = 64

// ErrInvalidName is wrapped by the errors of ValidName.
var ErrInvalidName = errors.New("invalid name")

// ValidName reports whether s may name an app or a task: 1 to 64 ASCII
// letters, digits, '-' and '_', starting with a letter or a digit. Such a
// name is safe in a path, a URL and a log line as it is.
func ValidName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(s) > MaxNameLength:
		return fmt.Errorf("%w %s: longer than %d characters", ErrInvalidName, quote(s), MaxNameLength)
	case !isAlnum(s[0]):
		return fmt.Errorf("%w %q: must start with a letter or a digit", ErrInvalidName, s)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r >= 0x80 || !isAlnum(byte(r)) && r != '-' && r != '_' }); i >= 0 {
		return fmt.Errorf("%w %q: only letters, digits, '-' and '_' are allowed, not %q", ErrInvalidName, s, []rune(s[i:])[0])
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// maxEnvName is the length of the longest environment variable name.
const maxEnvName = 256

// validEnvName reports whether s may name an environment variable: a
// letter or '_', then letters, digits and '_', at most 256 in all.
func validEnvName(s string) error {
	switch {
	case s == "":
		return errors.New("an environment variable name must not be empty")
	case len(s) > maxEnvName:
		return fmt.Errorf("environment variable name %s is longer than %d characters", quote(s), maxEnvName)
	case '0' <= s[0] && s[0] <= '9':
		return fmt.Errorf("environment variable name %q must not start with a digit", s)
	}
	for _, r := range s {
		if r >= 0x80 || !isAlnum(byte(r)) && r != '_' {
			return fmt.Errorf("environment variable name %s may hold only letters, digits and '_'", quote(s))
		}
	}
	return nil
}
