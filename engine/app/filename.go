package app

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrFileName is wrapped by the errors of CheckFileName.
var ErrFileName = errors.New("file name refused")

// CheckFileName reports whether rel, the slash-separated path of a file or
// folder in an app, holds only characters that read and compare the same
// everywhere: printable ASCII (U+0020 to U+007E) other than '\' and ':'.
//
// Non-ASCII characters are refused, letters included. Two names that look
// alike could otherwise both be installed: case folding and Unicode
// normalization ("caf\u00e9" and "cafe\u0301") make them one file on macOS and
// Windows, and format characters (bidirectional overrides, zero-width
// marks) make a name display as another. Within printable ASCII, names
// collide exactly when their lower-case forms (FoldFileName) are equal.
// The error names the path, quoted in ASCII, and the character.
func CheckFileName(rel string) error {
	for i, r := range rel {
		var what string
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(rel[i:], "\uFFFD"):
			what = "invalid UTF-8"
		case r < 0x20 || r == 0x7F || unicode.IsControl(r):
			what = fmt.Sprintf("a control character (%U)", r)
		case r == '\\':
			what = "a backslash"
		case r == ':':
			what = "a colon (a drive letter?)"
		case r < 0x80:
			continue
		case unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r):
			what = fmt.Sprintf("an invisible formatting character (%U, such as a bidirectional override)", r)
		case unicode.Is(unicode.M, r):
			what = fmt.Sprintf("a combining mark (%U, a decomposed letter?)", r)
		default:
			what = fmt.Sprintf("the non-ASCII character %q (%U)", r, r)
		}
		return fmt.Errorf("%w: %+q holds %s; file and folder names in an app may hold only printable ASCII characters other than '\\' and ':', so that no two names can look or compare alike", ErrFileName, rel, what)
	}
	return nil
}

// FoldFileName returns the form under which rel, a path that passed
// CheckFileName, collides with other paths on a case-insensitive or
// normalizing file system: its ASCII lower case. Two paths of an app
// whose folded forms are equal, at any prefix, name one file there.
func FoldFileName(rel string) string {
	return strings.ToLower(rel)
}

// WellKnown is the folder of an app's public/ that holds the well-known
// URIs of RFC 8615 (/.well-known/acme-challenge/…, security.txt): the one
// name starting with '.' that belongs to an app.
const WellKnown = "public/.well-known"

// Hidden reports whether the slash path rel, relative to an app's folder,
// is not part of the app: one of its elements starts with '.' (.git,
// .env, editor droppings), unless that element is the .well-known folder
// directly in public/. Export, install and a cluster's bundles leave
// hidden files out, and the server does not serve them, so that an app is
// the same files on every node and in every export.
func Hidden(rel string) bool {
	if rest, ok := strings.CutPrefix(rel, WellKnown); ok && (rest == "" || rest[0] == '/') {
		rel = rest
	}
	for e := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(e, ".") {
			return true
		}
	}
	return false
}
