"""parse_feed over the shared news and feedparser corpora, our own small fixtures, hostile bodies
(XML bombs, XXE, garbage); html_to_text and canonical_url rule by rule."""

from __future__ import annotations

import json
import random
import re
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from index.errors import FeedMalformed
from index.fetch.parse import canonical_url, html_to_text, parse_feed
from index.models import ParsedFeed
from tests.conftest import _shared_data_dir

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "parse"
UNTITLED = "(untitled)"
RSS_HEAD = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>W</title>'


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


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _news(shared_data: Path, name: str) -> bytes:
    return (shared_data / "news_feeds" / name).read_bytes()


def _all_text(parsed: ParsedFeed) -> str:
    parts = [parsed.title or ""]
    for entry in parsed.entries:
        parts += [entry.title, entry.text, entry.url or "", entry.guid or "", entry.author or ""]
    return "\n".join(parts)


def _check_entries(parsed: ParsedFeed, now: datetime = NOW) -> None:
    for entry in parsed.entries:
        assert entry.title.strip()
        assert entry.text or entry.url or entry.title != UNTITLED
        assert entry.text == entry.text.strip()
        if entry.url is not None:
            assert entry.url.startswith(("http://", "https://"))
        if entry.published_at is not None:
            assert entry.published_at.tzinfo is not None
            assert entry.published_at.utcoffset() == timedelta(0)
            assert entry.published_at <= now


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


# ---------------------------------------------------------------------------------------------
# our fixtures: Atom, RSS 1.0, RSS 2.0 with CDATA


def test_atom_fixture() -> None:
    parsed = parse_feed(_fixture("atom.xml"), "https://feeds.example.org/atom.xml", now=NOW)
    assert not parsed.bozo
    assert parsed.title == "Border & Crossings"
    first, no_date, future, untitled, no_title = parsed.entries  # the id-only entry is skipped
    assert first.guid == "tag:example.org,2024:1"
    assert first.url == "https://news.example.org/2024/05/al-qaim.html?id=7"
    assert first.title == "Al-Qaim crossing reopens"
    # content (longer) wins over summary; HTML cleaned into paragraphs
    assert (
        first.text
        == "The crossing at Al-Qaim reopened on Wednesday.\n\nOfficials said trade would resume."
    )
    assert first.published_at == datetime(2024, 5, 1, 5, 30, tzinfo=UTC)  # published, not updated
    assert first.author == "Lina Haddad"
    # a relative link resolves against the feed's own link, not the feed URL
    assert no_date.url == "https://news.example.org/world/relative/no-date"
    assert no_date.published_at is None
    assert no_date.text == "Plain summary with a <tag> that is text."  # type="text" stays text
    assert future.published_at == NOW  # 2099 clamped to now
    assert future.text == ""
    assert (untitled.title, untitled.text, untitled.guid) == (
        UNTITLED,
        "",
        "tag:example.org,2024:5",
    )
    assert no_title.guid is None and no_title.url is None
    assert (
        no_title.title
        == "Fighting resumed near the northern border on Tuesday, local officials said, as…"
    )
    assert no_title.published_at is None  # 1970: absurd


def test_rss10_rdf_fixture() -> None:
    parsed = parse_feed(_fixture("rss10.rdf"), "https://feeds.example.org/rdf", now=NOW)
    assert parsed.title == "RDF Wire" and not parsed.bozo
    first, second = parsed.entries
    assert first.url == "https://rdf.example.org/news/a?page=2"
    assert first.text == "Negotiators met again on Monday.\n\nNo deal yet."  # no script text
    assert first.published_at == datetime(2024, 3, 4, 12, 0, tzinfo=UTC)  # dc:date
    assert first.author == "Wire desk"
    assert second.url == "https://rdf.example.org/news/b?x=1"
    assert second.published_at == datetime(2024, 3, 5, 11, 0, tzinfo=UTC)


def test_rss2_cdata_fixture() -> None:
    parsed = parse_feed(_fixture("rss2_cdata.xml"), "https://feeds.example.org/rss", now=NOW)
    assert parsed.title == "Wire & Co"
    first, second = parsed.entries
    assert first.guid == "wire-42"
    assert first.title == "Café owners’ protest & march"
    assert first.text == (
        "Residents of Al-Qaim said the café was hit & damaged.\n\nOfficials’ statement followed."
    )
    assert first.url == "https://wire.example.org/a/42?id=42"
    assert first.published_at == datetime(2024, 4, 2, 10, 0, tzinfo=UTC)
    assert second.url == "https://wire.example.org/a/43"
    assert second.published_at is None  # "not a date at all"
    assert second.guid is None


def test_relative_link_falls_back_to_the_feed_url() -> None:
    body = RSS_HEAD + b"<item><title>x</title><link>/a/1#c</link></item></channel></rss>"
    parsed = parse_feed(body, "https://feeds.example.org/rss/world.xml", now=NOW)
    assert parsed.entries[0].url == "https://feeds.example.org/a/1"


def test_non_http_links_are_dropped() -> None:
    body = RSS_HEAD + (
        b"<item><title>a</title><link>javascript:alert(1)</link></item>"
        b"<item><title>b</title><link>ftp://e.org/x</link></item></channel></rss>"
    )
    parsed = parse_feed(body, "https://e.org/feed", now=NOW)
    assert [e.url for e in parsed.entries] == [None, None]


def test_permalink_guid_is_a_link_only_when_absolute() -> None:
    body = RSS_HEAD + (
        b"<item><title>a</title><guid>12345</guid></item>"
        b"<item><title>b</title><guid>https://e.org/p/1?utm_source=rss</guid></item>"
        b"<item><title>c</title><guid>/p/2</guid></item>"
        b'<item><title>d</title><guid isPermaLink="false">https://e.org/p/3</guid></item>'
        b"</channel></rss>"
    )
    parsed = parse_feed(body, "https://e.org/feed", now=NOW)
    assert [(e.guid, e.url) for e in parsed.entries] == [
        ("12345", None),
        ("https://e.org/p/1?utm_source=rss", "https://e.org/p/1"),
        ("/p/2", None),
        ("https://e.org/p/3", None),
    ]


def test_longer_summary_beats_shorter_content() -> None:
    body = (
        b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        b"<channel><title>W</title><item><title>t</title>"
        b"<description>A long description of the shelling, with details.</description>"
        b"<content:encoded><![CDATA[<p>Short.</p>]]></content:encoded></item></channel></rss>"
    )
    entry = parse_feed(body, "https://e.org/feed", now=NOW).entries[0]
    assert entry.text == "A long description of the shelling, with details."


def test_dates_fall_back_and_are_utc() -> None:
    body = RSS_HEAD + (
        b'<item xmlns:dc="http://purl.org/dc/elements/1.1/"><title>a</title>'
        b"<pubDate>Mon, 03 Jun 2024 10:00:00 +0200</pubDate></item>"
        b'<item xmlns:dc="http://purl.org/dc/elements/1.1/"><title>b</title>'
        b"<dc:date>2024-06-03T10:00:00-05:00</dc:date></item>"
        b"<item><title>c</title><pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate></item>"
        b"<item><title>d</title><pubDate>Fri, 01 Jan 1988 00:00:00 GMT</pubDate></item>"
        b"<item><title>e</title><pubDate>Sat, 01 Jan 2028 00:00:00 GMT</pubDate></item>"
        b"</channel></rss>"
    )
    dates = [e.published_at for e in parse_feed(body, "https://e.org/f", now=NOW).entries]
    assert dates == [
        datetime(2024, 6, 3, 8, 0, tzinfo=UTC),
        datetime(2024, 6, 3, 15, 0, tzinfo=UTC),
        None,
        None,
        NOW,
    ]


def test_naive_now_is_taken_as_utc() -> None:
    parsed = parse_feed(_fixture("atom.xml"), "u", now=NOW.replace(tzinfo=None))
    assert parsed.entries[2].published_at == NOW


def test_max_entries_keeps_the_first_ones(shared_data: Path) -> None:
    body = _news(shared_data, "fastfeedparser/economist_asia.xml")
    full = parse_feed(body, "https://e.org/feed", now=NOW)
    head = parse_feed(body, "https://e.org/feed", now=NOW, max_entries=10)
    assert len(full.entries) == 300
    assert head.entries == full.entries[:10]
    with pytest.raises(ValueError):
        parse_feed(body, "https://e.org/feed", now=NOW, max_entries=0)


def test_nothing_is_deduplicated() -> None:
    item = b"<item><title>Same</title><guid>g</guid><link>https://e.org/1</link></item>"
    body = RSS_HEAD + item * 3 + b"</channel></rss>"
    assert len(parse_feed(body, "https://e.org/feed", now=NOW).entries) == 3


# ---------------------------------------------------------------------------------------------
# encodings (shared data)


@pytest.mark.parametrize(
    ("name", "feed_title", "word"),
    [
        ("miniflux/quirk_ibash_windows1251.xml", "iBash.Org.Ru", "Цитата"),
        ("rss-parser/jn_pt_iso8859.xml", "Jornal de Notícias - Últimas", "Raríssimas"),
        ("feed-rs/golem_rss1_iso8859.xml", "Golem.de", "Glasfaserförderung"),
        ("miniflux/quirk_cerclepsy_latin1_nodecl.xml", "Flux RSS", "thérapeutique"),
        ("rss-parser/uol_noticias_latin1_nodecl.xml", "UOL Noticias", "simulações"),
        ("rss-parser/qq_news_gb2312.xml", "新闻国内", "英雄"),
        ("feeder/suspilne_ukraine.xml", "suspilne.news", "Торгівля"),
    ],
)
def test_encodings_give_clean_text(
    shared_data: Path, name: str, feed_title: str, word: str
) -> None:
    parsed = parse_feed(_news(shared_data, name), "https://e.org/feed", now=NOW)
    assert parsed.title and parsed.title.startswith(feed_title)
    titles = " ".join(entry.title for entry in parsed.entries)
    assert word in titles
    everything = _all_text(parsed)
    assert "Ã" not in everything and "Ð" not in everything and "\ufffd" not in everything


def test_windows1251_text(shared_data: Path) -> None:
    parsed = parse_feed(_news(shared_data, "miniflux/quirk_ibash_windows1251.xml"), "u", now=NOW)
    assert parsed.entries[0].title == "Цитата #17703"
    assert "программер" in parsed.entries[0].text
    assert parsed.entries[0].text.count("\n\n") >= 2  # <br /> lines become paragraphs


# ---------------------------------------------------------------------------------------------
# html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        # entities
        ("&amp; &#8217; &eacute; &#x2014; &lt;b&gt;", "& ’ é — <b>"),
        ("<p>caf&eacute; &amp; bar</p>", "café & bar"),
        ("AT&amp;T and Tom &amp; Jerry", "AT&T and Tom & Jerry"),
        ("Tom & Jerry; a < b, x<3", "Tom & Jerry; a < b, x<3"),
        # removed elements (their tail stays)
        ("<p>a<script>evil()</script>b</p>", "ab"),
        ("<style>p { color: red }</style>text", "text"),
        ("<noscript>Enable JS</noscript>Story", "Story"),
        ("before<iframe src='x'>fallback</iframe> after", "before after"),
        ("<object data='x'><param name='a'>obj</object>kept", "kept"),
        # blocks become paragraphs
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<div>A<div>B</div>C</div>", "A\n\nB\n\nC"),
        ("line one<br>line two<br/>line three", "line one\n\nline two\n\nline three"),
        ("<ul><li>first</li><li>second</li></ul>", "first\n\nsecond"),
        ("<h1>Head</h1>body<h6>small</h6>", "Head\n\nbody\n\nsmall"),
        ("said:<blockquote>quoted</blockquote>then", "said:\n\nquoted\n\nthen"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><th>c</th></tr></table>", "a b\n\nc"),
        ("<section><article><header>H</header>Body</article></section>", "H\n\nBody"),
        # inline elements join without spurious spaces
        ("<b>Al</b>-Qaim", "Al-Qaim"),
        ("<p>Deir ez-<em>Zor</em>, <a href='/x'>Raqqa</a>.</p>", "Deir ez-Zor, Raqqa."),
        ("foo<span>bar</span>", "foobar"),
        ("<em>a</em> <em>b</em>", "a b"),
        # whitespace
        ("<p>  a \n\t b  </p>\n\n<p>\n c</p>", "a b\n\nc"),
        ("a&nbsp;&nbsp;b", "a b"),
        ("<pre>x\n\n   y</pre>", "x y"),
        # no empty paragraphs, alt text dropped
        ("<p></p><p> </p><div><br></div><p>x</p><br><br>", "x"),
        ('<p>Before <img src="a.jpg" alt="ALT TEXT"> after</p>', "Before after"),
        ('<figure><img alt="photo"><figcaption>Caption</figcaption></figure>', "Caption"),
        # document wrappers, comments, CDATA
        ("<html><head><title>Page</title></head><body>B</body></html>", "B"),
        ("<p>a<!-- hidden -->b</p>", "ab"),
        ("<![CDATA[<p>inside</p>]]>", "inside"),
        ('<?xml version="1.0" encoding="utf-8"?><p>x</p>', "x"),
        # plain text: paragraphs on blank lines, single newlines collapse
        ("First para\nstill first.\n\n  Second  para.", "First para still first.\n\nSecond para."),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("", ""),
        ("   \n ", ""),
        ("<!-- only a comment -->", ""),
        ("</p></div>", ""),
        ("<p>unclosed <b>bold <i>both", "unclosed bold both"),
        ("<<<>>>", "<<<>>>"),
        ("a\x00b\x07c", "abc"),
        ("<div>" * 5000 + "deep" + "</div>" * 5000, "deep"),
        ("<b>" * 100_000 + "x", "x"),
        ("&#xD800; &#99999999;", "\ufffd \ufffd"),
    ],
    ids=[
        "empty",
        "blank",
        "comment",
        "closers",
        "unclosed",
        "angles",
        "controls",
        "deep",
        "deeper",
        "bad-refs",
    ],
)
def test_html_to_text_is_robust(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_html_to_text_never_raises_on_random_markup() -> None:
    rng = random.Random(20240601)
    alphabet = list("<>/&;#!-[]\"'= \n\tabpdivscriptbr0123456789\x00\ud800é") + [
        "<p>", "</p>", "<br>", "<script>", "</script>", "&amp;", "&#", "<![CDATA[", "]]>", "<!--",
    ]  # fmt: skip
    for _ in range(1500):
        html = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        text = html_to_text(html)
        assert isinstance(text, str)
        assert "\n\n\n" not in text
        assert all(p and p == " ".join(p.split()) for p in text.split("\n\n") if text)


# ---------------------------------------------------------------------------------------------
# canonical_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        # http(s) only
        ("ftp://example.com/x", None),
        ("mailto:desk@example.com", None),
        ("javascript:alert(1)", None),
        ("file:///etc/passwd", None),
        ("/relative/path", None),
        ("//example.com/protocol-relative", None),
        ("https://", None),
        ("http:///path-only", None),
        # scheme and host lower-cased, path kept as written, whitespace stripped
        ("  HTTPS://Example.COM/Path/To?Q=A  ", "https://example.com/Path/To?Q=A"),
        # default ports
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:notaport/", None),
        ("http://example.com:99999/", None),
        # fragment dropped
        ("https://example.com/a#section-2", "https://example.com/a"),
        # empty path
        ("https://example.com", "https://example.com/"),
        ("https://example.com?x=1", "https://example.com/?x=1"),
        # tracking parameters dropped, the rest kept in order and as encoded
        (
            "https://e.com/a?utm_source=x&id=1&UTM_Campaign=y&fbclid=z&b=2&Utm_Medium=m",
            "https://e.com/a?id=1&b=2",
        ),
        (
            "https://e.com/?b=2&a=1&q=caf%C3%A9+x&empty=",
            "https://e.com/?b=2&a=1&q=caf%C3%A9+x&empty=",
        ),
        ("https://e.com/?utm_source=a&gclid=b", "https://e.com/"),
        ("https://e.com/?flag&&utm_term=x&", "https://e.com/?flag"),
        ("https://e.com/?utm%5Fsource=x&k=v", "https://e.com/?k=v"),
        # IDN kept as given (lower-cased); punycode untouched
        ("https://Bücher.Example/x", "https://bücher.example/x"),
        ("https://XN--bcher-kva.example/", "https://xn--bcher-kva.example/"),
        # IPv6, userinfo
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("http://[2001:DB8::1]:8080/", "http://[2001:db8::1]:8080/"),
        ("http://[::1", None),
        ("https://user:pw@Example.com:443/", "https://user:pw@example.com/"),
    ],
)
def test_canonical_url(url: str | None, canonical: str | None) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    "param",
    ["utm_content", "UTM_TERM", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid",
     "yclid", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "cmpid", "at_medium", "at_campaign", "ocid",
     "xtor", "wt_mc", "icid"],
)  # fmt: skip
def test_canonical_url_drops_each_tracking_param(param: str) -> None:
    assert canonical_url(f"https://e.com/a?id=7&{param}=abc") == "https://e.com/a?id=7"


def test_http_charset_decodes_a_feed_without_an_encoding_declaration() -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Дейр-эз-Зор</title><link>https://x.example/1</link></item>"
        "</channel></rss>"
    ).encode("windows-1251")
    now = datetime(2026, 11, 25, tzinfo=UTC)
    parsed = parse_feed(
        body,
        "https://x.example/",
        now=now,
        content_type="application/rss+xml; charset=windows-1251",
    )
    assert parsed.entries[0].title == "Дейр-эз-Зор"
    # no charset in the header: the header is ignored, not taken as us-ascii
    plain = parse_feed(
        b"<?xml version='1.0' encoding='utf-8'?>" + body[21:].decode("windows-1251").encode(),
        "https://x.example/",
        now=now,
        content_type="text/xml",
    )
    assert plain.entries[0].title == "Дейр-эз-Зор"
