-- A feed of article changes, written in the same transaction as the change itself, so layers
-- above (the watches) can follow every new, updated or newly linked article exactly once, even
-- across a crash: each keeps its own cursor and moves it after it has handled a change.
CREATE TABLE article_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, even once pruned
    article_id INTEGER NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    change     TEXT NOT NULL CHECK (change IN ('new', 'updated', 'linked')),
    at         TEXT NOT NULL
);

CREATE TABLE change_cursors (
    consumer TEXT PRIMARY KEY,                  -- e.g. "alerts:metadata"
    seq      INTEGER NOT NULL
);

-- (The outbox's indexes made here at first are now the chat layer's:
-- bot/store/migrations/sqlite/0001_chat.sql.)
