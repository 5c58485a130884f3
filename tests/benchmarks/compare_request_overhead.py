"""The request overhead of two versions of the app, measured in alternating runs.

Run on demand: `python tests/benchmarks/compare_request_overhead.py BASE [NEW] [--modes replay]
[--requests 500] [--rounds 8]`. BASE and NEW are git revisions; NEW defaults to the working tree. A change of
tens of microseconds is lost in the spread between single runs of `bench_request_overhead.py` (±0.3 ms end to
end on a shared two-core machine), but shows in the medians of many runs taken in turn: each round runs BASE
then NEW, each a fresh process with the same benchmark code (this checkout's), so drift in the machine hits
both alike. Prints each version's median over the rounds of the added cost (p50 difference and paired) and
the loop's added CPU time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = Path(__file__).resolve().with_name("bench_request_overhead.py")
FIGURES = (("added_p50", "added p50"), ("paired_p50", "paired p50"), ("cpu_p50", "loop CPU"))


def checkout(revision: str, stack: ExitStack) -> Path:
    """A detached worktree of `revision`, removed on exit, holding this checkout's benchmark."""
    where = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scriptwright-compare-"))) / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(where), revision], cwd=ROOT, check=True
    )
    stack.callback(
        subprocess.run, ["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, check=False
    )
    shutil.copy2(BENCH, where / "tests" / "benchmarks" / BENCH.name)  # both measured the same way
    return where


def run_once(tree: Path, modes: str, requests: int) -> dict[str, dict[str, float]]:
    bench = tree / "tests" / "benchmarks" / BENCH.name
    done = subprocess.run(
        [sys.executable, str(bench), "--modes", modes, "--requests", str(requests), "--json"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the benchmark failed in {tree}:\n{done.stderr[-2000:]}")
    results: dict[str, dict[str, float]] = json.loads(lines[-1])["results"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", help="a git revision")
    parser.add_argument("new", nargs="?", help="a git revision (default: the working tree)")
    parser.add_argument("--modes", default="replay", help="http, replay and/or floor (default: replay)")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with ExitStack() as stack:
        trees = {
            args.base: checkout(args.base, stack),
            args.new or "working tree": checkout(args.new, stack) if args.new else ROOT,
        }
        runs: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in trees}
        for round_number in range(1, args.rounds + 1):
            for name, tree in trees.items():
                runs[name].append(run_once(tree, args.modes, args.requests))
                added = {mode: f"{figures['added_p50']:.3f}" for mode, figures in runs[name][-1].items()}
                print(f"round {round_number}/{args.rounds} {name}: added p50 {added} ms", flush=True)
    print(f"\nmedians over {args.rounds} rounds of {args.requests} requests (ms)")
    for mode in runs[next(iter(runs))][0]:
        for name, series in runs.items():
            medians = "  ".join(
                f"{label} {statistics.median(run[mode][key] for run in series):.3f}" for key, label in FIGURES
            )
            print(f"{mode:<8}{name:<24}{medians}")


if __name__ == "__main__":
    main()
