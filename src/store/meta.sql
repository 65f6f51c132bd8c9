-- Keywarden state store, schema version 7: the store's own identity.

-- `instance`: random, made once with the store. Message ids derive from it and from what
-- a message is: one store always mints the same id for the same report, two stores never
-- mint the same one.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('instance', lower(hex(randomblob(16))));
