"""Chat adapters: thin translations between a chat platform and bot.commands."""
