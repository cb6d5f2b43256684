-- Each event an article reports (index/extract/events.py), in text order; the article's row in `events`
-- keeps the article-level metadata. Region filters read country_code and admin1_code.
CREATE TABLE article_events (
    article_id    INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,             -- 0, 1, ... in the order the article tells them
    type          TEXT NOT NULL,                -- one of index/extract/eventtypes.py's EVENT_TYPES
    sub_type      TEXT,                         -- air_strike, shelling, ..., or NULL
    geonameid     INTEGER,                      -- the event's place, or NULL when none is named
    country_code  TEXT,
    admin1_code   TEXT,
    precision     TEXT,                         -- town, admin1, country
    place         TEXT,                         -- JSON: the place as `extract --json` shows it
    event_date    TEXT,                         -- YYYY-MM-DD, or NULL when its sentence gives none
    killed_low    INTEGER,
    killed_best   INTEGER,
    killed_high   INTEGER,
    injured_low   INTEGER,
    injured_best  INTEGER,
    injured_high  INTEGER,
    actors        TEXT NOT NULL DEFAULT '[]',   -- JSON: [{"canonical", "role", "actor_id"}]
    sentences     TEXT NOT NULL DEFAULT '[]',   -- JSON: the sentences it comes from
    main          INTEGER NOT NULL DEFAULT 0,   -- 1 for the article's main event
    PRIMARY KEY (article_id, seq)
);
CREATE INDEX article_events_geonameid ON article_events(geonameid);
CREATE INDEX article_events_region ON article_events(country_code, admin1_code);
CREATE INDEX article_events_type ON article_events(type);
