"""`python -m bench` (`make bench`): run every benchmark in turn, each in its own process.

Each prints its own figures with the baseline it measured in the same run. Run one alone with
`python -m bench.<name>`.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    "bench_sim",
    "bench_http",
    "bench_status",
    "bench_ack",
    "bench_alerts",
    "bench_watch",
    "bench_cli_start",
    "bench_timeline",
    "bench_soak",
)


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"\n##### bench.{name}", flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
