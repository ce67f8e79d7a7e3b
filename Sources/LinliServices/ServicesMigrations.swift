import LinliStore

/// The service centre's tables: its services (办事事项), counter slots, applications with their
/// history and the photos of papers sent with them.
enum ServicesMigrations {
    static let all: [Migration] = [
        Migration("services.001", [
            // A service offered at a place (a street's centre or a community's station); residents
            // below that place see it.
            """
            CREATE TABLE affairs (
                id {ID},
                place_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                description TEXT NOT NULL,
                materials TEXT NOT NULL,
                mode TEXT NOT NULL,
                promised_days INTEGER NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX affairs_path ON affairs(path)",
            // `booked` never passes `capacity`: a booking raises it only where it is still below.
            """
            CREATE TABLE affair_slots (
                id {ID},
                affair_id BIGINT NOT NULL REFERENCES affairs(id),
                starts_at BIGINT NOT NULL,
                ends_at BIGINT NOT NULL,
                capacity INTEGER NOT NULL,
                booked INTEGER NOT NULL DEFAULT 0,
                UNIQUE (affair_id, starts_at),
                CHECK (booked >= 0 AND booked <= capacity)
            )
            """,
            // The applicant's note and the papers are personal: the note is sealed, the photos
            // are encrypted files. `returns` counts the times papers were sent back.
            """
            CREATE TABLE affair_applications (
                id {ID},
                affair_id BIGINT NOT NULL REFERENCES affairs(id),
                household_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                grid_id BIGINT NOT NULL,
                applicant_user_id BIGINT NOT NULL,
                applicant_name TEXT NOT NULL,
                kind TEXT NOT NULL,
                slot_id BIGINT,
                ticket TEXT,
                status TEXT NOT NULL,
                returns INTEGER NOT NULL DEFAULT 0,
                note_cipher TEXT,
                client_key TEXT,
                submitted_at BIGINT NOT NULL,
                arrived_at BIGINT,
                called_at BIGINT,
                decided_at BIGINT,
                UNIQUE (applicant_user_id, client_key)
            )
            """,
            "CREATE INDEX affair_applications_affair ON affair_applications(affair_id, status)",
            "CREATE INDEX affair_applications_household ON affair_applications(household_id)",
            "CREATE INDEX affair_applications_path ON affair_applications(path, status)",
            """
            CREATE TABLE affair_events (
                id {ID},
                application_id BIGINT NOT NULL REFERENCES affair_applications(id),
                at BIGINT NOT NULL,
                step TEXT NOT NULL,
                status TEXT NOT NULL,
                note TEXT NOT NULL,
                by_name TEXT NOT NULL,
                by_staff INTEGER NOT NULL
            )
            """,
            "CREATE INDEX affair_events_application ON affair_events(application_id)",
            """
            CREATE TABLE affair_papers (
                id {ID},
                application_id BIGINT NOT NULL REFERENCES affair_applications(id),
                stored_name TEXT NOT NULL,
                bytes INTEGER NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX affair_papers_application ON affair_papers(application_id)",
            // A walk-in's ticket number counts up per service and day: A001, A002…
            """
            CREATE TABLE affair_tickets (
                affair_id BIGINT NOT NULL,
                day BIGINT NOT NULL,
                last INTEGER NOT NULL,
                PRIMARY KEY (affair_id, day)
            )
            """,
        ]),
        Migration("services.002", [
            // An activity (活动) for residents below a place; `taken` counts the people signed up
            // and never passes `capacity`: a sign-up raises it only where there is room.
            """
            CREATE TABLE activities (
                id {ID},
                place_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                organiser TEXT NOT NULL,
                title TEXT NOT NULL,
                description TEXT NOT NULL,
                venue TEXT NOT NULL,
                starts_at BIGINT NOT NULL,
                ends_at BIGINT NOT NULL,
                capacity INTEGER NOT NULL,
                taken INTEGER NOT NULL DEFAULT 0,
                audience TEXT NOT NULL,
                status TEXT NOT NULL,
                created_by BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                CHECK (taken >= 0 AND taken <= capacity)
            )
            """,
            "CREATE INDEX activities_path ON activities(path, starts_at)",
            // One sign-up per household and activity; the waiting list is in id order.
            """
            CREATE TABLE activity_signups (
                id {ID},
                activity_id BIGINT NOT NULL REFERENCES activities(id),
                household_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                grid_id BIGINT NOT NULL,
                user_id BIGINT NOT NULL,
                by_name TEXT NOT NULL,
                people INTEGER NOT NULL,
                status TEXT NOT NULL,
                attended_at BIGINT,
                created_at BIGINT NOT NULL,
                UNIQUE (activity_id, household_id)
            )
            """,
            "CREATE INDEX activity_signups_activity ON activity_signups(activity_id, status, id)",
            "CREATE INDEX activity_signups_household ON activity_signups(household_id)",
        ]),
        Migration("services.003", [
            // A room or space and its rules: opening hours (minutes after midnight) on open
            // weekdays ("12345" = Monday to Friday), who may book, whether staff approve.
            """
            CREATE TABLE spaces (
                id {ID},
                place_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                capacity INTEGER NOT NULL,
                opens INTEGER NOT NULL,
                closes INTEGER NOT NULL,
                open_days TEXT NOT NULL,
                residents_may_book INTEGER NOT NULL,
                needs_approval INTEGER NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX spaces_path ON spaces(path)",
            // A booking holds its time while pending or approved. A weekly series (an
            // association's Tuesday evenings) is its occurrences, each a row with the series' id.
            """
            CREATE TABLE space_bookings (
                id {ID},
                space_id BIGINT NOT NULL REFERENCES spaces(id),
                path TEXT NOT NULL,
                starts_at BIGINT NOT NULL,
                ends_at BIGINT NOT NULL,
                purpose TEXT NOT NULL,
                user_id BIGINT NOT NULL,
                by_name TEXT NOT NULL,
                series_id BIGINT,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                CHECK (ends_at > starts_at)
            )
            """,
            "CREATE INDEX space_bookings_space ON space_bookings(space_id, starts_at)",
            // On PostgreSQL the database itself refuses two live bookings of one space that
            // overlap (SQLite checks inside the booking's transaction, which it runs alone).
            "postgres:CREATE EXTENSION IF NOT EXISTS btree_gist",
            """
            postgres:ALTER TABLE space_bookings ADD CONSTRAINT space_bookings_no_overlap
            EXCLUDE USING gist (space_id WITH =, int8range(starts_at, ends_at) WITH &&) WHERE (status IN ('pending', 'approved'))
            """,
        ]),
        Migration("services.004", [
            // A neighbourhood canteen (邻里食堂): orders for a day close at its cut-off (minutes
            // after midnight); `delivery_fee` in fen, NULL when it does not deliver.
            """
            CREATE TABLE canteens (
                id {ID},
                place_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                cutoff INTEGER NOT NULL,
                delivery_fee BIGINT,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX canteens_path ON canteens(path)",
            // `ordered` never passes `portions`: an order takes one only while one is left.
            """
            CREATE TABLE canteen_menus (
                id {ID},
                canteen_id BIGINT NOT NULL REFERENCES canteens(id),
                day BIGINT NOT NULL,
                meal TEXT NOT NULL,
                dishes TEXT NOT NULL,
                price BIGINT NOT NULL,
                portions INTEGER NOT NULL,
                ordered INTEGER NOT NULL DEFAULT 0,
                UNIQUE (canteen_id, day, meal),
                CHECK (ordered >= 0 AND ordered <= portions)
            )
            """,
            // Subsidy rules are data, per place (a district's policy reaches every canteen below
            // it) and period; a policy change is a new row, never an edit of code.
            """
            CREATE TABLE meal_subsidy_rules (
                id {ID},
                place_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                label TEXT NOT NULL,
                from_day BIGINT NOT NULL,
                to_day BIGINT,
                min_age INTEGER,
                situation TEXT,
                subsidy BIGINT NOT NULL,
                delivery_subsidy BIGINT NOT NULL,
                min_spend BIGINT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            // One order per diner and meal, so a subsidy is never claimed twice for one meal. The
            // price, the subsidy and its rule are kept as they were when ordered.
            """
            CREATE TABLE canteen_orders (
                id {ID},
                menu_id BIGINT NOT NULL REFERENCES canteen_menus(id),
                canteen_id BIGINT NOT NULL,
                day BIGINT NOT NULL,
                household_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                resident_id BIGINT NOT NULL,
                diner TEXT NOT NULL,
                mode TEXT NOT NULL,
                price BIGINT NOT NULL,
                subsidy BIGINT NOT NULL,
                pay BIGINT NOT NULL,
                rule_id BIGINT,
                status TEXT NOT NULL,
                user_id BIGINT NOT NULL,
                by_name TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX canteen_orders_one_per_meal ON canteen_orders(menu_id, resident_id) WHERE status <> 'cancelled'",
            "CREATE INDEX canteen_orders_canteen_day ON canteen_orders(canteen_id, day)",
            "CREATE INDEX canteen_orders_household ON canteen_orders(household_id)",
        ]),
        Migration("services.005", [
            // Neighbours' asks and offers (邻里互助), seen in their community, answered by one neighbour.
            """
            CREATE TABLE help_posts (
                id {ID},
                community_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                household_id BIGINT NOT NULL,
                user_id BIGINT NOT NULL,
                by_name TEXT NOT NULL,
                kind TEXT NOT NULL,
                title TEXT NOT NULL,
                detail TEXT NOT NULL,
                minutes INTEGER NOT NULL,
                status TEXT NOT NULL,
                helper_user_id BIGINT,
                helper_name TEXT,
                created_at BIGINT NOT NULL,
                done_at BIGINT
            )
            """,
            "CREATE INDEX help_posts_community ON help_posts(community_id, status)",
            // The time bank: an account per person (`u:ID`) and per community pool (`c:ID`), in
            // minutes; the database keeps every balance between the floor and the ceiling.
            """
            CREATE TABLE time_accounts (
                id {ID},
                owner TEXT NOT NULL UNIQUE,
                community_id BIGINT NOT NULL,
                name TEXT NOT NULL,
                balance INTEGER NOT NULL,
                CHECK (balance >= -600 AND balance <= 60000)
            )
            """,
            """
            CREATE TABLE time_transfers (
                id {ID},
                at BIGINT NOT NULL,
                kind TEXT NOT NULL,
                post_id BIGINT,
                memo TEXT NOT NULL,
                user_id BIGINT NOT NULL
            )
            """,
            // Two entries per transfer, summing to zero.
            """
            CREATE TABLE time_entries (
                id {ID},
                transfer_id BIGINT NOT NULL REFERENCES time_transfers(id),
                account_id BIGINT NOT NULL REFERENCES time_accounts(id),
                minutes INTEGER NOT NULL
            )
            """,
            "CREATE INDEX time_entries_account ON time_entries(account_id)",
        ]),
        // How many wait for an activity, kept with it: a new sign-up's number on the waiting list
        // is this count, read as it is raised (no counting of the list on every sign-up).
        Migration("services.006", [
            "ALTER TABLE activities ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0",
            // "Has this household an open booking of this service?" is asked on every booking:
            // by household first, so it reads that household's few rows, not the service's many.
            "CREATE INDEX affair_applications_household_affair ON affair_applications(household_id, affair_id, status)",
        ]),
        // A meal handed over (dine-in) or delivered at the door: when, and by which of the
        // canteen's staff, so a relative who ordered for an elder knows. And the papers found by
        // their file's name (the hourly sweep of files no application names asks by name).
        Migration("services.007", [
            "ALTER TABLE canteen_orders ADD COLUMN served_at BIGINT",
            "ALTER TABLE canteen_orders ADD COLUMN served_by TEXT",
            "CREATE INDEX affair_papers_name ON affair_papers(stored_name)",
        ]),
        // An activity posted by an organisation's own account (a social organisation, a party
        // branch): that organisation runs it, and only it besides the staff over the place.
        Migration("services.008", [
            "ALTER TABLE activities ADD COLUMN organisation_id BIGINT",
        ]),
        // Community enterprises (社区企业): the community's share, each year's report and what it
        // owes the community fund, and each arrival of that money (booked on the ledger, whose
        // transaction it names). The database keeps an arrival from ever passing what is owed.
        Migration("services.009", [
            """
            CREATE TABLE community_enterprises (
                id {ID},
                community_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                name TEXT NOT NULL,
                credit_code TEXT NOT NULL DEFAULT '',
                business TEXT NOT NULL,
                community_share INTEGER NOT NULL CHECK (community_share BETWEEN 0 AND 100),
                return_percent INTEGER NOT NULL CHECK (return_percent BETWEEN 0 AND 100),
                contact TEXT NOT NULL DEFAULT '',
                active INTEGER NOT NULL DEFAULT 1,
                created_by BIGINT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX community_enterprises_community ON community_enterprises(community_id)",
            "CREATE INDEX community_enterprises_path ON community_enterprises(path)",
            "CREATE UNIQUE INDEX community_enterprises_code ON community_enterprises(credit_code) WHERE credit_code <> ''",
            """
            CREATE TABLE enterprise_years (
                id {ID},
                enterprise_id BIGINT NOT NULL REFERENCES community_enterprises(id),
                year INTEGER NOT NULL,
                revenue BIGINT NOT NULL,
                profit BIGINT NOT NULL,
                return_percent INTEGER NOT NULL,
                due BIGINT NOT NULL,
                received BIGINT NOT NULL DEFAULT 0,
                served INTEGER,
                report TEXT NOT NULL,
                reported_by BIGINT NOT NULL,
                reported_at BIGINT NOT NULL,
                UNIQUE (enterprise_id, year),
                CHECK (received >= 0 AND received <= due)
            )
            """,
            """
            CREATE TABLE enterprise_returns (
                id {ID},
                enterprise_id BIGINT NOT NULL REFERENCES community_enterprises(id),
                year INTEGER NOT NULL,
                amount BIGINT NOT NULL CHECK (amount > 0),
                reference TEXT NOT NULL,
                arrived_day BIGINT NOT NULL,
                txn_id BIGINT NOT NULL,
                recorded_by BIGINT NOT NULL,
                recorded_at BIGINT NOT NULL,
                UNIQUE (enterprise_id, reference)
            )
            """,
        ]),
        // The government's payments of a canteen's monthly meal subsidies, as they arrive (each
        // booked on the ledger, whose transaction it names).
        Migration("services.010", [
            """
            CREATE TABLE canteen_subsidy_payments (
                id {ID},
                canteen_id BIGINT NOT NULL REFERENCES canteens(id),
                month TEXT NOT NULL,
                amount BIGINT NOT NULL CHECK (amount > 0),
                reference TEXT NOT NULL,
                arrived_day BIGINT NOT NULL,
                txn_id BIGINT NOT NULL,
                recorded_by BIGINT NOT NULL,
                recorded_at BIGINT NOT NULL,
                UNIQUE (canteen_id, reference)
            )
            """,
            "CREATE INDEX canteen_subsidy_payments_month ON canteen_subsidy_payments(canteen_id, month)",
        ]),
        // The volunteer task (linkage's) whose shifts carry a canteen's delivery orders.
        Migration("services.011", [
            "ALTER TABLE canteens ADD COLUMN delivery_task_id BIGINT",
            "CREATE INDEX canteens_delivery_task ON canteens(delivery_task_id)",
        ]),
        // The volunteer task (linkage's) of an activity's helpers.
        Migration("services.012", [
            "ALTER TABLE activities ADD COLUMN helper_task_id BIGINT",
        ]),
        // A walk-in with no household on the register: who came, sealed (household 0, no grid).
        Migration("services.013", [
            "ALTER TABLE affair_applications ADD COLUMN visitor_cipher TEXT",
        ]),
        // Paying for a meal (a pledge until the money arrives): its reference for the provider
        // and the bank (LM…), how and when it was paid, the provider's id of the payment (each
        // booked once) and the ledger's transaction. Orders from before were settled outside
        // Linli (cash at the counter): `none`, nothing owed through it.
        Migration("services.014", [
            "ALTER TABLE canteen_orders ADD COLUMN pay_status TEXT NOT NULL DEFAULT 'none'",
            "ALTER TABLE canteen_orders ADD COLUMN pay_reference TEXT",
            "ALTER TABLE canteen_orders ADD COLUMN paid_at BIGINT",
            "ALTER TABLE canteen_orders ADD COLUMN paid_via TEXT",
            "ALTER TABLE canteen_orders ADD COLUMN paid_txn TEXT",
            "ALTER TABLE canteen_orders ADD COLUMN paid_by TEXT",
            "ALTER TABLE canteen_orders ADD COLUMN ledger_txn BIGINT",
            "CREATE UNIQUE INDEX canteen_orders_pay_reference ON canteen_orders(pay_reference)",
            "CREATE UNIQUE INDEX canteen_orders_paid_txn ON canteen_orders(paid_txn)",
            "CREATE INDEX canteen_orders_refunds ON canteen_orders(canteen_id, pay_status)",
        ]),
    ]
}
