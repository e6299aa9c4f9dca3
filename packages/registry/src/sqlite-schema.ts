// Append-only in the schema (SPEC §2.5), not only in code:
// - UPDATE and DELETE are refused by triggers;
// - every INSERT must carry version = head + 1. The BEFORE INSERT trigger runs before conflict
//   resolution, so `REPLACE INTO`, `INSERT OR REPLACE` and upserts (which would otherwise delete the
//   old row without firing the delete trigger) are refused, and so is a gap or an auto-assigned rowid.
// `CREATE … IF NOT EXISTS` doubles as the migration: a database made before the insert trigger
// existed gets it on the next open (schema 2).
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS registry_log (
  version INTEGER PRIMARY KEY NOT NULL CHECK (version >= 1),
  op      TEXT NOT NULL,
  entry   TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS registry_log_no_update BEFORE UPDATE ON registry_log
BEGIN SELECT RAISE(ABORT, 'registry_log is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS registry_log_no_delete BEFORE DELETE ON registry_log
BEGIN SELECT RAISE(ABORT, 'registry_log is append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS registry_log_append_only BEFORE INSERT ON registry_log
WHEN NEW.version IS NOT (SELECT coalesce(max(version), 0) + 1 FROM registry_log)
BEGIN SELECT RAISE(ABORT, 'registry_log is append-only: an insert must carry version = head + 1 (no replace, no gap)'); END;
CREATE TABLE IF NOT EXISTS registry_proposals (id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
INSERT OR IGNORE INTO registry_meta (key, value) VALUES ('schema', '2');
UPDATE registry_meta SET value = '2' WHERE key = 'schema' AND value = '1';
`;
