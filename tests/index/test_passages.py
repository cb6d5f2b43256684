"""Chunking articles into passages, and the story signatures."""

from __future__ import annotations

import numpy as np

from index.retrieve.passages import MAX_TOKENS, chunk_article, estimate_tokens, split_sentences
from index.store import stories


def test_sentences_respect_abbreviations_quotes_and_paragraphs() -> None:
    text = 'Gen. Smith said U.S. forces hit 3 targets. "We are done." Then? Yes.\n\nNew para'
    assert split_sentences(text) == [
        "Gen. Smith said U.S. forces hit 3 targets.",
        '"We are done."',
        "Then?",
        "Yes.",
        "New para",
    ]


def test_short_article_is_one_passage_with_title_context() -> None:
    passages = chunk_article("Strike on Raqqa", "Twelve civilians were killed. Rescuers dug.")
    assert len(passages) == 1
    assert passages[0].text == "Twelve civilians were killed. Rescuers dug."
    assert passages[0].embed_text.startswith("Strike on Raqqa\n")


def test_long_article_splits_on_sentences_within_budget_with_overlap() -> None:
    sentences = [
        f"Sentence {i} reports on the fighting near Hajin in some detail." for i in range(80)
    ]
    passages = chunk_article("Hajin fighting", " ".join(sentences))
    assert len(passages) > 3
    for p in passages:
        assert estimate_tokens(p.embed_text) <= MAX_TOKENS + 5
        assert p.text.endswith(".")
    # each passage starts with the last sentence of the previous one (small overlap)
    for before, after in zip(passages, passages[1:], strict=False):
        last = split_sentences(before.text)[-1]
        assert after.text.startswith(last)
    assert [p.seq for p in passages] == list(range(len(passages)))


def test_one_giant_sentence_is_cut_by_words() -> None:
    passages = chunk_article("t", " ".join(["word"] * 2000))
    assert len(passages) > 5
    assert all(estimate_tokens(p.embed_text) <= MAX_TOKENS + 5 for p in passages)


def test_empty_text_falls_back_to_the_title() -> None:
    passages = chunk_article("Only a headline", "")
    assert [p.text for p in passages] == ["Only a headline"]
    assert passages[0].embed_text == "Only a headline"


def test_content_hash_changes_with_title_or_text() -> None:
    a = chunk_article("Title", "Body text.")[0].content_hash
    assert a == chunk_article("Title", "Body text.")[0].content_hash
    assert a != chunk_article("Title 2", "Body text.")[0].content_hash
    assert a != chunk_article("Title", "Body text!")[0].content_hash


BASE = (
    "An air strike on a residential district of Raqqa killed 12 civilians, including a "
    "woman and a child, and wounded at least 20 others, medics said on Tuesday."
)
COPY = "Levant Wire reported that " + BASE.replace("on Tuesday", "")
OTHER = (
    "A car bomb exploded in a crowded market in western Mosul on Thursday, killing at "
    "least 23 people, police said."
)


def test_minhash_similarity_separates_copies_from_other_stories() -> None:
    base, copy, other = BASE, COPY, OTHER
    sig = stories.signature("Raqqa strike", base)
    candidates = np.stack(
        [stories.signature("Other", other), stories.signature("Twelve dead in Raqqa", copy)]
    )
    best, similarity = stories.best_match(sig, candidates)
    assert best == 1 and similarity > 0.5
    assert stories.best_match(sig, candidates[:1])[1] < 0.2
    assert stories.best_match(sig, np.zeros((0, stories.NUM_PERM), dtype=np.uint64)) == (-1, 0.0)
    blob = stories.to_blob(sig)
    assert np.array_equal(stories.from_blob(blob), sig)


def test_lsh_bands_make_copies_candidates_and_keep_strangers_apart() -> None:
    base, copy, other = BASE, COPY, OTHER
    bands = stories.band_hashes(stories.signature("Raqqa strike", base))
    assert len(bands) == stories.BANDS and [b for b, _ in bands] == list(range(stories.BANDS))
    assert bands == stories.band_hashes(stories.signature("Raqqa strike", base))
    shared = set(bands) & set(stories.band_hashes(stories.signature("Raqqa", copy)))
    assert shared
    assert not set(bands) & set(stories.band_hashes(stories.signature("Mosul", other)))
    assert all(-(2**63) <= h < 2**63 for _, h in bands)
