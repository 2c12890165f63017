package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cronbox/cronbox/engine/app"
	"github.com/cronbox/cronbox/internal/bytesize"
	"github.com/cronbox/cronbox/internal/gobuild"
)

// mainSoak runs `cronbox-bench soak`.
func mainSoak(args []string) {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	minutes := fs.Float64("minutes", 10, "how long the soak lasts, in minutes (fractions allowed: 0.5)")
	interval := fs.Duration("interval", 0, "time between samples (default 5s, or a 30th of a shorter soak, at least 1s)")
	conns := fs.Int("conns", 5000, "idle connections the client holds at most")
	diskCap := fs.String("disk-cap", "4GiB", "stop early when the home's database and files hold more than `SIZE`")
	keep := fs.Bool("keep", false, "leave the temporary folder (the home, the server's log) in place")
	_ = fs.Parse(args)
	capBytes, err := bytesize.Parse(*diskCap)
	if err != nil || *minutes <= 0 || *minutes > 24*60 || *interval != 0 && *interval < 100*time.Millisecond || *conns < 0 || capBytes <= 0 {
		fmt.Fprintln(os.Stderr, "cronbox-bench: -minutes must be in (0, 1440], -interval at least 100ms, -conns not negative, -disk-cap a positive size such as 4GiB")
		os.Exit(2)
	}
	duration := time.Duration(*minutes * float64(time.Minute))
	if *interval == 0 {
		*interval = min(5*time.Second, max(time.Second, duration/30))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ok, err := benchSoak(ctx, os.Stdout, soakConfig{
		Duration: duration, Interval: *interval,
		Conns: *conns, DiskCap: capBytes, Keep: *keep,
	})
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cronbox-bench: %v\n", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// soakConfig is what `cronbox-bench soak` runs.
type soakConfig struct {
	// Duration is how long the soak lasts, from the server's readiness.
	// Default (-minutes) 10 minutes.
	Duration time.Duration
	// Interval is the time between samples. Default (-interval) 5 s, or a
	// 30th of a soak shorter than 2.5 minutes, but at least 1 s.
	Interval time.Duration
	// Conns is how many idle connections the client holds at most; it
	// stops opening more at the first refusal. Default 5,000 (fewer when
	// this process may not open that many descriptors).
	Conns int
	// DiskCap stops the soak early when the home's database and files hold
	// more, so that a server enforcing no quota cannot fill the disk.
	// Default 4 GiB.
	DiskCap int64
	// Keep leaves the temporary folder in place. Default false.
	Keep bool
}

// The soak's apps: normal ones, each with a task every second and one
// every 3 seconds, and one app per hostile task. Every app's storage
// quotas are small, so that staying within them means something.
const (
	soakNormalApps = 4
	soakKVQuota    = "1MiB"
	soakFilesQuota = "1MiB"
	// soakFillQuota is the file filler's files quota; it stops by itself
	// at 4 times that.
	soakFillQuota   = 16 << 20
	soakHistory     = "16MiB"
	soakBigResponse = 12 << 20 // over the 10 MiB a response keeps
)

// soakGuests are the task sources under testdata/soak.
var soakGuests = []string{"normal", "logflood", "membomb", "httphog", "spin", "filefill"}

// soakApp is an app of the soak's home.
type soakApp struct {
	name     string
	hostile  bool
	guest    string // the module, from testdata/soak/<guest>
	manifest string // app.yaml after the name
	tasks    string // config/tasks.yaml
	what     string // what it does, for the report
}

// soakApps are the apps the soak runs against a server whose hostile
// HTTP task requests upstream (host:port), with a history quota in every
// app when history is set.
func soakApps(upstream string, history bool) []soakApp {
	quotas := func(files string) string {
		q := fmt.Sprintf("quotas:\n  kv: %s\n  files: %s\n", soakKVQuota, files)
		if history {
			q += "  history: " + soakHistory + "\n"
		}
		return q
	}
	var out []soakApp
	for i := range soakNormalApps {
		out = append(out, soakApp{
			name: fmt.Sprintf("normal-%d", i+1), guest: "normal", manifest: quotas(soakFilesQuota),
			tasks: "tasks:\n" +
				"  - name: every-second\n    schedule: \"* * * * * *\"\n    module: tasks/normal.wasm\n    config: {prefix: s1}\n" +
				"  - name: every-3s\n    schedule: \"*/3 * * * * *\"\n    module: tasks/normal.wasm\n    config: {prefix: s3}\n",
			what: "logs 3 lines, 2 KV writes, a result",
		})
	}
	hostile := func(name, guest, what, manifest, task string) soakApp {
		return soakApp{name: name, hostile: true, guest: guest, what: what, manifest: manifest + quotas(soakFilesQuota),
			tasks: fmt.Sprintf("tasks:\n  - name: %s\n    schedule: \"*/2 * * * * *\"\n    module: tasks/%s.wasm\n%s", guest, guest, task)}
	}
	out = append(out,
		hostile("log-flood", "logflood", "64 KiB log lines until refused or stopped", "",
			"    termination: {maxRuntime: 10s}\n"),
		hostile("memory-bomb", "membomb", "grows its memory until refused (limit 128 MiB)", "",
			"    termination: {maxRuntime: 10s}\n    limits: {memory: 128MiB}\n"),
		hostile("http-hog", "httphog", "holds 12 MB responses until refused, then a request that never ends",
			fmt.Sprintf("permissions:\n  http: [\"%s\"]\n", upstream),
			fmt.Sprintf("    termination: {maxRuntime: 10s}\n    config: {url: \"http://%s/big\", hold: \"http://%s/hold\"}\n", upstream, upstream)),
		hostile("tight-loop", "spin", "spins until its time limit (5 s)", "",
			"    termination: {maxRuntime: 5s}\n"),
	)
	filler := hostile("file-filler", "filefill", fmt.Sprintf("writes /data until the files quota (%s) refuses", bytesize.Format(soakFillQuota)),
		"permissions:\n  files: true\n",
		fmt.Sprintf("    termination: {maxRuntime: 10s}\n    config: {stopAt: %d}\n", 4*soakFillQuota))
	filler.manifest = "permissions:\n  files: true\n" + quotas(bytesize.Format(soakFillQuota))
	return append(out, filler)
}

// historyQuotaSupported reports whether app.yaml takes quotas.history, by
// loading a probe app in dir.
func historyQuotaSupported(dir string) (bool, error) {
	probe := filepath.Join(dir, "probe")
	if err := os.MkdirAll(probe, 0o755); err != nil {
		return false, err
	}
	defer os.RemoveAll(probe)
	if err := os.WriteFile(filepath.Join(probe, app.ManifestPath), []byte("name: probe\nquotas:\n  history: "+soakHistory+"\n"), 0o644); err != nil {
		return false, err
	}
	_, err := app.Load(probe, app.Options{})
	var inv *app.InvalidError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &inv) && len(inv.Problems) == 1 && strings.Contains(inv.Problems[0].Message, `unknown field "history"`):
		return false, nil
	}
	return false, fmt.Errorf("probing quotas.history: %w", err)
}

// writeSoakHome writes the apps into home/apps, each task module from mods.
func writeSoakHome(home string, apps []soakApp, mods map[string][]byte) error {
	for _, a := range apps {
		dir := filepath.Join(home, "apps", a.name)
		for _, d := range []string{"config", "tasks"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				return err
			}
		}
		files := map[string][]byte{
			"app.yaml":                              []byte("name: " + a.name + "\n" + a.manifest),
			filepath.Join("config", "tasks.yaml"):   []byte(a.tasks),
			filepath.Join("tasks", a.guest+".wasm"): mods[a.guest],
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildSoak builds the cronbox binary into dir and the soak's task
// modules (through the build cache).
func buildSoak(ctx context.Context, root, dir string) (string, map[string][]byte, error) {
	bin := filepath.Join(dir, "cronbox")
	goCmd, err := gobuild.Toolchain()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "./cmd/cronbox")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("building cronbox: %v\n%s", err, out)
	}
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	cache := &gobuild.Cache{Dir: filepath.Join(cacheDir, "cronbox", "bench")}
	mods := map[string][]byte{}
	for _, g := range soakGuests {
		p, err := cache.Build(ctx, filepath.Join(root, "cmd", "cronbox-bench", "testdata", "soak", g))
		if err != nil {
			return "", nil, err
		}
		if mods[g], err = os.ReadFile(p); err != nil {
			return "", nil, err
		}
	}
	return bin, mods, nil
}

// serveProc is a running `cronbox serve`.
type serveProc struct {
	cmd  *exec.Cmd
	addr string
	log  string        // the file its stderr goes to
	done chan struct{} // closed once it exited and its log is written
	err  error         // how it exited, once done
}

// startServe starts `cronbox serve` on home, listening on an ephemeral
// loopback port, and returns once it answers /readyz.
func startServe(ctx context.Context, bin, home, logPath string) (*serveProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--home", home, "--listen", "127.0.0.1:0", "--log-format", "json")
	cmd.Stdout = logf
	dieWithParent(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &serveProc{cmd: cmd, log: logPath, done: make(chan struct{})}
	addrs := make(chan string, 1)
	copied := make(chan struct{})
	go func() { // copies the log, and finds the address in it
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		found := false
		for sc.Scan() {
			logf.Write(append(sc.Bytes(), '\n'))
			if found {
				continue
			}
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" && rec.Addr != "" {
				found = true
				addrs <- rec.Addr
			}
		}
		io.Copy(logf, stderr) // a line too long for the scanner
	}()
	go func() {
		<-copied
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()

	fail := func(err error) (*serveProc, error) {
		p.stop()
		return nil, fmt.Errorf("%w; the server's log ends:\n%s", err, logTail(logPath))
	}
	timer := time.NewTimer(3 * time.Minute) // serve builds nothing here, but may compile modules
	defer timer.Stop()
	select {
	case p.addr = <-addrs:
	case <-p.done:
		return nil, fmt.Errorf("cronbox serve exited before listening (%v); its log ends:\n%s", p.err, logTail(logPath))
	case <-timer.C:
		return fail(errors.New("cronbox serve did not log its address within 3 minutes"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-tick.C:
		case <-p.done:
			return nil, fmt.Errorf("cronbox serve exited before it was ready (%v); its log ends:\n%s", p.err, logTail(logPath))
		case <-timer.C:
			return fail(errors.New("cronbox serve was not ready within 3 minutes"))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
}

// soakGrace is how long stop waits after SIGINT: serve's 30 s for
// running runs, and 10 more.
const soakGrace = 40 * time.Second

// stop ends the server: SIGINT, then SIGKILL after soakGrace. It says how
// the server ended.
func (p *serveProc) stop() string {
	select {
	case <-p.done:
		return fmt.Sprintf("had exited by itself (%v)", p.err)
	default:
	}
	start := time.Now()
	p.cmd.Process.Signal(os.Interrupt)
	t := time.NewTimer(soakGrace)
	defer t.Stop()
	select {
	case <-p.done:
		return fmt.Sprintf("stopped on SIGINT in %.1f s (%s)", time.Since(start).Seconds(), exitString(p.err))
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Sprintf("killed: still running %s after SIGINT", soakGrace)
	}
}

func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// upstream is the loopback HTTP server the hostile HTTP task requests:
// /big answers soakBigResponse bytes, /hold never answers.
type upstream struct {
	srv    *http.Server
	addr   string
	quit   chan struct{}
	served chan struct{}
}

func startUpstream() (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{addr: ln.Addr().String(), quit: make(chan struct{}), served: make(chan struct{})}
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(soakBigResponse))
		for range soakBigResponse / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-u.quit:
		}
	})
	u.srv = &http.Server{Handler: mux}
	go func() {
		defer close(u.served)
		u.srv.Serve(ln)
	}()
	return u, nil
}

func (u *upstream) close() {
	close(u.quit)
	u.srv.Close()
	<-u.served
}

// idleClient holds up to max idle keep-alive connections to the server:
// each has made one request (GET /healthz) and then sends nothing. It
// opens them with idleOpeners at once (ramped is closed when it has them
// all, or was refused), then once a second reopens up to idleBatch of
// those the server closed; it stops opening for good at the first
// refusal.
type idleClient struct {
	addr string
	max  int

	mu      sync.Mutex
	conns   map[net.Conn]bool
	closing bool
	refused string // the first refusal

	held, peak, opened, closedByServer atomic.Int64
	stopFill                           chan struct{}
	ramped                             chan struct{}
	filled                             chan struct{}
	readers                            sync.WaitGroup
}

const (
	idleOpeners = 16
	idleBatch   = 1000
)

func startIdleClient(addr string, n int) *idleClient {
	c := &idleClient{addr: addr, max: n, conns: map[net.Conn]bool{},
		stopFill: make(chan struct{}), ramped: make(chan struct{}), filled: make(chan struct{})}
	go c.fill()
	return c
}

// stopped reports whether the client must open no more connections.
func (c *idleClient) stopped() bool {
	select {
	case <-c.stopFill:
		return true
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused != ""
}

func (c *idleClient) refuse(err error) {
	c.mu.Lock()
	if c.refused == "" {
		c.refused = err.Error()
	}
	c.mu.Unlock()
}

func (c *idleClient) fill() {
	defer close(c.filled)
	var claimed atomic.Int64
	var openers sync.WaitGroup
	for range idleOpeners {
		openers.Add(1)
		go func() {
			defer openers.Done()
			for claimed.Add(1) <= int64(c.max) && !c.stopped() {
				if err := c.open(); err != nil {
					c.refuse(err)
					return
				}
			}
		}()
	}
	openers.Wait()
	close(c.ramped)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		for range min(idleBatch, c.max-int(c.held.Load())) {
			if c.stopped() {
				return
			}
			if err := c.open(); err != nil {
				c.refuse(err)
				return
			}
		}
		select {
		case <-c.stopFill:
			return
		case <-tick.C:
		}
	}
}

// open opens one idle connection.
func (c *idleClient) open() error {
	conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", c.addr); err != nil {
		conn.Close()
		return err
	}
	br := bufio.NewReaderSize(conn, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && (resp.StatusCode != http.StatusOK || resp.Close) {
		err = fmt.Errorf("GET /healthz: %s (close: %v)", resp.Status, resp.Close)
	}
	if err != nil {
		conn.Close()
		return err
	}
	conn.SetDeadline(time.Time{})
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		conn.Close()
		return nil
	}
	c.conns[conn] = true
	c.mu.Unlock()
	c.opened.Add(1)
	for n, p := c.held.Add(1), c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	c.readers.Add(1)
	go func() { // sees the server close the connection
		defer c.readers.Done()
		var b [1]byte
		br.Read(b[:])
		c.mu.Lock()
		closing := c.closing
		delete(c.conns, conn)
		c.mu.Unlock()
		conn.Close()
		c.held.Add(-1)
		if !closing {
			c.closedByServer.Add(1)
		}
	}()
	return nil
}

// close stops opening and closes every connection.
func (c *idleClient) close() {
	close(c.stopFill)
	<-c.filled
	c.mu.Lock()
	c.closing = true
	for conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.readers.Wait()
}

func (c *idleClient) describe() string {
	c.mu.Lock()
	refused := c.refused
	c.mu.Unlock()
	if refused == "" {
		refused = "never"
	}
	return fmt.Sprintf("at most %d held (of %d wanted), %d opened, %d closed by the server; refused: %s",
		c.peak.Load(), c.max, c.opened.Load(), c.closedByServer.Load(), refused)
}

// openDeafStream subscribes to the event stream on a connection with a
// small receive buffer and never reads it.
func openDeafStream(ctx context.Context, addr, token string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, Control: smallReceiveBuffer}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(conn, "GET /api/v1/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", addr, token); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// drainDeafStream reads what the stream holds for up to 2 s and says
// whether the server had closed it.
func drainDeafStream(conn net.Conn) string {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	if err == nil {
		return fmt.Sprintf("closed by the server (%s were left to read)", mbString(float64(n)))
	}
	return fmt.Sprintf("still open at the end (%s read in 2 s of draining)", mbString(float64(n)))
}

// soakAPI calls the server's API with a token.
type soakAPI struct {
	base   string
	token  string
	client *http.Client
}

func (a *soakAPI) get(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	if s, ok := v.(*string); ok {
		*s = string(b)
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// runsPage returns a page of GET /runs, newest first.
func (a *soakAPI) runsPage(ctx context.Context) func(before int64) ([]runRow, error) {
	return func(before int64) ([]runRow, error) {
		q := url.Values{"limit": {strconv.Itoa(runPage)}}
		if before > 0 {
			q.Set("before", strconv.FormatInt(before, 10))
		}
		var page struct {
			Runs []runRow `json:"runs"`
		}
		err := a.get(ctx, "/api/v1/runs?"+q.Encode(), &page)
		return page.Runs, err
	}
}

// storage sums the storage quotas GET /apps reports (every field
// <what>Quota of an app's storage) and what the apps stored (the other
// fields), checking that every app of apps loaded with its tasks and
// without errors.
func (a *soakAPI) storage(ctx context.Context, apps []soakApp) (quotas soakQuotas, used map[string]int64, err error) {
	var list struct {
		Apps []struct {
			Name    string            `json:"name"`
			Status  string            `json:"status"`
			Tasks   int               `json:"tasks"`
			Errors  []json.RawMessage `json:"errors"`
			Storage map[string]any    `json:"storage"`
		} `json:"apps"`
	}
	if err := a.get(ctx, "/api/v1/apps", &list); err != nil {
		return nil, nil, err
	}
	quotas, used = soakQuotas{}, map[string]int64{}
	seen := map[string]bool{}
	for _, x := range list.Apps {
		if x.Status != "ok" || len(x.Errors) > 0 || x.Tasks == 0 || x.Storage == nil {
			return nil, nil, fmt.Errorf("app %s did not load cleanly: status %s, %d tasks, errors %s", x.Name, x.Status, x.Tasks, x.Errors)
		}
		seen[x.Name] = true
		for k, v := range x.Storage {
			n, ok := v.(float64)
			switch {
			case !ok:
			case strings.HasSuffix(k, "Quota"):
				quotas[k] += int64(n)
			default:
				used[k] += int64(n)
			}
		}
	}
	for _, s := range apps {
		if !seen[s.name] {
			return nil, nil, fmt.Errorf("GET /apps does not list app %s", s.name)
		}
	}
	return quotas, used, nil
}

// homeSizes returns the database's size (with its WAL) and data/files's,
// counted as the files quota counts: bytes, and 4 KiB for each file,
// folder and link under an app's folder.
func homeSizes(home string) (db, files int64) {
	for _, name := range []string{"cronbox.db", "cronbox.db-wal"} {
		if fi, err := os.Stat(filepath.Join(home, "data", name)); err == nil {
			db += fi.Size()
		}
	}
	root := filepath.Join(home, "data", "files")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root || filepath.Dir(p) == root {
			return nil
		}
		files += 4 << 10
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				files += fi.Size()
			}
		}
		return nil
	})
	return db, files
}

// benchSoak runs the soak and prints its samples, figures and verdict; it
// returns whether the verdict passed.
func benchSoak(ctx context.Context, out io.Writer, cfg soakConfig) (bool, error) {
	if soakSupported != nil {
		return false, soakSupported
	}
	fmt.Fprintf(out, "Cronbox soak benchmark: %s %s/%s, %d CPUs\n", goruntime.Version(), goruntime.GOOS, goruntime.GOARCH, goruntime.NumCPU())
	const spare = 1024 // descriptors for everything but the idle connections
	if limit, err := raiseNoFile(uint64(cfg.Conns + spare)); err != nil {
		return false, fmt.Errorf("raising the descriptor limit: %w", err)
	} else if int(limit) < cfg.Conns+spare {
		fmt.Fprintf(out, "(this process may open %d descriptors: holding %d idle connections, not %d)\n", limit, max(0, int(limit)-spare), cfg.Conns)
		cfg.Conns = max(0, int(limit)-spare)
	}
	root, err := repoRoot()
	if err != nil {
		return false, err
	}
	dir, err := os.MkdirTemp("", "cronbox-soak-")
	if err != nil {
		return false, err
	}
	if cfg.Keep {
		defer fmt.Fprintf(out, "\nkept: %s (the home, and the server's log serve.log)\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin, mods, err := buildSoak(ctx, root, dir)
	if err != nil {
		return false, err
	}
	history, err := historyQuotaSupported(dir)
	if err != nil {
		return false, err
	}
	up, err := startUpstream()
	if err != nil {
		return false, err
	}
	defer up.close()
	home := filepath.Join(dir, "home")
	apps := soakApps(up.addr, history)
	if err := writeSoakHome(home, apps, mods); err != nil {
		return false, err
	}
	tokenOut, err := exec.CommandContext(ctx, bin, "token", "create", "--role", "admin", "--name", "soak", "--home", home).Output()
	if err != nil {
		return false, fmt.Errorf("cronbox token create: %w", err)
	}
	baseDB, _ := homeSizes(home) // the store as token create left it
	logPath := filepath.Join(dir, "serve.log")
	srv, err := startServe(ctx, bin, home, logPath)
	if err != nil {
		return false, err
	}
	var stopped string // how the server ended, once it did
	defer func() {
		if stopped == "" {
			srv.stop()
		}
	}()
	ready := time.Now()
	api := &soakAPI{base: "http://" + srv.addr, token: strings.TrimSpace(string(tokenOut)), client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
	defer api.client.CloseIdleConnections()
	quotas, _, err := api.storage(ctx, apps)
	if err != nil {
		return false, err
	}
	var quotaNote string
	if _, ok := quotas["historyQuota"]; history && !ok {
		// GET /apps does not report it: the quota the apps were given.
		per, err := bytesize.Parse(soakHistory)
		if err != nil {
			return false, err
		}
		quotas["historyQuota"] = per * int64(len(apps))
		quotaNote = "the history quota as app.yaml sets it: GET /apps does not report one"
	}

	var normal []string
	fmt.Fprintf(out, "\ncronbox serve on %s (pid %d), for %s, a sample every %s; its apps:\n\n", srv.addr, srv.cmd.Process.Pid, cfg.Duration, cfg.Interval)
	tw := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "app\tkind\ttasks do\t")
	for _, a := range apps {
		kind := "normal (every 1 s and every 3 s)"
		if a.hostile {
			kind = "hostile (every 2 s, one at a time)"
		} else {
			normal = append(normal, a.name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", a.name, kind, a.what)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nquotas, every app: kv %s, files %s (file-filler %s), history %s\n", soakKVQuota, soakFilesQuota,
		bytesize.Format(soakFillQuota), map[bool]string{true: soakHistory, false: "none (app.yaml has no quotas.history)"}[history])
	fmt.Fprintf(out, "clients: %d idle keep-alive connections at most; one event stream that never reads (4 KiB receive buffer)\n\n", cfg.Conns)

	deaf, err := openDeafStream(ctx, srv.addr, api.token)
	if err != nil {
		return false, fmt.Errorf("opening the event stream: %w", err)
	}
	deafState := "not drained"
	defer func() {
		if deaf != nil {
			deaf.Close()
		}
	}()
	idle := startIdleClient(srv.addr, cfg.Conns)
	idleClosed := false
	defer func() {
		if !idleClosed {
			idle.close()
		}
	}()
	// The clock starts once the client holds its connections, so that its
	// ramp-up is not taken for the server's growth.
	rampStart := time.Now()
	rampTimer := time.NewTimer(2 * time.Minute)
	select {
	case <-idle.ramped:
		fmt.Fprintf(out, "ramp-up: %d idle connections held after %.1f s\n\n", idle.held.Load(), time.Since(rampStart).Seconds())
	case <-rampTimer.C:
		fmt.Fprintf(out, "ramp-up: only %d idle connections held after 2 minutes; soaking on while it opens more\n\n", idle.held.Load())
	case <-srv.done:
	case <-ctx.Done():
	}
	rampTimer.Stop()
	ready = time.Now()

	counter := newRunCounter()
	var samples []soakSample
	var stoppedEarly string
	pid := srv.cmd.Process.Pid
	take := func() error {
		ctx, cancel := context.WithTimeout(ctx, time.Minute) // a server that stops answering stops the soak
		defer cancel()
		s := soakSample{At: time.Since(ready), Goroutines: -1, Idle: int(idle.held.Load())}
		var err error
		if s.RSS, s.FDs, err = procFigures(pid); err != nil {
			return fmt.Errorf("reading the server's figures: %w", err)
		}
		var metrics string
		if err := api.get(ctx, "/metrics", &metrics); err != nil {
			return err
		}
		if v, ok := metricValue(metrics, "go_goroutines"); ok {
			s.Goroutines = int(v)
		}
		s.DB, s.Files = homeSizes(home)
		if err := counter.look(api.runsPage(ctx)); err != nil {
			return fmt.Errorf("counting runs: %w", err)
		}
		s.Runs = counter.normal(normal)
		samples = append(samples, s)
		return nil
	}

	const rowFormat = "%5s %10s %6s %10s %10s %9s %9s %6s %7s %6s\n"
	fmt.Fprintf(out, rowFormat, "time", "RSS", "fds", "goroutines", "db+wal", "files", "normal ok", "failed", "skipped", "idle")
	row := func(s soakSample) {
		g := "n/a"
		if s.Goroutines >= 0 {
			g = strconv.Itoa(s.Goroutines)
		}
		fmt.Fprintf(out, rowFormat, clock(s.At), mbString(float64(s.RSS)), strconv.Itoa(s.FDs), g, mbString(float64(s.DB)), mbString(float64(s.Files)),
			strconv.Itoa(s.Runs.Succeeded), strconv.Itoa(s.Runs.Failed), strconv.Itoa(s.Runs.Skipped), strconv.Itoa(s.Idle))
	}
	end := time.NewTimer(cfg.Duration)
	defer end.Stop()
	sampleTick := time.NewTicker(cfg.Interval)
	defer sampleTick.Stop()
	guard := time.NewTicker(time.Second)
	defer guard.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			stoppedEarly = "interrupted"
			break loop
		case <-srv.done:
			stoppedEarly = fmt.Sprintf("the server exited: %v", srv.err)
			stopped = "had exited by itself"
			break loop
		case <-end.C:
			break loop
		case <-guard.C:
			if db, files := homeSizes(home); db+files > cfg.DiskCap {
				stoppedEarly = fmt.Sprintf("the database and files reached %s, past -disk-cap %s", mbString(float64(db+files)), mbString(float64(cfg.DiskCap)))
				break loop
			}
		case <-sampleTick.C:
			if err := take(); err != nil {
				return false, err
			}
			row(samples[len(samples)-1])
		}
	}
	if stopped == "" && ctx.Err() == nil && (len(samples) == 0 || time.Since(ready)-samples[len(samples)-1].At > time.Second) {
		if err := take(); err != nil { // the last sample, at the end
			return false, err
		}
		row(samples[len(samples)-1])
	}

	idle.close()
	idleClosed = true
	deafState = drainDeafStream(deaf)
	deaf = nil

	fmt.Fprintln(out, "\nhostile tasks, runs by how they ended (the last run that was not skipped):")
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "app\truns\tlast\t")
	for _, a := range apps {
		if !a.hostile {
			continue
		}
		var parts []string
		for _, st := range slices.Sorted(maps.Keys(counter.ended[a.name])) {
			parts = append(parts, fmt.Sprintf("%s %d", st, counter.ended[a.name][st]))
		}
		last := counter.last[a.name]
		lastText := "none"
		if last.ID != 0 {
			lastText = strings.TrimSpace(fmt.Sprintf("%s: %s %s", last.Status, last.Error, last.Reason))
			if len(lastText) > 100 {
				lastText = lastText[:100] + "…"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", a.name, strings.Join(parts, ", "), lastText)
	}
	tw.Flush()

	fmt.Fprintf(out, "\nidle connections: %s\n", idle.describe())
	fmt.Fprintf(out, "non-reading event stream: %s\n", deafState)
	fmt.Fprintf(out, "runs still running at the last look: %d\n", counter.open)
	if stopped == "" && ctx.Err() == nil {
		if _, used, err := api.storage(ctx, apps); err != nil {
			fmt.Fprintf(out, "GET /apps at the end: %v\n", err)
		} else {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(used)) {
				parts = append(parts, fmt.Sprintf("%s %s", k, mbString(float64(used[k]))))
			}
			fmt.Fprintf(out, "stored, as GET /apps reports it at the end (all apps): %s\n", strings.Join(parts, ", "))
		}
	}
	if stopped == "" {
		stopped = srv.stop()
	}
	fmt.Fprintf(out, "the server %s; its log: %s\n", stopped, logLevels(logPath))
	if stoppedEarly != "" && srv.err != nil {
		fmt.Fprintf(out, "its log ends:\n%s\n", logTail(logPath))
	}

	checks := judgeSoak(soakInput{Samples: samples, Quotas: quotas, QuotaNote: quotaNote, BaseDB: baseDB, Stopped: stoppedEarly})
	if g := judgeFlat(samples, func(s soakSample) float64 { return float64(s.Goroutines) }, goroutineRule); len(samples) > 0 && samples[0].Goroutines >= 0 {
		fmt.Fprintf(out, "goroutines (not judged): %s\n", g.describe(countString))
	} else {
		fmt.Fprintln(out, "goroutines: /metrics exports no go_goroutines")
	}
	fmt.Fprintf(out, "\nverdict (flat: the max over the last minute is at most the max over minute 1–2 (for a soak under 4 minutes: last and second quarter) + %.0f%% + %s of RSS or %.0f descriptors):\n\n",
		rssRule.Tolerance*100, mbString(rssRule.Slack), fdRule.Slack)
	failed := 0
	for _, c := range checks {
		mark := "PASS"
		if !c.OK {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(out, "  %s  %s: %s\n", mark, c.Name, c.Detail)
	}
	if failed > 0 {
		fmt.Fprintf(out, "\nsummary: FAIL, %d of %d checks\n", failed, len(checks))
	} else {
		fmt.Fprintf(out, "\nsummary: PASS, %d checks\n", len(checks))
	}
	return failed == 0, nil
}

// logLevels counts the lines of the server's JSON log by level.
func logLevels(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	levels := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var rec struct {
			Level string `json:"level"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Level == "" {
			rec.Level = "unparsed"
		}
		levels[rec.Level]++
	}
	var parts []string
	for _, l := range slices.Sorted(maps.Keys(levels)) {
		parts = append(parts, fmt.Sprintf("%d %s", levels[l], l))
	}
	return strings.Join(parts, ", ") + " lines"
}

// logTail returns the last lines of the server's log, at most 4 KiB.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	b = bytes.TrimSpace(b[max(0, len(b)-4096):])
	if len(b) == 0 {
		return "(nothing)"
	}
	return string(b)
}
