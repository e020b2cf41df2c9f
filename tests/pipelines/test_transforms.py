"""Each composite transform on a TestPipeline, with exact, complete expected outputs."""

from __future__ import annotations

import json
import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from chains import chained_corpus
from corpus import MIT, humaneval_problem
from dedup.minhash import signature
from dedup.near import Document as NearDocument
from dedup.near import Membership, near_duplicates
from dedup.shingles import shingle_hashes
from pipelines.accounting import Drop
from pipelines.config import DedupSpec, parse_config
from pipelines.records import Record, record_id
from pipelines.stage import ApplyStage
from pipelines.clean import CleanRecords
from pipelines.decontam import Decontaminate
from pipelines.pii import RedactRecords
from pipelines.deduplicate import Deduplicate, fingerprint, keeper_rank
from pipelines.transforms import shard_count, shard_of

WORDS = [f"w{i}" for i in range(500)]


def _text(seed: int, n: int = 300) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _rec(path: str, text: str, license: str = "", stars: int = 0) -> Record:
    return Record(id=record_id(path, text), text=text, kind="text", lang="text",
                  component="t", path=path, license=license, meta={"stars": stars})


def test_apply_stage_splits_records_from_drops():
    def stage(x: int):
        return Drop("c", "s", "odd", str(x)) if x % 2 else x

    with TestPipeline() as p:
        kept, dropped = p | beam.Create([1, 2, 3, 4]) | ApplyStage(stage, stage="s")
        assert_that(kept, equal_to([2, 4]), label="kept")
        assert_that(dropped | beam.Map(lambda d: d.id), equal_to(["1", "3"]), label="dropped")


def _config(**sections) -> object:
    return parse_config({"output": "out", "components": {"c": {
        "kind": "code", "weight": 1.0, "inputs": [{"url": "x", "format": "folder"}]}},
        **sections}, check_paths=False)


def test_clean_records_routes_by_stage_and_licenses_repos():
    mit = MIT
    recs = [Record(id=i, text=t, kind="code", lang="", component="c", path=p, repo=repo,
                   source="src") for i, t, p, repo in [
        ("ok", "def f():\n    return 1\n", "a.py", "r1"), ("short", "x", "b.py", "r1"),
        ("data", "x = [{}, (), [], {}, ();;]\n" * 4, "c.py", "r1"), ("lic", mit, "LICENSE", "r1"),
        ("other", "def g():\n    return 2\n", "a.py", "r2")]]
    config = _config(clean={"min_chars": 10}, filters={"min_comment_fraction": 0.0})
    with TestPipeline() as p:
        kept, (clean_drops, filter_drops), _ = p | beam.Create(recs) | CleanRecords(config)
        assert_that(kept | beam.Map(lambda r: (r.id, r.lang, r.license)),
                    equal_to([("ok", "python", "MIT"), ("other", "python", "")]),
                    label="kept")
        assert_that(clean_drops | beam.Map(lambda d: (d.id, d.reason, d.source)),
                    equal_to([("short", "too_short", "src"),
                              ("lic", "unknown_language", "src")]), label="clean")
        assert_that(filter_drops | beam.Map(lambda d: (d.id, d.reason)),
                    equal_to([("data", "low_alnum")]), label="filter")


def test_deduplicate_keeps_the_best_ranked_copy_of_each_cluster():
    base, other = _text(1), _text(2)
    near = base.replace(base.split()[100], "changed", 1)
    recs = [
        _rec("exact-a", base),                    # exact copies: the licensed one wins
        _rec("exact-b", base, license="MIT"),
        _rec("near", near, stars=100),            # near copy of both: loses to MIT despite stars
        _rec("other", other),                     # unrelated
        _rec("other-dup", other, stars=5),        # exact copy with more stars wins
    ]
    by_path = {r.path: r.id for r in recs}
    with TestPipeline() as p:
        kept, drops, rows, counts = p | beam.Create(recs) | Deduplicate(DedupSpec())
        assert_that(kept | beam.Map(lambda r: (r.path, r.meta["cluster_size"])),
                    equal_to([("exact-b", 2), ("other-dup", 1)]), label="kept")
        assert_that(rows | beam.Map(lambda row: (json.loads(row)["kind"], json.loads(row)["kept"])),
                    equal_to([("exact", True), ("exact", False), ("exact", True),
                              ("exact", False), ("near", True), ("near", False)]),
                    label="rows")
        assert_that(counts | beam.CombinePerKey(sum),
                    equal_to([(("dedup", "candidates"), 1)]), label="counts")
        assert_that(drops | beam.Map(lambda d: (d.id, d.reason)), equal_to([
            (by_path["exact-a"], "exact_duplicate"), (by_path["other"], "exact_duplicate"),
            (by_path["near"], "near_duplicate")]), label="drops")


def test_deduplicate_exact_only_keeps_near_copies():
    base = _text(3)
    recs = [_rec("a", base), _rec("b", base.replace(base.split()[5], "zz", 1))]
    with TestPipeline() as p:
        kept, drops, _, _ = p | beam.Create(recs) | Deduplicate(DedupSpec(near=False))
        assert_that(kept | beam.Map(lambda r: r.path), equal_to(["a", "b"]), label="kept")
        assert_that(drops, equal_to([]), label="drops")


def test_shard_placement_depends_only_on_id_and_size():
    assert shard_count(0, 100) == 1 and shard_count(250, 100) == 3
    ids = [record_id("p", str(i)) for i in range(300)]
    placed = [shard_of(i, 3) for i in ids]
    assert placed == [shard_of(i, 3) for i in ids] and set(placed) == {0, 1, 2}


def test_unreadable_metadata_does_not_break_ranking():
    spec = DedupSpec()
    for meta in ({"stars": "many", "date": "yesterday"}, {"stars": -3}, {}):
        rec = Record(id="a" * 32, text="some words here", kind="text", lang="text",
                     component="t", meta=meta)
        assert fingerprint(rec, spec).rank == fingerprint(rec.replace(meta={}), spec).rank


def test_short_and_wordless_texts_get_no_band_keys():
    for text in ("+-*/ {} () [] ;;" * 10, "four words only here"):
        rec = Record(id="b" * 32, text=text, kind="code", lang="c", component="t")
        assert fingerprint(rec, DedupSpec()).bands == ()


def test_redact_records_counts_edits_per_kind_and_honours_each_component():
    config = parse_config({"output": "out", "components": {
        "on": {"kind": "code", "weight": 0.5, "inputs": [{"url": "x", "format": "folder"}]},
        "off": {"kind": "code", "weight": 0.5, "pii": {"enabled": False},
                "inputs": [{"url": "x", "format": "folder"}]}}}, check_paths=False)
    text = 'ADMIN = "jane.doe@example-corp.com"\n'
    recs = [Record(id=c, text=text, kind="code", lang="python", component=c)
            for c in ("on", "off")]
    with TestPipeline() as p:
        out = p | beam.Create(recs) | RedactRecords(config)
        assert_that(out | beam.Map(lambda r: (r.component, r.text, r.meta.get("edits"))),
                    equal_to([("on", 'ADMIN = "<EMAIL>"\n', {"email": 1}),
                              ("off", text, None)]))


def test_decontaminate_drops_benchmark_solutions_only():
    problem = humaneval_problem(0)
    planted = "import os\n\n" + problem["prompt"] + problem["canonical_solution"]
    recs = [Record(id="bad", text=planted, kind="code", lang="python", component="c"),
            Record(id="ok", text=_text(5), kind="code", lang="python", component="c")]
    with TestPipeline() as p:
        kept, drops = p | beam.Create(recs) | Decontaminate(_config())
        assert_that(kept | beam.Map(lambda r: r.id), equal_to(["ok"]), label="kept")
        assert_that(drops | beam.Map(lambda d: (d.id, d.stage, d.reason, d.detail)),
                    equal_to([("bad", "decontam", "contaminated", "HumanEval/0")]),
                    label="drops")


def test_a_document_read_twice_is_kept_once():
    text = _text(7)
    rec = _rec("twice", text)
    with TestPipeline() as p:
        kept, drops, _, _ = p | beam.Create([rec, rec]) | Deduplicate(DedupSpec())
        assert_that(kept | beam.Map(lambda r: r.path), equal_to(["twice"]), label="kept")
        assert_that(drops | beam.Map(lambda d: d.reason), equal_to(["exact_duplicate"]),
                    label="drops")


def _reference(recs: list[Record], spec: DedupSpec) -> dict[str, Membership]:
    """``dedup.near.near_duplicates`` (in memory) over the records' own fingerprints."""
    bands, rows = spec.lsh_params()
    docs = []
    for r in recs:
        hashes = shingle_hashes(r.text, spec.ngram)
        docs.append(NearDocument(r.id, keeper_rank(r), hashes,
                                 signature(hashes, spec.num_perm, spec.seed)))
    return near_duplicates(docs, threshold=spec.threshold, bands=bands, rows=rows,
                           verify=spec.verify, bound_chaining=spec.bound_chaining).members


@pytest.mark.parametrize("bound_chaining", [False, True])
@pytest.mark.parametrize("verify", ["exact", "signature"])
def test_deduplicate_agrees_with_the_reference_on_chained_clusters(verify, bound_chaining):
    texts = chained_corpus(3, chains=12, links=6, singles=6, steps=(15, 16, 17, 18, 19))
    recs = [_rec(f"doc{i}", text, stars=i % 7) for i, text in enumerate(texts)]
    spec = DedupSpec(verify=verify, bound_chaining=bound_chaining)
    expected = _reference(recs, spec)
    chained = [m for m in expected.values() if m.chained]
    assert len({m.cluster for m in expected.values() if m.size > 2}) >= 8
    assert len(chained) >= 10
    with TestPipeline() as p:
        kept, drops, rows, counts = p | beam.Create(recs) | Deduplicate(spec)
        assert_that(rows | beam.Map(json.loads) | beam.Map(
            lambda r: (r["id"], Membership(r["cluster"], r["size"], r["kept"], r["chained"]))),
            equal_to(list(expected.items())), label="rows")
        assert_that(drops | beam.Map(lambda d: (d.id, d.reason)), equal_to(
            [(i, "near_duplicate") for i, m in expected.items() if not m.kept]), label="drops")
        assert_that(kept | beam.Map(lambda r: r.id), equal_to(
            [r.id for r in recs if expected.get(r.id, Membership("", 1, True)).kept]),
            label="kept")
        assert_that(counts | beam.CombinePerKey(sum)
                    | beam.Filter(lambda kv: kv[0] == ("dedup", "chained")),
                    equal_to([(("dedup", "chained"), len(chained))]), label="chained")
