-- Keywarden state store, schema version 1. Applied in one transaction by
-- `store::migrate`, which then sets `PRAGMA user_version = 1`.

-- One row per report that was enqueued. `findings` is the JSON array of the report's
-- finding ids (fingerprints and key ids, never key material); `delivered_at` is set when
-- the first of its messages is delivered, and the last delivered report of a `source` is
-- what the next report's "changes since" section is computed against.
CREATE TABLE reports (
    id           INTEGER PRIMARY KEY,
    source       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    findings     TEXT NOT NULL,
    delivered_at INTEGER
);
CREATE INDEX reports_source ON reports (source, delivered_at);

-- The outbox: every notification is written here before any attempt to send it.
-- `payload` is the rendered message (email: subject/text/html JSON; webhook: the exact
-- body bytes), so a retry sends the same bytes with the same `message_id`.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    report_id       INTEGER REFERENCES reports (id),
    channel         TEXT NOT NULL,
    transport       TEXT NOT NULL CHECK (transport IN ('email', 'webhook')),
    event           TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    payload         BLOB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    finished_at     INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Channels switched off by the receiver (`410 Gone`), until `keywarden outbox retry`.
CREATE TABLE disabled_channels (
    channel     TEXT PRIMARY KEY,
    disabled_at INTEGER NOT NULL,
    reason      TEXT NOT NULL
);
