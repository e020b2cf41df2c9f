"""The report's pieces: charts say when there is nothing to draw; the page stands alone."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from report.svg import bars, histogram, lines, stacked


def test_a_chart_without_data_is_a_note_not_an_empty_frame():
    for html in (bars("b", "B", [("x", 0)]), stacked("s", "S", [("x", {})]),
                 histogram("h", "H", [("1", 0)], "n"), lines("l", "L", {"a": []}, "x", "y")):
        assert "<svg" not in html and "nothing to show" in html


def test_every_mark_carries_its_exact_value_and_long_labels_are_cut_from_the_left():
    label = "component / " + "a" * 60 + "/input"
    html = bars("b", "B", [(label, 1234), ("short", 5)])
    assert len(re.findall(r'class="mark"', html)) == 2
    assert f"<title>{label}: 1,234</title>" in html
    assert "…" in html and "short</text>" in html


def test_importing_the_report_imports_neither_beam_nor_torch():
    code = ("import sys, report; "
            "print(sorted(m for m in ('apache_beam', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.strip() == "[]", result.stderr


def test_the_largest_clusters_name_their_kept_and_dropped_copies(built_corpus):
    from report.corpus import corpus_sections

    html = "".join(corpus_sections(str(built_corpus)))
    rows = [json.loads(line) for f in sorted((built_corpus / "clusters").glob("*.jsonl"))
            for line in f.read_text().splitlines()]
    dropped = {json.loads(line)["id"]: json.loads(line)
               for f in sorted((built_corpus / "drops").glob("*.jsonl"))
               for line in f.read_text().splitlines()}
    # The corpus plants a near copy: its dropped member's path is in the page, taken from
    # the drop log (the clusters side file has ids only).
    near = [r for r in rows if r["kind"] == "near" and not r["kept"]]
    assert near
    for row in near:
        drop = dropped[row["id"]]
        assert drop["stage"] == "dedup" and drop["reason"] == "near_duplicate"
        assert drop["detail"].endswith(".py") and drop["detail"] in html
