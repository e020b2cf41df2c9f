"""``scripts/local-cluster.sh``: each user error is one line and a non-zero exit."""

from __future__ import annotations

import shutil
import socket

from clusters import script


def test_the_script_says_one_line_for_each_user_error(tmp_path):
    usage = script("storm", "up")
    assert usage.returncode != 0 and usage.stderr.count("\n") == 1
    workers = script("spark", "up", "two")
    assert workers.returncode != 0 and "WORKERS" in workers.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        base = busy.getsockname()[1] - 8081  # Flink's REST port lands on the busy one
        taken = script("flink", "up", env={"CODEMIX_PORT_BASE": str(base),
                                            "CODEMIX_CLUSTER_DIR": str(tmp_path / "state")})
    assert taken.returncode != 0
    assert taken.stderr.strip().count("\n") == 0 and "in use" in taken.stderr
    # Every tool the script uses before it looks for Java, and no Java.
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "dirname", "mkdir", "rm", "cat", "basename", "sleep", "seq"):
        (tools / tool).symlink_to(shutil.which(tool))
    no_java = script("spark", "up", env={"PATH": str(tools),
                                         "CODEMIX_CLUSTER_DIR": str(tmp_path / "state")})
    assert no_java.returncode != 0
    assert no_java.stderr.strip().count("\n") == 0 and "Java" in no_java.stderr
