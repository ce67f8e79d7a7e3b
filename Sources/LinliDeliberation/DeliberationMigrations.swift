import LinliServer
import LinliCore
import LinliStore
/// Deliberation tables: processes and vote rules (data), matters and their stage log, meetings,
/// polls with a frozen electorate and one ballot per exclusive part, notices and milestones.
enum DeliberationMigrations {
    static let all: [Migration] = [
        Migration("deliberation.001", [
            """
            CREATE TABLE vote_rules (
                id {ID},
                code TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                place_id BIGINT REFERENCES places(id),
                body TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE processes (
                id {ID},
                code TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                place_id BIGINT REFERENCES places(id),
                body TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE matters (
                id {ID},
                process_id BIGINT NOT NULL REFERENCES processes(id),
                place_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                compound_id BIGINT NOT NULL REFERENCES places(id),
                compound_path TEXT NOT NULL,
                title TEXT NOT NULL,
                description TEXT NOT NULL,
                item_class TEXT NOT NULL,
                status TEXT NOT NULL,
                stage_index INTEGER NOT NULL,
                rejected_reason TEXT NOT NULL DEFAULT '',
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX matters_path ON matters(path)",
            "CREATE INDEX matters_compound ON matters(compound_id)",
            """
            CREATE TABLE matter_stages (
                id {ID},
                matter_id BIGINT NOT NULL REFERENCES matters(id),
                stage_index INTEGER NOT NULL,
                stage_code TEXT NOT NULL,
                outcome TEXT NOT NULL,
                note TEXT NOT NULL,
                acted_by BIGINT NOT NULL REFERENCES users(id),
                acted_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX matter_stages_matter ON matter_stages(matter_id)",
            """
            CREATE TABLE matter_documents (
                id {ID},
                matter_id BIGINT NOT NULL REFERENCES matters(id),
                stage_index INTEGER NOT NULL,
                kind TEXT NOT NULL,
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                meeting_id BIGINT,
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX matter_documents_matter ON matter_documents(matter_id)",
            """
            CREATE TABLE meetings (
                id {ID},
                matter_id BIGINT NOT NULL REFERENCES matters(id),
                stage_index INTEGER NOT NULL,
                title TEXT NOT NULL,
                starts_at BIGINT NOT NULL,
                location TEXT NOT NULL,
                agenda TEXT NOT NULL,
                status TEXT NOT NULL,
                minutes TEXT NOT NULL DEFAULT '',
                decisions TEXT NOT NULL DEFAULT '',
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL,
                held_at BIGINT
            )
            """,
            "CREATE INDEX meetings_matter ON meetings(matter_id)",
            """
            CREATE TABLE meeting_invitees (
                meeting_id BIGINT NOT NULL REFERENCES meetings(id),
                kind TEXT NOT NULL,
                ref_id BIGINT NOT NULL,
                label TEXT NOT NULL,
                PRIMARY KEY (meeting_id, kind, ref_id)
            )
            """,
            """
            CREATE TABLE meeting_attendance (
                id {ID},
                meeting_id BIGINT NOT NULL REFERENCES meetings(id),
                household_id BIGINT REFERENCES households(id),
                name TEXT NOT NULL,
                method TEXT NOT NULL,
                recorded_by BIGINT NOT NULL REFERENCES users(id),
                at BIGINT NOT NULL,
                UNIQUE (meeting_id, household_id)
            )
            """,
            """
            CREATE TABLE polls (
                id {ID},
                matter_id BIGINT NOT NULL REFERENCES matters(id),
                stage_index INTEGER NOT NULL,
                place_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                rule_id BIGINT NOT NULL REFERENCES vote_rules(id),
                rule_body TEXT NOT NULL,
                item_class TEXT NOT NULL,
                question TEXT NOT NULL,
                opens_at BIGINT NOT NULL,
                closes_at BIGINT NOT NULL,
                status TEXT NOT NULL,
                result TEXT,
                total_parts BIGINT NOT NULL DEFAULT 0,
                total_area BIGINT NOT NULL DEFAULT 0,
                total_heads BIGINT NOT NULL DEFAULT 0,
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL,
                closed_at BIGINT
            )
            """,
            "CREATE INDEX polls_matter ON polls(matter_id)",
            "CREATE INDEX polls_rule_status ON polls(rule_id, status)",
            """
            CREATE TABLE poll_parts (
                poll_id BIGINT NOT NULL REFERENCES polls(id),
                part_id BIGINT NOT NULL REFERENCES dwellings(id),
                household_id BIGINT NOT NULL REFERENCES households(id),
                area_centi BIGINT NOT NULL,
                owner_key TEXT NOT NULL,
                PRIMARY KEY (poll_id, part_id)
            )
            """,
            "CREATE INDEX poll_parts_owner ON poll_parts(poll_id, owner_key)",
            """
            CREATE TABLE ballot_documents (
                id {ID},
                poll_id BIGINT NOT NULL REFERENCES polls(id),
                stored_name TEXT NOT NULL,
                bytes BIGINT NOT NULL,
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE ballots (
                poll_id BIGINT NOT NULL REFERENCES polls(id),
                part_id BIGINT NOT NULL,
                choice TEXT NOT NULL,
                method TEXT NOT NULL,
                proxy_name TEXT NOT NULL DEFAULT '',
                document_id BIGINT REFERENCES ballot_documents(id),
                cast_by BIGINT NOT NULL REFERENCES users(id),
                cast_at BIGINT NOT NULL,
                revision INTEGER NOT NULL,
                PRIMARY KEY (poll_id, part_id),
                FOREIGN KEY (poll_id, part_id) REFERENCES poll_parts(poll_id, part_id)
            )
            """,
            """
            CREATE TABLE ballot_history (
                id {ID},
                poll_id BIGINT NOT NULL REFERENCES polls(id),
                part_id BIGINT NOT NULL,
                choice TEXT NOT NULL,
                method TEXT NOT NULL,
                proxy_name TEXT NOT NULL DEFAULT '',
                document_id BIGINT,
                cast_by BIGINT NOT NULL REFERENCES users(id),
                at BIGINT NOT NULL,
                revision INTEGER NOT NULL
            )
            """,
            "CREATE INDEX ballot_history_poll ON ballot_history(poll_id, part_id)",
            """
            CREATE TABLE notices (
                id {ID},
                matter_id BIGINT NOT NULL REFERENCES matters(id),
                place_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                kind TEXT NOT NULL,
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                is_public INTEGER NOT NULL,
                published_by BIGINT NOT NULL REFERENCES users(id),
                published_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX notices_place ON notices(place_id)",
            """
            CREATE TABLE milestones (
                id {ID},
                matter_id BIGINT NOT NULL REFERENCES matters(id),
                title TEXT NOT NULL,
                due_day TEXT NOT NULL,
                done_at BIGINT,
                note TEXT NOT NULL DEFAULT '',
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX milestones_matter ON milestones(matter_id)",
            "ALTER TABLE notifications ADD COLUMN matter_id BIGINT",
        ]),
        // The item of Civil Code art. 278 a matter decides: its vote is classed by it (items 6–8
        // three quarters, the rest more than half), and the poll names it.
        Migration("deliberation.002", [
            "ALTER TABLE matters ADD COLUMN law_item INTEGER",
        ]),
        // A resident's home lists the open votes their household holds parts in.
        Migration("deliberation.003", [
            "CREATE INDEX poll_parts_household ON poll_parts(household_id)",
        ]),
        // An owner's standing proxy (委托), recorded by staff from the signed paper (its image):
        // the proxy votes online for the owner's parts until the date, or until revoked. A
        // ballot cast so names its appointment.
        Migration("deliberation.004", [
            """
            CREATE TABLE vote_proxies (
                id {ID},
                owner_id BIGINT NOT NULL,
                owner_name TEXT NOT NULL,
                community_path TEXT NOT NULL,
                proxy_resident_id BIGINT NOT NULL,
                proxy_name TEXT NOT NULL,
                stored_name TEXT NOT NULL,
                valid_until BIGINT NOT NULL,
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_by_name TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                revoked_at BIGINT,
                revoked_by_name TEXT,
                revoke_reason TEXT
            )
            """,
            "CREATE INDEX vote_proxies_proxy ON vote_proxies(proxy_resident_id)",
            "CREATE INDEX vote_proxies_owner ON vote_proxies(owner_id)",
            "ALTER TABLE ballots ADD COLUMN proxy_id BIGINT REFERENCES vote_proxies(id)",
            "ALTER TABLE ballot_history ADD COLUMN proxy_id BIGINT",
        ]),
        // One appointment in force per owner, even when two are recorded at the same moment:
        // any owner with two (recorded at once before this index) keeps the newer.
        Migration("deliberation.005", [
            """
            UPDATE vote_proxies SET revoked_at = created_at, revoked_by_name = '系统', revoke_reason = '新的委托取代'
            WHERE revoked_at IS NULL AND EXISTS (SELECT 1 FROM vote_proxies v WHERE v.owner_id = vote_proxies.owner_id AND v.revoked_at IS NULL AND v.id > vote_proxies.id)
            """,
            "CREATE UNIQUE INDEX vote_proxies_active ON vote_proxies(owner_id) WHERE revoked_at IS NULL",
        ]),
    ]
}
