import LinliCore
import LinliStore
enum AuditMigrations {
    static let all: [Migration] = [
        Migration("audit.001", [
            """
            CREATE TABLE audit_log (
                id {ID},
                at BIGINT NOT NULL,
                user_id BIGINT,
                username TEXT NOT NULL,
                action TEXT NOT NULL,
                object_type TEXT NOT NULL,
                object_id BIGINT,
                place_path TEXT NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                detail TEXT NOT NULL DEFAULT ''
            )
            """,
            "CREATE INDEX audit_log_path ON audit_log(place_path)",
            // Append-only: the database itself refuses to change or remove an entry.
            "sqlite:CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
            "sqlite:CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
            "postgres:CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$ LANGUAGE plpgsql",
            "postgres:CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        ]),
        // The chain of keyed seals (see AuditChain), append-only like the log; on PostgreSQL
        // neither table can be truncated (a statement trigger refuses TRUNCATE, which row
        // triggers do not see: 3,481 entries went that way in the review).
        Migration("audit.002", [
            "CREATE TABLE audit_chain (entry_id BIGINT PRIMARY KEY, hash TEXT NOT NULL)",
            "sqlite:CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
            "sqlite:CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END",
            "postgres:CREATE TRIGGER audit_chain_no_change BEFORE UPDATE OR DELETE ON audit_chain FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
            "postgres:CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
            "postgres:CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
        ]),
        // Each step taken while acting for a resident (代办), by session: the resident's history
        // and the session's own record read it without scanning the whole log.
        Migration("audit.003", [
            """
            CREATE TABLE acting_steps (
                id {ID},
                acting_id BIGINT NOT NULL,
                at BIGINT NOT NULL,
                action TEXT NOT NULL,
                object_type TEXT NOT NULL,
                object_id BIGINT
            )
            """,
            "CREATE INDEX acting_steps_session ON acting_steps(acting_id, id)",
        ]),
    ]
}
