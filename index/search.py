"""Stage: query text -> [Hit] best first, from one workspace's own articles.
Side effects: may reload the vector index when another process saved a newer one.

The query is embedded with the same model as the passages and looked up in FAISS by inner
product (cosine, since vectors are unit length). FAISS holds every workspace's passages, so we
ask it for a few times `k` and keep the workspace's own; when that is not enough (a small
workspace in a large shared index), FAISS searches only the workspace's passage ids.
"""

from __future__ import annotations

import asyncio

from index.embed import Embedder
from index.models import Hit
from index.store import Store
from index.vectors import VectorIndex


async def search(
    store: Store,
    vectors: VectorIndex,
    embedder: Embedder,
    workspace_id: int,
    query: str,
    k: int = 10,
    *,
    per_story: int = 0,
) -> list[Hit]:
    """The k passages most similar to `query` among the workspace's articles, best first.
    With `per_story` > 0, at most that many passages of any one story are kept, so one
    event told at length (or by several outlets) does not fill every slot."""
    query = query.strip()
    if not query or k <= 0:
        return []
    await vectors.refresh()
    vector = await asyncio.to_thread(embedder.embed_query, query)
    # Most often the workspace's passages are among the nearest few: ask for a few times k.
    want = max(k * 4, 32) * (4 if per_story else 1)
    scored = await asyncio.to_thread(vectors.search, vector, want)
    hits = _limit_per_story(await store.hits(scored, workspace_id), per_story)
    if len(hits) >= k or len(scored) < want:
        return hits[:k]
    # Otherwise search only the workspace's own passages.
    allowed = await store.workspace_passage_ids(workspace_id)
    scored = await asyncio.to_thread(vectors.search, vector, want * 4, allowed)
    return _limit_per_story(await store.hits(scored, workspace_id), per_story)[:k]


def _limit_per_story(hits: list[Hit], per_story: int) -> list[Hit]:
    if per_story <= 0:
        return hits
    seen: dict[int, int] = {}
    kept = []
    for hit in hits:
        seen[hit.story_id] = seen.get(hit.story_id, 0) + 1
        if seen[hit.story_id] <= per_story:
            kept.append(hit)
    return kept
