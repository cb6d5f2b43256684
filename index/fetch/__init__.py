"""Stage: a feed's URL -> its bytes -> entries. feeds.py fetches (httpx: conditional GET,
redirects checked hop by hop, size and time limits, the connect-time SSRF guard of address.py,
per-host limits of hostlimit.py, bodies read by feedbody.py); parse.py turns the bytes into
entries (feedparser) and pages into text."""
