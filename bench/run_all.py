"""Run every benchmark in this folder; exit non-zero if any misses its goal.

Each benchmark measures its own baseline in the same run and prints ratios; see the
docstring of each script. Usage: ``python bench/run_all.py [name ...]``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("bench_kinematics", "bench_throughput", "bench_live", "bench_report",
              "bench_batch", "bench_stream")


def main(argv: list[str]) -> int:
    names = argv or [b for b in BENCHMARKS if (HERE / f"{b}.py").is_file()]
    failed = []
    for name in names:
        sys.stdout.write(f"\n=== {name} ===\n")
        sys.stdout.flush()
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / f"{name}.py")])
        sys.stdout.write(f"--- {name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} "
                         f"in {time.perf_counter() - t0:.0f} s\n")
        if rc != 0:
            failed.append(name)
    sys.stdout.write(f"\n{len(names) - len(failed)}/{len(names)} benchmarks met their goals"
                     + (f"; failed: {', '.join(failed)}\n" if failed else "\n"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
