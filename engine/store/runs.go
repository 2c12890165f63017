package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status is the state of a run.
type Status string

// The statuses of a run. Every status but running is final.
const (
	StatusRunning     Status = "running"
	StatusSucceeded   Status = "succeeded"     // exited with code 0
	StatusFailed      Status = "failed"        // exited with a non-zero code
	StatusTimedOut    Status = "timed_out"     // stopped at its time limit
	StatusOutOfMemory Status = "out_of_memory" // refused memory past its limit
	StatusTrapped     Status = "trapped"       // a WebAssembly trap
	StatusCancelled   Status = "cancelled"     // stopped from outside
	StatusInterrupted Status = "interrupted"   // cut short by a stop or crash of Cronbox
	StatusSkipped     Status = "skipped"       // could not start; Run.Reason says why
)

// ended reports whether FinishRun accepts s: a final status of a run that
// started.
func (s Status) ended() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusTimedOut, StatusOutOfMemory,
		StatusTrapped, StatusCancelled, StatusInterrupted:
		return true
	}
	return false
}

// Trigger is what started a run.
type Trigger string

// The triggers of a run.
const (
	TriggerSchedule   Trigger = "schedule"
	TriggerManual     Trigger = "manual"
	TriggerRetry      Trigger = "retry"
	TriggerDependency Trigger = "dependency"
	TriggerCatchUp    Trigger = "catch-up" // a scheduled time missed while Cronbox was down
)

// Valid reports whether t is a known trigger.
func (t Trigger) Valid() bool {
	switch t {
	case TriggerSchedule, TriggerManual, TriggerRetry, TriggerDependency, TriggerCatchUp:
		return true
	}
	return false
}

// scheduled reports whether runs of t are fired for a scheduled time,
// which is then recorded at most once per task.
func (t Trigger) scheduled() bool {
	return t == TriggerSchedule || t == TriggerCatchUp
}

// Recorded is the outcome of one run of Runs.RecordRuns: its ID, or the
// error that kept it from being recorded.
type Recorded struct {
	ID  int64
	Err error
}

// Run is one execution of a task, as recorded.
type Run struct {
	ID        int64
	App, Task string
	Status    Status
	// Trigger is what started the run; TriggeredByUser who, for manual
	// runs.
	Trigger         Trigger
	TriggeredByUser string
	// ScheduledTime is the schedule instant the run was fired for, zero
	// if none. Runs of the schedule and catch-up triggers record each
	// instant at most once; a retry may carry the instant of the run it
	// retries.
	ScheduledTime time.Time
	// Attempt counts retries: 0 for the first attempt.
	Attempt   int
	StartTime time.Time
	EndTime   time.Time // zero while running
	// Duration is the run's wall time, to the millisecond.
	Duration time.Duration
	// ExitCode is the guest's exit code; -1 while running or when the
	// guest did not exit (a trap, a stop).
	ExitCode int
	// Output is the captured output, capped by the engine.
	Output string
	// Error says, for a person, why the run did not succeed.
	Error string
	// ErrorLine is the last error-level line the run logged, "" if none:
	// what a list shows as the cause of a failure.
	ErrorLine string
	// Input is the JSON the run was given; Result the JSON it returned.
	Input, Result json.RawMessage
	// PeakMemory is the most linear memory the guest used, in bytes.
	PeakMemory int64
	// Reason says why a skipped run could not start.
	Reason string
	// LogsDropped counts log lines that were not stored: past
	// Options.MaxLogLines, or past the task's limits.logs
	// (RunEnd.LogsDropped).
	LogsDropped int64
	// Overdue is set when the run went past its task's maxRuntime
	// without being stopped (killOnTimeout false).
	Overdue bool
	// Node is the name of the node the run ran on (serve --node); empty
	// for runs recorded before nodes had names.
	Node string
	// NoOverlap asks a store shared by several nodes to refuse StartRun,
	// with ErrOverlap, while another run of the task with NoOverlap is
	// running: the task's overlap policy is forbid. It is not read back.
	// A store of one node ignores it (its engine checks that itself).
	NoOverlap bool
	// Slot, if not nil, asks a store shared by several nodes to take a
	// slot of the app's quotas for the run (Slots) in the write that
	// records its start, and says whether it did (Slot.Taken): a run
	// that got none is recorded all the same, and takes its slot later
	// with Slots.TakeSlot. It is not read back. A store of one node
	// ignores it (its engine counts the app's runs itself).
	Slot *Slot
	// Replace asks a store shared by several nodes to request the cancel
	// (as RequestCancel does) of the other runs of the task with Replace
	// running on other nodes, with the write that records the start, and
	// to give the run a slot of its app (Slots) only while no other run
	// of its task with Replace holds one: the task's overlap policy is
	// replace. It is not read back. A store of one node ignores it.
	Replace bool
	// Waiting marks a run recorded while its node had no room to execute
	// it: it waits in the node's queue, and a node of the cluster with
	// room may take it over (a store that hands runs over, as PostgreSQL's
	// ClaimRuns). Module is then the hash of the module it runs: only a
	// node that runs the task with that module takes it. Neither is read
	// back. A store of one node ignores them.
	Waiting bool
	Module  string
	// Progress is the last progress the run reported, as its node
	// recorded it in a store that records progress (RunProgress), at
	// most LogFlush old while the run runs; nil if it reported none, and
	// from a store that does not record it. It is not written by
	// StartRun.
	Progress *Progress
	// RetryOf is the ID of the run this run retries, 0 if none. A store
	// records at most one run retrying a given run (StartRun and
	// RecordSkipped return ErrDuplicate for a second), so that nodes
	// that each think a retry theirs run it once.
	RetryOf int64
}

// RunEnd is how a run ended.
type RunEnd struct {
	// App is the run's app, when the caller knows it; it is not stored.
	// The end gives back the slot of its app's quotas the run holds
	// (Slots): a store shared by several nodes sends the writes that take
	// or give back slots in the order of their apps, so that no two wait
	// for each other's app in a circle. An end without it is recorded all
	// the same, outside that order. EndRun takes AfterEnd.App if it is "".
	App        string
	Status     Status // a final status other than skipped
	EndTime    time.Time
	Duration   time.Duration
	ExitCode   int
	Output     string
	Error      string
	Result     json.RawMessage
	PeakMemory int64
	// Usage is what the run consumed, recorded with it (RunUsage).
	Usage Usage
	// Logs are the run's last log lines, appended as AppendLogs appends
	// them in the transaction that ends the run: one write, not two.
	Logs []LogLine
	// LogsDropped counts the lines the engine did not store, past the
	// task's limits.logs; it is added to Run.LogsDropped.
	LogsDropped int64
	// Overdue is set when the run went past its maxRuntime.
	Overdue bool
	// Progress, if not nil, is the run's last progress report, recorded
	// with its end by a store that records progress (RunProgress); a
	// store that does not ignores it.
	Progress *Progress
}

// Progress is a run's progress report: the guest's progress host call.
type Progress struct {
	Percent int
	Message string
}

// RunProgress records the progress of running runs in a store that
// several nodes share, so that every node shows it (Run.Progress), not
// only the one that runs them. A run's progress goes in the write of its
// log lines, at most one a LogFlush, not one a report. A store of one
// node (SQLite) does not provide it: its engine shows its runs' progress
// live.
type RunProgress interface {
	// AppendProgress is Runs.AppendLogs, lines possibly empty, that also
	// records p as the run's last progress, in the same write.
	AppendProgress(ctx context.Context, runID int64, lines []LogLine, p Progress) error
}

// AfterEnd is what Runs.EndRun does with a run's end, in the same write
// where the store can: count the task's outcome, and look whether its
// history is due for pruning.
type AfterEnd struct {
	// App and Task are the run's task. Required with Outcome.
	App, Task string
	// Outcome, if not nil, is counted for the task, as
	// Outcomes.RecordOutcome counts it, once the end is recorded.
	Outcome *Outcome
	// Keep, MaxAge and Now are the task's retention as
	// Retention.PruneRuns takes them, HistoryQuota the app's as
	// PruneHistory takes it: EndRun reports whether either would delete
	// a run. Zero limits are not checked.
	Keep         int
	MaxAge       time.Duration
	Now          time.Time
	HistoryQuota int64
}

// Ended is what Runs.EndRun found.
type Ended struct {
	// Recorded reports whether the end was recorded: false with an error
	// of FinishRun's.
	Recorded bool
	// State is the task's failure state after AfterEnd.Outcome was
	// counted; nil when it was not (no Outcome, or an error).
	State *FailureState
	// PruneDue reports whether PruneRuns or PruneHistory, with the limits
	// of AfterEnd, would delete a run. It may be true when neither
	// would: callers prune, and pruning finds out.
	PruneDue bool
}

// RunFilter selects runs for ListRuns. The zero value selects the newest
// runs of every app.
type RunFilter struct {
	// Apps, if not nil, are the only apps whose runs are listed: a token's
	// allowed apps, or the one app a page shows. A non-nil empty list
	// selects nothing.
	Apps []string
	// Task, if set, selects the runs of tasks of that name.
	Task string
	// Statuses, if set, selects runs in one of these states.
	Statuses []Status
	// Since, if set, selects runs that started at or after it.
	Since time.Time
	// Until, if set, selects runs that started before it.
	Until time.Time
	// Triggers, if set, selects runs fired by one of these triggers.
	Triggers []Trigger
	// Node, if set, selects the runs of that node (Run.Node).
	Node string
	// Text, if set, selects runs whose error, reason or a log line
	// contains it, ignoring case (of ASCII letters).
	Text string
	// BeforeID, if set, selects runs with a smaller ID: pass the last ID
	// of a page to get the next one. AfterID, if set, selects runs with
	// a larger ID: those started since a page was read.
	BeforeID, AfterID int64
	// Limit is the most runs returned: DefaultLimit if zero or less, at
	// most MaxLimit.
	Limit int
}

// TaskRef names a task, for RecentRuns.
type TaskRef struct{ App, Task string }

// PruneLimit is a task's retention as Retention.PruneRuns takes it, for
// Retention.PruneDue.
type PruneLimit struct {
	TaskRef
	Keep   int
	MaxAge time.Duration
}

// The page sizes of ListRuns and RunLogs.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// clampLimit returns limit within 1 to MaxLimit, DefaultLimit for 0 or less.
func clampLimit(limit int) int {
	if limit <= 0 {
		return DefaultLimit
	}
	return min(limit, MaxLimit)
}

// LogLine is a line a task logged.
type LogLine struct {
	// Seq numbers a run's lines from 1; AppendLogs assigns it.
	Seq     int64
	Time    time.Time
	Level   string // debug, info, warn or error
	Message string
}

// runColumns are the columns scanRun reads, for GetRun.
const runColumns = `ID, AppName, TaskName, Status, coalesce(TriggeredBy, ''), coalesce(TriggeredByUser, ''),
	coalesce(ScheduledTime, ''), Attempt, StartTime, coalesce(EndTime, ''), coalesce(Duration, 0),
	coalesce(ExitCode, -1), coalesce(Output, ''), coalesce(ErrorMessage, ''), coalesce(Input, ''),
	coalesce(Result, ''), coalesce(PeakMemory, 0), coalesce(Reason, ''), LogsDropped, Overdue, Node, coalesce(ErrorLine, ''), coalesce(RetryOf, 0)`

// runSummaryColumns are runColumns without output, input and result, for
// lists.
const runSummaryColumns = `ID, AppName, TaskName, Status, coalesce(TriggeredBy, ''), coalesce(TriggeredByUser, ''),
	coalesce(ScheduledTime, ''), Attempt, StartTime, coalesce(EndTime, ''), coalesce(Duration, 0),
	coalesce(ExitCode, -1), '', coalesce(ErrorMessage, ''), '',
	'', coalesce(PeakMemory, 0), coalesce(Reason, ''), LogsDropped, Overdue, Node, coalesce(ErrorLine, ''), coalesce(RetryOf, 0)`

// scanRun reads a row of runColumns or runSummaryColumns.
func scanRun(sc scanner) (Run, error) {
	var (
		r                 Run
		sched, start, end string
		input, result     string
		durationMS        int64
		status, trigger   string
	)
	err := sc.Scan(&r.ID, &r.App, &r.Task, &status, &trigger, &r.TriggeredByUser,
		&sched, &r.Attempt, &start, &end, &durationMS,
		&r.ExitCode, &r.Output, &r.Error, &input,
		&result, &r.PeakMemory, &r.Reason, &r.LogsDropped, &r.Overdue, &r.Node, &r.ErrorLine, &r.RetryOf)
	if err != nil {
		return Run{}, err
	}
	r.Status, r.Trigger = Status(status), Trigger(trigger)
	r.Duration = time.Duration(durationMS) * time.Millisecond
	if input != "" {
		r.Input = json.RawMessage(input)
	}
	if result != "" {
		r.Result = json.RawMessage(result)
	}
	if r.ScheduledTime, err = parseTime(sched); err == nil {
		if r.StartTime, err = parseTime(start); err == nil {
			r.EndTime, err = parseTime(end)
		}
	}
	if err != nil {
		return Run{}, fmt.Errorf("run %d: %w", r.ID, err)
	}
	return r, nil
}

// checkNewRun validates a run to record; doing is the error prefix.
func checkNewRun(doing string, r *Run) error {
	var problem string
	switch {
	case r.App == "":
		problem = "no app"
	case r.Task == "":
		problem = "no task"
	case r.StartTime.IsZero():
		problem = "no start time"
	case !r.Trigger.Valid():
		problem = fmt.Sprintf("unknown trigger %q", r.Trigger)
	case r.Trigger.scheduled() && r.ScheduledTime.IsZero():
		problem = fmt.Sprintf("trigger %q without a scheduled time", r.Trigger)
	case r.Attempt < 0:
		problem = fmt.Sprintf("negative attempt %d", r.Attempt)
	case len(r.Input) > 0 && !json.Valid(r.Input):
		problem = "input is not JSON"
	default:
		return nil
	}
	return fmt.Errorf("%s: %w: %s", doing, ErrInvalid, problem)
}

// insertRunSQL inserts a run without its input, which setInputSQL sets
// (see insertRun). CreatedAt is bound rather than left to its default,
// which SQLite computes for every row with a call for the time.
const insertRunSQL = `INSERT INTO TaskExecutions (AppName, TaskName, Status, TriggeredBy, TriggeredByUser,
	ScheduledTime, Attempt, StartTime, EndTime, Duration, Reason, Node, RetryOf, CreatedAt)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const setInputSQL = `UPDATE TaskExecutions SET Input = ? WHERE ID = ?`

// StartRun implements Runs.
func (s *SQLite) StartRun(ctx context.Context, r Run) (int64, error) {
	r.Status = StatusRunning
	out := s.RecordRuns(ctx, []Run{r})[0]
	return out.ID, out.Err
}

// RecordSkipped implements Runs. The run ends as it starts, at
// r.StartTime.
func (s *SQLite) RecordSkipped(ctx context.Context, r Run) (int64, error) {
	r.Status = StatusSkipped
	out := s.RecordRuns(ctx, []Run{r})[0]
	return out.ID, out.Err
}

// RecordRuns implements Runs. The runs are one write of the committer,
// one prepared insert a run, with no savepoint of its own: inside one,
// SQLite truncates its statement journal from the start after every
// statement, and a batch costs the square of its size. Each insert is
// undone alone when it fails: one that meets the unique indexes gives
// its run ErrDuplicate, and the batch goes on; after any other error the
// batch stops, the runs before it are committed, and it and the runs
// after it are written alone, each to its own outcome. If the write
// fails, every run is written alone.
func (s *SQLite) RecordRuns(ctx context.Context, runs []Run) []Recorded {
	out := make([]Recorded, len(runs))
	valid := make([]int, 0, len(runs)) // the indexes of the runs to insert
	for i := range runs {
		if out[i].Err = checkRecord(&runs[i]); out[i].Err == nil {
			valid = append(valid, i)
		}
	}
	done := s.insertRuns(ctx, runs, valid, out)
	if len(valid) > 1 {
		for _, i := range valid[done:] {
			s.insertRuns(ctx, runs, []int{i}, out)
		}
	}
	return out
}

// checkRecord validates a run for RecordRuns, as StartRun or
// RecordSkipped by its Status.
func checkRecord(r *Run) error {
	if r.Status == StatusSkipped {
		return CheckSkipped(r)
	}
	return CheckStart(r)
}

// insertRuns inserts the runs of runs at the indexes which, in one write,
// and records their outcomes in out. It returns how many of them, from
// the first, have their outcome: the others, from the first that failed
// otherwise than as a duplicate, are not recorded, and have the error
// that stopped the write, or the write's.
func (s *SQLite) insertRuns(ctx context.Context, runs []Run, which []int, out []Recorded) int {
	if len(which) == 0 {
		return 0
	}
	var done int
	err := s.w.doFires(ctx, len(which), func(ctx context.Context, tx *sql.Tx) error {
		w := runInserter{
			insert:   tx.StmtContext(ctx, s.ws.insertRun),
			setInput: tx.StmtContext(ctx, s.ws.setInput),
			tx:       tx,
			created:  formatTime(s.opts.Now()),
		}
		for done = 0; done < len(which); done++ {
			i := which[done]
			id, err := w.insertRun(ctx, &runs[i])
			if err != nil && !isUnique(err) {
				// The insert undid itself; those before it stand.
				for _, j := range which[done:] {
					out[j] = Recorded{Err: err}
				}
				return nil
			}
			out[i] = Recorded{ID: id, Err: err}
		}
		return nil
	})
	if err != nil {
		done = 0
		for _, i := range which {
			out[i] = Recorded{Err: err}
		}
	}
	for _, i := range which {
		out[i].Err = recordError(&runs[i], out[i].Err)
	}
	return done
}

// runInserter inserts the runs of one write.
type runInserter struct {
	insert, setInput *sql.Stmt
	tx               *sql.Tx
	created          string // CreatedAt of the runs
}

// insertRun inserts r and returns its ID. A run is inserted holding no
// bytes of history, so that TaskExecutions has no insert trigger: any
// would make SQLite keep a statement journal of every page each insert
// touches, a sixth of a batch's time. A run with an input then
// has it set by an update, which the history_usage_update trigger
// counts; the two statements share a savepoint, so that a failure of
// either undoes both, as a failed insert undoes itself.
func (w *runInserter) insertRun(ctx context.Context, r *Run) (int64, error) {
	var end, duration any
	if !r.EndTime.IsZero() {
		end, duration = formatTime(r.EndTime), r.Duration.Milliseconds()
	}
	insert := func() (int64, error) {
		res, err := w.insert.ExecContext(ctx,
			r.App, r.Task, r.Status, r.Trigger, nullString(r.TriggeredByUser),
			nullTime(r.ScheduledTime), r.Attempt, formatTime(r.StartTime), end, duration,
			nullString(r.Reason), r.Node, nullID(r.RetryOf), w.created)
		if err != nil {
			return 0, err
		}
		return res.LastInsertId()
	}
	if len(r.Input) == 0 {
		return insert()
	}
	var id int64
	err := inSavepoint(ctx, w.tx, func() error {
		var err error
		if id, err = insert(); err == nil {
			_, err = w.setInput.ExecContext(ctx, nullJSON(r.Input), id)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// recordError is the error of RecordRuns for run r that met err.
func recordError(r *Run, err error) error {
	doing := fmt.Sprintf("starting run of %s/%s", r.App, r.Task)
	if r.Status == StatusSkipped {
		doing = fmt.Sprintf("recording skipped run of %s/%s", r.App, r.Task)
	}
	switch {
	case err == nil:
		return nil
	case isUnique(err) && r.RetryOf != 0 && !r.Trigger.scheduled():
		return fmt.Errorf("%s: run %d is retried already: %w", doing, r.RetryOf, ErrDuplicate)
	case isUnique(err):
		return fmt.Errorf("%s: scheduled time %s: %w", doing, formatTime(r.ScheduledTime), ErrDuplicate)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

const finishRunSQL = `UPDATE TaskExecutions SET Status = ?, EndTime = ?, Duration = ?, ExitCode = ?,
	Output = ?, ErrorMessage = ?, Result = ?, PeakMemory = ?, LogsDropped = LogsDropped + ?, Overdue = ?
	WHERE ID = ? AND Status = 'running'`

// FinishRun implements Runs.
func (s *SQLite) FinishRun(ctx context.Context, id int64, end RunEnd) error {
	if err := CheckRunEnd(id, &end); err != nil {
		return err
	}
	// The run and its usage at least: two statements, so not doOne.
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return s.finishRun(ctx, tx, id, end)
	})
	if err != nil {
		return fmt.Errorf("finishing run %d: %w", id, err)
	}
	return nil
}

// finishRun is FinishRun inside the write transaction tx.
func (s *SQLite) finishRun(ctx context.Context, tx *sql.Tx, id int64, end RunEnd) error {
	if len(end.Logs) > 0 {
		if err := s.appendLogs(ctx, tx, id, end.Logs); err != nil {
			return err
		}
	}
	res, err := tx.StmtContext(ctx, s.ws.finishRun).ExecContext(ctx,
		end.Status, formatTime(end.EndTime), end.Duration.Milliseconds(), end.ExitCode,
		end.Output, nullString(end.Error), nullJSON(end.Result), end.PeakMemory, end.LogsDropped, end.Overdue, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		if err == nil {
			err = s.recordUsage(ctx, tx, id, end)
		}
		return err
	}
	var status string
	err = tx.QueryRowContext(ctx, `SELECT Status FROM TaskExecutions WHERE ID = ?`, id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: it is %s", ErrFinished, status)
}

// AppendLogs implements Runs.
func (s *SQLite) AppendLogs(ctx context.Context, runID int64, lines []LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return s.appendLogs(ctx, tx, runID, lines)
	})
	if err != nil {
		return fmt.Errorf("appending logs to run %d: %w", runID, err)
	}
	return nil
}

// appendLogs is AppendLogs inside the write transaction tx.
func (s *SQLite) appendLogs(ctx context.Context, tx *sql.Tx, runID int64, lines []LogLine) error {
	var last int64
	if err := tx.StmtContext(ctx, s.ws.lastLogSeq).QueryRowContext(ctx, runID).Scan(&last); err != nil {
		return err
	}
	room := max(0, int64(s.opts.MaxLogLines)-last)
	keep := lines[:min(int64(len(lines)), room)]
	insert := tx.StmtContext(ctx, s.ws.insertLog)
	var size int64
	for i, l := range keep {
		_, err := insert.ExecContext(ctx, runID, last+1+int64(i), formatTime(s.now(l.Time)), l.Level, l.Message)
		if isForeignKey(err) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		size += int64(len(l.Message))
	}
	if msg, ok := LastErrorLine(lines); ok {
		if _, err := tx.ExecContext(ctx, `UPDATE TaskExecutions SET ErrorLine = ? WHERE ID = ?`, msg, runID); err != nil {
			return err
		}
	}
	if size > 0 {
		if _, err := tx.StmtContext(ctx, s.ws.addLogBytes).ExecContext(ctx, size, runID); err != nil {
			return err
		}
	}
	if dropped := len(lines) - len(keep); dropped > 0 {
		res, err := tx.StmtContext(ctx, s.ws.addLogsDropped).ExecContext(ctx, dropped, runID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
	}
	return nil
}

// GetRun implements RunReader.
func (s *SQLite) GetRun(ctx context.Context, id int64) (*Run, error) {
	r, err := scanRun(s.rs.getRun.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("getting run %d: %w", id, err)
	}
	return &r, nil
}

// ListRuns implements RunReader.
func (s *SQLite) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	if f.Apps != nil && len(f.Apps) == 0 {
		return nil, nil
	}
	var (
		q    strings.Builder
		args []any
		in   string
	)
	q.WriteString(`SELECT ` + runSummaryColumns + ` FROM TaskExecutions WHERE 1`)
	// and adds a condition with its values, when set is true.
	and := func(set bool, cond string, vals ...any) {
		if set {
			q.WriteString(` AND ` + cond)
			args = append(args, vals...)
		}
	}
	if len(f.Apps) > 0 {
		in, args = inClause(args, f.Apps)
		q.WriteString(` AND AppName IN ` + in)
	}
	if len(f.Statuses) > 0 {
		in, args = inClause(args, f.Statuses)
		q.WriteString(` AND Status IN ` + in)
	}
	if len(f.Triggers) > 0 {
		in, args = inClause(args, f.Triggers)
		q.WriteString(` AND TriggeredBy IN ` + in)
	}
	and(f.Task != "", `TaskName = ?`, f.Task)
	and(!f.Since.IsZero(), `StartTime >= ?`, formatTime(f.Since))
	and(!f.Until.IsZero(), `StartTime < ?`, formatTime(f.Until))
	and(f.Node != "", `Node = ?`, f.Node)
	pat := LikePattern(f.Text)
	and(f.Text != "", `(ErrorMessage LIKE ? ESCAPE '\' OR Reason LIKE ? ESCAPE '\'
		OR EXISTS (SELECT 1 FROM run_logs WHERE run_id = ID AND message LIKE ? ESCAPE '\'))`, pat, pat, pat)
	and(f.BeforeID > 0, `ID < ?`, f.BeforeID)
	and(f.AfterID > 0, `ID > ?`, f.AfterID)
	q.WriteString(` ORDER BY ID DESC LIMIT ?`)
	args = append(args, clampLimit(f.Limit))

	rows, err := s.rdb.QueryContext(ctx, q.String(), args...)
	runs, err := collect(rows, err, scanRun)
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	return runs, nil
}

// LikePattern returns a LIKE pattern (escaped by \\) that matches text
// anywhere.
func LikePattern(text string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(text) + "%"
}

// recentRunsSQL reads the newest runs (up to ?2) of the tasks ?1, a JSON
// array of [app, task] pairs, in their order. The tasks are one
// parameter compared with no column: a statement prepared once is run
// as it is, never prepared again for the values bound to it.
const recentRunsSQL = `SELECT ` + runSummaryColumns + ` FROM (
	SELECT t.*, k.key AS k_order FROM json_each(?1) AS k, TaskExecutions AS t
	WHERE t.ID IN (SELECT r.ID FROM TaskExecutions AS r
		WHERE r.AppName = json_extract(k.value, '$[0]') AND r.TaskName = json_extract(k.value, '$[1]')
		ORDER BY r.ID DESC LIMIT ?2))
	ORDER BY k_order, ID DESC`

// RecentRuns implements RunReader.
func (s *SQLite) RecentRuns(ctx context.Context, tasks []TaskRef, n int) ([]Run, error) {
	if len(tasks) == 0 {
		return nil, nil
	}
	pairs := make([][2]string, len(tasks))
	for i, t := range tasks {
		pairs[i] = [2]string{t.App, t.Task}
	}
	keys, err := json.Marshal(pairs)
	if err != nil {
		return nil, fmt.Errorf("listing recent runs: %w", err)
	}
	rows, err := s.rs.recentRuns.QueryContext(ctx, string(keys), clampLimit(n))
	runs, err := collect(rows, err, scanRun)
	if err != nil {
		return nil, fmt.Errorf("listing recent runs: %w", err)
	}
	return runs, nil
}

// RunLogs implements RunReader.
func (s *SQLite) RunLogs(ctx context.Context, runID, afterSeq int64, limit int) ([]LogLine, error) {
	lines, err := s.runLogs(ctx, runID, afterSeq, clampLimit(limit))
	if err == nil && len(lines) == 0 {
		// Tell an unknown run from one without lines (yet).
		var one int
		err = s.rs.runExists.QueryRowContext(ctx, runID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			err = ErrNotFound
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading logs of run %d: %w", runID, err)
	}
	return lines, nil
}

func (s *SQLite) runLogs(ctx context.Context, runID, afterSeq int64, limit int) ([]LogLine, error) {
	rows, err := s.rs.runLogs.QueryContext(ctx, runID, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []LogLine
	for rows.Next() {
		var (
			l LogLine
			t string
		)
		if err := rows.Scan(&l.Seq, &t, &l.Level, &l.Message); err != nil {
			return nil, err
		}
		if l.Time, err = parseTime(t); err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	return lines, rows.Err()
}

// MarkInterrupted implements Runs.
func (s *SQLite) MarkInterrupted(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT ID, StartTime FROM TaskExecutions WHERE Status = 'running'`)
		if err != nil {
			return err
		}
		type running struct {
			id    int64
			start time.Time
		}
		var runs []running
		for rows.Next() {
			var (
				r     running
				start string
			)
			if err := rows.Scan(&r.id, &start); err != nil {
				rows.Close()
				return err
			}
			if r.start, err = parseTime(start); err != nil {
				rows.Close()
				return fmt.Errorf("run %d: %w", r.id, err)
			}
			runs = append(runs, r)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, r := range runs {
			_, err := tx.ExecContext(ctx, `UPDATE TaskExecutions SET Status = ?, EndTime = ?, Duration = ?,
				ErrorMessage = coalesce(nullif(ErrorMessage, ''), ?) WHERE ID = ?`,
				StatusInterrupted, formatTime(now), max(0, now.Sub(r.start).Milliseconds()), InterruptedMessage, r.id)
			if err != nil {
				return err
			}
		}
		n = len(runs)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("marking interrupted runs: %w", err)
	}
	return n, nil
}

const lastScheduledSQL = `SELECT ScheduledTime FROM TaskExecutions
	WHERE AppName = ? AND TaskName = ? AND ScheduledTime IS NOT NULL AND TriggeredBy IN ('schedule', 'catch-up')
	ORDER BY ScheduledTime DESC LIMIT 1`

// LastScheduled implements Runs.
func (s *SQLite) LastScheduled(ctx context.Context, app, task string) (time.Time, error) {
	var v string
	err := s.rs.lastScheduled.QueryRowContext(ctx, app, task).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	var t time.Time
	if err == nil {
		t, err = parseTime(v)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reading last scheduled time of %s/%s: %w", app, task, err)
	}
	return t, nil
}

// lastScheduledOfSQL is lastScheduledSQL for each task of app ?2 named in
// the JSON array ?1: a row a name, by its index, with a NULL time for a
// task that has none.
const lastScheduledOfSQL = `SELECT k.key, (SELECT ScheduledTime FROM TaskExecutions
		WHERE AppName = ?2 AND TaskName = k.value
		AND ScheduledTime IS NOT NULL AND TriggeredBy IN ('schedule', 'catch-up')
		ORDER BY ScheduledTime DESC LIMIT 1)
	FROM json_each(?1) AS k`

// LastScheduledOf implements Runs: one statement an app, which seeks each
// task in idx_scheduled_once as LastScheduled does.
func (s *SQLite) LastScheduledOf(ctx context.Context, tasks []TaskRef) (map[TaskRef]time.Time, error) {
	out := make(map[TaskRef]time.Time)
	groups := groupBy(tasks, func(t TaskRef) string { return t.App })
	err := s.queryGroups(ctx, s.rs.lastScheduledOf, tasks, groups, nil,
		func(rows *sql.Rows, group []int) error {
			var (
				j int
				v sql.NullString
			)
			if err := rows.Scan(&j, &v); err != nil || !v.Valid {
				return err
			}
			t, err := parseTime(v.String)
			if err == nil {
				out[tasks[group[j]]] = t
			}
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("reading last scheduled times of %d tasks: %w", len(tasks), err)
	}
	return out, nil
}

// pruneDueOfSQL is pruneDue for each task of app ?2 named in the JSON
// array ?1, with keepLast ?3 and olderThan ?4: the indexes of the tasks
// due. SQLite takes no LIMIT or OFFSET that names a column of the outer
// query, so the limits are one for all the tasks of a statement.
const pruneDueOfSQL = `SELECT k.key FROM json_each(?1) AS k
	WHERE (?3 > 0 AND (SELECT 1 FROM TaskExecutions
			WHERE AppName = ?2 AND TaskName = k.value
			ORDER BY ID DESC LIMIT 1 OFFSET ?3) IS NOT NULL)
		OR (?4 <> '' AND (SELECT StartTime FROM TaskExecutions
			WHERE AppName = ?2 AND TaskName = k.value
			ORDER BY ID LIMIT 1) < ?4)`

// PruneDue implements Retention: one statement for the tasks of an app
// that have the same limits, which is one an app for most homes.
func (s *SQLite) PruneDue(ctx context.Context, limits []PruneLimit, now time.Time) ([]TaskRef, error) {
	bounded, err := CheckPruneDue(limits)
	if err != nil || len(bounded) == 0 {
		return nil, err
	}
	tasks := make([]TaskRef, len(bounded))
	for j, i := range bounded {
		tasks[j] = limits[i].TaskRef
	}
	groups := groupBy(bounded, func(i int) PruneLimit {
		return PruneLimit{TaskRef: TaskRef{App: limits[i].App}, Keep: limits[i].Keep, MaxAge: limits[i].MaxAge}
	})
	limitsOf := func(group []int) []any {
		l := limits[bounded[group[0]]]
		olderThan := "" // no start time is before ""
		if l.MaxAge > 0 {
			olderThan = formatTime(now.Add(-l.MaxAge))
		}
		return []any{l.Keep, olderThan}
	}
	var due []int
	err = s.queryGroups(ctx, s.rs.pruneDueOf, tasks, groups, limitsOf, func(rows *sql.Rows, group []int) error {
		var j int
		if err := rows.Scan(&j); err != nil {
			return err
		}
		due = append(due, bounded[group[j]])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("looking for runs to prune of %d tasks: %w", len(limits), err)
	}
	slices.Sort(due)
	out := make([]TaskRef, len(due))
	for j, i := range due {
		out[j] = limits[i].TaskRef
	}
	return out, nil
}

// groupBy returns the indexes of list grouped by the key of each item,
// the groups in the order of their first items.
func groupBy[T any, K comparable](list []T, key func(T) K) [][]int {
	at := make(map[K]int)
	var groups [][]int
	for i, v := range list {
		k := key(v)
		g, ok := at[k]
		if !ok {
			g = len(groups)
			at[k] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// queryGroups runs stmt once for each group of the indexes of tasks, all
// of one app: with the JSON array of the group's task names, the app,
// then what extra returns for the group, unless extra is nil. It calls
// row with each row of the result and the group. A task name is thus a
// plain string to the statement, not a JSON value to take apart for
// each task.
func (s *SQLite) queryGroups(ctx context.Context, stmt *sql.Stmt, tasks []TaskRef, groups [][]int, extra func(group []int) []any, row func(*sql.Rows, []int) error) error {
	for _, group := range groups {
		names := make([]string, len(group))
		for j, i := range group {
			names[j] = tasks[i].Task
		}
		list, err := json.Marshal(names)
		if err != nil {
			return err
		}
		args := []any{string(list), tasks[group[0]].App}
		if extra != nil {
			args = append(args, extra(group)...)
		}
		if err := s.queryRows(ctx, stmt, args, func(rows *sql.Rows) error { return row(rows, group) }); err != nil {
			return err
		}
	}
	return nil
}

// queryRows runs stmt with args and calls row with each row of the result.
func (s *SQLite) queryRows(ctx context.Context, stmt *sql.Stmt, args []any, row func(*sql.Rows) error) error {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PruneRuns implements Retention.
func (s *SQLite) PruneRuns(ctx context.Context, app, task string, keepLast int, maxAge time.Duration, now time.Time) (int, error) {
	doing := fmt.Sprintf("pruning runs of %s/%s", app, task)
	if due, err := CheckPrune(app, task, keepLast, maxAge); !due {
		return 0, err
	}
	olderThan := "" // no start time is before ""
	if maxAge > 0 {
		olderThan = formatTime(now.Add(-maxAge))
	}
	// A read first: most calls, one after every run, find nothing to
	// delete and then take no turn of the writer.
	if due, err := s.pruneDue(ctx, app, task, keepLast, olderThan); err != nil || !due {
		if err != nil {
			err = fmt.Errorf("%s: %w", doing, err)
		}
		return 0, err
	}
	var n int64
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// Finished runs with an ID below cutoff are past the newest keepLast.
		var cutoff int64
		if keepLast > 0 {
			err := tx.QueryRowContext(ctx, `SELECT ID FROM TaskExecutions
				WHERE AppName = ? AND TaskName = ? AND Status <> 'running'
				ORDER BY ID DESC LIMIT 1 OFFSET ?`, app, task, keepLast-1).Scan(&cutoff)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		var keep int64 // the run holding LastScheduled
		err := tx.QueryRowContext(ctx, `SELECT ID FROM TaskExecutions
			WHERE AppName = ? AND TaskName = ? AND ScheduledTime IS NOT NULL AND TriggeredBy IN ('schedule', 'catch-up')
			ORDER BY ScheduledTime DESC LIMIT 1`, app, task).Scan(&keep)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Each bound alone lets SQLite walk idx_app_task (whose entries
		// end in the ID) over the range it names; the two joined by OR
		// would read every run of the task, at every prune.
		var bounds []string
		args := []any{app, task, keep}
		if cutoff > 0 {
			bounds, args = append(bounds, "ID < ?"), append(args, cutoff)
		}
		if olderThan != "" {
			bounds, args = append(bounds, "StartTime < ?"), append(args, olderThan)
		}
		if len(bounds) == 0 {
			return nil
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM TaskExecutions
			WHERE AppName = ? AND TaskName = ? AND Status <> 'running' AND ID <> ?
			AND (`+strings.Join(bounds, " OR ")+`)`, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", doing, err)
	}
	return int(n), nil
}

// pruneDue reports whether PruneRuns may have something to delete: the
// task has more than keepLast runs (if keepLast is not 0), or its oldest
// run started before olderThan (if it is not ""). The first is answered
// from idx_app_task alone, reading keepLast+1 entries at most; the second
// reads one run. Running runs count, so it may answer yes for nothing,
// never no for something.
func (s *SQLite) pruneDue(ctx context.Context, app, task string, keepLast int, olderThan string) (bool, error) {
	if keepLast > 0 {
		var one int
		err := s.rs.pruneDueKeep.QueryRowContext(ctx, app, task, keepLast).Scan(&one)
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return err == nil, err
		}
	}
	if olderThan != "" {
		var start string
		err := s.rs.pruneDueAge.QueryRowContext(ctx, app, task).Scan(&start)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil && start < olderThan, err
	}
	return false, nil
}

// EndRun implements Runs: FinishRun and RecordOutcome in one write, with
// the app's history read in it, then the reads of PruneRuns. As two
// writes, the second waited for a commit of its own after the first's: a
// run waits for one commit to end, not two. An outcome that fails leaves
// the end recorded, as RecordOutcome after FinishRun would: a failure is
// counted in a savepoint of its own, a success writes one statement at
// most, which fails alone.
func (s *SQLite) EndRun(ctx context.Context, id int64, end RunEnd, after AfterEnd) (Ended, error) {
	var ended Ended
	if err := CheckRunEnd(id, &end); err != nil {
		return ended, err
	}
	if o := after.Outcome; o != nil {
		if err := CheckOutcome(after.App, after.Task, *o); err != nil {
			return ended, err
		}
	}
	var (
		state  FailureState
		outErr error
		used   = int64(-1) // the app's history after the end; -1: not read
	)
	err := s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		outErr, used = nil, -1
		if err := s.finishRun(ctx, tx, id, end); err != nil {
			return err
		}
		if o := after.Outcome; o != nil {
			record := func() error {
				state = FailureState{}
				return s.recordOutcome(ctx, tx, after.App, after.Task, *o, &state)
			}
			if o.Failed {
				// Several statements (the count, the task disabled):
				// undone together if one fails.
				outErr = inSavepoint(ctx, tx, record)
			} else {
				// A read and at most one statement (the count
				// cleared), which SQLite undoes by itself if it fails.
				outErr = record()
			}
		}
		if after.HistoryQuota > 0 {
			// Read here, on the writer's connection with the pages at
			// hand, rather than after the commit from the read pool.
			// A failed read leaves it to the read after the commit.
			if err := tx.StmtContext(ctx, s.ws.historyUsage).QueryRowContext(ctx, after.App).Scan(&used); err != nil {
				used = -1
			}
		}
		return nil
	})
	if err != nil {
		return ended, fmt.Errorf("finishing run %d: %w", id, err)
	}
	ended.Recorded = true
	if outErr != nil {
		return ended, fmt.Errorf("recording outcome of %s/%s: %w", after.App, after.Task, outErr)
	}
	if after.Outcome != nil {
		ended.State = &state
	}
	ended.PruneDue, err = s.endPruneDue(ctx, after, used)
	return ended, err
}

// inSavepoint runs fn, which writes in tx, in a savepoint: if fn fails,
// its changes are undone, and the transaction's others stand.
func inSavepoint(ctx context.Context, tx *sql.Tx, fn func() error) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT part`); err != nil {
		return err
	}
	err := fn()
	if err != nil {
		// Some errors (a full disk) end the transaction; then the undo
		// fails, and so does the commit.
		if _, uerr := tx.ExecContext(ctx, `ROLLBACK TO part`); uerr != nil {
			return fmt.Errorf("%w (undoing: %w)", err, uerr)
		}
	}
	if _, rerr := tx.ExecContext(ctx, `RELEASE part`); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// endPruneDue reports whether PruneRuns or PruneHistory with the limits
// of after would delete a run; used is the app's history, read with the
// end, or -1 for a read of it here.
func (s *SQLite) endPruneDue(ctx context.Context, after AfterEnd, used int64) (bool, error) {
	if after.Keep > 0 || after.MaxAge > 0 {
		olderThan := ""
		if after.MaxAge > 0 {
			olderThan = formatTime(after.Now.Add(-after.MaxAge))
		}
		if due, err := s.pruneDue(ctx, after.App, after.Task, after.Keep, olderThan); due || err != nil {
			return due, err
		}
	}
	if after.HistoryQuota <= 0 {
		return false, nil
	}
	if used >= 0 {
		return used > after.HistoryQuota, nil
	}
	used, err := s.HistoryUsage(ctx, after.App)
	return used > after.HistoryQuota, err
}

// PruneHistory implements Retention.
func (s *SQLite) PruneHistory(ctx context.Context, app string, quota int64) (int, error) {
	doing := fmt.Sprintf("pruning the run history of %s", app)
	if err := CheckPruneHistory(app, quota); err != nil {
		return 0, err
	}
	used, err := s.HistoryUsage(ctx, app)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", doing, err)
	}
	if used <= quota {
		return 0, nil
	}
	var n int
	err = s.w.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		var used int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT bytes FROM history_usage WHERE app = ?), 0)`, app).Scan(&used); err != nil {
			return err
		}
		// The runs that hold LastScheduled of their task stay, so that no
		// scheduled time fires twice.
		rows, err := tx.QueryContext(ctx, `SELECT (SELECT ID FROM TaskExecutions
				WHERE AppName = ?1 AND TaskName = t.TaskName AND ScheduledTime IS NOT NULL AND TriggeredBy IN ('schedule', 'catch-up')
				ORDER BY ScheduledTime DESC LIMIT 1)
			FROM (SELECT DISTINCT TaskName FROM TaskExecutions WHERE AppName = ?1) t`, app)
		keep, err := collect(rows, err, func(sc scanner) (sql.NullInt64, error) {
			var id sql.NullInt64
			return id, sc.Scan(&id)
		})
		if err != nil {
			return err
		}
		kept := map[int64]bool{}
		for _, id := range keep {
			if id.Valid {
				kept[id.Int64] = true
			}
		}
		type run struct{ id, size int64 }
		after := int64(0)
		for used > quota {
			rows, err := tx.QueryContext(ctx, `SELECT ID, `+runBytes("")+` FROM TaskExecutions
				WHERE AppName = ? AND Status <> 'running' AND ID > ? ORDER BY ID LIMIT 256`, app, after)
			batch, err := collect(rows, err, func(sc scanner) (run, error) {
				var r run
				return r, sc.Scan(&r.id, &r.size)
			})
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				return nil // what is left is running or must stay
			}
			for _, r := range batch {
				after = r.id
				if kept[r.id] {
					continue
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM TaskExecutions WHERE ID = ?`, r.id); err != nil {
					return err
				}
				n++
				if used -= r.size; used <= quota {
					return nil
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", doing, err)
	}
	return n, nil
}

// HistoryUsage implements Retention.
func (s *SQLite) HistoryUsage(ctx context.Context, app string) (int64, error) {
	var n int64
	err := s.rs.historyUsage.QueryRowContext(ctx, app).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("reading the history usage of %s: %w", app, err)
	}
	return n, nil
}

// Heartbeat implements Runs.
func (s *SQLite) Heartbeat(ctx context.Context, now time.Time) error {
	err := s.w.doOne(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO heartbeat (id, time) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET time = excluded.time`, formatTime(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("writing heartbeat: %w", err)
	}
	return nil
}
