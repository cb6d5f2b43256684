"""parse_feed over the shared news and feedparser corpora, hostile bodies (XML bombs, XXE,
garbage) and malformed or non-feed bodies. Our own fixtures, small bodies and encodings are in
test_parse_entries.py; html_to_text and canonical_url in test_parse_text.py; the shared
fixtures and checks in parse_helpers.py."""

from __future__ import annotations

import json
import re
import time
import tracemalloc
from pathlib import Path
from typing import Any

import feedparser
import pytest

from index.errors import FeedMalformed
from index.fetch.parse import parse_feed
from index.models import ParsedFeed
from tests.conftest import _shared_data_dir
from tests.index.parse_helpers import NOW, RSS_HEAD, _all_text, _check_entries, _news


def _manifest() -> list[dict[str, Any]]:
    found = _shared_data_dir()
    path = found / "news_feeds" / "manifest.jsonl" if found else None
    if path is None or not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


MANIFEST = _manifest()

# Manifest files that yield no entry, so parse_feed raises FeedMalformed. Both are counted as
# 0 items by the manifest too (ElementTree cannot parse them either).
NOT_A_FEED = {
    # Broken XML declaration, then 35 <rss:item> elements under an undeclared "rss:" prefix.
    # The strict parser stops at line 4; feedparser's loose parser knows no "rss:" namespace, so
    # it sees neither channel nor item: 0 entries (getting them back would take a prefix-stripping
    # pre-pass, which we do not attempt).
    "fastfeedparser/quirk_malformed_rss_prefix.xml": "not well-formed (invalid token) at line 4",
    # Truncated Reuters output: the channel header, then a server exception comment, no <item>.
    "feed-rs/quirk_invalid_rss.xml": "no element found at line 19",
}
# Items that parse_feed skips by design (neither title, nor text, nor link).
SKIPPED_ITEMS = {
    # Not well-formed (Latin-1, no declaration). Its 4th <item> is <title></title><link></link>
    # <description></description> with only a pubDate: feedparser yields 10, we keep 9.
    "miniflux/quirk_cerclepsy_latin1_nodecl.xml": 1,
}
# Files whose dates feedparser cannot parse (so published_at is None): RFC 822 with localized
# day and month names, which feedparser only knows in English.
UNPARSEABLE_DATES = {
    "rss-parser/uol_noticias_latin1_nodecl.xml",  # "Seg, 24 Set 2018 19:42:40 -0300"
    "feed-rs/ilmessaggero_mondo_badenc.xml",  # "mer, 16 nov 2022 00:38:15 +0100"
}


# ---------------------------------------------------------------------------------------------
# shared corpora


def test_manifest_lists_48_files(shared_data: Path) -> None:
    assert len(MANIFEST) == 48
    assert all((shared_data / "news_feeds" / row["file"]).is_file() for row in MANIFEST)


@pytest.mark.parametrize("row", MANIFEST, ids=[row["file"] for row in MANIFEST])
def test_news_feed_yields_manifest_items(shared_data: Path, row: dict[str, Any]) -> None:
    name = row["file"]
    body, url = _news(shared_data, name), f"https://feeds.example.org/{name}"
    if name in NOT_A_FEED:
        assert row["items"] == 0 and not row["xml_wellformed"]
        with pytest.raises(FeedMalformed) as info:
            parse_feed(body, url, now=NOW)
        assert info.value.url == url
        assert NOT_A_FEED[name] in info.value.reason
        return
    parsed = parse_feed(body, url, now=NOW)
    assert len(parsed.entries) == row["items"] - SKIPPED_ITEMS.get(name, 0)
    # Well-formed files are never bozo; every broken one that still yields entries is flagged.
    assert parsed.bozo is (not row["xml_wellformed"])
    assert (parsed.bozo_reason is not None) is parsed.bozo
    assert parsed.title
    _check_entries(parsed)
    if row["has_pubdate"]:
        dated = [entry.published_at for entry in parsed.entries if entry.published_at]
        assert len(dated) == (0 if name in UNPARSEABLE_DATES else len(parsed.entries))


@pytest.mark.slow
def test_feedparser_corpus_never_crashes(shared_data: Path) -> None:
    root = shared_data / "feedparser_tests"
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and path.name not in {"LICENSE", "index.jsonl"}
    )
    assert len(files) > 2000
    failures: list[str] = []
    counts = {"parsed": 0, "malformed": 0, "entries": 0}
    started = time.perf_counter()
    for path in files:
        name = path.relative_to(root).as_posix()
        try:
            parsed = parse_feed(path.read_bytes(), "http://example.org/feed.xml", now=NOW)
            _check_entries(parsed)
        except FeedMalformed as exc:
            assert exc.reason, name
            counts["malformed"] += 1
        except Exception as exc:  # collect every crash, not just the first
            failures.append(f"{name}: {exc!r}")
        else:
            counts["parsed"] += 1
            counts["entries"] += len(parsed.entries)
    elapsed = time.perf_counter() - started
    print(f"feedparser corpus: {len(files)} files in {elapsed:.1f}s, {counts}")
    assert not failures, "\n".join(failures[:20])
    assert counts["parsed"] > 1500
    assert elapsed < 60


# ---------------------------------------------------------------------------------------------
# hostile bodies


def _billion_laughs(one_line: bool, levels: int = 10) -> bytes:
    decls = ['<!ENTITY lol0 "lol">']
    decls += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)]
    sep = "" if one_line else "\n"
    return (
        f'<?xml version="1.0"?>{sep}<!DOCTYPE rss [{sep}{sep.join(decls)}{sep}]>{sep}'
        f'<rss version="2.0"><channel><title>t</title><item><title>&lol{levels};</title>'
        f"<description>&lol{levels};</description><link>https://e.org/1</link></item>"
        "</channel></rss>"
    ).encode()


def _quadratic_blowup(one_line: bool) -> bytes:
    sep = "" if one_line else "\n"
    return (
        f'<?xml version="1.0"?>{sep}<!DOCTYPE rss [{sep}<!ENTITY a "{"x" * 50_000}">{sep}]>{sep}'
        '<rss version="2.0"><channel><title>t</title><item><title>q</title>'
        f"<description>{'&a;' * 50_000}</description></item></channel></rss>"
    ).encode()


def _bounded_parse(body: bytes) -> tuple[ParsedFeed | FeedMalformed, float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome: ParsedFeed | FeedMalformed = parse_feed(body, "https://e.org/feed", now=NOW)
    except FeedMalformed as exc:
        outcome = exc
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return outcome, elapsed, peak


@pytest.mark.parametrize(
    "body",
    [
        _billion_laughs(one_line=False),
        _billion_laughs(one_line=True),
        _billion_laughs(one_line=True).decode().encode("utf-16"),
        # Without the guard in parse_feed, feedparser's loose parser expands this quadratic
        # blowup (50,000 references to a 50,000-character entity) into gigabytes.
        _quadratic_blowup(one_line=False),
        _quadratic_blowup(one_line=True),
    ],
    ids=["laughs", "laughs-one-line", "laughs-utf16", "quadratic", "quadratic-one-line"],
)
def test_entity_bombs_are_refused_quickly(body: bytes) -> None:
    outcome, elapsed, peak = _bounded_parse(body)
    assert isinstance(outcome, FeedMalformed)
    assert "XML bomb" in outcome.reason
    assert elapsed < 1.0
    assert peak < 20_000_000


def test_small_nested_entities_stay_small() -> None:
    """Under the guard's limit nothing is refused: 3 levels of 10 are 1,000 "lol"s at most.

    With the DOCTYPE on its own lines feedparser drops the nested declarations (bozo, the text
    keeps the reference); on one line expat expands them, within its own amplification limit.
    """
    for one_line in (False, True):
        outcome, elapsed, _ = _bounded_parse(_billion_laughs(one_line, levels=3))
        assert isinstance(outcome, ParsedFeed) and elapsed < 1.0
        assert len(outcome.entries) == 1 and outcome.bozo is not one_line
        assert len(_all_text(outcome)) < 2 * 3 * 1000 + 100


def test_small_internal_entities_still_work() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY org "Red Crescent">\n]>\n'
        b'<rss version="2.0"><channel><title>t</title><item><title>&org; convoy</title>'
        b"<link>https://e.org/1</link></item></channel></rss>"
    )
    parsed = parse_feed(body, "https://e.org/feed", now=NOW)
    assert parsed.entries[0].title == "Red Crescent convoy"


def test_entity_guard_is_fast_on_pathological_markup() -> None:
    bodies = [
        b'<!ENTITY a "' + b"<!ENTITY a " * 200_000,
        b"<!ENTITY a 'x'>" + b"&a" * 500_000,
        b'<!ENTITY a "x">' + b"&a;" * 500_000,
    ]
    for body in bodies:
        started = time.perf_counter()
        with pytest.raises(FeedMalformed):
            parse_feed(body, "https://e.org/feed", now=NOW)
        assert time.perf_counter() - started < 5.0


@pytest.mark.parametrize("one_line", [False, True])
@pytest.mark.parametrize("kind", ["general", "parameter", "external-dtd"])
def test_external_entities_never_leak(tmp_path: Path, one_line: bool, kind: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-4242\n", "utf-8")
    evil_dtd = tmp_path / "evil.dtd"  # what a parameter entity or external DTD would pull in
    evil_dtd.write_text('<!ENTITY leak "TOPSECRET-DTD">\n', "utf-8")
    sep = "" if one_line else "\n"
    doctype, ref = {
        "general": (f'<!DOCTYPE rss [{sep}<!ENTITY x SYSTEM "file://{secret}">{sep}]>', "&x;"),
        "parameter": (
            f'<!DOCTYPE rss [{sep}<!ENTITY % x SYSTEM "file://{evil_dtd}">%x;]>',
            "&leak;",
        ),
        "external-dtd": (f'<!DOCTYPE rss SYSTEM "file://{evil_dtd}">', "&leak;"),
    }[kind]
    body = (
        f'<?xml version="1.0"?>{sep}{doctype}{sep}<rss version="2.0"><channel><title>t{ref}</title>'
        f"<item><title>a{ref}b</title><description>{ref}</description>"
        "<link>https://e.org/1</link></item></channel></rss>"
    ).encode()
    try:
        text = _all_text(parse_feed(body, "https://e.org/feed", now=NOW))
    except FeedMalformed as exc:
        text = exc.reason
    assert "TOPSECRET" not in text


@pytest.mark.parametrize(
    "body",
    [b"https://127.0.0.1:9/feed.xml", b"/etc/passwd", b"file:///etc/passwd", b"feed.xml"],
)
def test_body_is_never_read_as_url_or_path(monkeypatch: pytest.MonkeyPatch, body: bytes) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("feedparser tried to fetch a URL")

    monkeypatch.setattr(feedparser.http, "get", no_network)
    with pytest.raises(FeedMalformed):
        parse_feed(body, "https://e.org/feed", now=NOW)


def test_a_feedparser_crash_is_malformed(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(feedparser, "parse", crash)
    with pytest.raises(FeedMalformed) as info:
        parse_feed(RSS_HEAD + b"</channel></rss>", "https://e.org/feed", now=NOW)
    assert (
        info.value.reason == "feedparser failed: RecursionError: maximum recursion depth exceeded"
    )


# ---------------------------------------------------------------------------------------------
# malformed and non-feed bodies


def test_unescaped_ampersand_is_ingested_as_bozo() -> None:
    body = RSS_HEAD + (
        b"<item><title>Tom & Jerry</title><link>https://e.org/a?x=1&y=2</link></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(body, "https://e.org/feed", now=NOW)
    assert parsed.bozo and parsed.bozo_reason
    assert "not well-formed" in parsed.bozo_reason
    assert [e.title for e in parsed.entries] == ["Tom & Jerry"]
    assert parsed.entries[0].url == "https://e.org/a?x=1&y=2"


def test_unclosed_tags_are_ingested_as_bozo() -> None:
    body = RSS_HEAD + (
        b"<item><title>First</title><description>one <b>bold</description></item>"
        b"<item><title>Second</title><link>https://e.org/2</link>"
    )
    parsed = parse_feed(body, "https://e.org/feed", now=NOW)
    assert parsed.bozo
    assert [e.title for e in parsed.entries] == ["First", "Second"]
    assert parsed.entries[0].text == "one bold"


def test_guardian_reason_is_readable(shared_data: Path) -> None:
    parsed = parse_feed(_news(shared_data, "feeder/guardian_world_2022.xml"), "u", now=NOW)
    # Line 35 of what expat saw: feedparser puts an XML declaration in front of the body.
    assert re.fullmatch(
        r"not well-formed \(invalid token\) at line \d+, column 158", parsed.bozo_reason or ""
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"  \n\t ", "empty body"),
        (bytes(range(256)) * 20, "no entries"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "no entries"),
        (
            b"<!DOCTYPE html><html><head><title>Not a feed</title></head>"
            b"<body><p>Hello <a href='/x'>world</a></p></body></html>",
            "",
        ),
        (
            b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title></head>'
            b"<body><p>Well-formed XHTML</p></body></html>",
            "not an RSS or Atom feed",
        ),
        (b'{"version": "https://jsonfeed.org/version/1", "items": []}', ""),
        (b"just some words, no markup", ""),
    ],
    ids=["empty", "whitespace", "garbage", "png", "html", "xhtml", "json", "words"],
)
def test_non_feeds_are_malformed(body: bytes, reason: str) -> None:
    with pytest.raises(FeedMalformed) as info:
        parse_feed(body, "https://e.org/feed", now=NOW)
    assert info.value.url == "https://e.org/feed"
    assert reason in info.value.reason


def test_well_formed_feed_without_items_is_empty_not_malformed() -> None:
    parsed = parse_feed(RSS_HEAD + b"</channel></rss>", "https://e.org/feed", now=NOW)
    assert parsed == ParsedFeed(title="W", entries=[], bozo=False, bozo_reason=None)
    atom = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title></feed>'
    assert parse_feed(atom, "https://e.org/feed", now=NOW).entries == []


def test_empty_feed_with_only_an_encoding_quirk_is_not_malformed() -> None:
    # Latin-1 bytes, no declaration: feedparser flags CharacterEncodingOverride, the XML is fine.
    body = '<rss version="2.0"><channel><title>Défense</title></channel></rss>'.encode("latin-1")
    parsed = parse_feed(body, "https://e.org/feed", now=NOW)
    assert parsed.bozo and parsed.entries == [] and parsed.title == "Défense"
