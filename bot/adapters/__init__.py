"""Adapters: thin translations between a user's interface (the command line, the console chat,
Discord) and bot.core.commands."""
