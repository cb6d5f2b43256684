"""Keyword watches: folding, tokens, parsing, canonical form, matching and the syntax errors."""

from __future__ import annotations

import pytest

from bot.core.keywords import KeywordDoc, KeywordQuery, KeywordSyntaxError
from index.text import fold
from index.text import words as tokens

NOTHING = "a keyword watch needs at least one word to look for, not only NOT terms"


def q(text: str) -> KeywordQuery:
    return KeywordQuery.parse(text)


def hits(query: str, *texts: str) -> tuple[str, ...] | None:
    return q(query).matches(KeywordDoc.of(*texts))


# ---- fold and tokens -----------------------------------------------------------------------------


def test_tokens_split_on_punctuation_and_keep_digits() -> None:
    assert tokens("al-Nusra") == ["al", "nusra"]
    assert tokens("Sana'a") == ["sana", "a"]
    assert tokens("Sana’a") == ["sana", "a"]
    assert tokens("Ḥalab") == ["halab"]
    assert tokens("12 rockets hit Route 7 at 04:30") == [
        "12",
        "rockets",
        "hit",
        "route",
        "7",
        "at",
        "04",
        "30",
    ]
    assert tokens("“Quoted,” she said.") == ["quoted", "she", "said"]
    assert tokens("") == []


def test_fold_drops_marks_and_case_and_is_stable() -> None:
    assert fold("BAKHMUT") == "bakhmut"
    assert fold("Ḥalab Şanlıurfa Straße ﬁeld") == "halab sanlıurfa straße field"  # as FTS5
    for text in ["Ḥalab", "ΐ", "İzmir", "Dnipró", "Ⅻ", "ﬁ", "Ångström", "ǰ"]:
        assert fold(fold(text)) == fold(text)


def test_doc_positions_leave_a_gap_between_texts() -> None:
    doc = KeywordDoc.of("Car bomb", "bomb squad")
    assert doc.positions == {"car": (0,), "bomb": (1, 3), "squad": (4,)}
    assert KeywordDoc.of().positions == {}


# ---- parsing and the canonical form --------------------------------------------------------------

CANONICAL = [
    ('("car bomb" OR ied) -training', '("car bomb" OR ied) AND NOT training'),
    ('"car bomb" OR ied NOT training', '"car bomb" OR ied AND NOT training'),
    ("a b OR c", "a AND b OR c"),
    ("a OR b c", "a OR b AND c"),
    ("(a OR b) (c OR d)", "(a OR b) AND (c OR d)"),
    ("a AND (b AND c) AND (d OR e)", "a AND b AND c AND (d OR e)"),
    ("a OR (b OR c)", "a OR b OR c"),
    ("((a))", "a"),
    ("NOT (a OR b) c", "NOT (a OR b) AND c"),
    ("x NOT (a b)", "x AND NOT (a AND b)"),
    ("NOT NOT a", "a"),
    ("-(-a)", "a"),
    ("NOT (NOT b OR c)", "NOT (NOT b OR c)"),
    ("al-Qaeda attack*", '"al qaeda" AND attack*'),
    ("Deir ez-Zor", 'deir AND "ez zor"'),
    ('"Deir ez-Zor"', '"deir ez zor"'),
    ("“Car  Bomb”", '"car bomb"'),
    ('"suicide bomb*"', '"suicide bomb*"'),
    ('"ied"', "ied"),
    ('"or" and "AND"', '"or" AND "and"'),
    ("drone -or", 'drone AND NOT "or"'),
    ("Ḥalab", "halab"),
    ("  Idlib\tshelling\n", "idlib AND shelling"),
]


@pytest.mark.parametrize(("query", "canonical"), CANONICAL)
def test_canonical_form_round_trips(query: str, canonical: str) -> None:
    parsed = q(query)
    assert str(parsed) == canonical
    assert q(canonical) == parsed
    assert str(q(canonical)) == canonical


def test_equal_queries_compare_and_hash_equal() -> None:
    assert q("Bakhmut") == q("BAKHMUT") == q('"bakhmut"')
    assert q("a b c") == q("a AND (b c)") == q("(a AND b) AND c")
    assert len({q("a -b"), q("a AND NOT b"), q("a and not b")}) == 1
    assert q("a OR b") != q("b OR a")  # order is kept: it is the display order


def test_precedence_not_then_and_then_or() -> None:
    assert q("a OR b AND c") == q("a OR (b AND c)")
    assert q("a AND b OR c") == q("(a AND b) OR c")
    assert q("NOT a b") == q("(NOT a) AND b")
    assert q("a OR b NOT c") == q("a OR (b AND NOT c)")
    # what that means for an article
    assert hits("shelling OR drone NOT training", "A shelling during a training exercise")
    assert hits("shelling OR drone NOT training", "A drone crashed during training") is None
    assert hits("(shelling OR drone) NOT training", "A shelling during training") is None


def test_implicit_and() -> None:
    assert q("ambush convoy") == q("ambush AND convoy")
    assert hits("ambush convoy", "Gunmen ambush a fuel convoy") == ("ambush", "convoy")
    assert hits("ambush convoy", "Gunmen ambush a checkpoint") is None


def test_not_and_minus_shorthand() -> None:
    assert q("bomb -training") == q("bomb NOT training") == q("bomb AND NOT training")
    assert q('bomb -"training exercise"') == q('bomb AND NOT "training exercise"')
    assert q("bomb -(drill OR exercise)") == q("bomb AND NOT (drill OR exercise)")
    assert hits("bomb -training", "A bomb exploded near the market") == ("bomb",)
    assert hits("bomb -training", "A mock bomb was used in training") is None
    assert hits('bomb -"training exercise"', "Bomb found after a training flight") == ("bomb",)
    assert hits('bomb -"training exercise"', "Bomb used in a training exercise") is None


def test_lowercase_operators_are_operators() -> None:
    assert q("car and bomb or ied not drill") == q("car AND bomb OR ied AND NOT drill")
    assert q("Car Or Bomb") == q("car OR bomb")
    assert hits("mortar or rocket", "A rocket landed near the port") == ("rocket",)


def test_quoted_operator_words_are_terms() -> None:
    assert hits('"or"', "Surrender or leave, the message said") == ("or",)
    assert hits('"or"', "Surrender and leave") is None
    assert hits('"not" guilty', "The court found him not guilty") == ("not", "guilty")
    assert hits('"and"', "bread and salt") == ("and",)
    assert q("-or truce") == q('NOT "or" AND truce')


# ---- phrases, prefixes, case and diacritics ------------------------------------------------------


def test_phrase_needs_consecutive_tokens() -> None:
    assert hits('"car bomb"', "A car bomb went off") == ("car bomb",)
    assert hits('"car bomb"', "The CAR-BOMB attack") == ("car bomb",)
    assert hits('"car bomb"', "A bomb under a car") is None
    assert hits('"car bomb"', "A car and a bomb") is None
    assert hits('"car bomb"', "A car. Bomb disposal arrived") == ("car bomb",)  # punctuation only


def test_hyphenated_word_is_a_phrase() -> None:
    assert hits("al-Qaeda", "Leaders of al Qaeda met") == ("al qaeda",)
    assert hits("al-Qaeda", "AL-QAEDA claimed it") == ("al qaeda",)
    assert hits("al-Qaeda", "Al said Qaeda") is None
    assert hits("Sana'a", "Strikes on Sana’a overnight") == ("sana a",)


def test_phrase_never_spans_title_and_body() -> None:
    assert hits('"car bomb"', "Police find car", "Bomb squad called in") is None
    assert hits('"car bomb"', "Police find car", "car bomb defused") == ("car bomb",)
    assert hits("car bomb", "Police find car", "Bomb squad called in") == ("car", "bomb")
    assert hits("al-Qaeda", "Talks with al", "Qaeda denies") is None


def test_prefix_word() -> None:
    assert hits("attack*", "Militants attacked a base") == ("attack*",)
    assert hits("attack*", "Two attacks in a week") == ("attack*",)
    assert hits("attack*", "An ATTACK on the port") == ("attack*",)
    assert hits("attack*", "An attic fire") is None
    assert hits("attack*", "A counterattack began") is None


def test_prefix_on_last_word_of_phrase() -> None:
    assert hits('"suicide bomb*"', "A suicide bomber struck") == ("suicide bomb*",)
    assert hits('"suicide bomb*"', "Suicide bombings rose") == ("suicide bomb*",)
    assert hits('"suicide bomb*"', "A suicide car bomb") is None
    assert hits('"suicide bomb*"', "Bombers and a suicide") is None


def test_case_and_diacritics_both_sides() -> None:
    assert hits("Bakhmut", "Fighting near BAKHMUT") == ("bakhmut",)
    assert hits("Deir ez-Zor", "Clashes in deir ez zor province") == ("deir", "ez zor")
    assert hits("Deir ez-Zor", "Clashes in Deir Ez-Zor") == ("deir", "ez zor")
    assert hits('"Deir ez-Zor"', "Clashes in Deir Ez-Zor") == ("deir ez zor",)
    assert hits("Idlib", "Shelling in Idlib") == ("idlib",)
    assert hits("Ḥalab", "Reports from HALAB") == ("halab",)
    assert hits("Halab", "Reports from Ḥalab") == ("halab",)
    assert hits("Dnipro", "Drones over Dnipró") == ("dnipro",)


# ---- matched terms -------------------------------------------------------------------------------


def test_matched_terms_are_the_positive_terms_that_decided() -> None:
    assert hits("rocket OR mortar", "A mortar round hit") == ("mortar",)
    assert hits("rocket OR mortar", "Rocket and mortar fire") == ("rocket", "mortar")
    assert hits("mortar OR rocket", "Rocket and mortar fire") == ("mortar", "rocket")
    assert hits("rocket OR mortar", "A quiet night") is None
    assert hits("rocket rocket OR rocket", "rocket fire") == ("rocket",)
    assert hits("rocket -drill", "rocket fire") == ("rocket",)
    # "convoy" occurs, but its branch failed: it did not make the alert fire
    assert hits("(ambush AND convoy) OR mortar", "A convoy passed; mortar fire later") == (
        "mortar",
    )
    # positive through two NOTs
    assert hits("NOT (NOT mortar OR drill)", "Mortar fire at dawn") == ("mortar",)
    assert hits("NOT (NOT mortar OR drill)", "Mortar drill at dawn") is None


def test_terms_lists_positive_terms_in_order() -> None:
    assert q('("car bomb" OR ied) -training attack*').terms == ("car bomb", "ied", "attack*")
    assert q("ied OR ied -x").terms == ("ied",)
    assert q("NOT (NOT b OR c)").terms == ("b",)


# ---- errors and limits ---------------------------------------------------------------------------

ERRORS = [
    ("", "the query is empty"),
    ("   \t", "the query is empty"),
    ("a (b", 'unbalanced parenthesis at character 3 of the query: this "(" is never closed'),
    ("(a OR b", 'unbalanced parenthesis at character 1 of the query: this "(" is never closed'),
    ("a (", 'unbalanced parenthesis at character 3 of the query: this "(" is never closed'),
    ("a OR b) c", 'unbalanced parenthesis at character 7 of the query: nothing opens this ")"'),
    ("a ()", "empty parentheses at character 3 of the query"),
    ("OR a", "OR at character 1 of the query has no word or group before it"),
    ("(and a)", "AND at character 2 of the query has no word or group before it"),
    ("a OR", "OR at character 3 of the query has no word or group after it"),
    ("a AND OR b", "AND at character 3 of the query has no word or group after it"),
    ("a (b NOT)", "NOT at character 6 of the query has no word or group after it"),
    ("NOT", "NOT at character 1 of the query has no word or group after it"),
    ("a -", 'the "-" at character 3 of the query must come right before a word, phrase or group'),
    ("- a", 'the "-" at character 1 of the query must come right before a word, phrase or group'),
    ('"car bomb', "the quote at character 1 of the query is never closed"),
    ("a “car bomb", "the quote at character 3 of the query is never closed"),
    ('a ""', "the quoted phrase at character 4 of the query has no letters or digits to look for"),
    ("a &&", '"&&" at character 3 of the query has no letters or digits to look for'),
    ("a {} b", '"{}" at character 3 of the query has no letters or digits to look for'),
    ("at*", "a prefix needs at least 3 letters or digits before the * at character 3 of the query"),
    (
        "al-Qa*",
        "a prefix needs at least 3 letters or digits before the * at character 6 of the query",
    ),
    ("att*ck", "the * at character 4 of the query must come at the end of a word, as in attack*"),
    ("*attack", "the * at character 1 of the query must follow a word, as in attack*"),
    ("attack-*", "the * at character 8 of the query must follow a word, as in attack*"),
    ("attack**", "the * at character 8 of the query must follow a word, as in attack*"),
    (
        'x "car* bomb"',
        "a * prefix is allowed only on the last word of a phrase, not at character 7 of the query",
    ),
    (
        "al*-Qaeda",
        "a * prefix is allowed only on the last word of a phrase, not at character 3 of the query",
    ),
    ("NOT sport", NOTHING),
    ("-sport -football", NOTHING),
    ("strike OR NOT sport", NOTHING),
    ("NOT (a b)", NOTHING),
]


@pytest.mark.parametrize(("query", "message"), ERRORS)
def test_syntax_errors_say_what_and_where(query: str, message: str) -> None:
    with pytest.raises(KeywordSyntaxError) as caught:
        q(query)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_error_carries_the_position() -> None:
    with pytest.raises(KeywordSyntaxError) as caught:
        q("a OR b) c")
    assert caught.value.position == 7


def test_length_limit() -> None:
    longest = "a" * 500
    assert q(longest).terms == (longest,)
    with pytest.raises(
        KeywordSyntaxError, match="^the query is 501 characters long; the limit is 500$"
    ):
        q("a" * 501)


def test_term_limit() -> None:
    fifty = " OR ".join(f"w{i}" for i in range(50))
    assert len(q(fifty).terms) == 50
    with pytest.raises(KeywordSyntaxError) as caught:
        q(fifty + " -w50")
    assert str(caught.value) == (
        f"the query has more than 50 terms; the one at character {len(fifty) + 3} "
        "of the query is too many"
    )


def test_depth_limit() -> None:
    assert q("(" * 20 + "a" + ")" * 20) == q("a")
    with pytest.raises(KeywordSyntaxError) as caught:
        q("(" * 21 + "a" + ")" * 21)
    assert (
        str(caught.value) == "parentheses are nested more than 20 deep at character 21 of the query"
    )


def test_long_not_chains_parse() -> None:
    assert q("-" * 200 + "a") == q("a")
    assert q("NOT " * 101 + "a b") == q("NOT a AND b")


# ---- a long article against a full query ---------------------------------------------------------


def test_long_doc_against_fifty_terms() -> None:
    filler = [f"word{i % 700}" for i in range(4990)]
    body = " ".join(filler[:2500] + ["the", "suicide", "bombers", "struck"] + filler[2500:])
    doc = KeywordDoc.of("Market reopens after curfew", body + " near Deir ez-Zor")
    assert sum(len(p) for p in doc.positions.values()) >= 5000
    absent = [f"q{i}" for i in range(45)]  # words the article lacks
    query = q(" OR ".join(absent) + ' OR "suicide bomb*" OR "ez zor" OR (curfew word699) OR nope*')
    assert len(query.terms) == 50
    assert query.matches(doc) == ("suicide bomb*", "ez zor", "curfew", "word699")
    assert q(" OR ".join(absent + ["x1", "x2", "x3", "x4", "word7*"])).matches(doc) == ("word7*",)
    assert q(" ".join(f"word{i}" for i in range(50))).matches(doc) is not None
    assert q(" ".join(f"word{i}" for i in range(49)) + " absent").matches(doc) is None
