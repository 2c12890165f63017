package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/cronbox/cronbox/internal/client"
)

// runLogin checks a token against a server and stores it, with the
// server, as a context of the config file, which becomes the current one.
// The token is read from stdin, never from the command line, where other
// users of the machine could see it.
func runLogin(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "login")
	name := fs.String("name", "", "the context's `NAME` (default the server's host name)")
	ca := fs.String("ca", "", "for https, trust the certificates in this PEM `FILE` (default $CRONBOX_CA, else the system's)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "cronbox login: want one server URL; the token comes from stdin")
		return exitUsage
	}
	server, err := client.CheckServer(pos[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "cronbox login: %v\n", err)
		return exitUsage
	}
	if *name == "" {
		u, _ := url.Parse(server)
		*name = strings.NewReplacer(":", "-", "[", "", "]", "").Replace(u.Host)
	}
	if err := client.CheckContextName(*name); err != nil {
		fmt.Fprintf(e.stderr, "cronbox login: --name: %v\n", err)
		return exitUsage
	}
	if *ca == "" {
		*ca = os.Getenv("CRONBOX_CA")
	}
	if err := login(ctx, e, server, *name, *ca, *asJSON); err != nil {
		fmt.Fprintf(e.stderr, "cronbox login: %v\n", err)
		return 1
	}
	return 0
}

func login(ctx context.Context, e *env, server, name, ca string, asJSON bool) error {
	if e.stdin == nil {
		return errors.New("no stdin to read the token from")
	}
	if e.stdinTTY {
		fmt.Fprintf(e.stderr, "Token for %s: ", server)
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the token: %w", err)
	}
	token := strings.TrimSpace(line)
	if token == "" || strings.ContainsAny(token, " \t") {
		return errors.New("want the token, one line on stdin")
	}
	c, err := client.New(client.Config{Server: server, Token: token, CAFile: ca})
	if err != nil {
		return err
	}
	var who struct {
		Role string   `json:"role"`
		Apps []string `json:"apps"`
	}
	if err := c.Do(ctx, client.Request{Method: "GET", Path: "/session", Want: http.StatusOK}, &who); err != nil {
		return fmt.Errorf("checking the token: %w", err)
	}
	path, err := client.ConfigPath()
	if err != nil {
		return err
	}
	cf, err := client.LoadConfig(path)
	if err != nil {
		return err
	}
	cf.Put(client.Context{Name: name, Server: server, Token: token, CA: ca})
	cf.CurrentContext = name
	if err := cf.Save(path); err != nil {
		return err
	}
	if asJSON {
		return printJSON(e.stdout, map[string]any{"context": name, "server": server, "role": who.Role, "apps": who.Apps, "config": path})
	}
	scope := "every app"
	if who.Apps != nil {
		scope = "apps " + strings.Join(who.Apps, ", ")
	}
	_, err = fmt.Fprintf(e.stdout, "logged in to %s as %s of %s; context %q is current (in %s)\n", server, who.Role, scope, name, path)
	return err
}

// runContext lists the contexts of the config file, or makes one current.
func runContext(ctx context.Context, e *env, args []string) int {
	fs := flagSet(e, "context")
	asJSON := fs.Bool("json", false, "list: print JSON")
	pos, _, err := parse(fs, args)
	if err != nil {
		return parseError(err)
	}
	if len(pos) == 0 || pos[0] != "list" && pos[0] != "use" || pos[0] == "list" && len(pos) != 1 || pos[0] == "use" && len(pos) != 2 {
		fmt.Fprintln(e.stderr, "cronbox context: want list, or use NAME")
		return exitUsage
	}
	path, err := client.ConfigPath()
	if err == nil {
		err = contextCommand(e, path, pos, *asJSON)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "cronbox context %s: %v\n", pos[0], err)
		return 1
	}
	return 0
}

// contextRow is a context as `context list` prints it: never its token.
type contextRow struct {
	Name    string `json:"name"`
	Server  string `json:"server"`
	CA      string `json:"ca,omitempty"`
	Current bool   `json:"current"`
}

func contextCommand(e *env, path string, pos []string, asJSON bool) error {
	cf, err := client.LoadConfig(path)
	if err != nil {
		return err
	}
	if pos[0] == "use" {
		c, err := cf.Find(pos[1])
		if err != nil {
			return err
		}
		cf.CurrentContext = c.Name
		if err := cf.Save(path); err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "context %q (%s) is current\n", c.Name, c.Server)
		return err
	}
	rows := make([]contextRow, 0, len(cf.Contexts))
	for _, c := range cf.Contexts {
		rows = append(rows, contextRow{Name: c.Name, Server: c.Server, CA: c.CA, Current: c.Name == cf.CurrentContext})
	}
	if asJSON {
		return printJSON(e.stdout, rows)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CURRENT\tNAME\tSERVER")
	for _, r := range rows {
		mark := ""
		if r.Current {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", mark, r.Name, r.Server)
	}
	return tw.Flush()
}
