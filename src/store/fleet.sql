-- Keywarden state store, schema version 6: fleet watermarks.

-- One row per repository of a fleet target (`[[daemon.scan]] source = …`), keyed by its
-- state source `scan:<target>/<repository>`: the refs (a digest of names and ids) and
-- rules it was last scanned with, once its findings were recorded. A repository whose
-- refs and rules still match is not read again; a pass interrupted halfway resumes with
-- the repositories that have no matching row. Digests and names only: no token, no URL.
CREATE TABLE fleet_repos (
    source     TEXT PRIMARY KEY,
    target     TEXT NOT NULL,
    repository TEXT NOT NULL,
    refs       TEXT NOT NULL,
    rules      TEXT NOT NULL,
    scanned_at INTEGER NOT NULL
);
CREATE INDEX fleet_repos_target ON fleet_repos (target);
