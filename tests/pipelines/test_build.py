"""The whole build through Beam on DirectRunner, on a corpus generated at test time."""

from __future__ import annotations

import json
import pathlib

import pytest

from apache_beam.options.pipeline_options import PipelineOptions

from chains import chained_corpus, write_chain_build
from codemix.cli import main
from corpus import SECRETS, expected_drops, make_corpus
from pipelines import transforms
from pipelines.config import PiiSpec
from pipelines.main import check_runner, run, summary
from pipelines.pii import redact
from shards.format import Shard
from snapshot import snapshot
from shards.manifest import load_manifest, resolve
from tokenizer.encode import decode
from tokenizer.load import load_tokenizer


def _stats(out: pathlib.Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def test_every_document_is_accounted_for(built_corpus):
    stats = _stats(built_corpus)
    assert stats["balanced"]
    for name, comp in stats["components"].items():
        assert comp["in"] == comp["kept"] + sum(comp["dropped"].values()), name


def test_stats_count_exactly_the_planted_drops(built_corpus):
    stats = _stats(built_corpus)
    expected: dict[str, dict[str, int]] = {name: {} for name in stats["components"]}
    for (component, _, reason), n in expected_drops().items():
        expected[component][reason] = expected[component].get(reason, 0) + n
    assert {name: c["dropped"] for name, c in stats["components"].items()} == expected


def test_stage_counts_follow_the_pipeline(built_corpus):
    stages = _stats(built_corpus)["stages"]
    for comp in ("code-python", "text-docs"):
        for before, after in (("read", "clean"), ("clean", "filter"), ("filter", "redact"),
                              ("redact", "decontam"), ("decontam", "dedup"),
                              ("dedup", "parse"), ("parse", "tokenize")):
            entered = stages[before]["in"].get(comp, 0)
            dropped = stages[before]["dropped"].get(comp, 0)
            assert stages[after]["in"].get(comp, 0) == entered - dropped, (comp, before)


def test_manifest_names_verified_shards_that_decode_to_the_source(built_corpus):
    url = str(built_corpus / "manifest.json")
    manifest = load_manifest(url, verify=True)
    assert [c.name for c in manifest.components] == ["code-c", "code-python", "pairs",
                                                     "text-docs"]
    assert manifest.token_dtype == "uint16" and manifest.tokenizer.vocab_size == 1024
    tok = load_tokenizer(resolve(url, manifest.tokenizer.path))
    py = manifest.component("code-python")
    assert len(py.shards) > 1, "target_tokens is small enough to split code-python"
    source_dir = built_corpus.parent / "code" / "py"
    seen = 0
    for entry in py.shards:
        with Shard(resolve(url, entry.path)) as shard:
            assert (len(shard), shard.num_tokens) == (entry.docs, entry.tokens)
            ids = [shard.meta(i)["id"] for i in range(len(shard))]
            assert ids == sorted(ids)
            for i in range(len(shard)):
                meta = shard.meta(i)
                if meta["repo"] == "demo-py":  # the other inputs are checked below
                    # Lossless but for redaction (author emails in the stdlib's headers).
                    source, _ = redact((source_dir / meta["path"]).read_text(), PiiSpec().kinds)
                    assert decode(tok, shard.tokens(i).tolist()) == source
                    seen += 1
    assert seen == _stats(built_corpus)["components"]["code-python"]["sources"]["demo-py"]["kept"]


def test_pairs_are_docstring_sep_code(built_corpus):
    url = str(built_corpus / "manifest.json")
    manifest = load_manifest(url, verify=False)
    pairs = manifest.component("pairs")
    sep = manifest.tokenizer.special_tokens["<sep>"]
    tok = load_tokenizer(resolve(url, manifest.tokenizer.path))
    files = {meta["id"]: text for name in ("code-python", "code-c")
             for meta, text in _documents(built_corpus, name)}
    langs = set()
    for entry in pairs.shards:
        with Shard(resolve(url, entry.path)) as shard:
            for tokens, meta in shard:
                assert list(tokens).count(sep) == 1
                langs.add(meta["lang"])
                doc, code = decode(tok, tokens.tolist()).split("<sep>")
                assert doc.strip() and code.strip()
                # Each pair names the kept code file it was cut from (the pair's code is
                # the function without its docstring: its first line is in the file).
                assert code.strip().splitlines()[0] in files[meta["source_id"]]
    assert langs == {"c", "python"}


def test_stats_report_parsing_and_pairs_per_language(built_corpus):
    parse = _stats(built_corpus)["parse"]
    assert set(parse["languages"]) == {"c", "python"}
    for lang in ("c", "python"):
        entry = parse["languages"][lang]
        assert entry["parsed"] > 0 and entry["pairs"] > 0
        assert entry["pairs_per_mb"] == round(entry["pairs"] / (entry["bytes"] / 1e6), 3)


def test_same_input_and_config_give_identical_bytes(tmp_path):
    config = make_corpus(tmp_path)
    out = tmp_path / "out"

    assert run([str(config)]) == 0
    first = snapshot(out)
    assert run([str(config), "--runner=PortableRunner", "--job_endpoint=embed",
                "--environment_type=LOOPBACK"]) == 0
    assert snapshot(out) == first
    assert {"manifest.json", "stats.json", "tokenizer.json"} <= set(first)


DIRECT_SPELLINGS = [
    None, "DirectRunner", "directrunner", "DIRECTRUNNER", "direct", "Direct",
    "SwitchingDirectRunner", "switchingdirect", "BundleBasedDirectRunner",
    "bundlebaseddirectrunner", "TestDirectRunner", "testdirect",
    "apache_beam.runners.direct.direct_runner.DirectRunner",
    "apache_beam.runners.direct.direct_runner.SwitchingDirectRunner",
    "apache_beam.runners.direct.direct_runner.BundleBasedDirectRunner",
    "apache_beam.runners.direct.test_direct_runner.TestDirectRunner",
    "apache_beam.runners.portability.fn_api_runner.FnApiRunner",
    "apache_beam.runners.portability.fn_api_runner.fn_runner.FnApiRunner",
]
"""Every way to name a runner that runs the pipeline in FnApiRunner (None: no --runner)."""


@pytest.fixture(scope="module")
def corpus_config(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("refusal"))


@pytest.mark.parametrize("mode", [None, "in_memory", "multi_threading", "multi_processing"])
@pytest.mark.parametrize("runner", DIRECT_SPELLINGS)
def test_parallel_direct_workers_are_refused_in_one_line(corpus_config, capsys, runner, mode):
    argv = ["build", str(corpus_config), "--direct_num_workers=2"]
    argv += [f"--runner={runner}"] * (runner is not None)
    argv += [f"--direct_running_mode={mode}"] * (mode is not None)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("codemix: error: ") and "loses elements" in err
    assert err.count("\n") == 1
    assert not (corpus_config.parent / "out").exists()


@pytest.mark.parametrize("workers", ["0", "4", "-1"])
def test_every_worker_count_but_one_is_refused(corpus_config, capsys, workers):
    assert main(["build", str(corpus_config), f"--direct_num_workers={workers}"]) == 2
    assert "loses elements" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    [], ["--direct_num_workers=1"], ["--direct_running_mode=multi_processing"],
    ["--runner=PortableRunner", "--job_endpoint=embed", "--direct_num_workers=2"],
    ["--runner=FlinkRunner", "--direct_num_workers=2"],
    ["--runner=no.such.Runner", "--direct_num_workers=2"],
])
def test_one_direct_worker_and_other_runners_pass_the_check(argv):
    check_runner(PipelineOptions(argv))


def _documents(out: pathlib.Path, component: str) -> list[tuple[dict, str]]:
    """Every (metadata, decoded text) of a component's shards."""
    url = str(out / "manifest.json")
    manifest = load_manifest(url, verify=False)
    tok = load_tokenizer(resolve(url, manifest.tokenizer.path))
    docs = []
    for entry in manifest.component(component).shards:
        with Shard(resolve(url, entry.path)) as shard:
            docs += [(meta, decode(tok, tokens.tolist())) for tokens, meta in shard]
    return docs


def test_drop_log_lists_exactly_the_planted_drops(built_corpus):
    stats = _stats(built_corpus)
    rows = [json.loads(line) for name in stats["drop_log"]
            for line in (built_corpus / name).read_text().splitlines()]
    logged: dict[tuple[str, str, str], int] = {}
    for row in rows:
        key = (row["component"], row["stage"], row["reason"])
        logged[key] = logged.get(key, 0) + 1
    assert logged == expected_drops()
    truncated = [r for r in rows if r["reason"] == "truncated"]
    assert len(truncated) == 1 and "cut.jsonl.zst" in truncated[0]["id"]


def test_every_source_balances_and_reports_bytes(built_corpus):
    py = _stats(built_corpus)["components"]["code-python"]
    assert set(py["sources"]) == {"demo-py", "extra", "tarballs", "gitrepo", "the-stack"}
    for label, source in py["sources"].items():
        assert source["balanced"], label
        assert source["bytes_in"] > 0, label
    assert py["bytes_in"] == sum(s["bytes_in"] for s in py["sources"].values())


def test_every_input_format_reaches_the_shards(built_corpus):
    paths = {(meta["repo"], meta["path"]) for meta, _ in _documents(built_corpus, "code-python")}
    assert ("extra", "caf\\xe9.py") in paths            # a file name that is not UTF-8
    assert ("demo-repo-abc123", "pkg/graphs.py") in paths  # from the tarball
    assert ("gitrepo", "tokens.py") in paths               # committed, not the edit
    assert ("py/cpython", "pprint.py") in paths            # The Stack
    assert not any(path == "untracked.py" for _, path in paths)
    texts = {path: text for (meta, text) in _documents(built_corpus, "code-python")
             for path in [meta["path"]]}
    assert not texts["tokens.py"].startswith("# uncommitted")


def test_repository_license_reaches_its_documents(built_corpus):
    licenses = {meta["path"]: meta["license"] for meta, _ in _documents(built_corpus, "code-python")}
    assert licenses["pkg/graphs.py"] == "MIT"
    assert licenses["pprint.py"] == "PSF-2.0"


def test_secrets_are_redacted_and_counted(built_corpus):
    edits = _stats(built_corpus)["components"]["code-python"]["edits"]
    extra = _stats(built_corpus)["components"]["code-python"]["sources"]["extra"]["edits"]
    for kind in SECRETS:
        assert edits.get(kind, 0) >= 1 and extra.get(kind, 0) >= 1, kind
    (settings,) = [text for meta, text in _documents(built_corpus, "code-python")
                   if meta["path"] == "settings.py"]
    for kind, values in SECRETS.items():
        for value in values:
            assert value not in settings
    assert "<KEY>" in settings and "<EMAIL>" in settings and "<PASSWORD>" in settings
    assert 'RELEASE = "1.2.3.4"' in settings  # a version string is not an IP address


def test_clusters_side_file_and_kept_documents_name_their_cluster(built_corpus):
    stats = _stats(built_corpus)
    rows = [json.loads(line) for name in stats["clusters"]
            for line in (built_corpus / name).read_text().splitlines()]
    near = [r for r in rows if r["kind"] == "near"]
    exact = [r for r in rows if r["kind"] == "exact"]
    assert len(near) == 2 and sum(r["kept"] for r in near) == 1
    assert len(exact) >= 2 and sum(not r["kept"] for r in exact) == \
        sum(c["dropped"].get("exact_duplicate", 0) for c in stats["components"].values())
    assert stats["dedup"]["candidates"] >= 1 and stats["dedup"]["chained"] == 0
    metas = {meta["id"]: meta for meta, _ in _documents(built_corpus, "code-python")}
    (keeper,) = [r for r in near if r["kept"]]
    assert (metas[keeper["id"]]["cluster"], metas[keeper["id"]]["cluster_size"]) == (
        keeper["cluster"], 2)
    assert all(m["cluster_size"] == 1 for i, m in metas.items() if i != keeper["id"])


def test_shard_metadata_names_each_documents_input(built_corpus):
    sources = {meta["source"] for meta, _ in _documents(built_corpus, "code-python")}
    assert sources == {"demo-py", "extra", "tarballs", "gitrepo", "the-stack"}


def test_an_unbalanced_build_fails_in_one_line_and_writes_no_manifest(tmp_path, monkeypatch,
                                                                      capsys):
    # A bug planted on purpose: near-duplicate drops go uncounted.
    counted = transforms._drop_counts
    monkeypatch.setattr(transforms, "_drop_counts", lambda drop: (
        [] if drop.reason == "near_duplicate" else counted(drop)))
    config = write_chain_build(tmp_path, chained_corpus(0, chains=1, links=5))
    assert main(["build", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("codemix: error: stats.json does not balance (text: 5 in, 1 kept, "
                          "0 dropped)")
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert _stats(tmp_path / "out")["balanced"] is False


def test_encoder_paths_are_counted_in_stats_and_the_summary(built_corpus):
    stats = _stats(built_corpus)
    encoded = sum(stats["stages"]["tokenize"]["in"].values())
    assert stats["encoder"] == {"fast": encoded, "fallback": 0, "fallback_reasons": {}}
    lines = summary(stats, str(built_corpus))
    assert f"  encoder: {encoded} documents by tiktoken, 0 by tokenizers" in lines
