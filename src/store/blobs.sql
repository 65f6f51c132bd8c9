-- Keywarden state store, schema version 3: incremental history scans.

-- Blobs a daemon history target (`scan:<target>`) has read and found clean (no hit, no
-- placeholder), so its next run skips them. Blob ids only: no content, no key material.
-- Blobs with keys are never listed: they are re-read every run, so their findings stay
-- complete (see `run::history`).
CREATE TABLE clean_blobs (
    source TEXT NOT NULL,
    blob   BLOB NOT NULL,
    PRIMARY KEY (source, blob)
) WITHOUT ROWID;

-- What the clean blobs of a source were judged with (keywarden version and built-in
-- rules, hashed): when it changes, the source's clean blobs are forgotten.
CREATE TABLE clean_blobs_rules (
    source TEXT PRIMARY KEY,
    rules  TEXT NOT NULL
);
