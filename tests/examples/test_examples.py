"""The scripts under examples/ run as a user would run them: in a fresh interpreter, quickly."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LIMIT_S = 60.0


def _run(script: str, tmp_path: Path) -> tuple[str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=tmp_path,  # nothing may depend on the working directory
        capture_output=True,
        text=True,
        timeout=LIMIT_S * 2,
        check=False,
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr
    return done.stdout, seconds


def test_quickstart_fits_recommends_and_evaluates(tmp_path: Path) -> None:
    out, seconds = _run("quickstart.py", tmp_path)
    assert seconds < LIMIT_S, f"examples/quickstart.py took {seconds:.0f} s"
    assert re.search(r"prepared [\d,]+ of 541,909 rows", out)
    assert "fitted RecencyEASE(" in out
    # known customers get lists, the new ones are reported, not silently dropped
    assert re.search(r"[\d,]+ known customers got lists; 271 new customers", out)
    ndcg = {
        m.group(1): float(m.group(2)) for m in re.finditer(r"^(.+): NDCG@10 ([\d.]+),", out, re.M)
    }
    assert set(ndcg) == {"RecencyEASE", "popular products"}
    # the default model beats popular products on first-time purchases by a wide margin
    assert ndcg["RecencyEASE"] > 2 * ndcg["popular products"] > 0
    assert not list(tmp_path.iterdir())  # the example writes nothing
