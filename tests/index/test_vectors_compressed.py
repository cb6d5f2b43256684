"""The vector index above `compress_above`: IVF + 8-bit scalar quantizer, switched to and from
the flat index by size, with nprobe chosen by measured recall. Plumbing tests on synthetic
clustered unit vectors (the shape of sentence embeddings: many vectors around few topics)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import faiss
import numpy as np
import pytest
from pydantic import ValidationError

from bot.app import open_app
from bot.core import commands
from bot.settings import Settings
from index.retrieve.embed import HashEmbedder
from index.retrieve.vectors import MAGIC, VectorIndex, file_kind

DIM = 384


def clustered(n: int, *, seed: int = 0, topics: int = 64, noise: float = 0.04) -> np.ndarray:
    """n unit vectors, each a random topic's direction plus Gaussian noise, renormalised."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[rng.integers(0, topics, n)] + rng.normal(0.0, noise, (n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def passage_ids(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * 7 + 3  # sparse, like rowids after deletions


def header(path: Path) -> dict[str, object]:
    line = path.read_bytes().split(b"\n", 1)[0]
    return dict(json.loads(line[len(MAGIC) :]))


def compressed(
    tmp_path: Path, n: int = 3000, *, compress_above: int = 2000, min_recall: float = 0.95
) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    ids, x = passage_ids(n), clustered(n)
    index = VectorIndex(
        tmp_path / "v.faiss", DIM, "m", compress_above=compress_above, min_recall=min_recall
    )
    index.add(ids, x)
    index.save()
    return index, ids, x


def exact_top(x: np.ndarray, query: np.ndarray, k: int, skip: int | None = None) -> list[int]:
    scores = x @ query
    if skip is not None:
        scores[skip] = -np.inf
    return [int(i) for i in np.argsort(-scores, kind="stable")[:k]]


class FakeStore:
    """What `VectorIndex.sync` asks of the store: the embedded ids and their vectors."""

    def __init__(self, ids: np.ndarray, x: np.ndarray) -> None:
        self.vectors = {int(i): v for i, v in zip(ids, x, strict=True)}

    async def embedded_ids(self) -> np.ndarray:
        return np.array(sorted(self.vectors), dtype=np.int64)

    async def batches(self, ids: np.ndarray) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
        present = [int(i) for i in ids if int(i) in self.vectors]
        for start in range(0, len(present), 500):
            part = present[start : start + 500]
            yield np.array(part, dtype=np.int64), np.stack([self.vectors[i] for i in part])

    def drop(self, ids: np.ndarray) -> None:
        for i in ids:
            del self.vectors[int(i)]


# ---- switching kinds --------------------------------------------------------------------------
def test_below_threshold_stays_flat(tmp_path: Path) -> None:
    index, _, _ = compressed(tmp_path, 1999, compress_above=2000)
    assert index.kind == "flat" and header(index.path)["kind"] == "flat"


def test_never_compressed_when_compress_above_is_zero(tmp_path: Path) -> None:
    index, _, _ = compressed(tmp_path, 3000, compress_above=0)
    assert index.kind == "flat" and header(index.path)["kind"] == "flat"


def test_save_above_threshold_compresses(tmp_path: Path) -> None:
    index, ids, x = compressed(tmp_path, 3000, compress_above=2000)
    head = header(index.path)
    assert index.kind == head["kind"] == "ivf-sq8"
    assert head["count"] == 3000 and head["nlist"] == index.nlist == 256  # 4*sqrt(3000) ~ 219
    assert head["nprobe"] == index.nprobe >= 1 and head["recall"] == index.build_recall
    assert index.memory_bytes() < 3000 * (DIM * 4 + 8) / 2  # codes of DIM bytes, not floats
    loaded = VectorIndex.load(index.path, DIM, "m")
    assert loaded.kind == "ivf-sq8" and loaded.nprobe == index.nprobe and len(loaded) == 3000
    assert sorted(loaded.ids().tolist()) == sorted(ids.tolist())
    for row in (0, 1234, 2999):  # an exact duplicate of a stored vector finds that passage first
        (best, score), *_ = loaded.search(x[row], 5)
        assert best == ids[row] and score == pytest.approx(1.0, abs=0.01)


async def test_sync_compresses_a_flat_file_over_threshold(tmp_path: Path) -> None:
    """An index saved flat by an older version (or with compression off) is compressed by the
    next sync that runs with a threshold, even when nothing changed."""
    ids, x = passage_ids(2500), clustered(2500)
    flat = VectorIndex(tmp_path / "v.faiss", DIM, "m")
    flat.add(ids, x)
    flat.save()
    store = FakeStore(ids, x)
    index = VectorIndex.load(tmp_path / "v.faiss", DIM, "m", compress_above=2000)
    assert index.kind == "flat"
    report = await index.sync(store.embedded_ids, store.batches)
    assert (report.added, report.removed) == (0, 0)
    assert index.kind == "ivf-sq8" and header(index.path)["kind"] == "ivf-sq8"


async def test_back_to_flat_below_half_the_threshold(tmp_path: Path) -> None:
    index, ids, x = compressed(tmp_path, 3000, compress_above=2000)
    store = FakeStore(ids, x)
    store.drop(ids[:1500])  # 1500 left: between half the threshold and the threshold
    await index.sync(store.embedded_ids, store.batches)
    assert index.kind == "ivf-sq8" and len(index) == 1500  # hysteresis: stays compressed
    store.drop(ids[1500:2001])  # 999 left: below 2000 // 2
    await index.sync(store.embedded_ids, store.batches)
    assert index.kind == "flat" and header(index.path)["kind"] == "flat"
    assert sorted(index.ids().tolist()) == sorted(ids[2001:].tolist())
    # the flat index holds the database's exact vectors again, not 8-bit approximations
    (best, score), *_ = index.search(x[2500], 1)
    assert best == ids[2500] and score == pytest.approx(float(x[2500] @ x[2500]), abs=1e-6)
    loaded = VectorIndex.load(index.path, DIM, "m")
    assert loaded.kind == "flat" and len(loaded) == 999


async def test_turning_compression_off_goes_back_to_flat(tmp_path: Path) -> None:
    _, ids, x = compressed(tmp_path, 3000, compress_above=2000)
    store = FakeStore(ids, x)
    index = VectorIndex.load(tmp_path / "v.faiss", DIM, "m", compress_above=0)
    assert index.kind == "ivf-sq8"
    await index.sync(store.embedded_ids, store.batches)
    assert index.kind == "flat" and len(index) == 3000


def test_a_change_during_compression_keeps_it_flat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vector added while the flat index is being compressed is not lost: the compression
    is abandoned and the next save tries again."""
    ids, x = passage_ids(2500), clustered(2500)
    index = VectorIndex(tmp_path / "v.faiss", DIM, "m", compress_above=2000)
    index.add(ids, x)
    original = VectorIndex._choose_nprobe

    def meddle(self: VectorIndex, *args: object) -> object:
        self.add(np.array([999_999]), x[:1])
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(VectorIndex, "_choose_nprobe", meddle)
    index.save()
    assert index.kind == "flat" and len(index) == 2501 and 999_999 in index.ids()
    monkeypatch.setattr(VectorIndex, "_choose_nprobe", original)
    index.save()
    assert index.kind == "ivf-sq8" and len(index) == 2501 and 999_999 in index.ids()


def test_a_failed_compression_still_saves_flat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: VectorIndex, *args: object) -> object:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(VectorIndex, "_choose_nprobe", broken)
    index, ids, x = compressed(tmp_path, 2500)
    assert index.kind == "flat" and header(index.path) | {"generation": ""} == {
        "format": 1,
        "kind": "flat",
        "model": "m",
        "dim": DIM,
        "count": 2500,
        "generation": "",
    }
    assert "compression failed" in caplog.text
    assert VectorIndex.load(index.path, DIM, "m").search(x[9], 1)[0][0] == ids[9]


# ---- the recall target -------------------------------------------------------------------------
def test_nprobe_is_the_smallest_that_meets_min_recall(tmp_path: Path) -> None:
    index, ids, x = compressed(tmp_path, 3000, min_recall=0.95)
    build = index.last_build
    assert build is not None and build.nprobe == index.nprobe and build.vectors == 3000
    assert build.queries == 2 * 256 and build.trained_on == 3000 - 256
    tried = dict(build.ladder)
    assert list(tried) == [2**i for i in range(len(tried))]  # 1, 2, 4, ...
    assert tried[index.nprobe] == build.recall >= 0.95
    assert all(recall < 0.95 for nprobe, recall in tried.items() if nprobe < index.nprobe)
    # measured again here, over every stored vector as a query (itself left out)
    rng = np.random.default_rng(7)
    rows = rng.choice(len(ids), 300, replace=False)
    found = 0
    for row in rows:
        want = {int(ids[i]) for i in exact_top(x, x[row], 10, skip=int(row))}
        got = [pid for pid, _ in index.search(x[row], 11) if pid != ids[row]][:10]
        found += len(want.intersection(got))
    assert found / (10 * len(rows)) >= 0.95 - 0.02  # sampling error of 256 held-out queries


def test_nprobe_also_meets_min_recall_between_stored_vectors(tmp_path: Path) -> None:
    """Questions lie between passages more than on one: nprobe is chosen so that queries
    halfway between two stored vectors meet the target too."""
    index, ids, x = compressed(tmp_path, 3000, min_recall=0.95)
    rng = np.random.default_rng(13)
    pairs = rng.choice(len(ids), (300, 2))
    found = 0
    for a, b in pairs:
        query = (x[a] + x[b]) / np.linalg.norm(x[a] + x[b])
        want = {int(ids[i]) for i in exact_top(x, query, 10)}
        found += len(want.intersection(pid for pid, _ in index.search(query, 10)))
    assert found / (10 * len(pairs)) >= 0.95 - 0.02


def test_a_higher_recall_target_probes_more_cells(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    low, _, _ = compressed(tmp_path / "a", 3000, min_recall=0.5)
    high, _, _ = compressed(tmp_path / "b", 3000, min_recall=0.99)
    assert low.build_recall is not None and low.build_recall >= 0.5
    assert high.build_recall is not None and high.build_recall >= 0.99
    assert low.nprobe < high.nprobe


def test_deeper_searches_scan_more_cells(tmp_path: Path) -> None:
    """nprobe is chosen for the 10 nearest; a search for 30 scans 3 times the cells and keeps
    about that recall (scanning only the cells chosen for 10 finds ~0.96 of the exact 30)."""
    index, ids, x = compressed(tmp_path, 3000, min_recall=0.8)
    assert index.nprobe == 4
    rows = np.random.default_rng(11).choice(len(ids), 100, replace=False)
    found = 0
    for row in rows:
        want = {int(ids[i]) for i in exact_top(x, x[row], 30)}
        found += len(want.intersection(pid for pid, _ in index.search(x[row], 30)))
    assert found / (30 * len(rows)) >= 0.985


def test_search_scans_more_cells_until_it_has_k_results(tmp_path: Path) -> None:
    index, ids, x = compressed(tmp_path, 3000, min_recall=0.05)
    assert index.nprobe == 1  # about 12 vectors per cell
    found = index.search(x[0], 200)
    assert len(found) == 200 and len({pid for pid, _ in found}) == 200
    scores = [s for _, s in found]
    assert scores == sorted(scores, reverse=True)
    # the allowed passages lie in the cells farthest from the query: none of the first cells
    far = np.argsort(x @ x[0], kind="stable")[:40]
    got = {pid for pid, _ in index.search(x[0], 10, allowed=ids[far])}
    want = {int(ids[far[i]]) for i in exact_top(x[far], x[0], 10)}
    assert len(got) == 10 and len(got & want) >= 8  # near-equal scores: 8-bit rounding


# ---- removal and scoped search -----------------------------------------------------------------
def test_removed_passage_never_comes_back(tmp_path: Path) -> None:
    index, ids, x = compressed(tmp_path, 3000)
    gone = ids[[10, 11, 2000]]
    assert index.remove(gone) == 3
    assert len(index) == 2997 and not set(gone.tolist()) & set(index.ids().tolist())

    def never_found(vi: VectorIndex) -> None:
        for row in (10, 11, 2000):
            assert ids[row] not in {pid for pid, _ in vi.search(x[row], 50)}
            assert vi.search(x[row], 5, allowed=gone) == []
            kept = vi.search(x[row], 5, allowed=np.array([ids[row], ids[12]]))
            assert [pid for pid, _ in kept] == [ids[12]]

    never_found(index)
    index.save()
    assert header(index.path)["count"] == 2997
    never_found(VectorIndex.load(index.path, DIM, "m"))


def test_re_adding_a_passage_replaces_its_vector(tmp_path: Path) -> None:
    index, ids, x = compressed(tmp_path, 3000)
    index.add(ids[:1], x[1:2])  # passage 0 now holds passage 1's text
    assert len(index) == 3000
    assert {pid for pid, _ in index.search(x[1], 2)} == {ids[0], ids[1]}
    assert ids[0] not in {pid for pid, _ in index.search(x[0], 1)}


def test_scoped_search_on_the_compressed_index(tmp_path: Path) -> None:
    index, ids, x = compressed(tmp_path, 3000)
    rng = np.random.default_rng(3)
    rows = np.sort(rng.choice(3000, 12, replace=False))  # a small workspace, spread over topics
    allowed = ids[rows]
    for query_row in (0, 500, int(rows[4])):
        got = index.search(x[query_row], 5, allowed=allowed)
        want = [int(allowed[i]) for i in exact_top(x[rows], x[query_row], 5)]
        assert [pid for pid, _ in got] == want
        assert set(pid for pid, _ in index.search(x[query_row], 50, allowed=allowed)) == set(
            allowed.tolist()
        )
    assert index.search(x[0], 5, allowed=np.array([10**9])) == []
    assert index.search(x[0], 5, allowed=np.array([], dtype=np.int64)) == []


# ---- files -------------------------------------------------------------------------------------
def test_flat_file_of_the_old_format_loads(tmp_path: Path) -> None:
    """Files written before compression existed have no "kind" in the header: flat."""
    ids, x = passage_ids(50), clustered(50)
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    old.add_with_ids(x, ids)
    head = {"format": 1, "model": "m", "dim": DIM, "count": 50, "generation": "g0"}
    path = tmp_path / "v.faiss"
    path.write_bytes(
        MAGIC + json.dumps(head).encode() + b"\n" + faiss.serialize_index(old).tobytes()
    )
    index = VectorIndex.load(path, DIM, "m", compress_above=2000)
    assert not index.stale_on_disk and index.kind == "flat" and len(index) == 50
    assert index.search(x[7], 1)[0][0] == ids[7]
    assert index.nprobe == 0 and index.build_recall is None


def test_file_kind_reads_the_header_only(tmp_path: Path) -> None:
    path = tmp_path / "v.faiss"
    assert file_kind(path) is None
    path.write_bytes(b"not an index\n")
    assert file_kind(path) is None
    path.write_bytes(MAGIC + b'{"format": 1, "model": "m"}\n')  # written before "kind"
    assert file_kind(path) == "flat"
    index, _, _ = compressed(tmp_path, 3000)
    assert file_kind(index.path) == "ivf-sq8"


def test_a_header_that_does_not_match_the_payload_is_rebuilt(tmp_path: Path) -> None:
    index, _, _ = compressed(tmp_path, 3000)
    raw = index.path.read_bytes()
    line, payload = raw.split(b"\n", 1)
    head = json.loads(line[len(MAGIC) :])
    for kind in ("flat", "hnsw"):
        head["kind"] = kind
        index.path.write_bytes(MAGIC + json.dumps(head).encode() + b"\n" + payload)
        loaded = VectorIndex.load(index.path, DIM, "m")
        assert loaded.stale_on_disk and len(loaded) == 0


async def test_readers_see_old_or_new_index_never_torn_across_the_switch(tmp_path: Path) -> None:
    """While a writer grows an index past the threshold (so one save compresses it) and keeps
    saving, another thread's loads always parse, hold a count that was saved, and find a
    stored vector."""
    ids, x = passage_ids(3000), clustered(3000)
    writer = VectorIndex(tmp_path / "v.faiss", DIM, "m", compress_above=2000)
    writer.add(ids[:1500], x[:1500])
    writer.save()
    saved = {1500}
    kinds: set[str] = set()
    stop = threading.Event()

    def reader() -> int:
        loads = 0
        while not stop.is_set():
            index = VectorIndex.load(tmp_path / "v.faiss", DIM, "m")
            assert not index.stale_on_disk and len(index) in saved
            assert index.search(x[3], 1)[0][0] == ids[3]
            kinds.add(index.kind)
            loads += 1
        return loads

    task = asyncio.create_task(asyncio.to_thread(reader))
    for end in (1800, 2100, 2400, 2700, 3000):
        writer.add(ids[:end], x[:end])
        saved.add(end)
        await asyncio.to_thread(writer.save)
        await asyncio.sleep(0.05)
    for _ in range(5):
        await asyncio.to_thread(writer.save)
    await asyncio.sleep(0.05)
    stop.set()
    assert await task > 0
    assert writer.kind == "ivf-sq8" and "ivf-sq8" in kinds


async def test_refresh_picks_up_another_process_compressing(tmp_path: Path) -> None:
    ids, x = passage_ids(3000), clustered(3000)
    writer = VectorIndex(tmp_path / "v.faiss", DIM, "m", compress_above=2000)
    writer.add(ids[:1000], x[:1000])
    writer.save()
    reader = VectorIndex.load(tmp_path / "v.faiss", DIM, "m")
    assert reader.kind == "flat" and len(reader) == 1000
    writer.add(ids, x)
    writer.save()
    assert await reader.refresh()
    assert reader.kind == "ivf-sq8" and len(reader) == 3000 and reader.nprobe == writer.nprobe
    assert reader.search(x[2999], 1)[0][0] == ids[2999]


# ---- settings ----------------------------------------------------------------------------------
async def test_app_opens_the_index_with_the_settings_threshold(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",  # type: ignore[call-arg]
        index_compress_above=1234,
        index_min_recall=0.9,
    )
    async with open_app(settings, embedder=HashEmbedder(), with_extractor=False) as app:
        vectors = app.require_pipeline().vectors
        assert (vectors.compress_above, vectors.min_recall) == (1234, 0.9)
        assert (await commands.stats(app, workspace="console"))["index_kind"] == "flat"
    assert Settings(_env_file=None).index_compress_above == 500_000  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "bad", [{"index_compress_above": -1}, {"index_min_recall": 0}, {"index_min_recall": 1.5}]
)
def test_settings_refuse_a_bad_threshold_or_recall(bad: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **bad)  # type: ignore[arg-type]
