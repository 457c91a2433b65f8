#!/usr/bin/env python3
"""Grades Autobahn|Testsuite reports for tests/autobahn/run.sh.

    grade.py --role server=DIR --role client=DIR --agent NAME
             [--docs FILE --section NAME (--update | --check)]

Each DIR holds the suite's index.json ({agent: {case: {"behavior": ...,
"behaviorClose": ...}}}). Strict means: every case's behavior and
behaviorClose are OK, except where the suite itself grades INFORMATIONAL.
NON-STRICT, FAILED, UNIMPLEMENTED and anything else fail, and so does a role
whose report lacks cases the other role ran (a client that died mid-run).

Prints a per-role count of grades and every case that is not OK. With
--docs, the generated section of FILE between
`<!-- autobahn:NAME:begin -->` and `<!-- autobahn:NAME:end -->` is rewritten
(--update) or compared (--check: a difference fails). Exit status 0 only
when every role is strict (and, with --check, the docs match).
"""

import argparse
import json
import os
import sys
from collections import Counter, OrderedDict

ALLOWED = {"OK", "INFORMATIONAL"}
GRADES = ["OK", "INFORMATIONAL", "NON-STRICT", "FAILED", "UNIMPLEMENTED"]


def case_key(case):
    return tuple(int(part) if part.isdigit() else part for part in case.split("."))


def load(directory, agent):
    path = os.path.join(directory, "index.json")
    with open(path, encoding="utf-8") as file:
        index = json.load(file)
    if agent not in index:
        raise SystemExit(f"grade: {path} has no results for agent {agent!r}")
    return index[agent]


def grade_of(result):
    """The worse of behavior and behaviorClose, as the suite names it."""
    behavior = result.get("behavior", "MISSING")
    close = result.get("behaviorClose", "MISSING")
    for grade in [g for g in GRADES if g not in ALLOWED] + ["MISSING"]:
        if grade in (behavior, close):
            return grade
    if behavior not in GRADES or close not in GRADES:
        return "UNKNOWN"
    return "INFORMATIONAL" if "INFORMATIONAL" in (behavior, close) else "OK"


def group_of(case):
    parts = case.split(".")
    return ".".join(parts[:2]) if parts[0] in ("12", "13") else parts[0]


def summarise(roles):
    """Lines of the generated section: counts per role, per group, and
    every case that is not OK."""
    lines = ["| role | cases | " + " | ".join(GRADES) + " |",
             "|---|---:|" + "---:|" * len(GRADES)]
    for role, results in roles.items():
        counts = Counter(grade_of(r) for r in results.values())
        lines.append(f"| {role} | {len(results)} | "
                     + " | ".join(str(counts.get(g, 0)) for g in GRADES) + " |")
    lines.append("")
    groups = OrderedDict()
    for role, results in roles.items():
        for case in sorted(results, key=case_key):
            groups.setdefault(group_of(case), {}).setdefault(role, Counter())[
                grade_of(results[case])] += 1
    lines.append("| group | " + " | ".join(roles) + " |")
    lines.append("|---|" + "---|" * len(roles))
    for group in sorted(groups, key=case_key):
        cells = []
        for role in roles:
            counts = groups[group].get(role, Counter())
            cells.append(", ".join(f"{counts[g]} {g}" for g in GRADES + ["MISSING", "UNKNOWN"]
                                   if counts.get(g)) or "none")
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    lines.append("")
    odd = []
    for role, results in roles.items():
        for case in sorted(results, key=case_key):
            result = results[case]
            if grade_of(result) != "OK":
                odd.append(f"| {case} | {role} | {result.get('behavior')} | "
                           f"{result.get('behaviorClose')} |")
    if odd:
        lines.append("Every case not graded OK on both counts:")
        lines.append("")
        lines.append("| case | role | behavior | behaviorClose |")
        lines.append("|---|---|---|---|")
        lines.extend(odd)
    else:
        lines.append("Every case is graded OK on both counts.")
    return lines


def replace_section(text, name, body):
    begin, end = f"<!-- autobahn:{name}:begin -->", f"<!-- autobahn:{name}:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"grade: the docs lack the markers {begin} and {end}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + body + end + tail


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", action="append", required=True, metavar="ROLE=DIR")
    parser.add_argument("--agent", required=True)
    parser.add_argument("--docs")
    parser.add_argument("--section", default="ci")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--update", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args()

    roles = OrderedDict()
    for spec in args.role:
        role, _, directory = spec.partition("=")
        roles[role] = load(directory, args.agent)

    failures = []
    every_case = set()
    for results in roles.values():
        every_case |= set(results)
    for role, results in roles.items():
        counts = Counter(grade_of(r) for r in results.values())
        print(f"autobahn: {role} role: {len(results)} cases: "
              + ", ".join(f"{counts[g]} {g}" for g in GRADES + ["MISSING", "UNKNOWN"]
                          if counts.get(g)))
        for case in sorted(results, key=case_key):
            grade = grade_of(results[case])
            if grade not in ALLOWED:
                failures.append(f"{role} {case}: behavior={results[case].get('behavior')} "
                                f"behaviorClose={results[case].get('behaviorClose')}")
        for case in sorted(every_case - set(results), key=case_key):
            failures.append(f"{role} {case}: not run")
    if not every_case:
        failures.append("no case was run")

    status = 0
    if failures:
        print(f"autobahn: {len(failures)} case results are not strict:")
        for line in failures:
            print(f"  FAIL {line}")
        status = 1

    if args.docs and (args.update or args.check):
        with open(args.docs, encoding="utf-8") as file:
            text = file.read()
        body = "\n".join(summarise(roles)) + "\n"
        updated = replace_section(text, args.section, body)
        if args.update:
            if updated != text:
                with open(args.docs, "w", encoding="utf-8") as file:
                    file.write(updated)
            print(f"autobahn: wrote the {args.section} results into {args.docs}")
        elif updated != text:
            print(f"autobahn: {args.docs} does not match this run's results; rerun with "
                  "AUTOBAHN_UPDATE_DOCS=1 to update it. This run's section:")
            print(body)
            status = 1
        else:
            print(f"autobahn: {args.docs} matches this run's results")
    return status


if __name__ == "__main__":
    sys.exit(main())
