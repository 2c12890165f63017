package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
)

// fencedInsertRunSQL is insertRunSQL for a node that registered: the row
// is inserted only while the lease of the node's epoch ($16) is live, in
// the same statement, so fencing costs no round trip. $14 is RetryOf,
// $15 NoOverlap, $20 Replace. If $17 (the app's quotas.concurrency, 0 for
// none) is positive, the run takes a slot of its app as takeSlotSQL does, with its
// memory limit $18 against the app's memory quota $19, and holds it if it
// got it: the second column says so. A run with Replace asks for the
// cancel of the other runs of its task with Replace on other nodes. A run
// that waits for room on its node ($21, with its module $22) wakes the
// nodes that may take it over (handoff.go).
var fencedInsertRunSQL = `WITH live AS (SELECT 1 FROM nodes WHERE name = $13::text AND epoch = $16::bigint
		AND state = 'running' AND lease_until > now()),
	slot AS (SELECT 1 FROM live WHERE ` + takeSlotSQL(`$17::integer > 0 AND NOT ($20::boolean AND `+replaceHeldSQL("$1::text", "$2::text")+`)`,
	"$1::text", "$13::text", "$18::bigint", "$17::integer", "$19::bigint") + `),
	cancels AS (INSERT INTO run_cancels (run_id, requested_at)
		SELECT ID, now() FROM TaskExecutions, live
		WHERE $20::boolean AND AppName = $1::text AND TaskName = $2::text AND Status = 'running' AND Replace AND Node <> $13::text
		ON CONFLICT (run_id) DO NOTHING
		RETURNING run_id)
	INSERT INTO TaskExecutions (AppName, TaskName, Status, TriggeredBy, TriggeredByUser,
		ScheduledTime, Attempt, StartTime, EndTime, Duration, Input, Reason, Node, RetryOf, NoOverlap, SlotMemory, Replace,
		Waiting, Module)
	SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::timestamptz, $7::integer, $8::timestamptz,
		$9::timestamptz, $10::bigint, $11::text, $12::text, $13::text, $14::bigint, $15::boolean,
		CASE WHEN EXISTS (SELECT 1 FROM slot) THEN $18::bigint END, $20::boolean, $21::boolean, $22::text
	FROM live
	WHERE CASE WHEN EXISTS (SELECT 1 FROM cancels) THEN pg_notify('` + cancelsChannel + `', '') IS NOT NULL ELSE true END
		AND CASE WHEN $21::boolean THEN pg_notify('` + waitingChannel + `', $1::text) IS NOT NULL ELSE true END
	RETURNING ID, SlotMemory IS NOT NULL`

// replaceHeldSQL is true when a run of task app/task with Replace holds a
// slot: a run of it with Replace may then take none. Two runs that find
// none at once both try; the index idx_running_replace refuses the
// second.
func replaceHeldSQL(app, task string) string {
	return `EXISTS (SELECT 1 FROM TaskExecutions WHERE AppName = ` + app + ` AND TaskName = ` + task + `
		AND Status = 'running' AND Replace AND SlotMemory IS NOT NULL)`
}

// takeSlotSQL is a condition that, when the SQL condition when holds,
// takes a slot of app for a run of node with memory limit memory, unless the
// app's slots already number concurrency, or their memory limits, summed
// with the run's, would pass memoryQuota while any is held; it is true
// if it took the slot (the function app_slot_take, migration 21: the
// slot comes from the node's lease of the app's slots, which grows from
// the app's row when it has none free). Concurrent takers of an app
// that grow their leases wait for each other on the app's row, and each
// checks the quotas on the row as the last one left it, so together
// they never pass them. The CASE makes sure when is checked first: a
// slot taken for a run that is then not recorded would be lost.
func takeSlotSQL(when, app, node, memory, concurrency, memoryQuota string) string {
	return `CASE WHEN ` + when + ` THEN app_slot_take(` + app + `, ` + node + `, ` + memory + `, ` + concurrency + `, ` + memoryQuota + `)
		ELSE false END`
}

// appLockSQL locks, for app $1, the rows that the writes of the app lock
// in common, making them if there are none, without changing them (ON
// CONFLICT DO UPDATE locks the row it does not update): the app's lease
// of each node $2 (the nodes of the store: one, but in tests), and the
// app's rows of history_usage and app_usage that the transaction's
// connection adds to. The group writer sends them before the writes of
// each app (groupWriter.appLock): a write may lock the app's row of
// app_slots (its lease grows or shrinks) after the writes of the group
// before it locked those rows, and all writes lock the app's rows in
// this order, in the order of the apps: none waits for another in a
// circle.
var appLockSQL = []string{
	`INSERT INTO app_leases AS l (app, node) SELECT $1::text, n FROM unnest($2::text[]) n ORDER BY n
	ON CONFLICT (app, node) DO UPDATE SET slots = l.slots WHERE false`,
	`INSERT INTO history_usage AS u (app, shard, bytes) VALUES ($1::text, ` + usageShard + `, 0)
	ON CONFLICT (app, shard) DO UPDATE SET bytes = u.bytes WHERE false`,
	`INSERT INTO app_usage AS u (app, shard, runs, cpu_ns, peak_memory, output_bytes, log_bytes, http_sent,
		http_received, kv_written, files_written) VALUES ($1::text, ` + usageShard + `, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	ON CONFLICT (app, shard) DO UPDATE SET runs = u.runs WHERE false`,
}

// TakeSlot implements store.Slots: one statement, which locks the run,
// so that a run that ends meanwhile (and gives back what it holds) takes
// nothing.
func (s *Store) TakeSlot(ctx context.Context, id int64, slot store.Slot) (bool, error) {
	var held bool
	err := s.pool.QueryRow(ctx, `WITH run AS (SELECT AppName, TaskName, SlotMemory, Replace, Node FROM TaskExecutions
			WHERE ID = $1 AND Status = 'running' FOR UPDATE),
		slot AS (SELECT 1 FROM run WHERE `+takeSlotSQL(`SlotMemory IS NULL AND NOT (Replace AND `+replaceHeldSQL("run.AppName", "run.TaskName")+`)`,
		"AppName", "coalesce(Node, '')", "$3::bigint", "$2::integer", "$4::bigint")+`),
		upd AS (UPDATE TaskExecutions SET SlotMemory = $3::bigint WHERE ID = $1 AND EXISTS (SELECT 1 FROM slot) RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM upd) OR EXISTS (SELECT 1 FROM run WHERE SlotMemory IS NOT NULL)`,
		id, slot.Concurrency, slot.Memory, slot.MemoryQuota).Scan(&held)
	if violates(err, "idx_running_replace") { // another run of the task took one at once
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("taking a slot for run %d: %w", id, err)
	}
	return held, nil
}

// nodeColumns are the columns scanNode reads; state is computed from the
// database's clock.
const nodeColumns = `name, epoch, addr, version, started_at, heartbeat_at, lease_until, running, capacity, apps, runs,
	CASE WHEN state = 'dead' THEN 'dead' WHEN state = 'running' AND lease_until >= now() THEN 'alive' ELSE 'suspect' END`

func scanNode(row pgx.Row) (store.Node, error) {
	var (
		n          store.Node
		apps, runs string
	)
	err := row.Scan(&n.Name, &n.Epoch, &n.Addr, &n.Version, &n.StartedAt, &n.HeartbeatAt, &n.LeaseUntil,
		&n.Running, &n.Capacity, &apps, &runs, &n.State)
	if err != nil {
		return n, err
	}
	n.StartedAt, n.HeartbeatAt, n.LeaseUntil = n.StartedAt.UTC(), n.HeartbeatAt.UTC(), n.LeaseUntil.UTC()
	if err := json.Unmarshal([]byte(apps), &n.Apps); err != nil {
		return n, fmt.Errorf("node %s: apps: %w", n.Name, err)
	}
	if err := json.Unmarshal([]byte(runs), &n.Runs); err != nil {
		return n, fmt.Errorf("node %s: runs: %w", n.Name, err)
	}
	return n, nil
}

// checkStatus validates what a node reports and returns its apps and
// its run counts as JSON.
func checkStatus(doing string, st *store.NodeStatus, ttl time.Duration) (apps, runs string, err error) {
	switch {
	case st.Name == "":
		return "", "", fmt.Errorf("%s: %w: no node name", doing, store.ErrInvalid)
	case ttl <= 0:
		return "", "", fmt.Errorf("%s: %w: lease %s is not positive", doing, store.ErrInvalid, ttl)
	}
	if st.Apps == nil {
		st.Apps = map[string]string{}
	}
	if st.Runs == nil {
		st.Runs = []store.RunCount{}
	}
	a, err := json.Marshal(st.Apps)
	if err != nil {
		return "", "", err
	}
	r, err := json.Marshal(st.Runs)
	return string(a), string(r), err
}

// RegisterNode implements store.Nodes: one statement, which takes the
// name unless its lease is live.
func (s *Store) RegisterNode(ctx context.Context, st store.NodeStatus, ttl time.Duration) (store.Node, error) {
	doing := fmt.Sprintf("registering node %s", st.Name)
	apps, runs, err := checkStatus(doing, &st, ttl)
	if err != nil {
		return store.Node{}, err
	}
	n, err := scanNode(s.pool.QueryRow(ctx, `INSERT INTO nodes AS n (name, epoch, addr, version, started_at, heartbeat_at,
			lease_until, running, capacity, apps, runs, state)
		VALUES ($1, 1, $2, $3, now(), now(), now() + $4 * interval '1 microsecond', $5, $6, $7, $8, 'running')
		ON CONFLICT (name) DO UPDATE SET epoch = n.epoch + 1, addr = excluded.addr, version = excluded.version,
			started_at = now(), heartbeat_at = now(), lease_until = excluded.lease_until, running = excluded.running,
			capacity = excluded.capacity, apps = excluded.apps, runs = excluded.runs, state = 'running'
		WHERE n.state <> 'running' OR n.lease_until < now()
		RETURNING `+nodeColumns,
		st.Name, st.Addr, st.Version, ttl.Microseconds(), st.Running, st.Capacity, apps, runs))
	if errors.Is(err, pgx.ErrNoRows) {
		var last time.Time
		var ago float64
		if err := s.pool.QueryRow(ctx, `SELECT heartbeat_at, extract(epoch FROM now() - heartbeat_at)::float8 FROM nodes WHERE name = $1`,
			st.Name).Scan(&last, &ago); err != nil {
			return store.Node{}, fmt.Errorf("%s: %w", doing, err)
		}
		return store.Node{}, fmt.Errorf("node %s is already running (last heartbeat %s ago, at %s): %w",
			st.Name, (time.Duration(ago * float64(time.Second))).Round(time.Millisecond), last.UTC().Format(time.RFC3339), store.ErrNodeRunning)
	}
	if err != nil {
		return store.Node{}, fmt.Errorf("%s: %w", doing, err)
	}
	s.fences.Store(n.Name, n.Epoch)
	return n, nil
}

// RenewLease implements store.Nodes: one round trip, a batch of the
// renewal and the list.
func (s *Store) RenewLease(ctx context.Context, name string, epoch int64, ttl time.Duration, st store.NodeStatus) ([]store.Node, error) {
	doing := fmt.Sprintf("renewing the lease of node %s", name)
	st.Name = name
	apps, runs, err := checkStatus(doing, &st, ttl)
	if err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE nodes SET heartbeat_at = now(), lease_until = now() + $3 * interval '1 microsecond',
			addr = $4, version = $5, running = $6, capacity = $7, apps = $8, runs = $9
		WHERE name = $1 AND epoch = $2 AND state = 'running' AND lease_until >= now()`,
		name, epoch, ttl.Microseconds(), st.Addr, st.Version, st.Running, st.Capacity, apps, runs)
	b.Queue(`SELECT ` + nodeColumns + ` FROM nodes ORDER BY name`)
	var nodes []store.Node
	err = s.batch(ctx, b, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return store.ErrFenced
		}
		nodes, err = readNodes(br.Query())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	return nodes, nil
}

func readNodes(rows pgx.Rows, err error) ([]store.Node, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var nodes []store.Node
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	return nodes, rows.Err()
}

// ListNodes implements store.Nodes.
func (s *Store) ListNodes(ctx context.Context) ([]store.Node, error) {
	nodes, err := readNodes(s.pool.Query(ctx, `SELECT `+nodeColumns+` FROM nodes ORDER BY name`))
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	return nodes, nil
}

// interruptSet is the SET clause that ends a run as interrupted at the
// database's now, with the SQL expression msg as its error unless it has
// one.
func interruptSet(msg string) string {
	return `SET Status = 'interrupted', EndTime = now(),
	Duration = greatest(0, floor(extract(epoch FROM now() - StartTime) * 1000))::bigint,
	ErrorMessage = coalesce(nullif(ErrorMessage, ''), ` + msg + `)`
}

func (s *Store) readRuns(doing string, rows pgx.Rows, err error) ([]store.Run, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	defer rows.Close()
	var runs []store.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", doing, err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	return runs, nil
}

// slotsFirstSQL is a condition for a statement that ends the running runs
// matching where, of any apps: it locks the app_slots rows of their apps
// in the order of the apps before the first run is ended, as the group
// writer orders its writes (groupOp.slots). Without it, each run's end
// would lock its app's row (the trigger app_slot_release) in the order
// of the runs' rows, and meet the order of a group in a deadlock. The
// subquery uses no column of the statement's rows, so PostgreSQL runs it
// once, first.
func slotsFirstSQL(where string) string {
	return `(SELECT count(*) FROM (SELECT 1 FROM app_slots WHERE app IN (SELECT AppName FROM TaskExecutions WHERE ` + where + `)
		ORDER BY app FOR UPDATE) locked) >= 0`
}

// InterruptNodeRuns implements store.Nodes: one statement.
func (s *Store) InterruptNodeRuns(ctx context.Context, name string) ([]store.Run, error) {
	const where = `Status = 'running' AND Node = $1`
	rows, err := s.pool.Query(ctx, `UPDATE TaskExecutions `+interruptSet(`'interrupted: node ' || Node || ' stopped or lost its lease'`)+`
		WHERE `+where+` AND `+slotsFirstSQL(where)+` RETURNING `+runColumns, name)
	return s.readRuns(fmt.Sprintf("interrupting the runs of node %s", name), rows, err)
}

// sweptSQL selects the runs SweepNodes ends.
const sweptSQL = `Status = 'running' AND Node IN (SELECT name FROM dead)`

// SweepNodes implements store.Nodes: one statement, whose FOR UPDATE SKIP
// LOCKED gives each node to one sweeper.
func (s *Store) SweepNodes(ctx context.Context, grace time.Duration) ([]store.Run, error) {
	rows, err := s.pool.Query(ctx, `WITH lost AS (
			SELECT name FROM nodes
			WHERE state = 'stopped' OR (state = 'running' AND lease_until < now() - $1 * interval '1 microsecond')
			FOR UPDATE SKIP LOCKED),
		dead AS (UPDATE nodes SET state = 'dead' FROM lost WHERE nodes.name = lost.name RETURNING nodes.name)
		UPDATE TaskExecutions `+interruptSet(`'interrupted: node ' || Node || ' was lost'`)+`
		WHERE `+sweptSQL+` AND `+slotsFirstSQL(sweptSQL)+` RETURNING `+runColumns,
		grace.Microseconds())
	return s.readRuns("sweeping lost nodes", rows, err)
}

// LeaveNode implements store.Nodes.
func (s *Store) LeaveNode(ctx context.Context, name string, epoch int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE nodes SET state = 'stopped', lease_until = now()
		WHERE name = $1 AND epoch = $2 AND state = 'running'`, name, epoch); err != nil {
		return fmt.Errorf("node %s leaving: %w", name, err)
	}
	return nil
}
