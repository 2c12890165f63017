package lifecycle

import (
	"errors"
	"fmt"
	"os"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/internal/homedir"
)

// ErrNotFound is wrapped by the errors about an app that is not installed.
var ErrNotFound = errors.New("app not found")

// ErrExists is wrapped by the error of creating or installing an app that
// is installed already.
var ErrExists = errors.New("app already installed")

// CheckName reports whether name may name an app: as app.ValidName, 1 to 64
// ASCII letters, digits, '-' and '_', starting with a letter or a digit, so
// that it is one path element, never "..", and never absolute.
func CheckName(name string) error {
	if err := app.ValidName(name); err != nil {
		return fmt.Errorf("app name: %w", err)
	}
	return nil
}

// Dir returns the folder of the app name in home, <home>/apps/<name>,
// after checking the name. It does not look at the disk.
func Dir(home, name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	return homedir.Home(home).App(name), nil
}

// existing returns the folder of the installed app name, or an error
// wrapping ErrNotFound when there is none.
func existing(home, name string) (string, error) {
	dir, err := Dir(home, name)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%w: %s (no folder %s)", ErrNotFound, name, dir)
	case err != nil:
		return "", err
	case !fi.IsDir():
		return "", fmt.Errorf("%w: %s (%s is not a folder)", ErrNotFound, name, dir)
	}
	return dir, nil
}
