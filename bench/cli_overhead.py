"""Fixed cost of the command line: `tailor --help`, and `tailor fit` / `tailor recommend` on a tiny
data set minus the work they do (issue 10: --help < 0.5 s, fixed overhead < 1 s).

Writes bench/results/cli_overhead.json. Each number is the best of REPEAT runs (the machine's
other load only adds to a run), with the median beside it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tailor.testing.data import planted_frame

REPEAT = 7
TAILOR = str(Path(sys.executable).parent / "tailor")
OUT = Path(__file__).parent / "results" / "cli_overhead.json"


def _time(args: list[str]) -> list[float]:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        subprocess.run([TAILOR, *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train = folder / "train.parquet"
        planted_frame().to_parquet(train, index=False)
        model = folder / "model"
        fit = ["fit", "--train", str(train), "--model", "popularity", "--out", str(model)]
        runs = {
            "tailor --help": _time(["--help"]),
            "tailor --version": _time(["--version"]),
            "tailor fit --model popularity (12 users)": _time(fit),
        }
        fit_work = json.loads((model / "manifest.json").read_text()).get("fit_seconds", 0.0)
        recs = folder / "recs.csv"
        runs["tailor recommend --users all (12 users)"] = _time(
            ["recommend", "--model-dir", str(model), "--users", "all", "--out", str(recs)]
        )
    result = {
        name: {"best_s": round(min(t), 3), "median_s": round(statistics.median(t), 3)}
        for name, t in runs.items()
    }
    result["popularity fit work inside the fit command (s)"] = {"fit_seconds": fit_work}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
