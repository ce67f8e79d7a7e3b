import LinliCore
import LinliStore
/// Requests: categories with their deadlines, routing rules, the holiday calendar, requests and
/// their events, followers, photos, and every user's inbox of notifications.
enum RequestsMigrations {
    static let defaultCategories: [(String, String, String, String, Int, Int, Int, Int, String)] = [
        // code, zh, en, default party, accept h, contact h, resolve h, working hours?, attributes
        ("lift", "电梯故障", "Lift out of order", "property_company", 1, 2, 24, 0,
         #"[{"code":"trapped","datatype":"singlevaluelist","required":true,"description":"是否有人被困 / Is anyone trapped","values":["yes","no"]}]"#),
        ("water_leak", "漏水渗水", "Water leak", "property_company", 2, 4, 48, 0, "[]"),
        ("sanitation", "环境卫生", "Rubbish and cleanliness", "property_company", 4, 8, 24, 1, "[]"),
        ("parking", "停车秩序", "Parking", "property_company", 4, 8, 40, 1, "[]"),
        ("common_repair", "公共部位维修", "Repair of common parts", "property_company", 4, 8, 80, 1,
         #"[{"code":"floor","datatype":"number","required":false,"description":"楼层 / Floor","values":[]}]"#),
        ("noise", "噪音扰民", "Noise", "grid_worker", 4, 8, 24, 1, "[]"),
        ("neighbour_dispute", "邻里纠纷", "Dispute between neighbours", "grid_worker", 8, 16, 80, 1, "[]"),
        ("help", "生活求助（老人、残疾人等）", "Help for the elderly or disabled", "grid_worker", 2, 4, 24, 0, "[]"),
        ("owners_affairs", "业主事务（维修资金、公共收益）", "Owners' affairs (maintenance fund, common income)", "owners_committee", 16, 24, 160, 1, "[]"),
        ("public_facility", "社区公共设施", "Community public facilities", "residents_committee", 8, 16, 80, 1, "[]"),
        ("street_public", "道路、路灯、城管事项", "Roads, street lights, city management", "department", 8, 24, 120, 1, "[]"),
        ("other", "其他", "Other", "residents_committee", 8, 16, 80, 1, "[]"),
    ]

    static let all: [Migration] = [
        Migration("requests.001", [
            """
            CREATE TABLE request_categories (
                code TEXT PRIMARY KEY,
                name_zh TEXT NOT NULL,
                name_en TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                default_party TEXT NOT NULL,
                accept_hours INTEGER NOT NULL,
                contact_hours INTEGER NOT NULL,
                resolve_hours INTEGER NOT NULL,
                working_hours INTEGER NOT NULL,
                attributes TEXT NOT NULL DEFAULT '[]',
                active INTEGER NOT NULL DEFAULT 1,
                sort INTEGER NOT NULL DEFAULT 0
            )
            """,
        ] + defaultCategories.enumerated().map { i, c in
            "INSERT INTO request_categories (code, name_zh, name_en, default_party, accept_hours, contact_hours, resolve_hours, working_hours, attributes, sort) VALUES ('\(c.0)', '\(c.1)', '\(c.2.replacingOccurrences(of: "'", with: "''"))', '\(c.3)', \(c.4), \(c.5), \(c.6), \(c.7), '\(c.8)', \(i))"
        } + [
            """
            CREATE TABLE routing_rules (
                id {ID},
                category_code TEXT NOT NULL REFERENCES request_categories(code),
                place_id BIGINT NOT NULL REFERENCES places(id),
                party_kind TEXT NOT NULL,
                UNIQUE (category_code, place_id)
            )
            """,
            """
            CREATE TABLE calendar_days (
                day TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                name TEXT NOT NULL DEFAULT ''
            )
            """,
            """
            CREATE TABLE requests (
                id {ID},
                category TEXT NOT NULL REFERENCES request_categories(code),
                description TEXT NOT NULL,
                place_id BIGINT NOT NULL REFERENCES places(id),
                household_id BIGINT REFERENCES households(id),
                path TEXT NOT NULL,
                street_id BIGINT NOT NULL,
                community_id BIGINT NOT NULL,
                compound_id BIGINT,
                grid_id BIGINT,
                address TEXT NOT NULL,
                lat DOUBLE PRECISION,
                lng DOUBLE PRECISION,
                urgency TEXT NOT NULL,
                channel TEXT NOT NULL,
                submitted_by BIGINT NOT NULL REFERENCES users(id),
                reporter_user_id BIGINT REFERENCES users(id),
                contact_name_cipher TEXT,
                contact_phone_cipher TEXT,
                contact_masked TEXT NOT NULL DEFAULT '',
                public_details INTEGER NOT NULL DEFAULT 0,
                attributes TEXT NOT NULL DEFAULT '{}',
                status TEXT NOT NULL,
                party_kind TEXT,
                party_key TEXT,
                party_name TEXT NOT NULL DEFAULT '',
                party_path TEXT,
                party_grid_id BIGINT,
                level INTEGER NOT NULL DEFAULT 0,
                accept_due BIGINT NOT NULL,
                contact_due BIGINT NOT NULL,
                resolve_due BIGINT NOT NULL,
                accepted_at BIGINT,
                contacted_at BIGINT,
                resolved_at BIGINT,
                closed_at BIGINT,
                missed TEXT NOT NULL DEFAULT '',
                next_due BIGINT,
                rating INTEGER,
                returned_count INTEGER NOT NULL DEFAULT 0,
                reopened_count INTEGER NOT NULL DEFAULT 0,
                merged_into BIGINT REFERENCES requests(id),
                idempotency_key TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX requests_idempotency ON requests(submitted_by, idempotency_key)",
            "CREATE INDEX requests_queue ON requests(party_key, status, resolve_due)",
            "CREATE INDEX requests_next_due ON requests(next_due) WHERE next_due IS NOT NULL",
            "CREATE INDEX requests_street ON requests(street_id, created_at)",
            "CREATE INDEX requests_community ON requests(community_id, created_at)",
            "CREATE INDEX requests_compound ON requests(compound_id, created_at)",
            "CREATE INDEX requests_grid ON requests(grid_id, status)",
            "CREATE INDEX requests_reporter ON requests(reporter_user_id, created_at)",
            "CREATE INDEX requests_submitter ON requests(submitted_by, created_at)",
            "CREATE INDEX requests_category_compound ON requests(category, community_id, created_at)",
            "CREATE INDEX requests_resolved ON requests(resolved_at) WHERE status = 'resolved'",
            """
            CREATE TABLE request_events (
                id {ID},
                request_id BIGINT NOT NULL REFERENCES requests(id),
                at BIGINT NOT NULL,
                user_id BIGINT REFERENCES users(id),
                actor_name TEXT NOT NULL,
                kind TEXT NOT NULL,
                note TEXT NOT NULL DEFAULT '',
                party_key TEXT,
                public INTEGER NOT NULL DEFAULT 1
            )
            """,
            "CREATE INDEX request_events_request ON request_events(request_id, id)",
            "CREATE INDEX request_events_party ON request_events(party_key, kind, at)",
            """
            CREATE TABLE request_followers (
                request_id BIGINT NOT NULL REFERENCES requests(id),
                user_id BIGINT NOT NULL REFERENCES users(id),
                PRIMARY KEY (request_id, user_id)
            )
            """,
            """
            CREATE TABLE request_photos (
                id {ID},
                request_id BIGINT NOT NULL REFERENCES requests(id),
                event_id BIGINT REFERENCES request_events(id),
                stored_name TEXT NOT NULL UNIQUE,
                width INTEGER NOT NULL,
                height INTEGER NOT NULL,
                bytes INTEGER NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX request_photos_request ON request_photos(request_id)",
            """
            CREATE TABLE notifications (
                id {ID},
                user_id BIGINT NOT NULL REFERENCES users(id),
                at BIGINT NOT NULL,
                kind TEXT NOT NULL,
                request_id BIGINT REFERENCES requests(id),
                subject TEXT NOT NULL,
                read_at BIGINT
            )
            """,
            "CREATE INDEX notifications_user ON notifications(user_id, id)",
        ]),
        // The open work of each party, small beside the history: a queue reads only this, never
        // the whole table (measured with 10,000,000 requests, BENCHMARKS.md).
        Migration("requests.002", [
            "CREATE INDEX requests_open_work ON requests(party_kind, party_grid_id, party_path) WHERE status IN ('assigned', 'accepted')",
        ]),
        // A street's figures for a period read only this index, never the rows: at 10,000,000
        // requests a street's month is ~20,000 rows spread over ~40 MB of the table (BENCHMARKS.md).
        Migration("requests.003", [
            """
            CREATE INDEX requests_street_figures ON requests(street_id, created_at, status, party_key, community_id, accepted_at, accept_due,
                resolved_at, resolve_due, rating, missed, returned_count)
            """,
        ]),
        // Every index is one more b-tree written by each submission. No query reads these three
        // any more: a street's rows come through requests_street_figures (which begins with the
        // same two columns), queues through requests_open_work, returns by request id.
        Migration("requests.004", [
            "DROP INDEX requests_street",
            "DROP INDEX requests_queue",
            "DROP INDEX request_events_party",
        ]),
        // The look-alike search reads the latest fifty of a category in a community at every
        // submission: with the columns it compares in the index it reads no row of the table (whose
        // newest pages sit in the WAL, one read each). A submission without an idempotency key
        // writes no entry into that index. (The id is named so that the newest-first order needs
        // no sort; without it SQLite's planner preferred requests_community and read the table.)
        Migration("requests.005", [
            "DROP INDEX requests_category_compound",
            "CREATE INDEX requests_look_alikes ON requests(category, community_id, created_at, id, status, compound_id, place_id, lat, lng)",
            "DROP INDEX requests_idempotency",
            "CREATE UNIQUE INDEX requests_idempotency ON requests(submitted_by, idempotency_key) WHERE idempotency_key IS NOT NULL",
        ]),
        // A request's reporter is its submitter or nobody (staff filing for a resident who has no
        // account), so "my requests" is found through requests_submitter alone; this index was
        // one more b-tree written by every submission (3 % of a submission's server time).
        Migration("requests.006", [
            "DROP INDEX requests_reporter",
        ]),
        // A community's requests are found through requests_street_figures (its street, then the
        // community column inside that index; see `placePredicate`): on 10,000,000 requests a
        // community's month of figures took 6 instead of 9 ms that way, its public board 0.4 instead
        // of 0.6 s (open) and 0.2 instead of 1.1 s (recently resolved), and every submission
        // writes one b-tree fewer.
        Migration("requests.007", [
            "DROP INDEX requests_community",
        ]),
        // A step's note reaches the board and Open311's status_notes only when a member of staff
        // marked it as a public reply: notes carry names, phones and doors. Steps written before
        // this column existed stay unpublished. `consent_by` records who took a resident's consent
        // to publish a request filed on their behalf (or about a household with a vulnerability tag).
        Migration("requests.008", [
            "ALTER TABLE request_events ADD COLUMN published INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE requests ADD COLUMN consent_by BIGINT",
        ]),
        // The reporter said the people handling it may phone them (可以电话联系我); a number
        // given by phone to staff filing for someone says the same. Without it nobody gets a
        // number to call.
        Migration("requests.009", [
            "ALTER TABLE requests ADD COLUMN callback_ok INTEGER NOT NULL DEFAULT 0",
        ]),
        // Needs analysis reads requests counted by community, month and category, moved in the
        // step that files a request: a street's year of trends is a few thousand rows to add up,
        // not 10,000,000 requests to group. Requests stored before this table are counted into it
        // once, on first use (`ensureNeedCounts`), since the month needs each database's own date functions.
        Migration("requests.010", [
            """
            CREATE TABLE request_need_counts (
                community_id BIGINT NOT NULL,
                month INTEGER NOT NULL,
                category TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (community_id, month, category)
            )
            """,
            "CREATE TABLE request_need_synced (id INTEGER PRIMARY KEY, at BIGINT NOT NULL)",
        ]),
        // A 12345 ticket's own fields beside its request: the hotline's number (unique: a ticket
        // sent twice is one request), dispatch time and deadline, the return call's answer, and a
        // unit's objection to the dispatch (退单) with the hotline's answer.
        Migration("requests.011", [
            """
            CREATE TABLE request_hotline (
                request_id BIGINT PRIMARY KEY REFERENCES requests(id),
                ticket_no TEXT NOT NULL UNIQUE,
                dispatched_at BIGINT NOT NULL,
                due_at BIGINT NOT NULL,
                callback TEXT,
                callback_note TEXT NOT NULL DEFAULT '',
                callback_at BIGINT,
                objection TEXT NOT NULL DEFAULT '',
                objection_reason TEXT NOT NULL DEFAULT '',
                objection_at BIGINT,
                objection_by BIGINT,
                objection_answer TEXT NOT NULL DEFAULT '',
                objection_answered_at BIGINT
            )
            """,
        ]),
        // A routing rule to "a department" may name which one (a government department or field
        // office serving the place): its staff then handle those requests themselves, and the
        // offices' ratings count how it handled them. Without it the street's staff answer, as before.
        Migration("requests.012", [
            "ALTER TABLE routing_rules ADD COLUMN organisation_id BIGINT",
            "CREATE INDEX requests_party_key ON requests(party_key, created_at) WHERE party_kind = 'department'",
        ]),
        // The dashboards' figures by community and the month a request was made, kept in the
        // step that changes them (`RequestTally`): a city's whole history is a few thousand rows
        // to add up instead of every request to group. Counted here once from what is stored.
        Migration("requests.013", [
            """
            CREATE TABLE request_rollup (
                community_id BIGINT NOT NULL,
                month INTEGER NOT NULL,
                made BIGINT NOT NULL,
                escalated BIGINT NOT NULL,
                rating_sum BIGINT NOT NULL,
                rated BIGINT NOT NULL,
                resolved BIGINT NOT NULL,
                on_time BIGINT NOT NULL,
                PRIMARY KEY (community_id, month)
            )
            """,
            "sqlite:" + RequestsService.Rollup.month.fill(.sqlite),
            "postgres:" + RequestsService.Rollup.month.fill(.postgres),
        ]),
        // The same by the day a request was made, for a period's edge days: "this month so far"
        // on a month's last day would otherwise group a month of a city's requests at page time.
        Migration("requests.014", [
            """
            CREATE TABLE request_rollup_day (
                community_id BIGINT NOT NULL,
                day BIGINT NOT NULL,
                made BIGINT NOT NULL,
                escalated BIGINT NOT NULL,
                rating_sum BIGINT NOT NULL,
                rated BIGINT NOT NULL,
                resolved BIGINT NOT NULL,
                on_time BIGINT NOT NULL,
                PRIMARY KEY (community_id, day)
            )
            """,
            "sqlite:" + RequestsService.Rollup.day.fill(.sqlite),
            "postgres:" + RequestsService.Rollup.day.fill(.postgres),
        ]),
        // The counts every submission adds to (its community's month and day, its category's
        // month) were one row each: on PostgreSQL every submission in a community queued on that
        // row's lock until its commit (and the replica's) was done. Each is now split into rows
        // by `shard` (`Dialect.counterShard`: one on SQLite, whose single writer queues anyway;
        // sixteen on PostgreSQL), and every reader adds the shards up.
        Migration("requests.015", [
            "sqlite:CREATE TABLE request_rollup_sharded (community_id BIGINT NOT NULL, month INTEGER NOT NULL, made BIGINT NOT NULL, escalated BIGINT NOT NULL, rating_sum BIGINT NOT NULL, rated BIGINT NOT NULL, resolved BIGINT NOT NULL, on_time BIGINT NOT NULL, shard INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (community_id, month, shard))",
            "sqlite:INSERT INTO request_rollup_sharded (community_id, month, made, escalated, rating_sum, rated, resolved, on_time, shard) SELECT community_id, month, made, escalated, rating_sum, rated, resolved, on_time, 0 FROM request_rollup",
            "sqlite:DROP TABLE request_rollup",
            "sqlite:ALTER TABLE request_rollup_sharded RENAME TO request_rollup",
            "postgres:ALTER TABLE request_rollup ADD COLUMN shard INTEGER NOT NULL DEFAULT 0",
            "postgres:ALTER TABLE request_rollup DROP CONSTRAINT request_rollup_pkey",
            "postgres:ALTER TABLE request_rollup ADD PRIMARY KEY (community_id, month, shard)",
            "sqlite:CREATE TABLE request_rollup_day_sharded (community_id BIGINT NOT NULL, day BIGINT NOT NULL, made BIGINT NOT NULL, escalated BIGINT NOT NULL, rating_sum BIGINT NOT NULL, rated BIGINT NOT NULL, resolved BIGINT NOT NULL, on_time BIGINT NOT NULL, shard INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (community_id, day, shard))",
            "sqlite:INSERT INTO request_rollup_day_sharded (community_id, day, made, escalated, rating_sum, rated, resolved, on_time, shard) SELECT community_id, day, made, escalated, rating_sum, rated, resolved, on_time, 0 FROM request_rollup_day",
            "sqlite:DROP TABLE request_rollup_day",
            "sqlite:ALTER TABLE request_rollup_day_sharded RENAME TO request_rollup_day",
            "postgres:ALTER TABLE request_rollup_day ADD COLUMN shard INTEGER NOT NULL DEFAULT 0",
            "postgres:ALTER TABLE request_rollup_day DROP CONSTRAINT request_rollup_day_pkey",
            "postgres:ALTER TABLE request_rollup_day ADD PRIMARY KEY (community_id, day, shard)",
            "sqlite:CREATE TABLE request_need_counts_sharded (community_id BIGINT NOT NULL, month INTEGER NOT NULL, category TEXT NOT NULL, n BIGINT NOT NULL, shard INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (community_id, month, category, shard))",
            "sqlite:INSERT INTO request_need_counts_sharded (community_id, month, category, n, shard) SELECT community_id, month, category, n, 0 FROM request_need_counts",
            "sqlite:DROP TABLE request_need_counts",
            "sqlite:ALTER TABLE request_need_counts_sharded RENAME TO request_need_counts",
            "postgres:ALTER TABLE request_need_counts ADD COLUMN shard INTEGER NOT NULL DEFAULT 0",
            "postgres:ALTER TABLE request_need_counts DROP CONSTRAINT request_need_counts_pkey",
            "postgres:ALTER TABLE request_need_counts ADD PRIMARY KEY (community_id, month, category, shard)",
        ]),
        // The situation map's density layer by month (`RequestSpots.swift`): where requests were
        // filed, per square at each of the map's scales or at their place, by category and open
        // or not. Sharded as the other counts are, and counted here once from what is stored.
        Migration("requests.016", [
            """
            CREATE TABLE request_spots (
                community_id BIGINT NOT NULL,
                month INTEGER NOT NULL,
                scale INTEGER NOT NULL,
                category TEXT NOT NULL,
                is_open INTEGER NOT NULL,
                y BIGINT NOT NULL,
                x BIGINT NOT NULL,
                shard INTEGER NOT NULL DEFAULT 0,
                n BIGINT NOT NULL,
                PRIMARY KEY (community_id, month, scale, category, is_open, y, x, shard)
            )
            """,
            "sqlite:" + RequestsService.spotsFill(.sqlite),
            "postgres:" + RequestsService.spotsFill(.postgres),
        ]),
    ]
}