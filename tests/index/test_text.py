"""The one text fold: its semantics, its agreement with the FTS5 tokenizer, and a keyword watch and
a full-text search agreeing on the words of a stored article."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.app import App, open_app
from bot.core import commands
from bot.core.keywords import KeywordDoc, KeywordQuery
from bot.settings import Settings
from index.retrieve.embed import HashEmbedder
from index.retrieve.search import fts_query
from index.text import fold, fold_with_offsets, words
from tests.index.test_ingest import Clock, item, rss

ROOT = Path(__file__).resolve().parents[2]


def test_case_and_diacritics() -> None:
    assert fold("BAKHMUT") == fold("Bakhmut") == "bakhmut"
    assert fold("Ḥalab Dnipró Şanlıurfa Ångström ǰ") == "halab dnipro sanlıurfa angstrom j"
    assert fold("e\u0301cole") == fold("école") == "ecole"  # decomposed or composed
    assert fold("İzmir") == "izmir"


def test_letters_the_index_keeps_are_kept() -> None:
    """FTS5's unicode61 removes the diacritics of Latin letters only, and only those it can
    decompose: ß, ł, ø and Cyrillic or Greek letters stay themselves."""
    assert fold("Straße Łódź Øresund") == "straße łodz øresund"
    assert fold("Київ Ёлка ΐ") == "київ ёлка ΐ"


def test_apostrophes_and_transliteration_marks_split_words() -> None:
    assert fold("Sana'a") == fold("Sana’a") == fold("Sana‘a") == "sana a"
    assert fold("Sanaʿa") == fold("Sanaʼa") == fold("Sanaʾa") == fold("Sanaʻa") == "sana a"
    assert words("Hay’at Tahrir al-Sham’s") == ["hay", "at", "tahrir", "al", "sham", "s"]


def test_hyphens_dashes_and_punctuation_split_words() -> None:
    for dash in "-‐‑–—−":
        assert fold(f"al{dash}Qaeda") == "al qaeda"
    assert fold("co_op  “quoted,” 04:30.") == "co op quoted 04 30"
    assert fold("") == "" and words(" ,; ") == []


def test_nfkc_width_forms_ligatures_and_invisible_characters() -> None:
    assert fold("ＩＳＩＳ ｉｎ ＤＡＭＡＳＣＵＳ") == "isis in damascus"
    assert fold("ﬁeld ① Ⅻ ²") == "field 1 xii 2"
    assert fold("Bakh\u00admut Ma\u200brib tat\u0640weel") == "bakhmut marib tatweel"


def test_fold_with_offsets_maps_each_character_back() -> None:
    text = "Ǆukić’s ﬁeld—Ｋyiv"
    folded, offsets = fold_with_offsets(text)
    assert folded == "dzukic s field kyiv"
    assert folded.split() == words(text)
    assert len(offsets) == len(folded) + 1 and offsets[-1] == len(text)
    assert offsets == sorted(offsets)
    start = folded.index("kyiv")
    assert text[offsets[start] : offsets[start + 4]] == "Ｋyiv"
    assert [text[offsets[i]] for i in range(3)] == ["Ǆ", "Ǆ", "u"]  # one letter, two folded
    assert fold_with_offsets("al-Qaeda") == ("al qaeda", list(range(9)))


def _fts_tokenizer() -> str:
    """The tokenizer the full-text index is declared with, read from its migration."""
    sql = (ROOT / "index/store/sqlite/migrations/0005_fts.sql").read_text(encoding="utf-8")
    return sql.split("tokenize = '", 1)[1].split("'", 1)[0]


def test_the_index_tokenizer_keeps_every_folded_word_as_it_is() -> None:
    """Every character of the Basic Multilingual Plane, folded, is re-tokenized by FTS5 into
    exactly the words `words` gives: the index holds our words, and a query finds them."""
    chars = [chr(cp) for cp in range(0x20, 0x10000) if not 0xD800 <= cp <= 0xDFFF]
    words("".join(chars))  # learn every character at once
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize = '{_fts_tokenizer()}')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    db.executemany(
        "INSERT INTO t (rowid, x) VALUES (?, ?)", [(n, fold(c)) for n, c in enumerate(chars)]
    )
    found: dict[int, list[str]] = {}
    for term, doc in db.execute('SELECT term, doc FROM v ORDER BY doc, "offset"'):
        found.setdefault(doc, []).append(term)
    wrong = [(c, found.get(n, []), words(c)) for n, c in enumerate(chars)]
    wrong = [w for w in wrong if w[1] != w[2]]
    assert wrong == []
    assert all(fold(fold(c)) == fold(c) for c in chars)


# ---- a keyword watch and a search agree ----------------------------------------------------------

TEXT = (
    "Shelling hit Dnipró and Bakh\u00admut overnight, officials said. A ＩＳＩＳ cell was "
    "arrested in Sanʿa after a raid on a Straße in Łódź, and the Qur’an school near Ḥalab "
    "reopened. Residents of the district said the strikes continued until the morning."
)
QUERIES = [
    # found: case, diacritics, width forms, a soft hyphen inside the stored word
    "Dnipro",
    "DNIPRÓ",
    "ＤＮＩＰＲＯ",
    "bakhmut",
    "isis",
    "Straße",
    "Łódź",
    "halab",
    "Sanʿa",  # the ayn splits the word on both sides: "san a"
    "San’a",
    "Qur'an school",
    # not found on either side
    "strasse",
    "Lodz",
    "Sanaa",
    "Quran",
    "Kyiv",
]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    async with open_app(settings, embedder=HashEmbedder(), now=Clock()) as opened:
        yield opened


async def test_a_keyword_watch_fires_exactly_when_a_search_finds_the_words(
    app: App, httpserver_ipv4: HTTPServer
) -> None:
    httpserver_ipv4.expect_request("/feed.xml").respond_with_data(
        rss([item("a1", "Overnight shelling", TEXT)])
    )
    await commands.add_feed(app, httpserver_ipv4.url_for("/feed.xml"), workspace="console")
    await commands.poll_once(app, workspace="console")
    ws = await app.workspace_id()
    (title, text), *_ = await app.store.fetch_all(
        "SELECT a.title, p.text FROM passages p JOIN articles a USING (article_id)"
    )
    doc = KeywordDoc.of(title, text)
    outcomes = {}
    for query in QUERIES:
        fires = KeywordQuery.parse(query).matches(doc) is not None
        phrase = '"' + " ".join(words(query)) + '"'
        finds = bool(await app.store.text_search(phrase, 10, workspace_id=ws))
        assert fires == finds, query
        if len(words(query)) == 1:  # the question path: one content word, the same answer
            assert bool(await app.store.text_search(fts_query(query), 10, workspace_id=ws)) == finds
        outcomes[query] = fires
    assert [q for q, found in outcomes.items() if found] == QUERIES[:11]
