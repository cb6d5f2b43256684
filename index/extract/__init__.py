"""Stage: an article -> its events (type, actors with roles, place, date, killed and injured)
and the article-level fields derived from them. extractor.py is the entry (`Extractor`); it uses
actors.py (the actor catalogue and its aliases), places/ (the gazetteer and place finding),
events.py (sentences with an event cue -> events), casualties.py (tolls), eventdate.py and
eventtypes.py; data/ holds the bundled actor and place files."""
