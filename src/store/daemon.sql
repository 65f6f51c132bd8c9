-- Keywarden state store, schema version 2: the daemon's state.

-- Every finding a daemon job has seen, per source (`audit:<workspace>` or
-- `scan:<target>`). `id` is the report entry's stable id (key id + kind, or fingerprint +
-- path + rule: never key material); `label` is the redacted key and its location.
-- `resolved_at` is set when a run no longer sees it, cleared if it comes back.
CREATE TABLE tracked_findings (
    source      TEXT NOT NULL,
    id          TEXT NOT NULL,
    label       TEXT NOT NULL,
    severity    TEXT NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    resolved_at INTEGER,
    PRIMARY KEY (source, id)
);
CREATE INDEX tracked_open ON tracked_findings (resolved_at, severity);

-- One row per job run: what ran, for which tick, when, and how it ended.
CREATE TABLE job_runs (
    id            INTEGER PRIMARY KEY,
    job           TEXT NOT NULL,
    trigger       TEXT NOT NULL,
    scheduled_for INTEGER,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    outcome       TEXT,
    detail        TEXT
);
CREATE INDEX job_runs_job ON job_runs (job, started_at);
