package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
)

// The nodes of a cluster hand over the runs they have no room for. A run
// recorded while its node was full waits (Waiting, with the Module it
// runs), and its recording wakes the other nodes on waitingChannel. A
// node with room takes some over (ClaimRuns), which ends their wait and
// makes them its own; a run that waited starts on its node only by
// BeginRun, which ends its wait too. Both lock the run and are fenced by
// the node's lease, so of a node starting a run and another taking it
// over, one wins, and a run executes on one node.

// liveSQL selects a row while the lease of node $name's epoch $epoch is
// live.
func liveSQL(name, epoch string) string {
	return `SELECT 1 FROM nodes WHERE name = ` + name + `::text AND epoch = ` + epoch + `::bigint
		AND state = 'running' AND lease_until > now()`
}

// beginRunSQL starts run $1 on node $2 of epoch $3, if the node's lease is
// live and the run is running on it: if the run waits, it ends its wait,
// when $4 (the app's quotas.concurrency) is positive only if the run
// takes a slot of its app as TakeSlot does, with its memory limit $5
// against the memory quota $6. It says whether the lease is live,
// whether the run is the node's, and whether it no longer waits, and
// whether it holds a slot.
var beginRunSQL = `WITH live AS (` + liveSQL("$2", "$3") + `),
	run AS (SELECT AppName, TaskName, Replace, Waiting, SlotMemory FROM TaskExecutions
		WHERE ID = $1 AND Node = $2::text AND Status = 'running' AND EXISTS (SELECT 1 FROM live)
		FOR UPDATE),
	slot AS (SELECT 1 FROM run WHERE ` + takeSlotSQL(`Waiting AND $4::integer > 0 AND NOT (Replace AND `+replaceHeldSQL("run.AppName", "run.TaskName")+`)`,
	"AppName", "$2::text", "$5::bigint", "$4::integer", "$6::bigint") + `),
	upd AS (UPDATE TaskExecutions SET Waiting = false, Module = NULL,
			SlotMemory = CASE WHEN EXISTS (SELECT 1 FROM slot) THEN $5::bigint END
		WHERE ID = $1 AND EXISTS (SELECT 1 FROM run WHERE Waiting) AND ($4::integer <= 0 OR EXISTS (SELECT 1 FROM slot))
		RETURNING SlotMemory)
	SELECT EXISTS (SELECT 1 FROM live), EXISTS (SELECT 1 FROM run),
		EXISTS (SELECT 1 FROM upd) OR EXISTS (SELECT 1 FROM run WHERE NOT Waiting),
		EXISTS (SELECT 1 FROM upd WHERE SlotMemory IS NOT NULL) OR EXISTS (SELECT 1 FROM run WHERE NOT Waiting AND SlotMemory IS NOT NULL)`

// BeginRun starts run id, recorded as waiting on node (store.Run.Waiting):
// one statement, fenced by the node's lease, sent with the writes that
// queue with it. With slot, the run takes a slot of its app's quotas in
// the same statement, and does not start without one (false, nil): it
// waits on; slot.Taken says whether it holds one. A run that started on
// node already is reported started. It returns store.ErrNotWaiting if
// the run is not the node's (another node took it over) or has ended,
// store.ErrFenced if the node's lease is not live.
func (s *Store) BeginRun(ctx context.Context, id int64, node string, slot *store.Slot) (bool, error) {
	doing := fmt.Sprintf("starting run %d on node %s", id, node)
	epoch, ok := s.fences.Load(node)
	if !ok {
		return false, fmt.Errorf("%s: %w: the node did not register", doing, store.ErrFenced)
	}
	var want store.Slot // none: Concurrency 0
	if slot != nil {
		want = *slot
	}
	var live, mine, began, held bool
	b := &pgx.Batch{}
	b.Queue(beginRunSQL, id, node, epoch, want.Concurrency, want.Memory, want.MemoryQuota)
	// The slot it takes locks the node's lease of its app, and may lock
	// the app's row of app_slots: the write goes in its group in the
	// order of the apps (want.App).
	err := s.writeSlots(ctx, want.App, b, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&live, &mine, &began, &held) })
	switch {
	case violates(err, "idx_running_replace"): // another run of the task took one at once
		return false, nil
	case err != nil:
		return false, fmt.Errorf("%s: %w", doing, err)
	case !live:
		return false, fmt.Errorf("%s: %w", doing, store.ErrFenced)
	case !mine:
		return false, fmt.Errorf("%s: %w", doing, store.ErrNotWaiting)
	}
	if slot != nil {
		slot.Taken = held
	}
	return began, nil
}

// claimRunsSQL makes node $1 of epoch $2, if its lease is live, the node
// of at most $6 runs waiting on other nodes, the oldest first, of the
// tasks $3/$4 that it runs with the modules $5, and notifies the runs it
// took (takenPrefix). FOR UPDATE SKIP LOCKED gives each run to one
// taker: a run that another node is taking, or that its node is
// starting, is left to them.
var claimRunsSQL = `WITH live AS (` + liveSQL("$1", "$2") + `),
	picked AS (SELECT r.ID AS claimed FROM TaskExecutions r
		JOIN unnest($3::text[], $4::text[], $5::text[]) AS k(app, task, module)
			ON r.AppName = k.app AND r.TaskName = k.task AND r.Module = k.module
		WHERE r.Status = 'running' AND r.Waiting AND r.Node <> $1::text AND EXISTS (SELECT 1 FROM live)
		ORDER BY r.ID LIMIT $6
		FOR UPDATE OF r SKIP LOCKED),
	claimed AS (UPDATE TaskExecutions SET Node = $1::text, Waiting = false, Module = NULL FROM picked WHERE ID = picked.claimed
		RETURNING TaskExecutions.*)
	SELECT ` + runColumns + ` FROM claimed
	WHERE pg_notify('` + waitingChannel + `', (SELECT '` + takenPrefix + `' || string_agg(ID::text, ',') FROM claimed)) IS NOT NULL`

// takenPrefix starts the payload of a notification on waitingChannel
// that lists the runs a node took over, which no app name starts with.
const takenPrefix = "#"

// ClaimRuns takes over, for node, at most limit runs waiting on other
// nodes (store.Run.Waiting), the oldest first, of the tasks it runs with
// the same modules, and returns them: one statement, fenced by the
// node's lease (a node whose lease is not live takes none). Each is the
// node's from then on, as if it had started it: no other node takes it
// again, its node no longer starts it (BeginRun), and a node that dies is
// swept with it. Of nodes taking runs at once, each run goes to one.
func (s *Store) ClaimRuns(ctx context.Context, node string, tasks []store.TaskModule, limit int) ([]store.Run, error) {
	doing := fmt.Sprintf("taking over waiting runs for node %s", node)
	epoch, ok := s.fences.Load(node)
	if !ok {
		return nil, fmt.Errorf("%s: %w: the node did not register", doing, store.ErrFenced)
	}
	if limit <= 0 || len(tasks) == 0 {
		return nil, nil
	}
	apps, names, modules := make([]string, len(tasks)), make([]string, len(tasks)), make([]string, len(tasks))
	for i, t := range tasks {
		apps[i], names[i], modules[i] = t.App, t.Task, t.Module
	}
	rows, err := s.pool.Query(ctx, claimRunsSQL, node, epoch, apps, names, modules, limit)
	return s.readRuns(doing, rows, err)
}

// WatchWaiting calls waiting with the app of each run recorded waiting
// for room on its node (store.Run.Waiting), on any node, and with "" when
// it cannot tell (after each connection to the database, and every
// Options.WatchPoll without a notification); and taken with the IDs of
// the runs each ClaimRuns took over; until ctx is done. It returns ctx's
// error. It listens on a connection of its own.
func (s *Store) WatchWaiting(ctx context.Context, waiting func(app string), taken func(ids []int64)) error {
	return s.listen(ctx, waitingChannel, func(_ context.Context, payload string) error {
		list, ok := strings.CutPrefix(payload, takenPrefix)
		if !ok {
			waiting(payload)
			return nil
		}
		var ids []int64
		for _, f := range strings.Split(list, ",") {
			if id, err := strconv.ParseInt(f, 10, 64); err == nil {
				ids = append(ids, id)
			}
		}
		taken(ids)
		return nil
	})
}
