"""The `wirewatch` command line (click): main.py holds the group and its shared options and
helpers; each other module registers one group of commands on it: feeds.py (feeds, polling,
ingest), ask.py (search, ask, extract), watches.py (watches and alerts), run.py (run, chat, demo,
invite), ops.py (backup, restore, prune, migrate-to), scale.py (worker); render.py prints
results and progress bars."""
