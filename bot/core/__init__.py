"""The services over the news engine, chat-neutral: watches.py and keywords.py (what a watch
matches), alerts.py (new articles x watches -> the outbox), delivery.py (the outbox -> a chat),
feedhealth.py (notices about failing feeds), cards.py (what an alert shows), question.py,
timerange.py, answer.py and its parts (questions -> cited answers), llm.py (an optional
generator), commands.py (the command surface every adapter calls), ports.py (what the core asks
of a chat) and errors.py (UserError)."""
