"""parse_feed on our own fixtures (Atom, RSS 1.0, RSS 2.0 with CDATA) and small bodies, rule
by rule: links, guids, summaries, dates in UTC, max_entries, no deduplication; and the
encodings of the shared news corpus and of an HTTP charset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from index.fetch.parse import parse_feed
from tests.index.parse_helpers import NOW, RSS_HEAD, UNTITLED, _all_text, _fixture, _news

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
