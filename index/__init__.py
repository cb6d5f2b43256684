"""Wirewatch's news index: feeds in, searchable passages out. Knows nothing about chat."""
