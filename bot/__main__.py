"""`python -m bot` is the `wirewatch` command."""

from bot.adapters.cli.main import main

main()
