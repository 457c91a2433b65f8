#!/usr/bin/env python3
"""Ratios and targets from benches/compare.rs on a machine whose speed drifts.

A criterion run measures one function after another, each for seconds; on a
shared or virtual machine the speed can drift by a third between the first
function of a group and the last, which skews the ratios. This script runs
every function of every group in turn, round after round, with short
measurements, so drift reaches all of them alike, and prints the median of
the rounds, every ratio the performance targets name, and whether each
target is met, as one Markdown table.

    python3 benches/interleaved.py                   # 5 rounds
    ROUNDS=9 python3 benches/interleaved.py receive  # groups matching 'receive'

The bench is built with `--features deflate`, for the deflate_64KiB group.
"""

import json
import os
import re
import statistics
import subprocess
import sys

RECEIVE = [
    "wsmachine",
    "wsmachine_into",
    "wsmachine_into_uninit",
    "wsmachine_ref",
    "tungstenite",
    "fastwebsockets",
    "memcpy",
]
RECEIVE_TEXT = RECEIVE + ["floor"]

# Every group and its functions, in the order they are measured.
GROUPS = {}
for case, functions in [
    ("receive_text_16B", RECEIVE_TEXT),
    ("receive_text_1KiB", RECEIVE_TEXT),
    ("receive_text_1MiB", RECEIVE_TEXT),
    ("receive_binary_1MiB", RECEIVE),
]:
    GROUPS[case] = functions
    GROUPS[case + "_stream"] = functions
GROUPS.update(
    {
        "send_text_16B": ["wsmachine", "tungstenite", "fastwebsockets", "memcpy"],
        "send_binary_1MiB": ["wsmachine", "wsmachine_borrowed", "tungstenite", "fastwebsockets", "memcpy"],
        "handshake_client": ["wsmachine", "tungstenite"],
        "handshake_server": ["wsmachine", "tungstenite"],
        "chunked_decode_1MiB": ["wsmachine", "memcpy", "extend_from_slice"],
        "deflate_64KiB": [
            "compress_send",
            "flate2_compress",
            "send_uncompressed",
            "receive_inflate",
            "flate2_inflate",
            "receive_uncompressed",
        ],
    }
)

# The functions that get a row of the table: ours, with their baselines.
# A baseline is (column, function): the deflate rows compare with flate2.
OURS = {
    "wsmachine": "",
    "wsmachine_into": "read-into",
    "wsmachine_into_uninit": "read-into, uninit",
    "wsmachine_ref": "borrowed events",
    "wsmachine_borrowed": "borrowed payload",
    "compress_send": "compress and send",
    "receive_inflate": "receive and inflate",
    "send_uncompressed": "send, no deflate",
    "receive_uncompressed": "receive, no deflate",
}
FLATE2 = {"compress_send": "flate2_compress", "receive_inflate": "flate2_inflate"}

# Targets: (column, bound, threshold). A column is a ratio of the table;
# ">=" wants at least the threshold, "<=" at most.
RECEIVE_TARGETS = {
    "receive_text_16B": [("tungstenite", ">=", 2.5), ("fastwebsockets", ">=", 2.5)],
    "receive_text_1KiB": [("tungstenite", ">=", 2.0), ("fastwebsockets", ">=", 1.5), ("floor", "<=", 2.0)],
    "receive_text_1MiB": [("tungstenite", ">=", 1.25), ("fastwebsockets", ">=", 2.0)],
    "receive_binary_1MiB": [("tungstenite", ">=", 1.25), ("fastwebsockets", ">=", 2.0), ("memcpy", ">=", 0.8)],
}


def targets(group, function):
    """The targets of one row, from the issue "Receive at the memory limit"."""
    case = group.removesuffix("_stream")
    if case in RECEIVE_TARGETS and function in (
        "wsmachine",
        "wsmachine_into",
        "wsmachine_into_uninit",
        "wsmachine_ref",
    ):
        return RECEIVE_TARGETS[case]
    if group == "send_text_16B" and function == "wsmachine":
        return [("tungstenite", ">=", 2.0), ("fastwebsockets", ">=", 2.0)]
    if group == "send_binary_1MiB" and function == "wsmachine":
        # The owned message; wsmachine_borrowed has no target.
        return [("tungstenite", ">=", 2.0)]
    if function in FLATE2:
        return [("flate2", "<=", 1.15)]
    return []


UNITS = {"ps": 1e-6, "ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}


def bench_executable():
    """Builds the compare bench and returns the path of its executable."""
    output = subprocess.run(
        ["cargo", "bench", "--bench", "compare", "--features", "deflate", "--no-run", "--message-format=json"],
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
    """The median time of one function in microseconds."""
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
        sys.exit(f"no time for {group}/{function}:\n{result.stdout}")
    return float(match.group(1)) * UNITS[match.group(2)]


def show(microseconds):
    if microseconds >= 1000:
        return f"{microseconds / 1000:.3f} ms"
    if microseconds >= 1:
        return f"{microseconds:.1f} µs"
    return f"{microseconds * 1000:.0f} ns"


def ratios(group, function, median):
    """Every ratio of one row, by column: (value, shown with the baseline's time)."""
    ours = median[function]
    row = {}
    for peer in ("tungstenite", "fastwebsockets"):
        if peer in median:
            value = median[peer] / ours
            row[peer] = (value, f"{value:.2f}× ({show(median[peer])})")
    if "memcpy" in median:
        value = median["memcpy"] / ours
        row["memcpy"] = (value, f"{value:.0%} ({show(median['memcpy'])})")
    if "floor" in median:
        value = ours / median["floor"]
        row["floor"] = (value, f"{value:.2f}× ({show(median['floor'])})")
    if function in FLATE2 and FLATE2[function] in median:
        value = ours / median[FLATE2[function]]
        row["flate2"] = (value, f"{value:.2f}× ({show(median[FLATE2[function]])})")
    return row


NAMES = {"tungstenite": "tung", "fastwebsockets": "fast", "memcpy": "of memcpy", "floor": "floor", "flate2": "flate2"}


def status(row, wanted):
    """The targets as text, and whether the row meets them."""
    if not wanted:
        return "–", "–"
    shown = []
    misses = []
    for column, bound, threshold in wanted:
        if column == "memcpy":
            shown.append(f"{bound} {threshold:.0%} {NAMES[column]}")
        else:
            shown.append(f"{'≥' if bound == '>=' else '≤'} {threshold:g}× {NAMES[column]}")
        if column not in row:
            misses.append(f"{NAMES[column]} not measured")
            continue
        value = row[column][0]
        met = value >= threshold if bound == ">=" else value <= threshold
        if not met:
            misses.append(f"{NAMES[column]} {row[column][1].split(' ')[0]}")
    target = ", ".join(shown).replace(">= ", "≥ ").replace("<= ", "≤ ")
    return target, "met" if not misses else "**missed**: " + ", ".join(misses)


def main():
    rounds = int(os.environ.get("ROUNDS", "5"))
    pattern = sys.argv[1] if len(sys.argv) > 1 else ""
    groups = [group for group in GROUPS if re.search(pattern, group)]
    executable = bench_executable()
    times = {}
    for round_number in range(rounds):
        for group in groups:
            for function in GROUPS[group]:
                times.setdefault((group, function), []).append(measure(executable, group, function))
        print(f"round {round_number + 1} of {rounds} done", file=sys.stderr)

    print(f"Medians of {rounds} interleaved rounds. Each ratio cell shows the other function's median in brackets.")
    print("vs tungstenite / fastwebsockets: their time ÷ ours (above 1: we are faster); of memcpy: memcpy's time ÷ ours;")
    print("× floor, × flate2: our time ÷ the baseline's (1 is the floor itself).")
    print()
    print("| group | wsmachine | time | vs tungstenite | vs fastwebsockets | of memcpy | × floor | × flate2 | target | status |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for group in groups:
        median = {function: statistics.median(times[(group, function)]) for function in GROUPS[group]}
        for function in GROUPS[group]:
            if function not in OURS:
                continue
            row = ratios(group, function, median)
            target, met = status(row, targets(group, function))
            cells = [group, OURS[function] or function, show(median[function])]
            cells += [row[column][1] if column in row else "–" for column in ("tungstenite", "fastwebsockets", "memcpy", "floor", "flate2")]
            cells += [target, met]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
