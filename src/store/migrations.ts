/**
 * Numbered SQLite migrations. Append only: never edit a migration that has shipped.
 * `PRAGMA user_version` holds the number of applied migrations.
 *
 * Readers (compare, plot, why, runs) rely on these names; the runs directory layout is
 *   <runsDir>/peftlab.db          this database (WAL)
 *   <runsDir>/store/<d[:2]>/<d>/  committed artifacts, d = artifact digest (sha256 hex)
 *   <runsDir>/tmp/                temporary output folders (removed on commit / next start)
 *   <runsDir>/scratch/<fp>/       per-fingerprint checkpoints (removed on commit)
 */
export const migrations: ReadonlyArray<string> = [
  /* 1 */ `
  CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    pipeline      TEXT NOT NULL,          -- the pipeline's name
    pipeline_path TEXT NOT NULL,          -- as given on the command line
    started_at    TEXT NOT NULL,          -- ISO 8601
    finished_at   TEXT,
    status        TEXT NOT NULL CHECK (status IN ('running','succeeded','failed','interrupted')),
    backend       TEXT NOT NULL,
    jobs          INTEGER NOT NULL,
    environment   TEXT NOT NULL,          -- JSON: node, platform, cpus, tfjs version, peftlab version, argv
    pid           INTEGER NOT NULL
  );

  -- A committed artifact: a folder in the store, content-addressed.
  CREATE TABLE artifacts (
    digest      TEXT PRIMARY KEY,         -- sha256 over the folder's manifest (paths, sizes, file digests)
    path        TEXT NOT NULL,            -- relative to the runs directory: store/ab/abcd…
    bytes       INTEGER NOT NULL,
    files       INTEGER NOT NULL,
    manifest    TEXT NOT NULL,            -- JSON [{path, bytes, sha256}]
    created_at  TEXT NOT NULL
  );

  -- One row per stage instance per run.
  CREATE TABLE executions (
    id                  INTEGER PRIMARY KEY,
    run_id              INTEGER NOT NULL REFERENCES runs(id),
    instance_id         TEXT NOT NULL,    -- train[method=vera,seed=2]
    stage               TEXT NOT NULL,    -- the YAML stage name
    kind                TEXT NOT NULL,    -- the stage kind
    fingerprint         TEXT NOT NULL,    -- sha256 hex
    fields              TEXT NOT NULL,    -- JSON [[name, value], …] in recipe order (see fingerprint.ts)
    status              TEXT NOT NULL CHECK (status IN ('running','cached','succeeded','failed','interrupted','skipped')),
    source_execution_id INTEGER REFERENCES executions(id), -- for cached: the execution that produced the artifact
    artifact_digest     TEXT REFERENCES artifacts(digest),
    started_at          TEXT,
    finished_at         TEXT,
    duration_ms         REAL,
    peak_rss_bytes      INTEGER,
    summary             TEXT,             -- JSON object returned by the stage
    error               TEXT              -- JSON {tag, reason, message}
  );
  CREATE INDEX executions_run ON executions(run_id);
  CREATE INDEX executions_instance ON executions(instance_id, status);
  CREATE INDEX executions_fingerprint ON executions(fingerprint);

  -- The cache: only a committed row here makes a hit.
  CREATE TABLE cache (
    fingerprint     TEXT PRIMARY KEY,
    execution_id    INTEGER NOT NULL REFERENCES executions(id),
    artifact_digest TEXT NOT NULL REFERENCES artifacts(digest),
    committed_at    TEXT NOT NULL
  );

  CREATE TABLE metrics (
    execution_id INTEGER NOT NULL REFERENCES executions(id),
    step         INTEGER,                 -- NULL: a final value (summary)
    name         TEXT NOT NULL,
    value        REAL NOT NULL
  );
  CREATE INDEX metrics_execution ON metrics(execution_id, name, step);

  -- The matrix factors of an execution, so results pivot by method / seed / rank.
  CREATE TABLE factors (
    execution_id INTEGER NOT NULL REFERENCES executions(id),
    name         TEXT NOT NULL,
    value        TEXT NOT NULL,           -- JSON-encoded scalar
    PRIMARY KEY (execution_id, name)
  );

  -- What the dashboard showed, for post-mortems.
  CREATE TABLE events (
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    seq          INTEGER NOT NULL,
    at           TEXT NOT NULL,
    instance_id  TEXT,
    type         TEXT NOT NULL,
    payload      TEXT NOT NULL,           -- the RunEvent as JSON
    PRIMARY KEY (run_id, seq)
  );

  -- Cross-process coordination: one live holder per fingerprint.
  CREATE TABLE locks (
    fingerprint TEXT PRIMARY KEY,
    run_id      INTEGER NOT NULL,
    pid         INTEGER NOT NULL,
    acquired_at TEXT NOT NULL
  );
  `,
  /* 2 */ `
  -- Liveness is pid + process start time (liveness.ts): a recycled pid is not the holder.
  ALTER TABLE runs ADD COLUMN pid_start TEXT;
  ALTER TABLE locks ADD COLUMN pid_start TEXT;
  `,
]
