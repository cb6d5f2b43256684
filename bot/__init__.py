"""Wirewatch's chat-ops layer, over the news engine (index/).

core/      the services: watches, alerts and their delivery, feed notices, questions and
           answers, and the chat-neutral commands (commands.py) every adapter calls
store/     the chat layer's own tables (watches, alerts, notices) and their migrations
adapters/  cli/ (the `wirewatch` command line), console.py (the console chat), discord/ (the
           only code that imports discord.py)
app.py     the composition root; jobs.py (the scheduler), worker.py (PostgreSQL workers),
           health.py (/healthz, /metrics), settings.py, logs.py
"""
