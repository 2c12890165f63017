package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cronbox/cronbox/engine/store"
)

// runColumns are the columns scanRun reads, for GetRun.
const runColumns = `ID, AppName, TaskName, Status, coalesce(TriggeredBy, ''), coalesce(TriggeredByUser, ''),
	ScheduledTime, Attempt, StartTime, EndTime, coalesce(Duration, 0),
	coalesce(ExitCode, -1), coalesce(Output, ''::bytea), coalesce(ErrorMessage, ''), coalesce(Input, ''),
	coalesce(Result, ''), coalesce(PeakMemory, 0), coalesce(Reason, ''), LogsDropped, Overdue, Node, coalesce(ErrorLine, ''), coalesce(RetryOf, 0),
	Progress, coalesce(ProgressMessage, '')`

// runSummaryColumns are runColumns without output, input and result, for
// lists.
const runSummaryColumns = `ID, AppName, TaskName, Status, coalesce(TriggeredBy, ''), coalesce(TriggeredByUser, ''),
	ScheduledTime, Attempt, StartTime, EndTime, coalesce(Duration, 0),
	coalesce(ExitCode, -1), ''::bytea, coalesce(ErrorMessage, ''), '',
	'', coalesce(PeakMemory, 0), coalesce(Reason, ''), LogsDropped, Overdue, Node, coalesce(ErrorLine, ''), coalesce(RetryOf, 0),
	Progress, coalesce(ProgressMessage, '')`

func scanRun(row pgx.Row) (store.Run, error) {
	var (
		r                 store.Run
		sched, start, end *time.Time
		output            []byte
		input, result     string
		durationMS        int64
		status, trigger   string
		progress          *int
		progressMessage   string
	)
	err := row.Scan(&r.ID, &r.App, &r.Task, &status, &trigger, &r.TriggeredByUser,
		&sched, &r.Attempt, &start, &end, &durationMS,
		&r.ExitCode, &output, &r.Error, &input,
		&result, &r.PeakMemory, &r.Reason, &r.LogsDropped, &r.Overdue, &r.Node, &r.ErrorLine, &r.RetryOf,
		&progress, &progressMessage)
	if err != nil {
		return store.Run{}, err
	}
	r.Status, r.Trigger = store.Status(status), store.Trigger(trigger)
	if progress != nil {
		r.Progress = &store.Progress{Percent: *progress, Message: progressMessage}
	}
	r.Duration = time.Duration(durationMS) * time.Millisecond
	r.Output = string(output)
	if input != "" {
		r.Input = []byte(input)
	}
	if result != "" {
		r.Result = []byte(result)
	}
	r.ScheduledTime, r.StartTime, r.EndTime = utc(sched), utc(start), utc(end)
	return r, nil
}

const insertRunSQL = `INSERT INTO TaskExecutions (AppName, TaskName, Status, TriggeredBy, TriggeredByUser,
	ScheduledTime, Attempt, StartTime, EndTime, Duration, Input, Reason, Node, RetryOf)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING ID`

// runInsert is the insert of one run: one statement, sent with the writes
// that queue with it.
type runInsert struct {
	r     *store.Run
	query string
	args  []any
	id    int64
	taken bool // the run took its slot (fenced inserts only)
}

// newRunInsert returns the insert of r, with its Status, EndTime and
// Duration; fenced while the node of r holds a lease.
func (s *Store) newRunInsert(r *store.Run) *runInsert {
	var duration any
	if !r.EndTime.IsZero() {
		duration = r.Duration.Milliseconds()
	}
	in := &runInsert{r: r, query: insertRunSQL, args: []any{
		text(r.App), text(r.Task), string(r.Status), string(r.Trigger), nullText(r.TriggeredByUser),
		ts(r.ScheduledTime), r.Attempt, r.StartTime, ts(r.EndTime), duration,
		nullJSON(r.Input), nullText(r.Reason), text(r.Node), nullID(r.RetryOf)}}
	if epoch, ok := s.fences.Load(r.Node); ok && r.Node != "" {
		var slot store.Slot // none: Concurrency 0
		if r.Slot != nil && r.Status == store.StatusRunning {
			slot = *r.Slot
		}
		running := r.Status == store.StatusRunning
		var module any // NULL but for a run that waits
		if r.Waiting && running {
			module = text(r.Module)
		}
		in.query, in.args = fencedInsertRunSQL, append(in.args, r.NoOverlap && running, epoch,
			slot.Concurrency, slot.Memory, slot.MemoryQuota, r.Replace && running, r.Waiting && running, module)
	}
	return in
}

// write returns the insert as a write of the group writer, which may
// lock its app's slots row.
func (in *runInsert) write() write {
	b := &pgx.Batch{}
	b.Queue(in.query, in.args...)
	return write{b: b, read: func(br pgx.BatchResults) error {
		if in.query == fencedInsertRunSQL {
			return br.QueryRow().Scan(&in.id, &in.taken)
		}
		return br.QueryRow().Scan(&in.id)
	}, slots: in.r.App}
}

// withoutSlot reports whether err is a fenced insert's meeting another
// run of its task that took its slot at once, and if so makes the insert
// take none: the run is recorded without, and takes it later.
func (in *runInsert) withoutSlot(err error) bool {
	if !violates(err, "idx_running_replace") {
		return false
	}
	in.args[16] = 0 // the slot's Concurrency ($17): none
	return true
}

// outcome returns the outcome of the insert, which met err.
func (in *runInsert) outcome(err error) store.Recorded {
	r := in.r
	doing := fmt.Sprintf("starting run of %s/%s", r.App, r.Task)
	if r.Status == store.StatusSkipped {
		doing = fmt.Sprintf("recording skipped run of %s/%s", r.App, r.Task)
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		err = fmt.Errorf("%s on node %s: %w", doing, r.Node, store.ErrFenced)
	case violates(err, "idx_running_no_overlap"):
		err = fmt.Errorf("%s: %w", doing, store.ErrOverlap)
	case violates(err, "idx_retry_once"):
		err = fmt.Errorf("%s: run %d is retried already: %w", doing, r.RetryOf, store.ErrDuplicate)
	case violates(err, "idx_scheduled_once"):
		err = fmt.Errorf("%s: scheduled time %s: %w", doing, r.ScheduledTime.UTC().Format(time.RFC3339Nano), store.ErrDuplicate)
	case err != nil:
		err = fmt.Errorf("%s: %w", doing, err)
	}
	if err != nil {
		return store.Recorded{Err: err}
	}
	if r.Slot != nil {
		r.Slot.Taken = in.taken
	}
	return store.Recorded{ID: in.id}
}

// StartRun implements store.Runs.
func (s *Store) StartRun(ctx context.Context, r store.Run) (int64, error) {
	r.Status = store.StatusRunning
	out := s.RecordRuns(ctx, []store.Run{r})[0]
	return out.ID, out.Err
}

// RecordSkipped implements store.Runs.
func (s *Store) RecordSkipped(ctx context.Context, r store.Run) (int64, error) {
	r.Status = store.StatusSkipped
	out := s.RecordRuns(ctx, []store.Run{r})[0]
	return out.ID, out.Err
}

// RecordRuns implements store.Runs. Each run is an insert of its own,
// queued with the others at once, so that they go in the same groups of
// the group writer: a group that fails on one run's insert (a duplicate)
// is sent again a write at a time, and the others' are committed.
func (s *Store) RecordRuns(ctx context.Context, runs []store.Run) []store.Recorded {
	out := make([]store.Recorded, len(runs))
	ins := make([]*runInsert, 0, len(runs))
	for i := range runs {
		r := &runs[i]
		if r.Status == store.StatusSkipped {
			out[i].Err = store.CheckSkipped(r)
		} else {
			out[i].Err = store.CheckStart(r)
		}
		if out[i].Err == nil {
			ins = append(ins, s.newRunInsert(r))
		}
	}
	writes := make([]write, len(ins))
	for i, in := range ins {
		writes[i] = in.write()
	}
	errs := make([]error, len(ins))
	s.writes.doAll(ctx, writes, false, errs)
	j := 0
	for i := range runs {
		if out[i].Err != nil {
			continue
		}
		in, err := ins[j], errs[j]
		j++
		if in.withoutSlot(err) {
			w := in.write()
			err = s.writeSlots(ctx, w.slots, w.b, w.read)
		}
		out[i] = in.outcome(err)
	}
	return out
}

// lockRunSQL locks a run's row for the rest of the transaction, so that
// its log lines are numbered one writer at a time, and says how it
// stands. The statements after it in a batch see what the writers before
// committed.
const lockRunSQL = `SELECT Status FROM TaskExecutions WHERE ID = $1 FOR UPDATE`

// appendLogsCTE inserts the lines $2-$4 (times, levels, messages) after
// the last line of run $1, up to $5 lines in all, as ins(size).
const appendLogsCTE = `last AS (SELECT coalesce(max(seq), 0) AS n FROM run_logs WHERE run_id = $1),
	ins AS (INSERT INTO run_logs (run_id, seq, time, level, message)
		SELECT $1, last.n + l.i, l.t, l.lv, l.m
		FROM last, unnest($2::timestamptz[], $3::text[], $4::bytea[]) WITH ORDINALITY AS l(t, lv, m, i)
		WHERE last.n + l.i <= $5
		RETURNING octet_length(message) AS size)`

// logArgs returns the arguments $2-$5 of appendLogsCTE.
func (s *Store) logArgs(lines []store.LogLine) []any {
	times := make([]time.Time, len(lines))
	levels := make([]string, len(lines))
	msgs := make([][]byte, len(lines))
	for i, l := range lines {
		times[i], levels[i], msgs[i] = s.now(l.Time), text(l.Level), []byte(l.Message)
	}
	return []any{times, levels, msgs, s.opts.MaxLogLines}
}

// FinishRun implements store.Runs: EndRun's round trip, which locks the
// run, appends end.Logs and ends it in one transaction.
func (s *Store) FinishRun(ctx context.Context, id int64, end store.RunEnd) error {
	_, err := s.EndRun(ctx, id, end, store.AfterEnd{})
	return err
}

// endRunSQL appends the last lines of run $1 and ends it, if it is
// running ($2-$23, and $27 its last error line), and then resets the failure count of its task
// $25/$26 if $24 (a success's outcome). It says whether it ended the run,
// and the task's DisabledReason and DisabledAt.
var endRunSQL = `WITH running AS (SELECT 1 FROM TaskExecutions WHERE ID = $1 AND Status = 'running'), ` +
	strings.Replace(appendLogsCTE, "FROM last, unnest", "FROM running, last, unnest", 1) + `,
	upd AS (UPDATE TaskExecutions SET Status = $6, EndTime = $7, Duration = $8, ExitCode = $9,
		Output = $10, ErrorMessage = $11, Result = $12, PeakMemory = $13,
		LogsDropped = LogsDropped + $14 + cardinality($4::bytea[]) - (SELECT count(*) FROM ins),
		LogBytes = LogBytes + (SELECT coalesce(sum(size), 0) FROM ins), Overdue = $23,
		ErrorLine = coalesce($27::text, ErrorLine),
		Progress = coalesce($28::integer, Progress), ProgressMessage = coalesce($29::text, ProgressMessage)
		WHERE ID = $1 AND Status = 'running'
		RETURNING ID, AppName),
	usage AS (INSERT INTO run_usage (run_id, app, end_time, cpu_ns, peak_memory, output_bytes, log_bytes,
			http_sent, http_received, kv_written, files_written)
		SELECT ID, AppName, $7, $15, $16, $17, $18, $19, $20, $21, $22 FROM upd),
	cleared AS (UPDATE TaskConfigurations SET ConsecutiveFailures = 0
		WHERE $24 AND EXISTS (SELECT 1 FROM upd) AND AppName = $25 AND TaskName = $26 AND ConsecutiveFailures <> 0)
	SELECT EXISTS (SELECT 1 FROM upd),
		(SELECT DisabledReason FROM TaskConfigurations WHERE AppName = $25 AND TaskName = $26),
		(SELECT DisabledAt FROM TaskConfigurations WHERE AppName = $25 AND TaskName = $26)`

// pruneDueSQL says whether PruneRuns of task $1/$2 with keepLast $3 and
// olderThan $4, or PruneHistory of app $1 with quota $5, would delete a
// run: PruneRuns's read and PruneHistory's, as one.
const pruneDueSQL = `SELECT ($3::bigint > 0 AND EXISTS (SELECT 1 FROM TaskExecutions
		WHERE AppName = $1 AND TaskName = $2 ORDER BY ID DESC LIMIT 1 OFFSET $3::bigint))
	OR ($4::timestamptz IS NOT NULL AND coalesce((SELECT StartTime FROM TaskExecutions WHERE AppName = $1 AND TaskName = $2 ORDER BY ID LIMIT 1) < $4::timestamptz, false))
	OR ($5::bigint > 0 AND ` + historyBytesSQL + ` > $5::bigint)`

// olderThan is the start time before which PruneRuns deletes runs, NULL
// for no limit of age.
func olderThan(maxAge time.Duration, now time.Time) any {
	if maxAge > 0 {
		return now.Add(-maxAge)
	}
	return nil
}

// EndRun implements store.Runs: one round trip for the end, a success's
// outcome and the retention check, as one batch that PostgreSQL runs in
// one transaction, with the writes grouped with it (lock the run; end it and reset the failure count;
// look whether pruning is due). A failure's outcome follows in a
// transaction of its own: rare, and it decides in Go whether the task
// is disabled.
func (s *Store) EndRun(ctx context.Context, id int64, end store.RunEnd, after store.AfterEnd) (store.Ended, error) {
	var ended store.Ended
	if err := store.CheckRunEnd(id, &end); err != nil {
		return ended, err
	}
	o := after.Outcome
	if o != nil {
		if err := store.CheckOutcome(after.App, after.Task, *o); err != nil {
			return ended, err
		}
	}
	checkPrune := after.App != "" && after.Task != "" && (after.Keep > 0 || after.MaxAge > 0 || after.HistoryQuota > 0)
	args := append([]any{id}, s.logArgs(end.Logs)...)
	u := end.Usage
	args = append(args, string(end.Status), end.EndTime, end.Duration.Milliseconds(), end.ExitCode,
		[]byte(end.Output), nullText(end.Error), nullJSON(end.Result), end.PeakMemory, end.LogsDropped,
		int64(u.CPUTime), u.PeakMemory, u.OutputBytes, u.LogBytes, u.HTTPSent, u.HTTPReceived, u.KVWritten, u.FilesWritten,
		end.Overdue, o != nil && !o.Failed, text(after.App), text(after.Task), errorLine(end.Logs))
	args = append(args, progressArgs(end.Progress)...)
	b := &pgx.Batch{}
	b.Queue(lockRunSQL, id)
	b.Queue(endRunSQL, args...)
	if checkPrune {
		b.Queue(pruneDueSQL, text(after.App), text(after.Task), after.Keep, olderThan(after.MaxAge, after.Now), after.HistoryQuota)
	}
	var (
		status, reason *string
		disabledAt     *time.Time
	)
	// The end gives back the run's slot (the trigger app_slot_release)
	// to its node's lease of the app, which may give back to the app's
	// row of app_slots: the write goes in its group in the order of the
	// apps. An end whose caller did not name the app
	// goes with the writes that lock no slot; a deadlock it meets is sent
	// again (commitAlone).
	err := s.writeSlots(ctx, cmp.Or(end.App, after.App), b, func(br pgx.BatchResults) error {
		if err := br.QueryRow().Scan(&status); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return store.ErrNotFound
			}
			return err
		}
		if err := br.QueryRow().Scan(&ended.Recorded, &reason, &disabledAt); err != nil {
			return err
		}
		if checkPrune {
			return br.QueryRow().Scan(&ended.PruneDue)
		}
		return nil
	})
	if err == nil && !ended.Recorded {
		err = fmt.Errorf("%w: it is %s", store.ErrFinished, *status)
	}
	if err != nil {
		return store.Ended{}, fmt.Errorf("finishing run %d: %w", id, err)
	}
	switch {
	case o == nil:
	case o.Failed:
		fs, err := s.recordFailure(ctx, after.App, after.Task, *o)
		if err != nil {
			return ended, fmt.Errorf("recording outcome of %s/%s: %w", after.App, after.Task, err)
		}
		ended.State = &fs
	default:
		fs := store.FailureState{DisabledAt: utc(disabledAt)}
		if reason != nil {
			fs.DisabledReason = *reason
		}
		ended.State = &fs
	}
	return ended, nil
}

// AppendLogs implements store.Runs: one round trip, shared with the
// writes grouped with it.
func (s *Store) AppendLogs(ctx context.Context, runID int64, lines []store.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	return s.appendLogs(ctx, runID, lines, nil)
}

// AppendProgress implements store.RunProgress: AppendLogs's write, which
// sets the run's progress too, while it runs.
func (s *Store) AppendProgress(ctx context.Context, runID int64, lines []store.LogLine, p store.Progress) error {
	return s.appendLogs(ctx, runID, lines, &p)
}

// progressArgs are the arguments of a run's progress p, NULLs for none.
func progressArgs(p *store.Progress) []any {
	if p == nil {
		return []any{nil, nil}
	}
	return []any{p.Percent, text(p.Message)}
}

// appendLogs appends lines to run runID and, if p is not nil and the run
// is running, sets its progress.
func (s *Store) appendLogs(ctx context.Context, runID int64, lines []store.LogLine, p *store.Progress) error {
	args := append(append([]any{runID}, s.logArgs(lines)...), errorLine(lines))
	b := &pgx.Batch{}
	b.Queue(lockRunSQL, runID)
	b.Queue(`WITH `+appendLogsCTE+`
		UPDATE TaskExecutions SET LogsDropped = LogsDropped + cardinality($4::bytea[]) - (SELECT count(*) FROM ins),
			LogBytes = LogBytes + (SELECT coalesce(sum(size), 0) FROM ins),
			ErrorLine = coalesce($6::text, ErrorLine),
			Progress = CASE WHEN Status = 'running' THEN coalesce($7::integer, Progress) ELSE Progress END,
			ProgressMessage = CASE WHEN Status = 'running' THEN coalesce($8::text, ProgressMessage) ELSE ProgressMessage END
		WHERE ID = $1`, append(args, progressArgs(p)...)...)
	err := s.write(ctx, b, func(br pgx.BatchResults) error {
		var status string
		if err := br.QueryRow().Scan(&status); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return store.ErrNotFound
			}
			return err
		}
		_, err := br.Exec()
		return err
	})
	if err != nil {
		return fmt.Errorf("appending logs to run %d: %w", runID, err)
	}
	return nil
}

// errorLine is the last error-level line of lines as ErrorLine keeps it,
// NULL if there is none.
func errorLine(lines []store.LogLine) any {
	if msg, ok := store.LastErrorLine(lines); ok {
		return text(msg)
	}
	return nil
}

// GetRun implements store.RunReader.
func (s *Store) GetRun(ctx context.Context, id int64) (*store.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM TaskExecutions WHERE ID = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("getting run %d: %w", id, err)
	}
	return &r, nil
}

// ListRuns implements store.RunReader.
func (s *Store) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	if f.Apps != nil && len(f.Apps) == 0 {
		return nil, nil
	}
	var q query
	q.WriteString(`SELECT ` + runSummaryColumns + ` FROM TaskExecutions WHERE true`)
	if len(f.Apps) > 0 {
		q.WriteString(` AND AppName = ANY(` + q.arg(f.Apps) + `)`)
	}
	if f.Task != "" {
		q.WriteString(` AND TaskName = ` + q.arg(f.Task))
	}
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			statuses[i] = string(st)
		}
		q.WriteString(` AND Status = ANY(` + q.arg(statuses) + `)`)
	}
	if !f.Since.IsZero() {
		q.WriteString(` AND StartTime >= ` + q.arg(f.Since))
	}
	if !f.Until.IsZero() {
		q.WriteString(` AND StartTime < ` + q.arg(f.Until))
	}
	if len(f.Triggers) > 0 {
		triggers := make([]string, len(f.Triggers))
		for i, t := range f.Triggers {
			triggers[i] = string(t)
		}
		q.WriteString(` AND TriggeredBy = ANY(` + q.arg(triggers) + `)`)
	}
	if f.Node != "" {
		q.WriteString(` AND Node = ` + q.arg(f.Node))
	}
	if f.Text != "" {
		// A log line is bytes: ILIKE over its escaped form ignores the
		// case of ASCII letters, LIKE over its bytes finds other text.
		pat := q.arg(store.LikePattern(f.Text))
		q.WriteString(` AND (ErrorMessage ILIKE ` + pat + ` OR Reason ILIKE ` + pat + `
			OR EXISTS (SELECT 1 FROM run_logs WHERE run_id = ID
				AND (encode(message, 'escape') ILIKE ` + pat + ` OR message LIKE convert_to(` + pat + `, 'UTF8'))))`)
	}
	if f.BeforeID > 0 {
		q.WriteString(` AND ID < ` + q.arg(f.BeforeID))
	}
	if f.AfterID > 0 {
		q.WriteString(` AND ID > ` + q.arg(f.AfterID))
	}
	q.WriteString(` ORDER BY ID DESC LIMIT ` + q.arg(store.ClampLimit(f.Limit)))
	rows, err := s.pool.Query(ctx, q.String(), q.args...)
	var runs []store.Run
	if err == nil {
		runs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Run, error) { return scanRun(row) })
	}
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	return runs, nil
}

// RecentRuns implements store.RunReader.
func (s *Store) RecentRuns(ctx context.Context, tasks []store.TaskRef, n int) ([]store.Run, error) {
	if len(tasks) == 0 {
		return nil, nil
	}
	apps, names := make([]string, len(tasks)), make([]string, len(tasks))
	for i, t := range tasks {
		apps[i], names[i] = t.App, t.Task
	}
	rows, err := s.pool.Query(ctx, `SELECT r.* FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(app, task, i)
		CROSS JOIN LATERAL (SELECT `+runSummaryColumns+` FROM TaskExecutions
			WHERE AppName = k.app AND TaskName = k.task ORDER BY ID DESC LIMIT $3) r
		ORDER BY k.i, r.ID DESC`, apps, names, store.ClampLimit(n))
	var runs []store.Run
	if err == nil {
		runs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Run, error) { return scanRun(row) })
	}
	if err != nil {
		return nil, fmt.Errorf("listing recent runs: %w", err)
	}
	return runs, nil
}

// RunLogs implements store.RunReader.
func (s *Store) RunLogs(ctx context.Context, runID, afterSeq int64, limit int) ([]store.LogLine, error) {
	// The run's row, joined to its lines: an unknown run has none, a
	// run without lines (yet) has one with a NULL seq.
	rows, err := s.pool.Query(ctx, `SELECT l.seq, l.time, l.level, l.message FROM TaskExecutions r
		LEFT JOIN LATERAL (SELECT seq, time, level, message FROM run_logs
			WHERE run_id = r.ID AND seq > $2 ORDER BY seq LIMIT $3) l ON true
		WHERE r.ID = $1 ORDER BY l.seq`, runID, afterSeq, store.ClampLimit(limit))
	var (
		found bool
		lines []store.LogLine
	)
	if err == nil {
		var (
			seq   *int64
			t     *time.Time
			level *string
			msg   []byte
		)
		_, err = pgx.ForEachRow(rows, []any{&seq, &t, &level, &msg}, func() error {
			found = true
			if seq != nil {
				lines = append(lines, store.LogLine{Seq: *seq, Time: utc(t), Level: *level, Message: string(msg)})
			}
			return nil
		})
	}
	if err == nil && !found {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading logs of run %d: %w", runID, err)
	}
	return lines, nil
}

// MarkInterrupted implements store.Runs: one statement.
func (s *Store) MarkInterrupted(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE TaskExecutions SET Status = $1, EndTime = $2,
		Duration = greatest(0, floor(extract(epoch FROM $2::timestamptz - StartTime) * 1000))::bigint,
		ErrorMessage = coalesce(nullif(ErrorMessage, ''), $3) WHERE Status = 'running' AND `+slotsFirstSQL(`Status = 'running'`),
		string(store.StatusInterrupted), now, store.InterruptedMessage)
	if err != nil {
		return 0, fmt.Errorf("marking interrupted runs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// lastScheduledSQL selects the run holding the latest ScheduledTime of
// task $1/$2 recorded by the schedule and catch-up triggers.
const lastScheduledSQL = `SELECT ID, ScheduledTime FROM TaskExecutions
	WHERE AppName = $1 AND TaskName = $2 AND ScheduledTime IS NOT NULL AND TriggeredBy IN ('schedule', 'catch-up')
	ORDER BY ScheduledTime DESC LIMIT 1`

// LastScheduled implements store.Runs.
func (s *Store) LastScheduled(ctx context.Context, app, task string) (time.Time, error) {
	var (
		id int64
		t  time.Time
	)
	err := s.pool.QueryRow(ctx, lastScheduledSQL, app, task).Scan(&id, &t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reading last scheduled time of %s/%s: %w", app, task, err)
	}
	return t.UTC(), nil
}

// LastScheduledOf implements store.Runs: lastScheduledSQL for each task,
// in one statement.
func (s *Store) LastScheduledOf(ctx context.Context, tasks []store.TaskRef) (map[store.TaskRef]time.Time, error) {
	out := make(map[store.TaskRef]time.Time)
	if len(tasks) == 0 {
		return out, nil
	}
	apps, names := make([]string, len(tasks)), make([]string, len(tasks))
	for i, t := range tasks {
		apps[i], names[i] = t.App, t.Task
	}
	rows, err := s.pool.Query(ctx, `SELECT k.i, l.ScheduledTime FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(app, task, i)
		CROSS JOIN LATERAL (SELECT ScheduledTime FROM TaskExecutions
			WHERE AppName = k.app AND TaskName = k.task AND ScheduledTime IS NOT NULL AND TriggeredBy IN ('schedule', 'catch-up')
			ORDER BY ScheduledTime DESC LIMIT 1) l`, apps, names)
	if err == nil {
		var (
			i int64
			t time.Time
		)
		_, err = pgx.ForEachRow(rows, []any{&i, &t}, func() error {
			out[tasks[i-1]] = t.UTC()
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("reading last scheduled times of %d tasks: %w", len(tasks), err)
	}
	return out, nil
}

// Heartbeat implements store.Runs.
func (s *Store) Heartbeat(ctx context.Context, now time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO heartbeat (id, time) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET time = excluded.time`, now)
	if err != nil {
		return fmt.Errorf("writing heartbeat: %w", err)
	}
	return nil
}

// PruneRuns implements store.Retention. It first looks, with a read,
// whether the task has more than keepLast runs or one older than maxAge;
// then deletes in one statement.
func (s *Store) PruneRuns(ctx context.Context, app, task string, keepLast int, maxAge time.Duration, now time.Time) (int, error) {
	doing := fmt.Sprintf("pruning runs of %s/%s", app, task)
	if due, err := store.CheckPrune(app, task, keepLast, maxAge); !due {
		return 0, err
	}
	var olderThan any // NULL: no start time is older
	if maxAge > 0 {
		olderThan = now.Add(-maxAge)
	}
	var due bool
	err := s.pool.QueryRow(ctx, `SELECT ($3::bigint > 0 AND EXISTS (SELECT 1 FROM TaskExecutions
			WHERE AppName = $1 AND TaskName = $2 ORDER BY ID DESC LIMIT 1 OFFSET $3::bigint))
		OR coalesce((SELECT StartTime FROM TaskExecutions WHERE AppName = $1 AND TaskName = $2 ORDER BY ID LIMIT 1) < $4::timestamptz, false)`,
		app, task, keepLast, olderThan).Scan(&due)
	if err != nil || !due {
		if err != nil {
			err = fmt.Errorf("%s: %w", doing, err)
		}
		return 0, err
	}
	// Finished runs past the newest keepLast, or started before
	// olderThan; never the run holding LastScheduled.
	tag, err := s.pool.Exec(ctx, `DELETE FROM TaskExecutions
		WHERE AppName = $1 AND TaskName = $2 AND Status <> 'running'
		AND ID <> coalesce((SELECT ID FROM TaskExecutions
			WHERE AppName = $1 AND TaskName = $2 AND ScheduledTime IS NOT NULL AND TriggeredBy IN ('schedule', 'catch-up')
			ORDER BY ScheduledTime DESC LIMIT 1), 0)
		AND (($3::bigint > 0 AND ID < coalesce((SELECT ID FROM TaskExecutions
				WHERE AppName = $1 AND TaskName = $2 AND Status <> 'running'
				ORDER BY ID DESC LIMIT 1 OFFSET greatest($3::bigint - 1, 0)), 0))
			OR StartTime < $4::timestamptz)`, app, task, keepLast, olderThan)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", doing, err)
	}
	return int(tag.RowsAffected()), nil
}

// PruneDue implements store.Retention: PruneRuns's read for each task,
// in one statement.
func (s *Store) PruneDue(ctx context.Context, limits []store.PruneLimit, now time.Time) ([]store.TaskRef, error) {
	bounded, err := store.CheckPruneDue(limits)
	if err != nil || len(bounded) == 0 {
		return nil, err
	}
	n := len(bounded)
	apps, names, keeps, older := make([]string, n), make([]string, n), make([]int64, n), make([]*time.Time, n)
	for j, i := range bounded {
		l := limits[i]
		apps[j], names[j], keeps[j] = l.App, l.Task, int64(l.Keep)
		if l.MaxAge > 0 {
			t := now.Add(-l.MaxAge)
			older[j] = &t
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT k.i FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[])
			WITH ORDINALITY AS k(app, task, keep, older, i)
		WHERE (k.keep > 0 AND EXISTS (SELECT 1 FROM TaskExecutions
				WHERE AppName = k.app AND TaskName = k.task ORDER BY ID DESC LIMIT 1 OFFSET k.keep))
			OR coalesce((SELECT StartTime FROM TaskExecutions WHERE AppName = k.app AND TaskName = k.task ORDER BY ID LIMIT 1) < k.older, false)
		ORDER BY k.i`, apps, names, keeps, older)
	var due []store.TaskRef
	if err == nil {
		var j int64
		_, err = pgx.ForEachRow(rows, []any{&j}, func() error {
			due = append(due, limits[bounded[j-1]].TaskRef)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("looking for runs to prune of %d tasks: %w", len(limits), err)
	}
	return due, nil
}

// PruneHistory implements store.Retention: a read, then, if the history is
// past quota, one statement that deletes the oldest finished runs, but
// those holding LastScheduled of their task, until what is left fits.
func (s *Store) PruneHistory(ctx context.Context, app string, quota int64) (int, error) {
	doing := fmt.Sprintf("pruning the run history of %s", app)
	if err := store.CheckPruneHistory(app, quota); err != nil {
		return 0, err
	}
	used, err := s.HistoryUsage(ctx, app)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", doing, err)
	}
	if used <= quota {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `WITH keep AS (
			SELECT DISTINCT ON (TaskName) ID FROM TaskExecutions
			WHERE AppName = $1 AND ScheduledTime IS NOT NULL AND TriggeredBy IN ('schedule', 'catch-up')
			ORDER BY TaskName, ScheduledTime DESC),
		used AS (SELECT `+historyBytesSQL+` AS bytes),
		old AS (
			SELECT ID, sum(`+runBytes("")+`) OVER (ORDER BY ID) - (`+runBytes("")+`) AS freed_before
			FROM TaskExecutions WHERE AppName = $1 AND Status <> 'running' AND ID NOT IN (SELECT ID FROM keep))
		DELETE FROM TaskExecutions WHERE ID IN (SELECT ID FROM old, used WHERE used.bytes - old.freed_before > $2)`,
		app, quota)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", doing, err)
	}
	return int(tag.RowsAffected()), nil
}

// HistoryUsage implements store.Retention.
func (s *Store) HistoryUsage(ctx context.Context, app string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT `+historyBytesSQL, app).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("reading the history usage of %s: %w", app, err)
	}
	return n, nil
}
