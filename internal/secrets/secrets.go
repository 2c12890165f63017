// Package secrets seals the apps' secrets for the store and opens them
// for runs. A secret is sealed with XChaCha20-Poly1305 under the home's
// key, with its app and name as associated data: a ciphertext moved to
// another app or name does not open. The store (store.Secrets) only ever
// holds ciphertext.
//
// The key is 32 bytes, from the environment variable CRONBOX_SECRET_KEY
// (base64) if it is set, else from the file data/secret.key of the home
// (base64), which is created with mode 0600 the first time a key is
// needed.
//
// Tasks reference secrets in their environment as ${secret:NAME}; Expand
// replaces the references with the values when a run starts.
package secrets

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/internal/homedir"
)

// KeyEnv is the environment variable that gives the key, base64.
const KeyEnv = "CRONBOX_SECRET_KEY"

// KeySize is the size of a key in bytes.
const KeySize = chacha20poly1305.KeySize

// ErrWrongKey reports a ciphertext that does not open under the key: the
// key is not the one it was sealed with, or the ciphertext was altered or
// moved to another app or name.
var ErrWrongKey = errors.New("cannot decrypt: the secret key (data/secret.key or " + KeyEnv + ") is not the one the secret was stored with, or the stored secret was altered")

// MaxValue is the largest secret value, in bytes.
const MaxValue = 64 << 10

// version is the first byte of a ciphertext: its format.
const version = 1

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// ValidName returns an error if name cannot name a secret.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q is not a secret name: use up to 128 letters, digits and _, not starting with a digit", name)
	}
	return nil
}

// LoadKey returns the key of home: from KeyEnv if set, else from the
// home's key file, created (mode 0600, with a new random key) if there is
// none.
func LoadKey(home homedir.Home) ([]byte, error) {
	if v, ok := os.LookupEnv(KeyEnv); ok {
		key, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", KeyEnv, err)
		}
		return key, nil
	}
	path := home.SecretKey()
	key, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(path); err != nil {
			return nil, err
		}
		key, err = readKeyFile(path)
	}
	return key, err
}

func decodeKey(v string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil {
		return nil, fmt.Errorf("the key is not base64: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("the key is %d bytes, want %d", len(key), KeySize)
	}
	return key, nil
}

func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret key %s: others may read it (mode %04o): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := decodeKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	return key, nil
}

// createKeyFile writes a new key to path, whole or not at all: a link
// from a temporary file, which fails if another process made one first
// (that key is then the one).
func createKeyFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the secret key: %w", err)
	}
	key := make([]byte, KeySize)
	rand.Read(key)
	f, err := os.CreateTemp(filepath.Dir(path), ".secret.key-*")
	if err != nil {
		return fmt.Errorf("creating the secret key: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Chmod(0o600) // CreateTemp's mode already, whatever the umask
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("creating the secret key: %w", err)
	}
	if err := os.Link(f.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating the secret key: %w", err)
	}
	return nil
}

// Box seals and opens the secrets of a store under one key.
type Box struct {
	aead cipher.AEAD
	st   store.Secrets
}

// New returns a Box for the secrets of st under key (KeySize bytes).
func New(key []byte, st store.Secrets) (*Box, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Box{aead: aead, st: st}, nil
}

// Open returns a Box for the secrets of st under home's key (LoadKey).
func Open(home homedir.Home, st store.Secrets) (*Box, error) {
	key, err := LoadKey(home)
	if err != nil {
		return nil, err
	}
	return New(key, st)
}

// aad binds a ciphertext to its app and name.
func aad(app, name string) []byte {
	return []byte("cronbox secret\x00" + app + "\x00" + name)
}

// Seal returns value sealed for the secret name of app.
func (b *Box) Seal(app, name string, value []byte) []byte {
	nonce := make([]byte, chacha20poly1305.NonceSizeX, 1+chacha20poly1305.NonceSizeX+len(value)+b.aead.Overhead())
	rand.Read(nonce)
	out := append([]byte{version}, nonce...)
	return b.aead.Seal(out, nonce, value, aad(app, name))
}

// Unseal returns the value of the secret name of app from its
// ciphertext, or an error wrapping ErrWrongKey.
func (b *Box) Unseal(app, name string, ct []byte) ([]byte, error) {
	if len(ct) < 1+chacha20poly1305.NonceSizeX+b.aead.Overhead() || ct[0] != version {
		return nil, fmt.Errorf("secret %s of %s: %w", name, app, ErrWrongKey)
	}
	nonce := ct[1 : 1+chacha20poly1305.NonceSizeX]
	v, err := b.aead.Open(nil, nonce, ct[1+chacha20poly1305.NonceSizeX:], aad(app, name))
	if err != nil {
		return nil, fmt.Errorf("secret %s of %s: %w", name, app, ErrWrongKey)
	}
	return v, nil
}

// Set seals value and stores it as the secret name of app.
func (b *Box) Set(ctx context.Context, app, name string, value []byte) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if len(value) > MaxValue {
		return fmt.Errorf("secret %s: the value is %d bytes, at most %d", name, len(value), MaxValue)
	}
	return b.st.PutSecret(ctx, store.Secret{App: app, Name: name, Ciphertext: b.Seal(app, name, value)})
}

// Value returns the value of the secret name of app: an error wrapping
// store.ErrNotFound if there is none, ErrWrongKey if it does not open.
func (b *Box) Value(ctx context.Context, app, name string) (string, error) {
	sec, err := b.st.Secret(ctx, app, name)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("app %s has no secret %s (cronbox secret set %s %s): %w", app, name, app, name, store.ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	v, err := b.Unseal(app, name, sec.Ciphertext)
	if err != nil {
		return "", err
	}
	return string(v), nil
}

// refRE matches a reference to a secret in a value.
var refRE = regexp.MustCompile(`\$\{secret:([^}]*)\}`)

// References returns the names of the secrets that env's values
// reference, sorted, each once.
func References(env map[string]string) []string {
	seen := map[string]bool{}
	for _, v := range env {
		for _, m := range refRE.FindAllStringSubmatch(v, -1) {
			seen[m[1]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Expand returns env with every ${secret:NAME} in its values replaced by
// the value lookup gives for NAME; env itself is left alone. The first
// reference that lookup fails for fails it, with an error that names the
// secret and the variable, never a value. lookup may be nil when env
// references no secret.
func Expand(env map[string]string, lookup func(name string) (string, error)) (map[string]string, error) {
	if len(References(env)) == 0 {
		return env, nil
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(env))
	for _, k := range keys {
		v := env[k]
		var failed error
		out[k] = refRE.ReplaceAllStringFunc(v, func(ref string) string {
			name := refRE.FindStringSubmatch(ref)[1]
			if failed != nil {
				return ""
			}
			if err := ValidName(name); err != nil {
				failed = fmt.Errorf("environment variable %s: %w", k, err)
				return ""
			}
			if lookup == nil {
				failed = fmt.Errorf("environment variable %s references secret %s, and there is no secret store", k, name)
				return ""
			}
			val, err := lookup(name)
			if err != nil {
				failed = fmt.Errorf("environment variable %s: secret %s: %w", k, name, err)
				return ""
			}
			return val
		})
		if failed != nil {
			return nil, failed
		}
	}
	return out, nil
}

// Lazy is a Box whose key is loaded (and its file created) on first use,
// so that a home that never uses secrets gets no key file. It is safe for
// concurrent use; a failure to load the key is returned by every call.
type Lazy struct {
	home homedir.Home
	st   store.Secrets
	once sync.Once
	box  *Box
	err  error
}

// OpenLazily returns a Lazy for the secrets of st under home's key.
func OpenLazily(home homedir.Home, st store.Secrets) *Lazy { return &Lazy{home: home, st: st} }

func (l *Lazy) open() (*Box, error) {
	l.once.Do(func() { l.box, l.err = Open(l.home, l.st) })
	return l.box, l.err
}

// Set is Box.Set, once the key is loaded.
func (l *Lazy) Set(ctx context.Context, app, name string, value []byte) error {
	b, err := l.open()
	if err != nil {
		return err
	}
	return b.Set(ctx, app, name, value)
}

// Value is Box.Value, once the key is loaded.
func (l *Lazy) Value(ctx context.Context, app, name string) (string, error) {
	b, err := l.open()
	if err != nil {
		return "", err
	}
	return b.Value(ctx, app, name)
}

// Resolve returns value with every ${secret:NAME} replaced by the secret
// NAME of app, for settings outside a task's environment (a notification
// channel's URL or password). The server's own settings (app "") belong
// to no app and so can reference no secret. A value that references none
// needs no key.
func (l *Lazy) Resolve(ctx context.Context, app, value string) (string, error) {
	if !refRE.MatchString(value) {
		return value, nil
	}
	if app == "" {
		return "", errors.New("a server setting cannot reference a secret: secrets belong to apps")
	}
	out, err := Expand(map[string]string{"setting": value}, func(name string) (string, error) {
		return l.Value(ctx, app, name)
	})
	if err != nil {
		return "", err
	}
	return out["setting"], nil
}

// Missing returns the secrets that env references and that st does not
// hold for app, sorted: what `app install` warns of.
func Missing(ctx context.Context, st store.Secrets, app string, env map[string]string) ([]string, error) {
	refs := References(env)
	if len(refs) == 0 {
		return nil, nil
	}
	list, err := st.ListSecrets(ctx, app)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, s := range list {
		have[s.Name] = true
	}
	var out []string
	for _, r := range refs {
		if !have[r] {
			out = append(out, r)
		}
	}
	return out, nil
}

// MissingMessage says that a task references a secret that is not set.
func MissingMessage(app, name string) string {
	return fmt.Sprintf("the environment references ${secret:%s}, which is not set: its runs fail until `cronbox secret set %s %s`", name, app, name)
}
