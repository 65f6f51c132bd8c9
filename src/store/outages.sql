-- Keywarden state store, schema version 4: persistent outages.

-- Delivery health of each notification channel: `failing_since` is the first failed
-- attempt since its last delivery (NULL: its last attempt was delivered).
CREATE TABLE channel_health (
    channel         TEXT PRIMARY KEY,
    failing_since   INTEGER,
    last_error      TEXT,
    last_attempt_at INTEGER NOT NULL
);

-- Outages reported as persistent and not yet recovered, one row per subject
-- (`audit:<workspace>`, `scan:<target>`, `channel:<name>`). The row is written in the
-- transaction that enqueues the "outage" notice and deleted in the one that enqueues the
-- "recovered" notice: each is sent once, across restarts and concurrent jobs.
CREATE TABLE outages (
    subject     TEXT PRIMARY KEY,
    since       INTEGER NOT NULL,
    reported_at INTEGER NOT NULL,
    detail      TEXT NOT NULL
);
