package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxConfigSize is the largest config file ParseConfig reads.
const MaxConfigSize = 1 << 20

// ConfigFile is the CLI's config file: named contexts, each a server and
// its token, as kubectl keeps them, and the one in use.
type ConfigFile struct {
	// CurrentContext names the context the commands use without
	// --server or --context. Default "": none.
	CurrentContext string `yaml:"current-context,omitempty"`
	// Contexts are the servers known, by unique name.
	Contexts []Context `yaml:"contexts"`
}

// Context is one server and how to reach it.
type Context struct {
	Name   string `yaml:"name"`
	Server string `yaml:"server"`
	Token  string `yaml:"token"`
	// CA is a PEM file of the certificates to trust for the server.
	// Default "": the system's roots.
	CA string `yaml:"ca,omitempty"`
}

// ConfigPath returns where the config file is:
// $XDG_CONFIG_HOME/cronbox/config.yaml, or ~/.config/cronbox/config.yaml.
func ConfigPath() (string, error) {
	if dir := os.Getenv("XDG_CONFIG_HOME"); dir != "" {
		if !filepath.IsAbs(dir) {
			return "", fmt.Errorf("XDG_CONFIG_HOME %q is not an absolute path", dir)
		}
		return filepath.Join(dir, "cronbox", "config.yaml"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the config file: %w", err)
	}
	return filepath.Join(home, ".config", "cronbox", "config.yaml"), nil
}

// ParseConfig reads a config file strictly: known fields only, contexts
// with a unique name, a valid server URL and a token, and a current
// context that exists.
func ParseConfig(data []byte) (*ConfigFile, error) {
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("the config file is larger than %d bytes", MaxConfigSize)
	}
	cf := &ConfigFile{}
	if len(bytes.TrimSpace(data)) == 0 {
		return cf, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cf); err != nil {
		return nil, fmt.Errorf("the config file: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("the config file holds more than one YAML document")
	}
	return cf, cf.Check()
}

// Check reports the first problem of cf.
func (cf *ConfigFile) Check() error {
	seen := map[string]bool{}
	for i, c := range cf.Contexts {
		if err := CheckContextName(c.Name); err != nil {
			return fmt.Errorf("the config file: context %d: %w", i+1, err)
		}
		if seen[c.Name] {
			return fmt.Errorf("the config file: two contexts are named %q", c.Name)
		}
		seen[c.Name] = true
		if _, err := CheckServer(c.Server); err != nil {
			return fmt.Errorf("the config file: context %q: %w", c.Name, err)
		}
		if c.Token == "" || strings.ContainsAny(c.Token, " \t\r\n") {
			return fmt.Errorf("the config file: context %q: want a token without spaces", c.Name)
		}
	}
	if cf.CurrentContext != "" && !seen[cf.CurrentContext] {
		return fmt.Errorf("the config file: current-context %q is not one of its contexts", cf.CurrentContext)
	}
	return nil
}

// CheckContextName checks a context's name: 1 to 64 letters, digits and
// . _ - characters.
func CheckContextName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("context name %q: want 1 to 64 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("context name %q: want letters, digits, '.', '_' and '-' only", name)
		}
	}
	return nil
}

// Find returns the context named name, or the current one for "".
func (cf *ConfigFile) Find(name string) (Context, error) {
	if name == "" {
		name = cf.CurrentContext
		if name == "" {
			return Context{}, errors.New("no current context: run `cronbox login URL` or `cronbox context use NAME`")
		}
	}
	for _, c := range cf.Contexts {
		if c.Name == name {
			return c, nil
		}
	}
	return Context{}, fmt.Errorf("no context %q in the config file (see `cronbox context list`)", name)
}

// Put adds c, or replaces the context of its name.
func (cf *ConfigFile) Put(c Context) {
	for i := range cf.Contexts {
		if cf.Contexts[i].Name == c.Name {
			cf.Contexts[i] = c
			return
		}
	}
	cf.Contexts = append(cf.Contexts, c)
}

// LoadConfig reads the config file at path; a missing file is an empty
// config.
func LoadConfig(path string) (*ConfigFile, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return &ConfigFile{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, err
	}
	cf, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cf, nil
}

// Save writes cf to path with mode 0600 (it holds tokens), its folder
// made with 0700: to a temporary file first, renamed over the old one,
// so that a failed write leaves the old file whole.
func (cf *ConfigFile) Save(path string) error {
	if err := cf.Check(); err != nil {
		return err
	}
	data, err := yaml.Marshal(cf)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".config-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
