"""training.benchmark.humaneval: the harness on the real problems, and `codemix eval`."""

from __future__ import annotations

import json

import pytest
from corpus_builder import assert_one_error_line, run_codemix

from training.benchmark import humaneval
from training.benchmark.sandbox import Limits

LIMITS = Limits(timeout_s=20.0)  # generous: the machine running the tests may be busy


@pytest.fixture(scope="module")
def problems():
    return humaneval.load_problems()


def test_the_installed_data_has_164_problems_in_order(problems):
    assert len(problems) == 164
    assert [p.task_id for p in problems] == [f"HumanEval/{i}" for i in range(164)]
    assert all(p.index == i for i, p in enumerate(problems))
    assert humaneval.load_problems(limit=3) == problems[:3]


def test_every_canonical_solution_scores_pass_at_1_of_one(problems):
    completions = [[p.canonical_solution] for p in problems]
    outcomes = humaneval.score(problems, completions, LIMITS, workers=2)
    failed = [(p.task_id, o[0].detail) for p, o in zip(problems, outcomes) if not o[0].passed]
    assert failed == []
    assert humaneval.report(problems, completions, outcomes, [1])["pass@k"] == {"1": 1.0}


def test_an_empty_body_scores_zero(problems):
    completions = [["    pass\n"] for _ in problems]
    outcomes = humaneval.score(problems, completions, LIMITS, workers=2)
    passed = [p.task_id for p, o in zip(problems, outcomes) if o[0].passed]
    assert passed == []
    assert humaneval.report(problems, completions, outcomes, [1])["pass@k"] == {"1": 0.0}


def test_pass_at_k_counts_samples_per_problem(problems):
    few = problems[:2]
    good = [p.canonical_solution for p in few]
    completions = [[good[0], "    pass\n", good[0], "    pass\n"],
                   ["    pass\n", "    return None\n", "    pass\n", good[1]]]
    outcomes = humaneval.score(few, completions, LIMITS, workers=2)
    result = humaneval.report(few, completions, outcomes, [1, 2])
    assert [t["passed"] for t in result["tasks"]] == [2, 1]
    # pass@1 = (2/4 + 1/4) / 2; pass@2 = ((1 - C(2,2)/C(4,2)) + (1 - C(3,2)/C(4,2))) / 2
    assert result["pass@k"] == pytest.approx({"1": 0.375, "2": ((1 - 1 / 6) + 0.5) / 2})
    assert result["n"] == 4 and result["problems"] == 2
    assert result["tasks"][0]["samples"][1] == {"completion": "    pass\n", "status": "failed",
                                                "detail": "AssertionError"}


@pytest.mark.parametrize("body", [
    "    while True:\n        pass\n",
    "    import os\n    os.fork()\n    return True\n",
    "    import socket\n    socket.create_connection(('example.com', 80), 1)\n",
])
def test_a_hostile_sample_is_stopped_and_fails(problems, body):
    outcome = humaneval.score(problems[:1], [[body]], Limits(timeout_s=2.0))[0][0]
    assert not outcome.passed


def test_completions_are_cut_at_the_next_top_level_statement():
    body = "    return 1\n"
    for stop in humaneval.STOP_SEQUENCES:
        assert humaneval.truncate(body + stop + " rest") == body
    assert humaneval.truncate(body) == body
    indented = "    x = 1\n    # a comment in the body\n    if x:\n        print(x)\n"
    assert humaneval.truncate(indented) == indented
    assert humaneval.truncate("\ndef f(): pass") == ""


def test_the_program_runs_the_check_on_the_entry_point(problems):
    p = problems[0]
    text = humaneval.program(p, "    return False\n")
    assert text.startswith(p.prompt + "    return False\n")
    assert p.test in text and text.endswith(f"check({p.entry_point})\n")


def test_sample_seeds_depend_on_run_problem_and_sample():
    seeds = {humaneval.sample_seed(s, i, j) for s in range(2) for i in range(3) for j in range(3)}
    assert len(seeds) == 18 and all(0 <= s < 2**63 for s in seeds)
    assert humaneval.sample_seed(0, 1, 2) == humaneval.sample_seed(0, 1, 2)


# --- end to end: `codemix eval` on a checkpoint the trainer wrote ---


def test_eval_prints_pass_at_k_and_writes_every_sample(trained_checkpoint, tmp_path, capsys):
    cfg, ckpt = trained_checkpoint
    out = tmp_path / "humaneval.json"
    args = ["eval", ckpt, "--config", cfg, "--benchmark", "humaneval", "--limit", "2",
            "--n", "3", "--k", "1,3", "--temperature", "1.0", "--max-new-tokens", "8",
            "--seed", "5", "--out", str(out)]
    status, printed, err = run_codemix(capsys, *args)
    assert status == 0, err
    summary = json.loads(printed)
    assert summary["problems"] == 2 and summary["n"] == 3 and summary["benchmark"] == "humaneval"
    assert set(summary["pass@k"]) == {"1", "3"} and "tasks" not in summary
    assert all(0.0 <= v <= 1.0 for v in summary["pass@k"].values())
    full = json.loads(out.read_text())
    assert {k: v for k, v in full.items() if k != "tasks"} == \
        {k: v for k, v in summary.items() if k != "results"}
    assert summary["results"] == str(out)
    assert [t["task_id"] for t in full["tasks"]] == ["HumanEval/0", "HumanEval/1"]
    samples = [s for t in full["tasks"] for s in t["samples"]]
    assert len(samples) == 6
    # A 4-step model writes no solution: every sample ran and failed, and says why.
    assert all(s["status"] in ("failed", "timed out") and s["detail"] for s in samples)
    assert all(s["completion"] == humaneval.truncate(s["completion"]) for s in samples)
    # The seed fixes the samples.
    assert run_codemix(capsys, *args)[0] == 0
    assert json.loads(out.read_text())["tasks"] == full["tasks"]


def test_eval_completions_are_the_model_generations(trained_checkpoint):
    from tokenizer.encode import decode
    from training import generate
    from training.config import load_config

    cfg, ckpt = trained_checkpoint
    model, tok, specials = generate.load_model(ckpt, load_config(cfg))
    problem = humaneval.load_problems(limit=1)[0]
    [[completion]] = humaneval.complete(model, tok, specials, [problem], n=1, temperature=0.0,
                                        seed=0, max_new_tokens=12)
    new = generate.generate(model, generate.document_prompt(tok, problem.prompt, specials),
                            max_new_tokens=12, stop_ids={specials.eot})
    text = decode(tok, new[:-1] if new[-1] == specials.eot else new)
    assert completion == humaneval.truncate(text)


def test_eval_writes_into_the_run_by_default_and_the_report_shows_it(trained_checkpoint,
                                                                      capsys):
    from report.training import training_sections
    from training.config import load_config

    cfg, ckpt = trained_checkpoint
    status, printed, err = run_codemix(capsys, "eval", ckpt, "--config", cfg, "--benchmark",
                                       "humaneval", "--limit", "1", "--n", "1",
                                       "--temperature", "0", "--max-new-tokens", "4")
    assert status == 0, err
    summary = json.loads(printed)
    assert list(summary["pass@k"]) == ["1"] and summary["temperature"] == 0.0  # k <= n
    run_dir = load_config(cfg).training.output_dir
    assert summary["results"] == f"{run_dir}/eval/humaneval-step-000004.json"
    assert json.loads(open(summary["results"]).read())["tasks"][0]["task_id"] == "HumanEval/0"
    page = "".join(training_sections(run_dir))
    assert "<h2>HumanEval</h2>" in page and "humaneval-step-000004.json" in page
    assert "<th>pass@1</th>" in page


def test_eval_user_errors_are_one_line(trained_checkpoint, tmp_path, capsys):
    cfg, ckpt = trained_checkpoint
    base = ["eval", ckpt, "--config", cfg, "--benchmark", "humaneval", "--limit", "1"]
    status, _, err = run_codemix(capsys, *base, "--n", "2", "--k", "1,5")
    assert status == 2
    assert_one_error_line(err, "--k 5 is more than --n 2")
    status, _, err = run_codemix(capsys, *base, "--n", "2", "--k", "1", "--temperature", "0")
    assert status == 2
    assert_one_error_line(err, "greedy")
    status, _, err = run_codemix(capsys, *base, "--n", "1", "--temperature", "0",
                                 "--out", str(tmp_path / "no" / "x.json"))
    assert status == 2
    assert_one_error_line(err, "cannot write")
    status, _, err = run_codemix(capsys, "eval", str(tmp_path / "nope"), "--config", cfg,
                                 "--benchmark", "humaneval", "--n", "1", "--k", "1")
    assert status == 2
    assert_one_error_line(err, "no checkpoint at")
