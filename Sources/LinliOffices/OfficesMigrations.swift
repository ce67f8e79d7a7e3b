import LinliStore

/// The offices' side: the lists a street or district keeps, in versions; the admission clock;
/// departments' work items and each community's answer to them.
enum OfficesMigrations {
    static let all: [Migration] = [
        Migration("offices.001", [
            // One list of one kind at a place, in versions: a draft is edited, then published;
            // a published version never changes (items keep pointing at the version they used).
            """
            CREATE TABLE office_lists (
                id {ID},
                place_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                kind TEXT NOT NULL,
                version INTEGER NOT NULL,
                status TEXT NOT NULL,
                note TEXT NOT NULL DEFAULT '',
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL,
                published_by BIGINT REFERENCES users(id),
                published_at BIGINT,
                UNIQUE (place_id, kind, version)
            )
            """,
            "CREATE INDEX office_lists_path ON office_lists(path)",
            """
            CREATE TABLE office_list_items (
                id {ID},
                list_id BIGINT NOT NULL REFERENCES office_lists(id),
                code TEXT NOT NULL,
                title TEXT NOT NULL,
                basis TEXT NOT NULL DEFAULT '',
                department_id BIGINT REFERENCES organisations(id),
                fee_per_unit BIGINT,
                unit TEXT NOT NULL DEFAULT '',
                sort INTEGER NOT NULL DEFAULT 0,
                UNIQUE (list_id, code)
            )
            """,
            "CREATE INDEX office_list_items_list ON office_list_items(list_id)",
            """
            CREATE TABLE office_settings (
                place_id BIGINT PRIMARY KEY REFERENCES places(id),
                lead_days INTEGER NOT NULL,
                decide_days INTEGER NOT NULL
            )
            """,
            // A department's item for some communities of one street, reviewed by that street.
            // Days are China-time day numbers.
            """
            CREATE TABLE work_items (
                id {ID},
                department_id BIGINT NOT NULL REFERENCES organisations(id),
                street_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                kind TEXT NOT NULL,
                title TEXT NOT NULL,
                detail TEXT NOT NULL DEFAULT '',
                list_item_id BIGINT REFERENCES office_list_items(id),
                units INTEGER NOT NULL DEFAULT 1,
                fee BIGINT NOT NULL DEFAULT 0,
                starts_day BIGINT NOT NULL,
                due_day BIGINT NOT NULL,
                decide_by_day BIGINT NOT NULL,
                status TEXT NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                submitted_by BIGINT NOT NULL REFERENCES users(id),
                submitted_at BIGINT NOT NULL,
                decided_by BIGINT REFERENCES users(id),
                decided_at BIGINT,
                client_key TEXT
            )
            """,
            // A retried submission by the same account is the same item.
            "CREATE UNIQUE INDEX work_items_client_key ON work_items(submitted_by, client_key)",
            "CREATE INDEX work_items_path ON work_items(path, status)",
            "CREATE INDEX work_items_department ON work_items(department_id, id)",
            """
            CREATE TABLE work_item_shares (
                item_id BIGINT NOT NULL REFERENCES work_items(id),
                community_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                status TEXT NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                done_count INTEGER,
                evidence TEXT NOT NULL DEFAULT '',
                answered_by BIGINT REFERENCES users(id),
                answered_at BIGINT,
                PRIMARY KEY (item_id, community_id)
            )
            """,
            "CREATE INDEX work_item_shares_community ON work_item_shares(community_id, status)",
            """
            CREATE TABLE work_item_events (
                id {ID},
                item_id BIGINT NOT NULL REFERENCES work_items(id),
                community_id BIGINT,
                kind TEXT NOT NULL,
                note TEXT NOT NULL DEFAULT '',
                by_name TEXT NOT NULL,
                at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX work_item_events_item ON work_item_events(item_id, id)",
        ]),
        // A community's rating of a department (评价权), of one item or of a month's handling in
        // general; the two lowest levels start a fix the department answers, or appeals to the
        // district. `status`: fine, fixing, fixed, appealed, overturned.
        Migration("offices.002", [
            """
            CREATE TABLE department_ratings (
                id {ID},
                department_id BIGINT NOT NULL,
                community_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                item_id BIGINT REFERENCES work_items(id),
                period TEXT NOT NULL,
                level INTEGER NOT NULL,
                timeliness INTEGER NOT NULL,
                helpfulness INTEGER NOT NULL,
                comment TEXT NOT NULL DEFAULT '',
                status TEXT NOT NULL,
                fix_due_day BIGINT,
                answer TEXT NOT NULL DEFAULT '',
                answered_at BIGINT,
                appeal TEXT NOT NULL DEFAULT '',
                decision TEXT NOT NULL DEFAULT '',
                decided_by BIGINT REFERENCES users(id),
                decided_at BIGINT,
                rated_by BIGINT NOT NULL REFERENCES users(id),
                rated_at BIGINT NOT NULL,
                UNIQUE (item_id, community_id)
            )
            """,
            "CREATE INDEX department_ratings_department ON department_ratings(department_id, period)",
            "CREATE INDEX department_ratings_path ON department_ratings(path)",
            // One rating of the month's handling in general per community and department.
            "CREATE UNIQUE INDEX department_ratings_general ON department_ratings(department_id, community_id, period) WHERE item_id IS NULL",
        ]),
        // Assessments (考核、示范创建验收): a set of weighted indicators for a period, applied to
        // every community of a street (or district); per community and indicator the platform's
        // value with its evidence, the community's self-assessment and the reviewer's score.
        // Values and scores in hundredths.
        Migration("offices.003", [
            """
            CREATE TABLE assessment_sets (
                id {ID},
                place_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                from_day BIGINT NOT NULL,
                to_day BIGINT NOT NULL,
                pass_mark INTEGER NOT NULL,
                status TEXT NOT NULL,
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL,
                opened_at BIGINT,
                published_at BIGINT
            )
            """,
            "CREATE INDEX assessment_sets_path ON assessment_sets(path)",
            """
            CREATE TABLE assessment_indicators (
                id {ID},
                set_id BIGINT NOT NULL REFERENCES assessment_sets(id),
                code TEXT NOT NULL,
                name TEXT NOT NULL,
                metric TEXT NOT NULL,
                weight BIGINT NOT NULL,
                target BIGINT NOT NULL,
                sort INTEGER NOT NULL,
                UNIQUE (set_id, code)
            )
            """,
            """
            CREATE TABLE assessment_entries (
                set_id BIGINT NOT NULL REFERENCES assessment_sets(id),
                indicator_id BIGINT NOT NULL REFERENCES assessment_indicators(id),
                community_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                value BIGINT,
                evidence TEXT NOT NULL DEFAULT '',
                self_score INTEGER,
                self_note TEXT NOT NULL DEFAULT '',
                review_score INTEGER,
                review_note TEXT NOT NULL DEFAULT '',
                reviewed_by BIGINT REFERENCES users(id),
                PRIMARY KEY (set_id, indicator_id, community_id)
            )
            """,
            "CREATE INDEX assessment_entries_community ON assessment_entries(community_id)",
        ]),
        // Certificates (开证明): the kinds a street lets its communities issue from a template,
        // and the kinds the negative list forbids (with where to go instead); each certificate
        // numbered per street and year, its text sealed (it names a person), verifiable by a code.
        Migration("offices.004", [
            """
            CREATE TABLE certificate_kinds (
                id {ID},
                place_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                body TEXT NOT NULL DEFAULT '',
                basis TEXT NOT NULL DEFAULT '',
                refused INTEGER NOT NULL DEFAULT 0,
                go_instead TEXT NOT NULL DEFAULT '',
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX certificate_kinds_path ON certificate_kinds(path)",
            """
            CREATE TABLE certificate_counters (
                street_id BIGINT NOT NULL,
                year INTEGER NOT NULL,
                last INTEGER NOT NULL,
                PRIMARY KEY (street_id, year)
            )
            """,
            """
            CREATE TABLE certificates (
                id {ID},
                kind_id BIGINT NOT NULL REFERENCES certificate_kinds(id),
                community_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                resident_id BIGINT NOT NULL,
                holder_masked TEXT NOT NULL,
                number TEXT NOT NULL UNIQUE,
                code TEXT NOT NULL UNIQUE,
                text_cipher TEXT NOT NULL,
                purpose TEXT NOT NULL,
                issued_by BIGINT NOT NULL REFERENCES users(id),
                issued_by_name TEXT NOT NULL,
                issued_at BIGINT NOT NULL,
                revoked_at BIGINT,
                revoke_reason TEXT NOT NULL DEFAULT ''
            )
            """,
            "CREATE INDEX certificates_path ON certificates(path, id)",
        ]),
        // Pushes of requests to an upper-level system (a city's 12345 platform): its endpoint
        // over an area, with a shared secret (sealed), and an outbox written in the same
        // transaction as each step, delivered with retries by the servers' housekeeping.
        Migration("offices.005", [
            """
            CREATE TABLE webhook_endpoints (
                id {ID},
                place_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                url TEXT NOT NULL,
                secret_cipher TEXT NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE outbox (
                id {ID},
                endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints(id),
                kind TEXT NOT NULL,
                request_id BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_at BIGINT NOT NULL,
                claimed_until BIGINT NOT NULL DEFAULT 0,
                delivered_at BIGINT,
                last_status INTEGER,
                last_error TEXT NOT NULL DEFAULT ''
            )
            """,
            "CREATE INDEX outbox_due ON outbox(next_at) WHERE delivered_at IS NULL",
            "CREATE INDEX outbox_endpoint ON outbox(endpoint_id, id)",
        ]),
        // A list entry may say what kind of work it admits (a task, a data collection, an
        // assessment…): an item is admitted under it only as that kind, and an item that scores
        // communities only under an entry that is an assessment (`OfficeRules.kindRefusal`).
        Migration("offices.006", [
            "ALTER TABLE office_list_items ADD COLUMN work_kind TEXT",
        ]),
        // Photos a community sends with its report that an item is done (a sign-in sheet, the
        // notice on the board): sealed on disk like a service application's papers.
        Migration("offices.007", [
            """
            CREATE TABLE work_item_evidence (
                id {ID},
                item_id BIGINT NOT NULL REFERENCES work_items(id),
                community_id BIGINT NOT NULL,
                stored_name TEXT NOT NULL,
                bytes BIGINT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX work_item_evidence_item ON work_item_evidence(item_id, community_id)",
        ]),
        // A district's department sending one item to communities of several streets: one item
        // per reviewing street, the same `batch_id` (the first one's id) on each.
        Migration("offices.008", [
            "ALTER TABLE work_items ADD COLUMN batch_id BIGINT",
            "CREATE INDEX work_items_batch ON work_items(batch_id) WHERE batch_id IS NOT NULL",
            // The hourly sweep of files no report names asks by the file's name.
            "CREATE INDEX work_item_evidence_name ON work_item_evidence(stored_name)",
        ]),
    ]
}
