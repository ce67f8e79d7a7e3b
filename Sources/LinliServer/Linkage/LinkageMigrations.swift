import LinliCore
import LinliStore
/// Five-society linkage tables: volunteers, teams, tasks and shifts, points and rewards; needs,
/// micro-projects, the purchased-service catalogue, social workers; community funds on a
/// double-entry ledger with government matching pools and approved expenses.
enum LinkageMigrations {
    static let all: [Migration] = [
        Migration("linkage.001", [
            """
            CREATE TABLE volunteers (
                id {ID},
                user_id BIGINT NOT NULL UNIQUE REFERENCES users(id),
                community_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                skills TEXT NOT NULL,
                languages TEXT NOT NULL,
                availability TEXT NOT NULL,
                area_place_id BIGINT REFERENCES places(id),
                lat DOUBLE PRECISION,
                lng DOUBLE PRECISION,
                can_carry INTEGER NOT NULL,
                can_drive INTEGER NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX volunteers_community ON volunteers(community_id)",
            """
            CREATE TABLE volunteer_teams (
                id {ID},
                community_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                organisation_id BIGINT REFERENCES organisations(id),
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE team_members (
                team_id BIGINT NOT NULL REFERENCES volunteer_teams(id),
                volunteer_id BIGINT NOT NULL REFERENCES volunteers(id),
                PRIMARY KEY (team_id, volunteer_id)
            )
            """,
            """
            CREATE TABLE volunteer_tasks (
                id {ID},
                community_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                title TEXT NOT NULL,
                description TEXT NOT NULL,
                kind TEXT NOT NULL,
                skills TEXT NOT NULL,
                place_id BIGINT NOT NULL REFERENCES places(id),
                address TEXT NOT NULL,
                lat DOUBLE PRECISION,
                lng DOUBLE PRECISION,
                headcount INTEGER NOT NULL,
                first_day BIGINT NOT NULL,
                last_day BIGINT NOT NULL,
                weekdays TEXT NOT NULL,
                start_minute INTEGER NOT NULL,
                duration_minutes INTEGER NOT NULL,
                points_per_hour INTEGER NOT NULL,
                team_id BIGINT REFERENCES volunteer_teams(id),
                project_id BIGINT,
                owner_id BIGINT NOT NULL REFERENCES users(id),
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX volunteer_tasks_community ON volunteer_tasks(community_id)",
            """
            CREATE TABLE task_households (
                task_id BIGINT NOT NULL REFERENCES volunteer_tasks(id),
                household_id BIGINT NOT NULL REFERENCES households(id),
                PRIMARY KEY (task_id, household_id)
            )
            """,
            """
            CREATE TABLE task_shifts (
                id {ID},
                task_id BIGINT NOT NULL REFERENCES volunteer_tasks(id),
                starts_at BIGINT NOT NULL,
                ends_at BIGINT NOT NULL,
                headcount INTEGER NOT NULL,
                UNIQUE (task_id, starts_at)
            )
            """,
            "CREATE INDEX task_shifts_starts ON task_shifts(starts_at)",
            """
            CREATE TABLE shift_assignments (
                id {ID},
                shift_id BIGINT NOT NULL REFERENCES task_shifts(id),
                task_id BIGINT NOT NULL REFERENCES volunteer_tasks(id),
                volunteer_id BIGINT NOT NULL REFERENCES volunteers(id),
                starts_at BIGINT NOT NULL,
                ends_at BIGINT NOT NULL,
                status TEXT NOT NULL,
                check_in_at BIGINT,
                check_in_method TEXT,
                check_out_at BIGINT,
                minutes INTEGER,
                confirmed_by BIGINT REFERENCES users(id),
                confirmed_at BIGINT,
                points INTEGER NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL,
                UNIQUE (shift_id, volunteer_id)
            )
            """,
            "CREATE INDEX shift_assignments_volunteer ON shift_assignments(volunteer_id, starts_at)",
            "CREATE INDEX shift_assignments_task ON shift_assignments(task_id)",
            """
            CREATE TABLE rewards (
                id {ID},
                community_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                points INTEGER NOT NULL,
                stock INTEGER NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE point_entries (
                id {ID},
                volunteer_id BIGINT NOT NULL REFERENCES volunteers(id),
                delta INTEGER NOT NULL,
                kind TEXT NOT NULL,
                assignment_id BIGINT REFERENCES shift_assignments(id),
                reward_id BIGINT REFERENCES rewards(id),
                note TEXT NOT NULL,
                at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX point_entries_volunteer ON point_entries(volunteer_id)",
            """
            CREATE TABLE needs (
                id {ID},
                community_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                place_id BIGINT NOT NULL REFERENCES places(id),
                kind TEXT NOT NULL,
                domain TEXT NOT NULL,
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                status TEXT NOT NULL,
                supporters INTEGER NOT NULL DEFAULT 0,
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX needs_community ON needs(community_id)",
            """
            CREATE TABLE need_supports (
                need_id BIGINT NOT NULL REFERENCES needs(id),
                user_id BIGINT NOT NULL REFERENCES users(id),
                at BIGINT NOT NULL,
                PRIMARY KEY (need_id, user_id)
            )
            """,
            """
            CREATE TABLE purchased_services (
                id {ID},
                place_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                domain TEXT NOT NULL,
                name TEXT NOT NULL,
                provider TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE service_reach (
                service_id BIGINT NOT NULL REFERENCES purchased_services(id),
                community_id BIGINT NOT NULL REFERENCES places(id),
                PRIMARY KEY (service_id, community_id)
            )
            """,
            """
            CREATE TABLE social_workers (
                id {ID},
                community_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                certificate_level TEXT NOT NULL,
                supervisor_id BIGINT REFERENCES social_workers(id),
                organisation_id BIGINT REFERENCES organisations(id),
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE organisation_members (
                id {ID},
                organisation_id BIGINT NOT NULL REFERENCES organisations(id),
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                joined_day BIGINT,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX organisation_members_org ON organisation_members(organisation_id)",
            """
            CREATE TABLE trainings (
                id {ID},
                worker_id BIGINT NOT NULL REFERENCES social_workers(id),
                programme TEXT NOT NULL,
                title TEXT NOT NULL,
                hours INTEGER NOT NULL,
                completed_day BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE micro_projects (
                id {ID},
                community_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                need_id BIGINT REFERENCES needs(id),
                title TEXT NOT NULL,
                summary TEXT NOT NULL,
                domain TEXT NOT NULL,
                stage TEXT NOT NULL,
                budget BIGINT NOT NULL,
                organisation_id BIGINT REFERENCES organisations(id),
                social_worker_id BIGINT REFERENCES social_workers(id),
                evaluation TEXT NOT NULL DEFAULT '',
                rating INTEGER,
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX micro_projects_community ON micro_projects(community_id)",
            """
            CREATE TABLE project_log (
                id {ID},
                project_id BIGINT NOT NULL REFERENCES micro_projects(id),
                stage TEXT NOT NULL,
                note TEXT NOT NULL,
                acted_by BIGINT NOT NULL REFERENCES users(id),
                at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE project_milestones (
                id {ID},
                project_id BIGINT NOT NULL REFERENCES micro_projects(id),
                title TEXT NOT NULL,
                due_day BIGINT,
                done_at BIGINT,
                done_by BIGINT REFERENCES users(id)
            )
            """,
            // Money. Balances are a cache of the entries, written in the same transaction and
            // checked against them by `linli ledger-check`.
            """
            CREATE TABLE ledger_accounts (
                id {ID},
                kind TEXT NOT NULL,
                ref_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                UNIQUE (kind, ref_id)
            )
            """,
            """
            CREATE TABLE account_balances (
                account_id BIGINT PRIMARY KEY REFERENCES ledger_accounts(id),
                balance BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE ledger_transactions (
                id {ID},
                kind TEXT NOT NULL,
                community_id BIGINT NOT NULL REFERENCES places(id),
                project_id BIGINT REFERENCES micro_projects(id),
                pool_id BIGINT,
                amount BIGINT NOT NULL,
                donor_name TEXT NOT NULL DEFAULT '',
                donor_public INTEGER NOT NULL DEFAULT 0,
                donor_kind TEXT NOT NULL DEFAULT '',
                memo TEXT NOT NULL,
                idempotency_key TEXT UNIQUE,
                created_by BIGINT REFERENCES users(id),
                at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX ledger_transactions_community ON ledger_transactions(community_id, id)",
            "CREATE INDEX ledger_transactions_project ON ledger_transactions(project_id, kind)",
            """
            CREATE TABLE ledger_entries (
                id {ID},
                txn_id BIGINT NOT NULL REFERENCES ledger_transactions(id),
                account_id BIGINT NOT NULL REFERENCES ledger_accounts(id),
                amount BIGINT NOT NULL
            )
            """,
            "CREATE INDEX ledger_entries_account ON ledger_entries(account_id)",
            "CREATE INDEX ledger_entries_txn ON ledger_entries(txn_id)",
            """
            CREATE TABLE matching_pools (
                id {ID},
                place_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                ratio_percent INTEGER NOT NULL,
                project_cap BIGINT NOT NULL,
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE campaigns (
                project_id BIGINT PRIMARY KEY REFERENCES micro_projects(id),
                goal BIGINT NOT NULL,
                seed BIGINT NOT NULL,
                pool_id BIGINT REFERENCES matching_pools(id),
                status TEXT NOT NULL,
                opened_at BIGINT NOT NULL
            )
            """,
            // What each project was given, matched and spent: kept with every posting (a gift's
            // matching check must not sum a growing history) and checked against the transactions.
            """
            CREATE TABLE project_totals (
                project_id BIGINT PRIMARY KEY REFERENCES micro_projects(id),
                raised BIGINT NOT NULL,
                matched BIGINT NOT NULL,
                spent BIGINT NOT NULL,
                granted BIGINT NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE fund_settings (
                community_id BIGINT PRIMARY KEY REFERENCES places(id),
                approvals_needed INTEGER NOT NULL
            )
            """,
            """
            CREATE TABLE expenses (
                id {ID},
                project_id BIGINT NOT NULL REFERENCES micro_projects(id),
                amount BIGINT NOT NULL,
                payee TEXT NOT NULL,
                purpose TEXT NOT NULL,
                receipt TEXT NOT NULL,
                status TEXT NOT NULL,
                approvals_needed INTEGER NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                txn_id BIGINT REFERENCES ledger_transactions(id),
                requested_by BIGINT NOT NULL REFERENCES users(id),
                requested_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX expenses_project ON expenses(project_id)",
            """
            CREATE TABLE expense_approvals (
                expense_id BIGINT NOT NULL REFERENCES expenses(id),
                user_id BIGINT NOT NULL REFERENCES users(id),
                at BIGINT NOT NULL,
                PRIMARY KEY (expense_id, user_id)
            )
            """,
            // Public-welfare venture grants (公益创投): a round with its budget, applications for
            // projects, scores by reviewers, awards paid in instalments, an evaluation at the end.
            """
            CREATE TABLE venture_rounds (
                id {ID},
                place_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                budget BIGINT NOT NULL,
                scores_needed INTEGER NOT NULL,
                instalments INTEGER NOT NULL,
                status TEXT NOT NULL,
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE venture_applications (
                id {ID},
                round_id BIGINT NOT NULL REFERENCES venture_rounds(id),
                project_id BIGINT NOT NULL REFERENCES micro_projects(id),
                organisation_id BIGINT REFERENCES organisations(id),
                requested BIGINT NOT NULL,
                plan TEXT NOT NULL,
                status TEXT NOT NULL,
                award BIGINT NOT NULL DEFAULT 0,
                paid_instalments INTEGER NOT NULL DEFAULT 0,
                evaluation TEXT NOT NULL DEFAULT '',
                rating INTEGER,
                created_by BIGINT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL,
                UNIQUE (round_id, project_id)
            )
            """,
            """
            CREATE TABLE venture_scores (
                application_id BIGINT NOT NULL REFERENCES venture_applications(id),
                user_id BIGINT NOT NULL REFERENCES users(id),
                score INTEGER NOT NULL,
                comment TEXT NOT NULL,
                at BIGINT NOT NULL,
                PRIMARY KEY (application_id, user_id)
            )
            """,
            "ALTER TABLE notifications ADD COLUMN link TEXT",
        ]),
        // Online gifts wait here until their money arrives (Payments.swift). `reference` is what
        // the payer quotes; `provider_txn` (provider:its id) makes each payment count once.
        Migration("linkage.002", [
            """
            CREATE TABLE pledges (
                id {ID},
                project_id BIGINT NOT NULL REFERENCES micro_projects(id),
                community_id BIGINT NOT NULL REFERENCES places(id),
                user_id BIGINT NOT NULL REFERENCES users(id),
                amount BIGINT NOT NULL,
                donor_name TEXT NOT NULL,
                donor_public INTEGER NOT NULL DEFAULT 0,
                reference TEXT NOT NULL UNIQUE,
                status TEXT NOT NULL,
                idempotency_key TEXT UNIQUE,
                provider TEXT,
                provider_txn TEXT UNIQUE,
                txn_id BIGINT,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                paid_at BIGINT
            )
            """,
            "CREATE INDEX pledges_user ON pledges(user_id)",
            "CREATE INDEX pledges_pending ON pledges(status, expires_at)",
        ]),
        // A provider's payment that is authentic but cannot be booked (a reference nobody
        // knows, another amount, a gift or meal already paid): held for a person to refund or
        // match, never dropped. `path` is the pledge's or meal's area when the reference is known.
        Migration("linkage.003", [
            """
            CREATE TABLE held_payments (
                id {ID},
                provider TEXT NOT NULL,
                provider_txn TEXT NOT NULL UNIQUE,
                reference TEXT NOT NULL,
                amount BIGINT NOT NULL,
                reason TEXT NOT NULL,
                message TEXT NOT NULL,
                path TEXT,
                received_at BIGINT NOT NULL,
                resolved_at BIGINT,
                resolved_by TEXT,
                resolution TEXT
            )
            """,
            "CREATE INDEX held_payments_open ON held_payments(resolved_at, id)",
        ]),
        // Gifts to one project on PostgreSQL queued on its balance and totals rows, each held to
        // the gift's commit. Both are now kept in rows by `shard` (every reader adds them up): a
        // gift books into the lowest shard no other gift holds (`giftShard`), so a quiet project
        // books into shard 0 and a crowded one into up to `giftShards`, whose rows a project has
        // from its first gift on PostgreSQL (made here for the projects there are). SQLite, one
        // writer, keeps shard 0.
        // `match_pending` holds the gifts that found the project's match taken by another gift:
        // their match is made by the next one, or by the housekeeping job (`matchPending`).
        Migration("linkage.004", [
            "sqlite:CREATE TABLE account_balances_sharded (account_id BIGINT NOT NULL REFERENCES ledger_accounts(id), shard INTEGER NOT NULL DEFAULT 0, balance BIGINT NOT NULL, PRIMARY KEY (account_id, shard))",
            "sqlite:INSERT INTO account_balances_sharded (account_id, shard, balance) SELECT account_id, 0, balance FROM account_balances",
            "sqlite:DROP TABLE account_balances",
            "sqlite:ALTER TABLE account_balances_sharded RENAME TO account_balances",
            "postgres:ALTER TABLE account_balances ADD COLUMN shard INTEGER NOT NULL DEFAULT 0",
            "postgres:ALTER TABLE account_balances DROP CONSTRAINT account_balances_pkey",
            "postgres:ALTER TABLE account_balances ADD PRIMARY KEY (account_id, shard)",
            "sqlite:CREATE TABLE project_totals_sharded (project_id BIGINT NOT NULL REFERENCES micro_projects(id), shard INTEGER NOT NULL DEFAULT 0, raised BIGINT NOT NULL DEFAULT 0, matched BIGINT NOT NULL DEFAULT 0, spent BIGINT NOT NULL DEFAULT 0, granted BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (project_id, shard))",
            "sqlite:INSERT INTO project_totals_sharded (project_id, shard, raised, matched, spent, granted) SELECT project_id, 0, raised, matched, spent, granted FROM project_totals",
            "sqlite:DROP TABLE project_totals",
            "sqlite:ALTER TABLE project_totals_sharded RENAME TO project_totals",
            "postgres:ALTER TABLE project_totals ADD COLUMN shard INTEGER NOT NULL DEFAULT 0",
            "postgres:ALTER TABLE project_totals ALTER COLUMN raised SET DEFAULT 0",
            "postgres:ALTER TABLE project_totals ALTER COLUMN matched SET DEFAULT 0",
            "postgres:ALTER TABLE project_totals ALTER COLUMN spent SET DEFAULT 0",
            "postgres:ALTER TABLE project_totals DROP CONSTRAINT project_totals_pkey",
            "postgres:ALTER TABLE project_totals ADD PRIMARY KEY (project_id, shard)",
            "postgres:INSERT INTO project_totals (project_id, shard) SELECT t.project_id, s FROM project_totals t CROSS JOIN generate_series(1, \(LinkageService.giftShards - 1)) AS s ON CONFLICT DO NOTHING",
            """
            CREATE TABLE match_pending (
                txn_id BIGINT PRIMARY KEY REFERENCES ledger_transactions(id),
                project_id BIGINT NOT NULL REFERENCES micro_projects(id)
            )
            """,
            "CREATE INDEX match_pending_project ON match_pending(project_id)",
        ]),
    ]
}
