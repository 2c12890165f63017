// Package app loads and checks one app folder, and layers runtime
// overrides over its tasks.
//
// An app is a folder under <home>/apps/ whose name is the app's name:
//
//	apps/log-archiver/
//	  app.yaml            the manifest (Manifest)
//	  config/tasks.yaml   the tasks (TaskSpec, checked into Task)
//	  tasks/cleanup.wasm  a task's module
//	  tasks/cleanup/      its source (Go, C, Rust or AssemblyScript)
//
// # app.yaml
//
//	name: log-archiver        # required; equal to the folder's name (see ValidName)
//	version: 1.2.0            # free text, one line, at most 64 characters
//	description: ...          # free text
//	author: ...               # free text
//	enabled: true             # default true; false: no task is scheduled
//	roles: [operator]         # roles a user needs (informational); unknown roles warn
//	permissions:
//	  http: [api.example.com, "*.example.org", "localhost:8080"]   # default none
//	  files: false            # default false: no data/files/<app>/ mounted at /data
//	  kv: true                # default true: the app's own key-value store
//	quotas:
//	  concurrency: 4          # default 4, 1..1000: runs of the app at once
//	  memory: 1GiB            # default 1 GiB: the memory limits of concurrent runs, summed
//	  kv: 256MiB              # default 256 MiB: what the key-value store may hold, keys and values
//	  files: 1GiB             # default 1 GiB: what tasks may store in data/files/<app>/
//	  history: 1GiB           # default 1 GiB, at least 2 MiB: what the run history holds
//	                          # (logs, outputs, results, inputs); oldest finished runs go first
//
// Every problem in app.yaml is an error that fails Load, because the
// manifest grants permissions: guessing past a typo there could grant the
// wrong thing.
//
// # config/tasks.yaml
//
//	tasks:
//	  - name: cleanup                  # required; unique in the app (see ValidName)
//	    description: ...
//	    enabled: true                  # default true
//	    schedule: { cron: "H 1 * * *", timezone: Europe/Berlin }
//	    module: tasks/cleanup.wasm     # default tasks/<name>.wasm
//	    args: [--verbose]              # argv after the module name
//	    termination: { maxRuntime: 30m, maxFailures: 2, killOnTimeout: true, hardLimit: 2h }
//	    limits: { memory: 64MiB, output: 1MiB, logs: 1MiB }
//	    retry: { max: 2, backoff: 30s, maxBackoff: 1h }
//	    concurrency: forbid            # allow | forbid | replace
//	    misfire: skip                  # skip | run-once
//	    misfireWindow: 1h
//	    after: [rotate]
//	    environment: { RETENTION_DAYS: "90" }
//	    config: { paths: [/var/log], keep: 3 }
//	    tags: [cleanup, archival]
//	    retention: { keep: 1000, maxAge: 720h }
//
// The fields, their rules and defaults:
//
//   - schedule: absent means the task runs only when triggered. Either
//     cron (a cron expression, with an optional IANA timezone, default
//     UTC) or at (one time, RFC 3339 with a zone offset:
//     2026-12-01T10:00:00Z). A string is short for {cron: ...}. The cron
//     syntax is checked by the scheduler's parser (engine/schedule).
//   - module: a path relative to the app folder ending in .wasm, without
//     "..", that no symlink leads out of. A missing module whose source
//     exists (tasks/cleanup/ holding a Go main package, main.c, Cargo.toml
//     or package.json with assembly/index.ts) is a distinct error
//     wrapping ErrNotBuilt, so the engine can build it; a module older than
//     its source gets a warning.
//   - termination.maxRuntime: default 1m (runtime.DefaultTimeout), at most
//     the runtime's ceiling (24h). A Go duration ("30m", "1h30m") or, as in
//     the original engine, a whole number of seconds (600); so is
//     hardLimit.
//   - termination.maxFailures: failed runs in a row after which the task is
//     disabled; default 0, never.
//   - termination.killOnTimeout: default true, the run is stopped at
//     maxRuntime. When false, the run is reported overdue at maxRuntime and
//     stopped at hardLimit (default the ceiling, 24h; not less than
//     maxRuntime).
//   - limits.memory: default 64 MiB (or the app's memory quota when
//     smaller), at least 64 KiB, at most the runtime's ceiling (4 GiB) and
//     the app's memory quota. limits.output: default 1 MiB, at most 64 MiB.
//     limits.logs: the bytes of log messages a run stores, default 1 MiB,
//     at most 64 MiB; lines past it are counted (Run.LogsDropped), not
//     stored, and a last line says how much was dropped.
//     Sizes as in internal/bytesize: 512KiB, 64MiB, 1GB.
//   - retry: max default 0 (no retry), at most 100. The wait before retry n
//     is backoff·2^(n-1), capped at maxBackoff: exponential, so a failing
//     dependency is not hammered, and capped, so retries still come.
//     backoff default 30s, maxBackoff default 1h (or backoff if longer),
//     both at most 24h. See Retry.Delay.
//   - concurrency: default forbid.
//   - misfire: default skip; misfireWindow (default 1h, at most 7 days)
//     applies to run-once only.
//   - after: names of tasks of the same app; each must exist, and the
//     graph must have no cycle (the error names one). A dependency that is
//     disabled or has errors gets a warning.
//   - environment: names of letters, digits and '_' not starting with a
//     digit; values are strings (a number or bool is taken as written).
//   - config: any mapping, handed to the task as a JSON object
//     (config_get); default {}.
//   - tags: names as for tasks; repeats are dropped with a warning.
//   - retention: keep default 1000 (1..1,000,000) runs; maxAge default
//     none.
//
// # Strictness and limits
//
// Both files are decoded strictly: an unknown field (with a suggestion for
// a likely typo), a field given twice, or a value of the wrong kind is a
// problem naming the file, line, column and field path, such as
//
//	config/tasks.yaml:12:15: tasks[1].limits.memory: "lots" is not a size; ...
//
// A string is taken as written, so a number or bool where text is wanted is
// fine (version: 1.2); a null or empty value is the same as leaving the
// field out. Each file may be at most 1 MiB, and an app may have at most 10,000 tasks.
// YAML anchors, aliases and merge keys (<<: *defaults) work, but decoding
// a file may produce at most 1,048,576 values and 16 MiB of text, counting
// an alias at every use, which stops alias bombs; an alias inside the value
// it names is an error, and values nest at most 100 deep.
//
// # Errors and what they disable
//
// A problem in app.yaml, or one that makes config/tasks.yaml unusable as a
// whole (not YAML, not {tasks: [...]}, too large), fails Load: the engine
// keeps the app's last good version. A problem inside one task entry
// disables that task alone (Task.Errors); the app's other tasks run. An
// entry without a usable name (missing, invalid, repeated) is left out of
// App.Tasks, since nothing could address it; its problems stay in
// App.Errors.
//
// # Overrides
//
// Overrides are the runtime layer (UI, API, CLI) over config/tasks.yaml:
// enabled, schedule and environment per task, deletion, and custom tasks;
// see Override and Merge. Environment overrides merge per variable, the
// override winning, as in the original engine. TasksFile is their JSON
// form for export and import.
package app
