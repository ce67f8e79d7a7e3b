import LinliCore
import LinliStore
/// Registry tables: places, grids, households, dwellings and owners, residents, organisations, facilities.
enum RegistryMigrations {
    static let all: [Migration] = [
        Migration("registry.001", [
            """
            CREATE TABLE places (
                id {ID},
                parent_id BIGINT REFERENCES places(id),
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                path TEXT NOT NULL,
                community_type TEXT,
                lat DOUBLE PRECISION,
                lng DOUBLE PRECISION,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX places_parent ON places(parent_id)",
            "CREATE INDEX places_path ON places(path)",
            "CREATE INDEX places_kind ON places(kind)",
            """
            CREATE TABLE grids (
                id {ID},
                community_id BIGINT NOT NULL REFERENCES places(id),
                parent_id BIGINT REFERENCES grids(id),
                level TEXT NOT NULL,
                name TEXT NOT NULL
            )
            """,
            "CREATE INDEX grids_community ON grids(community_id)",
            "CREATE INDEX grids_parent ON grids(parent_id)",
            """
            CREATE TABLE households (
                id {ID},
                place_id BIGINT NOT NULL REFERENCES places(id),
                community_id BIGINT NOT NULL REFERENCES places(id),
                path TEXT NOT NULL,
                door TEXT NOT NULL,
                address TEXT NOT NULL,
                grid_id BIGINT NOT NULL REFERENCES grids(id),
                micro_grid_id BIGINT NOT NULL REFERENCES grids(id),
                code TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL,
                UNIQUE (place_id, door)
            )
            """,
            "CREATE INDEX households_path ON households(path)",
            "CREATE INDEX households_grid ON households(grid_id)",
            "CREATE INDEX households_micro_grid ON households(micro_grid_id)",
            "CREATE INDEX households_community ON households(community_id)",
            """
            CREATE TABLE owners (
                id {ID},
                community_id BIGINT NOT NULL REFERENCES places(id),
                kind TEXT NOT NULL,
                name TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE dwellings (
                id {ID},
                household_id BIGINT NOT NULL UNIQUE REFERENCES households(id),
                area_centi_m2 BIGINT NOT NULL,
                owner_id BIGINT REFERENCES owners(id)
            )
            """,
            "CREATE INDEX dwellings_owner ON dwellings(owner_id)",
            """
            CREATE TABLE residents (
                id {ID},
                household_id BIGINT NOT NULL REFERENCES households(id),
                name TEXT NOT NULL,
                gender TEXT NOT NULL,
                birth_date TEXT NOT NULL,
                id_cipher TEXT NOT NULL,
                id_index TEXT NOT NULL UNIQUE,
                id_last4 TEXT NOT NULL,
                phone_cipher TEXT,
                phone_index TEXT,
                phone_masked TEXT,
                registration TEXT NOT NULL,
                relation TEXT NOT NULL,
                tags TEXT NOT NULL DEFAULT '',
                party_member INTEGER NOT NULL DEFAULT 0,
                in_service_party INTEGER NOT NULL DEFAULT 0,
                owner_id BIGINT REFERENCES owners(id),
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX residents_household ON residents(household_id)",
            "CREATE INDEX residents_name ON residents(name)",
            "CREATE INDEX residents_phone ON residents(phone_index)",
            """
            CREATE TABLE organisations (
                id {ID},
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                place_id BIGINT NOT NULL REFERENCES places(id),
                parent_id BIGINT REFERENCES organisations(id),
                service_type TEXT,
                registration TEXT
            )
            """,
            "CREATE INDEX organisations_place ON organisations(place_id)",
            """
            CREATE TABLE organisation_compounds (
                organisation_id BIGINT NOT NULL REFERENCES organisations(id),
                compound_id BIGINT NOT NULL REFERENCES places(id),
                PRIMARY KEY (organisation_id, compound_id)
            )
            """,
            "CREATE INDEX organisation_compounds_compound ON organisation_compounds(compound_id)",
            """
            CREATE TABLE facilities (
                id {ID},
                place_id BIGINT NOT NULL REFERENCES places(id),
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                lat DOUBLE PRECISION NOT NULL,
                lng DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX facilities_place ON facilities(place_id)",
        ]),
        // One person may be registered in two communities (户籍 in one, 常住 in another), and a
        // city-wide duplicate check told any community's staff whether someone was registered
        // anywhere. `id_key` is now the ID's keyed hash for exact search; `id_index` keeps its
        // UNIQUE constraint but, for rows written from now on, holds the hash scoped to the
        // community (`RegistryService.scopedIDIndex`), so a person is unique within a community.
        // Older rows keep the plain hash there, which collides with no scoped value.
        Migration("registry.002", [
            "ALTER TABLE residents ADD COLUMN id_key TEXT",
            "UPDATE residents SET id_key = id_index",
            "CREATE INDEX residents_id_key ON residents(id_key)",
        ]),
        // A street office's own records, kept from the console rather than only by the demo:
        // each exclusive part's number (专有部分编号, what a paper ballot asks for), use and title
        // certificate; co-owners with shares (a part with no rows here is wholly its `owner_id`'s);
        // the history of sales and of moves between micro-grids; and who heads a building, unit
        // or micro-grid (楼长、单元长、微网格长).
        Migration("registry.003", [
            "ALTER TABLE dwellings ADD COLUMN part_no TEXT",
            "ALTER TABLE dwellings ADD COLUMN part_use TEXT NOT NULL DEFAULT 'residential'",
            "ALTER TABLE dwellings ADD COLUMN title_no TEXT",
            """
            CREATE TABLE dwelling_owners (
                dwelling_id BIGINT NOT NULL REFERENCES dwellings(id),
                owner_id BIGINT NOT NULL REFERENCES owners(id),
                share_bp INTEGER NOT NULL,
                PRIMARY KEY (dwelling_id, owner_id)
            )
            """,
            "CREATE INDEX dwelling_owners_owner ON dwelling_owners(owner_id)",
            """
            CREATE TABLE ownership_changes (
                id {ID},
                dwelling_id BIGINT NOT NULL REFERENCES dwellings(id),
                before_text TEXT NOT NULL,
                after_text TEXT NOT NULL,
                reason TEXT NOT NULL,
                changed_by BIGINT,
                changed_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX ownership_changes_dwelling ON ownership_changes(dwelling_id)",
            """
            CREATE TABLE household_moves (
                id {ID},
                household_id BIGINT NOT NULL REFERENCES households(id),
                from_micro_grid_id BIGINT NOT NULL REFERENCES grids(id),
                to_micro_grid_id BIGINT NOT NULL REFERENCES grids(id),
                moved_by BIGINT,
                moved_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX household_moves_household ON household_moves(household_id)",
            """
            CREATE TABLE heads (
                id {ID},
                community_id BIGINT NOT NULL REFERENCES places(id),
                post TEXT NOT NULL,
                place_id BIGINT REFERENCES places(id),
                grid_id BIGINT REFERENCES grids(id),
                resident_id BIGINT NOT NULL REFERENCES residents(id),
                since BIGINT NOT NULL
            )
            """,
            "CREATE INDEX heads_place ON heads(place_id)",
            "CREATE INDEX heads_grid ON heads(grid_id)",
        ]),
        // Not everyone has a resident ID card: the document a number comes from. Rows before this
        // were all ID cards. A resident with no document yet keeps an empty sealed number and an
        // index key of their own (see `RegistryService.documentKey`).
        Migration("registry.004", [
            "ALTER TABLE residents ADD COLUMN id_kind TEXT NOT NULL DEFAULT 'id_card'",
        ]),
        // Pickers: households found by door (then matched on the whole address), residents by the
        // last four digits of their phone, read from the masked form the screen shows anyway.
        Migration("registry.005", [
            "CREATE INDEX households_door ON households(door)",
            "CREATE INDEX residents_phone4 ON residents(substr(phone_masked, 8))",
        ]),
        // What a community posts on its door and in every stairwell: where the office is, its
        // number and hours, and each grid's worker with a work number (网格员公示). Public by
        // design, typed in for the public, never read from anyone's account.
        Migration("registry.006", [
            """
            CREATE TABLE place_contacts (
                place_id BIGINT PRIMARY KEY REFERENCES places(id),
                address TEXT NOT NULL,
                phone TEXT NOT NULL,
                hours TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE grid_contacts (
                grid_id BIGINT PRIMARY KEY REFERENCES grids(id),
                worker_name TEXT NOT NULL,
                phone TEXT NOT NULL
            )
            """,
        ]),
        // Each community's headcount, kept by the registry's writes (Population.swift): the
        // dashboards of a city of 5,000,000 residents read it instead of counting them.
        Migration("registry.007", [
            """
            CREATE TABLE community_population (
                community_id BIGINT PRIMARY KEY,
                households BIGINT NOT NULL,
                residents BIGINT NOT NULL
            )
            """,
            "INSERT INTO community_population (community_id, households, residents) " + RegistryService.populationCount + " GROUP BY h.community_id",
        ]),
        // The compounds of a set of communities (the dashboards' coverage): without statistics
        // SQLite chose the index on `kind` (every compound of the city) over the one on
        // `parent_id` for an IN list of twenty — 9 ms a query for one street at 1,000 communities.
        Migration("registry.008", [
            "CREATE INDEX places_parent_kind ON places(parent_id, kind)",
        ]),
        // An owner's residents, found by the owner (a poll's opening tells the electorate's
        // owners; without it every resident of the city was read).
        Migration("registry.009", [
            "CREATE INDEX residents_owner ON residents(owner_id)",
        ]),
        // The resident agreed to receive the community's notices by SMS (for a feature phone),
        // answering with a reply code: off unless recorded.
        Migration("registry.010", [
            "ALTER TABLE residents ADD COLUMN sms_notices INTEGER NOT NULL DEFAULT 0",
        ]),
        // A grid's boundary as the community drew it ("lat,lng" per line, WGS-84); none drawn:
        // the map shows the grid by its buildings.
        Migration("registry.011", [
            "ALTER TABLE grids ADD COLUMN boundary TEXT",
        ]),
        // Households by situation per building and grid, kept by the registry's writes
        // (SituationCounts.swift): the situation map of a street of 100,000 households reads these.
        Migration("registry.012", [
            """
            CREATE TABLE situation_counts (
                block_id BIGINT NOT NULL,
                grid_id BIGINT NOT NULL,
                situation TEXT NOT NULL,
                households BIGINT NOT NULL,
                PRIMARY KEY (block_id, grid_id, situation)
            )
            """,
            "INSERT INTO situation_counts (block_id, grid_id, situation, households) " + RegistryService.situationCountQueryByUnion("1 = 1").text,
        ]),
        // Sensitive tags with their purposes, basis and retention (SensitiveData.swift, PIPL
        // art. 28–29). Tags already kept are recorded on the office's duty for their default
        // purposes, and dated by the first sweep (`keep_until` 0).
        Migration("registry.013", [
            """
            CREATE TABLE sensitive_facts (
                id {ID},
                resident_id BIGINT NOT NULL REFERENCES residents(id),
                tag TEXT NOT NULL,
                purposes TEXT NOT NULL,
                basis TEXT NOT NULL,
                recorded_by BIGINT,
                recorded_by_name TEXT NOT NULL,
                recorded_at BIGINT NOT NULL,
                keep_until BIGINT NOT NULL,
                UNIQUE (resident_id, tag)
            )
            """,
            "CREATE INDEX sensitive_facts_due ON sensitive_facts(keep_until)",
        ] + RegistryService.sensitiveBackfill),
        // The pickers at a city of 1,000,000 residents (scripts/load/picker.sh): places by the
        // start of their name within a kind, and a compound's doors by number without reading
        // every household of the city that has that door number.
        Migration("registry.014", [
            "CREATE INDEX places_kind_name ON places(kind, name)",
            "CREATE INDEX households_door_path ON households(door, path)",
            "DROP INDEX IF EXISTS households_door",
        ]),
        // When the office was told a sensitive record comes due (once per period: a renewal
        // clears it), so the hourly sweep tells each record once.
        Migration("registry.015", [
            "ALTER TABLE sensitive_facts ADD COLUMN due_told_at BIGINT",
        ]),
    ]
}
