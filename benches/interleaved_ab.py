#!/usr/bin/env python3
"""Two builds of the compare bench, side by side: before and after a change.

Runs wsmachine's own functions of every group (those `interleaved.py` gives
a row) from two bench executables in turn, the two builds back to back for
each function, round after round, so that drift reaches both alike; prints
each function's median time in each build, the median of the per-round
ratios (after ÷ before: below 1, the change is faster) and their spread.

    # the before build, from a checkout of the older commit:
    git worktree add --detach ../before OLD && (cd ../before && \\
        cargo bench --bench compare --features deflate --no-run)
    python3 benches/interleaved_ab.py ../before/target/release/deps/compare-HASH
    ROUNDS=3 python3 benches/interleaved_ab.py BEFORE_EXE receive   # groups matching 'receive'

The after build is this checkout's (built like `interleaved.py` builds it).
"""

import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interleaved  # noqa: E402


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    before = sys.argv[1]
    pattern = sys.argv[2] if len(sys.argv) > 2 else ""
    rounds = int(os.environ.get("ROUNDS", "5"))
    after = interleaved.bench_executable()
    rows = [
        (group, function)
        for group, functions in interleaved.GROUPS.items()
        if re.search(pattern, group)
        for function in functions
        if function in interleaved.OURS
    ]
    times = {row: ([], []) for row in rows}
    for round_number in range(rounds):
        for row in rows:
            # Alternate which build goes first, so neither always follows.
            order = [(0, before), (1, after)]
            if round_number % 2:
                order.reverse()
            for which, executable in order:
                times[row][which].append(interleaved.measure(executable, *row))
        print(f"round {round_number + 1} of {rounds} done", file=sys.stderr)

    print(f"Medians of {rounds} rounds, each function of the two builds back to back.")
    print("after ÷ before: the median of the per-round ratios (min–max); below 1 the after build is faster.")
    print()
    print("| group | function | before | after | after ÷ before | min–max |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        old, new = times[row]
        ratios = [b / a for a, b in zip(old, new)]
        print(
            f"| {row[0]} | {row[1]} | {interleaved.show(statistics.median(old))} "
            f"| {interleaved.show(statistics.median(new))} | {statistics.median(ratios):.2f} "
            f"| {min(ratios):.2f}–{max(ratios):.2f} |"
        )


if __name__ == "__main__":
    main()
