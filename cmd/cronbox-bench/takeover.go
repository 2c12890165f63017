package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/cronbox/cronbox/engine"
	"github.com/cronbox/cronbox/engine/store"
	"github.com/cronbox/cronbox/engine/store/postgres"
	"github.com/cronbox/cronbox/internal/wasmtest"
)

// killSwitch forwards TCP connections to a database server until kill
// closes every one of them and refuses new ones, at once: what the
// database sees of a process killed with SIGKILL.
type killSwitch struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	killed bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newKillSwitch(target string) (*killSwitch, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	k := &killSwitch{ln: ln, target: target}
	k.wg.Go(k.accept)
	return k, nil
}

func (k *killSwitch) accept() {
	for {
		c, err := k.ln.Accept()
		if err != nil {
			return
		}
		d, err := net.Dial("tcp", k.target)
		if err != nil {
			c.Close()
			continue
		}
		k.mu.Lock()
		if k.killed {
			k.mu.Unlock()
			c.Close()
			d.Close()
			return
		}
		k.conns = append(k.conns, c, d)
		k.mu.Unlock()
		k.wg.Go(func() { io.Copy(d, c); d.Close() })
		k.wg.Go(func() { io.Copy(c, d); c.Close() })
	}
}

// via returns dbURL with its host replaced by the switch's.
func (k *killSwitch) via(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", err
	}
	u.Host = k.ln.Addr().String()
	return u.String(), nil
}

// kill closes the listener and every connection, and waits for the
// copies to end.
func (k *killSwitch) kill() {
	k.mu.Lock()
	k.killed = true
	k.ln.Close()
	for _, c := range k.conns {
		c.Close()
	}
	k.conns = nil
	k.mu.Unlock()
	k.wg.Wait()
}

// measureTakeover measures how long after a node of a cluster dies its
// run is taken over, with the cluster's default lease, heartbeat and
// grace. Two nodes, engines of this process, share the database; the
// victim reaches it through a killSwitch. Once the victim's run is under
// way the switch closes all the victim's connections at once and lets no
// other through: from the database's side, the SIGKILL of a serve (the
// victim's engine goes on in this process, fences itself and records
// nothing more, since nothing it sends arrives). The time is from that
// instant until the other node starts the run's retry, which it does
// once it has swept the victim and recorded the run interrupted.
func measureTakeover(ctx context.Context, dbURL string) (time.Duration, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return 0, err
	}
	ks, err := newKillSwitch(u.Host)
	if err != nil {
		return 0, err
	}
	defer ks.kill()
	viaSwitch, err := ks.via(dbURL)
	if err != nil {
		return 0, err
	}
	var (
		engines []*engine.Engine
		closers []func()
	)
	defer func() {
		for _, e := range engines {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			e.Stop(stopCtx)
			cancel()
		}
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	for i, storeURL := range []string{viaSwitch, dbURL} {
		home, err := os.MkdirTemp("", "cronbox-bench-takeover-")
		if err != nil {
			return 0, err
		}
		closers = append(closers, func() { os.RemoveAll(home) })
		if err := writeApps(home, wasmtest.Spin(), 1, 1, 1, func(int, int) string {
			return "  - name: t\n    module: tasks/t.wasm\n    termination: { maxRuntime: 1h }\n    retry: { max: 1, backoff: 1ms }\n"
		}); err != nil {
			return 0, err
		}
		st, err := postgres.Open(ctx, storeURL, postgres.Options{})
		if err != nil {
			return 0, err
		}
		closers = append(closers, func() { st.Close() })
		rt, err := newRuntime(ctx, 0)
		if err != nil {
			return 0, err
		}
		closers = append(closers, func() { rt.Close(context.Background()) })
		e, err := engine.New(engine.Config{Home: home, Store: engine.StoreOf(st), Runtime: rt,
			Node: fmt.Sprintf("takeover%d", i+1), Cluster: &engine.Cluster{Nodes: st}, GracePeriod: time.Millisecond})
		if err != nil {
			return 0, err
		}
		if err := e.Start(ctx); err != nil {
			return 0, err
		}
		engines = append(engines, e)
	}
	victim, survivor := engines[0], engines[1]
	started, stopVictim := victim.Subscribe()
	defer stopVictim()
	retried, stopSurvivor := survivor.Subscribe()
	defer stopSurvivor()
	id, err := victim.Trigger(ctx, "a000", "t", nil, "")
	if err != nil {
		return 0, err
	}
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for running := false; !running; {
		select {
		case ev := <-started:
			running = ev.Type == engine.EventRunStarted && ev.RunID == id
		case <-deadline.C:
			return 0, errors.New("takeover: the victim's run did not start")
		}
	}
	ks.kill()
	killed := time.Now()
	for {
		select {
		case ev := <-retried:
			if ev.Type == engine.EventRunStarted && ev.Trigger == store.TriggerRetry {
				return time.Since(killed), nil
			}
		case <-deadline.C:
			return 0, fmt.Errorf("takeover: no retry of run %d on the other node within a minute of the kill", id)
		}
	}
}
