-- Keywarden state store, schema version 5: several daemons on one database.

-- Who runs each job's current tick: the holder keeps `expires_at` ahead of the clock
-- while it works; a holder that dies (SIGKILL included) stops renewing, and once the
-- lease expires another daemon takes it over and resumes from `job_progress`.
-- `finished_at` is set when the tick's run is done, so no one runs that tick again.
CREATE TABLE leases (
    job         TEXT PRIMARY KEY,
    tick        INTEGER NOT NULL,
    holder      TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    finished_at INTEGER
);

-- Where a job's run got to (a watermark: a commit, a page, a repository name), so the
-- daemon that takes over an expired lease resumes instead of starting over.
CREATE TABLE job_progress (
    job        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
