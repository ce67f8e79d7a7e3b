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
    ]
}
