"""training.benchmark.sandbox: real subprocesses under real limits."""

from __future__ import annotations

import os
import tempfile
import time

import pytest

from training.benchmark.sandbox import Limits, Outcome, network_isolation, run_program, \
    run_programs

QUICK = Limits(timeout_s=5.0)


def test_a_program_that_runs_to_its_end_passes():
    assert run_program("import math, hashlib\nassert math.gcd(4, 6) == 2\n", QUICK) == \
        Outcome(True, "passed")


def test_an_exception_fails_with_its_last_line():
    outcome = run_program("raise ValueError('nope')\n", QUICK)
    assert outcome == Outcome(False, "failed", "ValueError: nope")


@pytest.mark.parametrize("source", ["import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n",
                                    "raise SystemExit\n"])
def test_exiting_early_is_not_a_pass(source):
    assert not run_program(source + "assert False\n", QUICK).passed


def test_a_loop_forever_is_stopped_at_the_time_limit():
    start = time.monotonic()
    outcome = run_program("while True:\n    pass\n", Limits(timeout_s=1.0))
    assert outcome == Outcome(False, "timed out", "still running after 1 s")
    assert time.monotonic() - start < 30


def test_a_fork_is_refused():
    outcome = run_program("import os\npid = os.fork()\nif pid == 0:\n"
                          "    while True:\n        pass\n", QUICK)
    assert not outcome.passed and "os.fork" in outcome.detail


def test_subprocesses_are_refused():
    outcome = run_program("import subprocess\nsubprocess.run(['true'])\n", QUICK)
    assert not outcome.passed and "subprocess.Popen" in outcome.detail


def test_the_network_is_unreachable():
    outcome = run_program("import socket\nsocket.create_connection(('1.1.1.1', 80), 2)\n",
                          QUICK)
    assert not outcome.passed and outcome.detail.startswith("PermissionError: sandbox: socket.")
    assert network_isolation() in ("namespace", "audit hook")


def test_memory_is_limited():
    outcome = run_program("x = bytearray(1 << 30)\n", Limits(timeout_s=5.0,
                                                                 memory_bytes=256 << 20))
    assert outcome == Outcome(False, "failed", "MemoryError")


def test_large_files_are_refused_and_the_directory_is_fresh_and_removed():
    seen = run_program("import os\nassert sorted(os.listdir('.')) == ['program.py', 'stderr']\n"
                       "open('out', 'w').write('x' * 10)\n", QUICK)
    assert seen.passed
    big = run_program("open('out', 'w').write('x' * (2 << 20))\n", QUICK)
    assert not big.passed and "File too large" in big.detail
    leftovers = [n for n in os.listdir(tempfile.gettempdir())
                 if n.startswith("codemix-sandbox-")]
    assert leftovers == []


def test_the_environment_is_not_inherited(monkeypatch):
    monkeypatch.setenv("CODEMIX_SECRET", "x")
    assert run_program("import os\nassert 'CODEMIX_SECRET' not in os.environ\n", QUICK).passed


def test_many_programs_keep_their_order():
    sources = [f"assert {i} % 2 == 0\n" for i in range(6)]
    assert [o.passed for o in run_programs(sources, QUICK, workers=2)] == \
        [True, False, True, False, True, False]


def test_limits_are_validated():
    with pytest.raises(ValueError):
        Limits(timeout_s=0)
