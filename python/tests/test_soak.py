"""Memory stays flat across many messages through the Python API: the short form of
bench/python/soak.py (120k messages sent by send_sync / send_batch / send_oneway, each
delivered to a push consumer callback and read back by a pull consumer; RSS after a warm-up
against RSS at the end). The full form (2 million) is recorded in bench/README.md."""

import os
import subprocess
import sys

import pytest

SOAK = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "python", "soak.py")
MESSAGES = int(os.environ.get("ROCKETMQ_SOAK_MESSAGES", "120000"))


@pytest.mark.soak
@pytest.mark.skipif(not os.path.exists(SOAK), reason="needs the repository's bench/python/soak.py")
def test_memory_is_flat_across_many_messages(tmp_path):
    # A process of its own: pytest's memory is not the client's, and the broker runs in a
    # child of that process (its mapped store would count as resident otherwise).
    r = subprocess.run(
        [sys.executable, SOAK, "--messages", str(MESSAGES), "--warmup", str(MESSAGES // 5),
         "--samples", "5", "--timeout", "600"],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=900,
    )
    out = r.stdout + r.stderr
    summary = [line for line in out.splitlines() if line.startswith("SOAK ")]
    assert summary, out
    print(summary[0])
    assert r.returncode == 0 and "result=ok" in summary[0], out
