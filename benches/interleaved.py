#!/usr/bin/env python3
"""Ratios from benches/compare.rs on a machine whose speed drifts.

A criterion run measures one function after another, each for seconds; on a
shared or virtual machine the speed can drift by a third between the first
function of a group and the last, which skews the ratios. This script runs
every function of every group in turn, round after round, with short
measurements, so drift reaches all of them alike, and prints the median of
the rounds and the ratios as a Markdown table.

    python3 benches/interleaved.py                   # 5 rounds
    ROUNDS=9 python3 benches/interleaved.py receive  # groups matching 'receive'
"""

import json
import os
import re
import statistics
import subprocess
import sys

GROUPS = [
    "receive_text_16B",
    "receive_text_1KiB",
    "receive_text_1MiB",
    "receive_binary_1MiB",
    "send_text_16B",
    "send_binary_1MiB",
    "handshake_client",
    "handshake_server",
    "chunked_decode_1MiB",
]
FUNCTIONS = ["wsmachine", "wsmachine_borrowed", "tungstenite", "fastwebsockets", "memcpy"]
UNITS = {"ps": 1e-6, "ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}


def bench_executable():
    """Builds the compare bench and returns the path of its executable."""
    output = subprocess.run(
        ["cargo", "bench", "--bench", "compare", "--no-run", "--message-format=json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in output.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message.get("executable"):
            if message["target"]["name"] == "compare":
                return message["executable"]
    sys.exit("no executable for the compare bench")


def measure(executable, group, function):
    """The median time of one function in microseconds, or None if the group has no such function."""
    result = subprocess.run(
        [
            executable,
            "--bench",
            f"^{group}/{function}$",
            "--warm-up-time",
            "0.5",
            "--measurement-time",
            "1.5",
            "--noplot",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", result.stdout)
    if not match:
        return None
    return float(match.group(1)) * UNITS[match.group(2)]


def show(microseconds):
    if microseconds >= 1000:
        return f"{microseconds / 1000:.3f} ms"
    if microseconds >= 1:
        return f"{microseconds:.1f} µs"
    return f"{microseconds * 1000:.0f} ns"


def main():
    rounds = int(os.environ.get("ROUNDS", "5"))
    pattern = sys.argv[1] if len(sys.argv) > 1 else ""
    groups = [group for group in GROUPS if re.search(pattern, group)]
    executable = bench_executable()
    times = {}
    for round_number in range(rounds):
        for group in groups:
            for function in FUNCTIONS:
                time = measure(executable, group, function)
                if time is not None:
                    times.setdefault((group, function), []).append(time)
        print(f"round {round_number + 1} of {rounds} done", file=sys.stderr)

    print(f"Medians of {rounds} interleaved rounds; ratios are the other's time over wsmachine's.")
    print()
    print("| group | wsmachine | tungstenite | fastwebsockets | memcpy | vs tungstenite | vs fastwebsockets | of memcpy |")
    print("|---|---|---|---|---|---|---|---|")
    for group in groups:
        median = {
            function: statistics.median(times[(group, function)])
            for function in FUNCTIONS
            if (group, function) in times
        }
        ours = median["wsmachine"]
        cells = [group, show(ours)]
        cells += [show(median[peer]) if peer in median else "–" for peer in ("tungstenite", "fastwebsockets", "memcpy")]
        cells += [f"{median[peer] / ours:.2f}×" if peer in median else "–" for peer in ("tungstenite", "fastwebsockets")]
        cells.append(f"{median['memcpy'] / ours:.0%}" if "memcpy" in median else "–")
        print("| " + " | ".join(cells) + " |")
        if "wsmachine_borrowed" in median:
            borrowed = median["wsmachine_borrowed"]
            print(f"| {group} (borrowed payload) | {show(borrowed)} | | | | {median['tungstenite'] / borrowed:.2f}× | {median['fastwebsockets'] / borrowed:.2f}× | {median['memcpy'] / borrowed:.0%} |")


if __name__ == "__main__":
    main()
