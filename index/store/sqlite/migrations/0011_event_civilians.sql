-- Whether an event's dead or injured are said to be civilians ("killing 12 civilians", "a child
-- was killed"): 1 where the text says so, else 0 (not said, which is not "combatants").
ALTER TABLE article_events ADD COLUMN killed_civilians INTEGER NOT NULL DEFAULT 0;
ALTER TABLE article_events ADD COLUMN injured_civilians INTEGER NOT NULL DEFAULT 0;
