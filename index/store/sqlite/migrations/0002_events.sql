-- Event metadata extracted from each article (index/extract/extractor.py).

CREATE TABLE events (
    article_id     INTEGER PRIMARY KEY REFERENCES articles(article_id) ON DELETE CASCADE,
    event_date     TEXT,                        -- YYYY-MM-DD, or NULL when the text gives none
    killed_low     INTEGER,
    killed_best    INTEGER,
    killed_high    INTEGER,
    injured_low    INTEGER,
    injured_best   INTEGER,
    injured_high   INTEGER,
    main_geonameid INTEGER,
    extractor      TEXT NOT NULL,               -- version of the extractor that wrote the row
    extracted_at   TEXT NOT NULL
);
CREATE INDEX events_date ON events(event_date);

-- Actors named: a catalogue id ("isis"), or "name:<normalised name>" for one found by NER.
CREATE TABLE article_actors (
    article_id INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    actor_key  TEXT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    mention    TEXT NOT NULL,                   -- the words the article used
    PRIMARY KEY (article_id, actor_key)
);
CREATE INDEX article_actors_key ON article_actors(actor_key);

-- Places named, resolved to GeoNames; country and admin1 codes make containment queries cheap.
CREATE TABLE article_places (
    article_id   INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    geonameid    INTEGER NOT NULL,
    name         TEXT NOT NULL,
    country_code TEXT NOT NULL,
    admin1_code  TEXT,
    precision    TEXT NOT NULL,                 -- town, admin1, country
    main         INTEGER NOT NULL DEFAULT 0,
    mention      TEXT NOT NULL,
    PRIMARY KEY (article_id, geonameid)
);
CREATE INDEX article_places_geonameid ON article_places(geonameid);
CREATE INDEX article_places_region ON article_places(country_code, admin1_code);

CREATE TABLE article_event_types (
    article_id INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    PRIMARY KEY (article_id, event_type)
);
CREATE INDEX article_event_types_type ON article_event_types(event_type);
