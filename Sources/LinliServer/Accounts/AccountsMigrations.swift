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
    ]
}
