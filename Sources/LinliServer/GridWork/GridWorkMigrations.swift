import LinliStore

/// Grid work's tables: a community's visit rules, the visits, and each household's visit state.
enum GridWorkMigrations {
    static let all: [Migration] = [
        Migration("gridwork.001", [
            // grid_id 0: the community's rule; a grid's own rule replaces it in that grid.
            """
            CREATE TABLE visit_rules (
                community_id BIGINT NOT NULL,
                grid_id BIGINT NOT NULL DEFAULT 0,
                situation TEXT NOT NULL,
                period TEXT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (community_id, grid_id, situation)
            )
            """,
            // One row per visit or attempt. The note is sealed (it tells of a person's health and
            // home); who may read it is the grid's staff and the community's.
            """
            CREATE TABLE visits (
                id {ID},
                household_id BIGINT NOT NULL,
                community_id BIGINT NOT NULL,
                grid_id BIGINT NOT NULL,
                micro_grid_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                kind TEXT NOT NULL,
                outcome TEXT NOT NULL,
                note_cipher TEXT,
                care_given TEXT,
                care_paid_by TEXT,
                follow_up_day BIGINT,
                follow_up_of BIGINT,
                follow_result TEXT,
                referral_to TEXT,
                request_id BIGINT,
                user_id BIGINT NOT NULL,
                actor_name TEXT NOT NULL,
                client_key TEXT,
                visited_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                UNIQUE (user_id, client_key)
            )
            """,
            "CREATE INDEX visits_household ON visits(household_id, visited_at)",
            "CREATE INDEX visits_grid ON visits(grid_id, visited_at)",
            // Each household's visit state, kept beside its visits so that a grid's due list is one
            // indexed read: the registry's facts it needs (grid, situations, address) are copied
            // in when they change, and the plan's period when the rules change.
            """
            CREATE TABLE visit_due (
                household_id BIGINT PRIMARY KEY,
                community_id BIGINT NOT NULL,
                grid_id BIGINT NOT NULL,
                micro_grid_id BIGINT NOT NULL,
                address TEXT NOT NULL,
                situations TEXT NOT NULL,
                period TEXT,
                because TEXT,
                last_counted_at BIGINT,
                last_attempt_at BIGINT,
                follow_up_day BIGINT,
                follow_up_visit BIGINT,
                since_at BIGINT NOT NULL,
                show_from BIGINT NOT NULL,
                list_from BIGINT NOT NULL
            )
            """,
            // The two-week list reads rows whose list_from has come; the count of the rest and the
            // whole list read show_from from the same index without touching the rows.
            "CREATE INDEX visit_due_grid ON visit_due(grid_id, list_from, show_from)",
            "CREATE INDEX visit_due_micro ON visit_due(micro_grid_id, list_from, show_from)",
            "CREATE INDEX visit_due_community ON visit_due(community_id)",
            // Communities whose every household has its row (a database that had households before
            // grid work gets them on first use; rows the registry's hook wrote alone do not count).
            "CREATE TABLE visit_synced (community_id BIGINT PRIMARY KEY, at BIGINT NOT NULL)",
        ]),
        // Announcements (通知) to a set of households: who they went to is kept per household,
        // with when it was read (by a resident's account, or told in person by the grid worker)
        // and acknowledged. The audience's definition is kept for staff, never shown to residents.
        // The counts are kept on the announcement, moved in the step that reads or acknowledges,
        // so a list of announcements to 25,000 households each does not count rows.
        Migration("gridwork.002", [
            """
            CREATE TABLE announcements (
                id {ID},
                community_id BIGINT NOT NULL,
                community_name TEXT NOT NULL,
                path TEXT NOT NULL,
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                audience_kind TEXT NOT NULL,
                audience TEXT NOT NULL,
                needs_ack INTEGER NOT NULL DEFAULT 0,
                households INTEGER NOT NULL,
                read_count INTEGER NOT NULL DEFAULT 0,
                ack_count INTEGER NOT NULL DEFAULT 0,
                user_id BIGINT NOT NULL,
                author_name TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX announcements_community ON announcements(community_id, id)",
            """
            CREATE TABLE announcement_households (
                announcement_id BIGINT NOT NULL,
                household_id BIGINT NOT NULL,
                grid_id BIGINT NOT NULL,
                micro_grid_id BIGINT NOT NULL,
                read_at BIGINT,
                read_how TEXT,
                acked_at BIGINT,
                PRIMARY KEY (announcement_id, household_id)
            )
            """,
            "CREATE INDEX announcement_households_household ON announcement_households(household_id, announcement_id)",
            "CREATE INDEX announcement_households_grid ON announcement_households(grid_id, read_at)",
            "CREATE INDEX announcement_households_micro ON announcement_households(micro_grid_id, read_at)",
        ]),
        // A finding put in the community's needs pool (the linkage's need, by id).
        Migration("gridwork.003", [
            "ALTER TABLE visits ADD COLUMN need_id BIGINT",
        ]),
        // Tasks from the community to its grid workers, one row per household they cover with
        // what was found there. Counts kept on the task (moved by the step that records) so the
        // community's list does not count rows; feedback sealed like a visit's note.
        Migration("gridwork.004", [
            """
            CREATE TABLE grid_tasks (
                id {ID},
                community_id BIGINT NOT NULL,
                community_name TEXT NOT NULL,
                path TEXT NOT NULL,
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                audience_kind TEXT NOT NULL,
                audience TEXT NOT NULL,
                deadline_day BIGINT NOT NULL,
                households INTEGER NOT NULL,
                done_count INTEGER NOT NULL DEFAULT 0,
                problem_count INTEGER NOT NULL DEFAULT 0,
                user_id BIGINT NOT NULL,
                author_name TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                closed_at BIGINT
            )
            """,
            "CREATE INDEX grid_tasks_community ON grid_tasks(community_id, id)",
            """
            CREATE TABLE grid_task_households (
                task_id BIGINT NOT NULL,
                household_id BIGINT NOT NULL,
                grid_id BIGINT NOT NULL,
                micro_grid_id BIGINT NOT NULL,
                outcome TEXT,
                feedback_cipher TEXT,
                attempts INTEGER NOT NULL DEFAULT 0,
                user_id BIGINT,
                by_name TEXT,
                updated_at BIGINT,
                PRIMARY KEY (task_id, household_id)
            )
            """,
            "CREATE INDEX grid_task_households_grid ON grid_task_households(grid_id, task_id)",
            "CREATE INDEX grid_task_households_micro ON grid_task_households(micro_grid_id, task_id)",
        ]),
        // Patrol routes (巡查路线) of a grid with their check points in walking order, and the
        // patrols walked on them, a result per point; a finding's note sealed like a visit's, the
        // request it was filed as kept beside it. last_patrol_at on the route keeps the list of
        // routes against their schedule one read.
        Migration("gridwork.005", [
            """
            CREATE TABLE patrol_routes (
                id {ID},
                community_id BIGINT NOT NULL,
                grid_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                period TEXT NOT NULL,
                points_count INTEGER NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                user_id BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                last_patrol_at BIGINT
            )
            """,
            "CREATE INDEX patrol_routes_grid ON patrol_routes(grid_id)",
            "CREATE INDEX patrol_routes_community ON patrol_routes(community_id)",
            """
            CREATE TABLE patrol_points (
                route_id BIGINT NOT NULL,
                position INTEGER NOT NULL,
                label TEXT NOT NULL,
                place_id BIGINT,
                PRIMARY KEY (route_id, position)
            )
            """,
            """
            CREATE TABLE patrols (
                id {ID},
                route_id BIGINT NOT NULL,
                community_id BIGINT NOT NULL,
                grid_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                route_name TEXT NOT NULL,
                user_id BIGINT NOT NULL,
                by_name TEXT NOT NULL,
                client_key TEXT,
                patrolled_at BIGINT NOT NULL,
                findings INTEGER NOT NULL,
                created_at BIGINT NOT NULL,
                UNIQUE (user_id, client_key)
            )
            """,
            "CREATE INDEX patrols_route ON patrols(route_id, patrolled_at)",
            "CREATE INDEX patrols_grid ON patrols(grid_id, patrolled_at)",
            """
            CREATE TABLE patrol_checks (
                patrol_id BIGINT NOT NULL,
                position INTEGER NOT NULL,
                label TEXT NOT NULL,
                place_id BIGINT,
                result TEXT NOT NULL,
                finding TEXT,
                note_cipher TEXT,
                handled INTEGER NOT NULL DEFAULT 0,
                category TEXT,
                request_id BIGINT,
                PRIMARY KEY (patrol_id, position)
            )
            """,
        ]),
        // A household a visit found gone (搬离): off the due list and coverage until the
        // community settles it, listed for them meanwhile.
        Migration("gridwork.006", [
            "ALTER TABLE visit_due ADD COLUMN moved_at BIGINT",
            "CREATE INDEX visit_due_moved ON visit_due(community_id, moved_at)",
        ]),
        // An announcement asking for acknowledgement reminds the households that have not given
        // it, once a day up to three times: when the next round is due, and how many went.
        Migration("gridwork.007", [
            "ALTER TABLE announcements ADD COLUMN next_reminder_at BIGINT",
            "ALTER TABLE announcements ADD COLUMN reminder_rounds INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX announcements_reminder ON announcements(next_reminder_at)",
        ]),
        // Households whose residents agreed to notices by SMS get the announcement by text with a
        // reply code; a reply of the code acknowledges it. sms_state: due → sending → sent (or
        // failed after three tries); a reminder round makes it due again.
        Migration("gridwork.008", [
            "ALTER TABLE announcement_households ADD COLUMN reply_code TEXT",
            "ALTER TABLE announcement_households ADD COLUMN sms_state TEXT",
            "ALTER TABLE announcement_households ADD COLUMN sms_tries INTEGER NOT NULL DEFAULT 0",
            // When a sender claimed it: a claim older than ten minutes (the server stopped mid-send)
            // is taken again.
            "ALTER TABLE announcement_households ADD COLUMN sms_claimed_at BIGINT",
            "CREATE INDEX announcement_households_sms ON announcement_households(sms_state)",
        ]),
        // Photos taken on a visit or at a patrol's finding (sealed files; a row names each, with
        // the time it was taken for the retention rule). A community's retention rule for visit
        // notes, patrol notes and these photos; erased_at marks a record whose content went, and
        // the partial indexes read only records still holding any. A task's problem filed as a
        // request keeps the request beside the household's row.
        Migration("gridwork.009", [
            """
            CREATE TABLE gridwork_photos (
                id {ID},
                owner TEXT NOT NULL,
                owner_id BIGINT NOT NULL,
                position INTEGER NOT NULL DEFAULT 0,
                community_id BIGINT NOT NULL,
                stored_name TEXT NOT NULL,
                bytes INTEGER NOT NULL,
                taken_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX gridwork_photos_owner ON gridwork_photos(owner, owner_id, position)",
            "CREATE INDEX gridwork_photos_name ON gridwork_photos(stored_name)",
            """
            CREATE TABLE gridwork_retention (
                community_id BIGINT PRIMARY KEY,
                months INTEGER NOT NULL,
                user_id BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "ALTER TABLE visits ADD COLUMN erased_at BIGINT",
            "ALTER TABLE patrols ADD COLUMN erased_at BIGINT",
            "CREATE INDEX visits_kept ON visits(visited_at) WHERE erased_at IS NULL",
            "CREATE INDEX patrols_kept ON patrols(patrolled_at) WHERE erased_at IS NULL",
            "ALTER TABLE grid_task_households ADD COLUMN request_id BIGINT",
            // When a filing claimed the row (request_id 0): a claim a minute old (the server
            // stopped mid-filing) is taken again.
            "ALTER TABLE grid_task_households ADD COLUMN request_claimed_at BIGINT",
        ]),
        // The track a patrol walked, as the phone recorded it when the worker chose to: where a
        // person was, so sealed at rest, and erased with the patrol's notes.
        Migration("gridwork.010", [
            """
            CREATE TABLE patrol_tracks (
                patrol_id BIGINT PRIMARY KEY,
                points_cipher TEXT NOT NULL,
                points INTEGER NOT NULL,
                metres BIGINT NOT NULL
            )
            """,
        ]),
        // Visit coverage kept per community, grid, period and the two windows that decide it
        // (`VisitCoverage.swift`): the situation map's coverage of a street read its 100,000
        // households' rows at page time. Each row carries the first day of the window its last
        // counted visit fell in (-1: never) and of the window its plan began in, worked out by
        // the plan's own arithmetic when the row is written; triggers move the counts with
        // every row written, whichever step writes it. Rows written before this have no windows
        // yet: every community is synced again on first use, which writes them.
        Migration("gridwork.011", [
            "ALTER TABLE visit_due ADD COLUMN counted_window BIGINT NOT NULL DEFAULT -1",
            "ALTER TABLE visit_due ADD COLUMN since_window BIGINT NOT NULL DEFAULT -1",
            """
            CREATE TABLE visit_coverage (
                community_id BIGINT NOT NULL,
                grid_id BIGINT NOT NULL,
                period TEXT NOT NULL,
                counted_window BIGINT NOT NULL,
                since_window BIGINT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (community_id, grid_id, period, counted_window, since_window)
            )
            """,
            GridWorkService.coverageFill,
        ] + GridWorkService.coverageSQLiteTriggers.map { "sqlite:" + $0 } + [
            "postgres:" + GridWorkService.coveragePostgresFunction,
            "postgres:CREATE TRIGGER visit_due_coverage AFTER INSERT OR UPDATE OR DELETE ON visit_due FOR EACH ROW EXECUTE FUNCTION visit_due_coverage()",
            "DELETE FROM visit_synced",
        ]),
    ]
}
