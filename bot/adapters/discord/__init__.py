"""The Discord adapter: the only place that imports discord.py. It turns slash commands,
context-menu commands and mentions into calls of bot/core/commands.py, and implements ChatPort for
`discord:<guild>:<channel>` channels. A guild is a workspace."""
