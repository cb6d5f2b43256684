"""Wirewatch's chat-ops layer: settings, the command line, and (later) the chat adapters."""
