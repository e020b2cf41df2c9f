"""Syntax spans and loss-mask ranges: character ranges from the parse stage, token ranges in
the shards that fall on token boundaries and decode to the same text."""

from __future__ import annotations

import pathlib
import sysconfig

import pytest

from code_samples import VALID
from corpus import LICENSED_C
from pipelines.parse import analyze
from pipelines.records import Record
from pipelines.spans import (NO_LOSS_KEY, SYNTAX_KEY, assemble, cut, document_ranges,
                             line_range, line_starts, normalize, parse_ranges,
                             placeholder_ranges, top_level)
from shards.format import Shard
from shards.manifest import load_manifest, resolve
from shards.ranges import range_fault
from tokenizer.encode import decode, encode_batch
from tokenizer.load import load_tokenizer
from tokenizer.train import train_bpe

PY = '''# Copyright (c) 2020 Example. Licensed under the MIT License.
# SPDX-License-Identifier: MIT

import os


@decorator
def outer(x):
    def inner():
        return x
    return inner()


class Box:
    def get(self):
        return 1
def tail(): return 2
'''


def test_top_level_keeps_outermost_definitions_only():
    result = analyze(PY, "python")
    assert top_level(result) == [(7, 11), (14, 16), (17, 17)]
    assert result.header_lines == 2


def test_line_ranges_are_whole_lines():
    starts = line_starts(PY)
    a, b = line_range(PY, starts, 7, 11)
    assert PY[a:b].startswith("@decorator\n") and PY[a:b].endswith("return inner()")
    assert line_range(PY, starts, 17, 17) == (PY.index("def tail"), len(PY) - 1)


def test_parse_ranges_adds_the_license_header_only_when_asked():
    result = analyze(PY, "python")
    assert NO_LOSS_KEY not in parse_ranges(PY, result, ())
    ranges = parse_ranges(PY, result, ("license_header",))
    (a, b), = ranges[NO_LOSS_KEY]
    assert PY[a:b] == "".join(PY.splitlines(keepends=True)[:2]).rstrip("\n")
    assert [PY[a:b].split("\n")[0] for a, b in ranges[SYNTAX_KEY]] == [
        "@decorator", "class Box:", "def tail(): return 2"]


def test_no_header_without_license_words():
    assert analyze("# just a comment\nx = 1\n", "python").header_lines == 0
    assert analyze("x = 1\n# Copyright 2020 X\n", "python").header_lines == 0
    assert analyze(LICENSED_C, "c").header_lines == 3


def test_normalize_merges_overlaps_but_keeps_touching_ranges_apart():
    assert normalize([[5, 9], [0, 3], [3, 4], [8, 12], [20, 30], [7, 7]], 25) == [
        (0, 3), (3, 4), (5, 12), (20, 25)]


def test_placeholders_are_found():
    text = "a <EMAIL> b <KEY><KEY> c <IP_ADDRESS>"
    assert [text[a:b] for a, b in placeholder_ranges(text)] == [
        "<EMAIL>", "<KEY>", "<KEY>", "<IP_ADDRESS>"]


@pytest.fixture(scope="module")
def tokenizer():
    stdlib = pathlib.Path(sysconfig.get_paths()["stdlib"])
    texts = [(stdlib / name).read_text() for name in ("textwrap.py", "heapq.py", "bisect.py")]
    return train_bpe(texts, vocab_size=600)


def test_token_ranges_fall_on_boundaries_and_decode_to_the_characters(tokenizer):
    record = Record(id="x", text=PY + "email = '<EMAIL>'\n", kind="code", lang="python",
                    component="c")
    result = analyze(record.text, "python")
    record = record.replace(meta=parse_ranges(record.text, result, ("license_header",)))
    ranges = document_ranges(record, ("license_header", "pii"))
    pieces = cut(record.text, ranges)
    assert "".join(pieces) == record.text
    ids, tokens = assemble(pieces, encode_batch(tokenizer, pieces), ranges)
    assert decode(tokenizer, ids.tolist()) == record.text
    # The codemix split pattern already cuts at line starts: whole-line ranges leave the ids
    # as the whole text gives them.
    lines = {SYNTAX_KEY: ranges["spans"], NO_LOSS_KEY: ranges["no_loss"][:1]}
    line_pieces = cut(record.text, lines)
    assert assemble(line_pieces, encode_batch(tokenizer, line_pieces), lines)[0].tolist() == \
        encode_batch(tokenizer, [record.text])[0].tolist()
    for name, char_ranges in ranges.items():
        assert [decode(tokenizer, ids[a:b].tolist()) for a, b in tokens[name]] == [
            record.text[a:b] for a, b in char_ranges]
    assert range_fault(tokens, len(ids)) is None
    assert decode(tokenizer, ids[slice(*tokens["no_loss"][-1])].tolist()) == "<EMAIL>"


def test_range_fault_names_bad_ranges():
    assert range_fault({}, 10) is None
    assert "outside" in range_fault({"spans": [[0, 11]]}, 10)
    assert "out of order" in range_fault({"no_loss": [[4, 6], [2, 3]]}, 10)
    assert "pairs" in range_fault({"spans": [[1, 2, 3]]}, 10)


def test_built_shards_carry_spans_and_loss_masks(built_corpus):
    url = str(built_corpus / "manifest.json")
    manifest = load_manifest(url, verify=False)
    tok = load_tokenizer(resolve(url, manifest.tokenizer.path))
    found = {}
    for name in ("code-c", "code-python"):
        for entry in manifest.component(name).shards:
            with Shard(resolve(url, entry.path)) as shard:
                for i in range(len(shard)):
                    meta, ids = shard.meta(i), shard.tokens(i).tolist()
                    assert range_fault(meta, len(ids)) is None
                    found[(name, meta["path"])] = {
                        key: [decode(tok, ids[a:b]) for a, b in meta.get(key, ())]
                        for key in ("spans", "no_loss")}
    licensed = found[("code-c", "licensed.c")]
    assert licensed["no_loss"] == [LICENSED_C.split("\n#include")[0], "<EMAIL>"]
    assert [s.splitlines()[0] for s in licensed["spans"]] == [
        "static int vowels(const char *s) {", "int main(void) {"]
    # code-python asks for no loss mask, but every parsed file has its definitions.
    assert all(not f["no_loss"] for (name, _), f in found.items() if name == "code-python")
    heapq = found[("code-python", "heapq.py")]["spans"]
    assert any(s.startswith("def heappush(") for s in heapq)


@pytest.mark.parametrize("lang", sorted(lang for lang, (_, names) in VALID.items() if names))
def test_every_programming_language_gets_top_level_spans(tokenizer, lang):
    text, names = VALID[lang]
    result = analyze(text, lang, "sample.tsx" if lang == "tsx" else "")
    ranges = parse_ranges(text, result, ())
    spans = ranges[SYNTAX_KEY]
    assert len(spans) == len(names)
    for (a, b), name in zip(spans, names):
        # Each span is a top-level definition's whole lines, its name on its first line.
        assert a == 0 or text[a - 1] == "\n"
        assert name.split(".")[-1] in text[a:b].split("\n")[0]
    record = Record(id="x", text=text, kind="code", lang=lang, component="c", meta=ranges)
    doc_ranges = document_ranges(record, ())
    pieces = cut(text, doc_ranges)
    ids, tokens = assemble(pieces, encode_batch(tokenizer, pieces), doc_ranges)
    assert [decode(tokenizer, ids[a:b].tolist()) for a, b in tokens["spans"]] == [
        text[a:b] for a, b in spans]
