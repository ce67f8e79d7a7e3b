import LinliCore
import LinliStore
enum AccountsMigrations {
    static let all: [Migration] = [
        Migration("accounts.001", [
            """
            CREATE TABLE users (
                id {ID},
                username TEXT NOT NULL UNIQUE,
                display_name TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                failed_logins INTEGER NOT NULL DEFAULT 0,
                locked_until BIGINT NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE role_grants (
                id {ID},
                user_id BIGINT NOT NULL REFERENCES users(id),
                role TEXT NOT NULL,
                place_id BIGINT NOT NULL REFERENCES places(id),
                grid_id BIGINT REFERENCES grids(id),
                household_id BIGINT REFERENCES households(id),
                UNIQUE (user_id, role, place_id)
            )
            """,
            "CREATE INDEX role_grants_user ON role_grants(user_id)",
            """
            CREATE TABLE sessions (
                token_hash TEXT PRIMARY KEY,
                user_id BIGINT NOT NULL REFERENCES users(id),
                csrf TEXT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE api_tokens (
                token_hash TEXT PRIMARY KEY,
                user_id BIGINT NOT NULL REFERENCES users(id),
                name TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
        ]),
        // Sign-in is throttled per address and per (account, address) instead of locking the
        // account (anyone could lock the administrator out); API tokens expire (90 days for
        // those made before this); `auth_epoch` moves on every change that must end access at
        // once (a revoked grant or token, a new password, a sign-out), on every server.
        Migration("accounts.002", [
            """
            CREATE TABLE login_throttle (
                throttle_key TEXT PRIMARY KEY,
                failures INTEGER NOT NULL,
                window_start BIGINT NOT NULL
            )
            """,
            "ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT",
            "UPDATE api_tokens SET expires_at = created_at + 7776000",
            "CREATE INDEX api_tokens_user ON api_tokens(user_id)",
            "CREATE INDEX sessions_user ON sessions(user_id)",
            "CREATE TABLE auth_epoch (id INTEGER PRIMARY KEY, epoch BIGINT NOT NULL)",
            "INSERT INTO auth_epoch (id, epoch) VALUES (1, 0)",
        ]),
        // Accounts made by `linli demo` (known passwords, printed): refused under LINLI_ENV=production,
        // and a database with any other account is real data that benchmarks must not touch.
        Migration("accounts.003", [
            "ALTER TABLE users ADD COLUMN demo INTEGER NOT NULL DEFAULT 0",
        ]),
        // A resident's account is one person of the household (an owner's online vote is theirs
        // alone), and staff invite residents with a one-time code printed for them: the code is
        // kept only as its hash, works once, and expires.
        Migration("accounts.004", [
            "ALTER TABLE role_grants ADD COLUMN resident_id BIGINT",
            """
            CREATE TABLE invites (
                id {ID},
                code_hash TEXT NOT NULL UNIQUE,
                household_id BIGINT NOT NULL REFERENCES households(id),
                resident_id BIGINT NOT NULL,
                display_name TEXT NOT NULL,
                created_by BIGINT REFERENCES users(id),
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                used_at BIGINT,
                user_id BIGINT REFERENCES users(id)
            )
            """,
            "CREATE INDEX invites_resident ON invites(resident_id)",
        ]),
        // An account made from the console remembers the area of whoever made it: until it holds a
        // role, only managers of that area see it (every manager of the city saw every such account).
        Migration("accounts.005", [
            "ALTER TABLE users ADD COLUMN created_path TEXT",
        ]),
        // Residents register with their mobile number and a code sent to it, reset a forgotten
        // password the same way, and bind to their household: the phone is kept sealed with a
        // keyed index (the registry's residents use the same index, so the two can be compared
        // without either in clear); codes are kept as keyed hashes; a binding the data do not
        // confirm waits for the community office in `bind_requests`.
        Migration("accounts.006", [
            "ALTER TABLE users ADD COLUMN phone_index TEXT",
            "ALTER TABLE users ADD COLUMN phone_cipher TEXT",
            "ALTER TABLE users ADD COLUMN phone_masked TEXT",
            "CREATE UNIQUE INDEX users_phone ON users(phone_index)",
            """
            CREATE TABLE sms_codes (
                id {ID},
                purpose TEXT NOT NULL,
                phone_index TEXT NOT NULL,
                code_hash TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                used_at BIGINT
            )
            """,
            "CREATE INDEX sms_codes_phone ON sms_codes(phone_index, created_at)",
            """
            CREATE TABLE bind_requests (
                id {ID},
                user_id BIGINT NOT NULL REFERENCES users(id),
                household_id BIGINT NOT NULL REFERENCES households(id),
                resident_id BIGINT,
                path TEXT NOT NULL,
                status TEXT NOT NULL,
                note TEXT NOT NULL DEFAULT '',
                reason TEXT,
                created_at BIGINT NOT NULL,
                decided_by BIGINT REFERENCES users(id),
                decided_at BIGINT
            )
            """,
            "CREATE INDEX bind_requests_status ON bind_requests(status, id)",
        ]),
        // Staff act for a resident (代办) in a short session opened after confirming the person and
        // giving a reason: the browser session (or a short API token) carries it, and the actor
        // becomes the resident. A resident without an account of their own gets a managed one
        // (no password, no phone) that their own invitation later hands over to them.
        Migration("accounts.007", [
            """
            CREATE TABLE acting_sessions (
                id {ID},
                staff_user_id BIGINT NOT NULL REFERENCES users(id),
                resident_user_id BIGINT NOT NULL REFERENCES users(id),
                resident_id BIGINT NOT NULL,
                household_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                method TEXT NOT NULL,
                reason TEXT NOT NULL,
                started_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                ended_at BIGINT
            )
            """,
            "CREATE INDEX acting_sessions_resident ON acting_sessions(resident_user_id, id)",
            "CREATE INDEX acting_sessions_staff ON acting_sessions(staff_user_id, id)",
            "ALTER TABLE sessions ADD COLUMN acting_id BIGINT",
            "ALTER TABLE api_tokens ADD COLUMN acting_id BIGINT",
            "ALTER TABLE users ADD COLUMN managed INTEGER NOT NULL DEFAULT 0",
        ]),
        // A department's staff hold their grant for one department (an organisation); its place
        // is the area the department serves.
        Migration("accounts.008", [
            "ALTER TABLE role_grants ADD COLUMN organisation_id BIGINT REFERENCES organisations(id)",
        ]),
        // A relative who looks after an elder in another household (亲属绑定): asked for with the
        // household card and the elder's ID last four, confirmed by the community office; while
        // confirmed, the relative may act for the elder (代办) as staff do.
        Migration("accounts.009", [
            """
            CREATE TABLE relative_links (
                id {ID},
                user_id BIGINT NOT NULL REFERENCES users(id),
                resident_id BIGINT NOT NULL,
                household_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                masked_name TEXT NOT NULL,
                relation TEXT NOT NULL,
                status TEXT NOT NULL,
                reason TEXT,
                created_at BIGINT NOT NULL,
                decided_by BIGINT,
                decided_at BIGINT,
                ended_at BIGINT
            )
            """,
            "CREATE UNIQUE INDEX relative_links_live ON relative_links(user_id, resident_id) WHERE status IN ('pending', 'approved')",
            "CREATE INDEX relative_links_path ON relative_links(path)",
        ]),
    ]
}
