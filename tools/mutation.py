"""`python3 dev.py mutate [module ...]`: mutation testing of the fleet core, scored per module.

mutmut (a dev dependency, configured in pyproject.toml's [tool.mutmut]) plants small bugs
in the modules below one at a time, runs the unit and integration tests that reach each
one, and records whether a test failed (killed) or not (survived, or no tests reached it).
This script runs it on the named modules (all of them by default), then prints the score
of each: killed / mutants. Survivors listed in tests/mutation-survivors.md with a reason
(equivalent, or harmless) are shown apart; the exit code is 1 when a module scores under
TARGET without them. Linux and macOS only (mutmut forks).

Results are kept in mutants/. `--again` re-tests only the mutants of the named modules
that were not killed last time and are not listed as kept (after you wrote a test);
`--report-only` just scores what is there. mutmut runs the tests that reach a mutant
fastest first (see tests/conftest.py) in `--max-children` processes at once: the
in-process fleet tests mostly wait on timers and Redis, so twice the cores keeps both
cores busy.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SURVIVORS_FILE = ROOT / "tests" / "mutation-survivors.md"
TARGET = 0.90
# Module name -> mutmut's prefix for the mutants of that file.
MODULES = {
    "router": "bot.router",
    "gate": "bot.gate",
    "answering": "bot.answering",
    "claims": "bot.store.claims",
    "liveness": "bot.store.liveness",
    "settings": "env_manager",
    "memory": "bot.store.memory",
    "jobs": "bot.store.jobs",
    "quotas": "bot.store.quotas",
}
KILLED = frozenset({"killed", "timeout"})  # a timeout: the mutant hung the tests, caught
RESULT_LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+?)\s*$")
LISTED = re.compile(r"^\s*[-*]\s+`(?P<name>[^`]+)`\s*[:—-]\s*(?P<why>\S.*)$")


@dataclass
class Score:
    module: str
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)  # not killed, not explained
    explained: list[str] = field(default_factory=list)  # listed in SURVIVORS_FILE

    @property
    def total(self) -> int:
        return sum(n for status, n in self.counts.items() if status != "not checked")

    @property
    def killed(self) -> int:
        return sum(self.counts[s] for s in KILLED)

    def score(self, *, excusing: bool) -> float:
        total = self.total - (len(self.explained) if excusing else 0)
        return self.killed / total if total else 1.0


def module_of(mutant: str) -> str | None:
    """`bot.store.claims.xǁRedisClaimsǁclaim__mutmut_3` -> "claims"."""
    for module, prefix in MODULES.items():
        if mutant.startswith(prefix + "."):
            return module
    return None


def results_of(results: str, wanted: list[str]) -> Iterator[tuple[str, str, str]]:
    """(module, mutant name, status) of the `wanted` modules' lines of
    `mutmut results --all true` output."""
    for line in results.splitlines():
        match = RESULT_LINE.match(line)
        if match and (module := module_of(match["name"])) in wanted:
            yield module, match["name"], match["status"]


def scores(results: str, explained: dict[str, str], wanted: list[str]) -> dict[str, Score]:
    """Scores of `wanted` modules from `mutmut results --all true` output."""
    found = {module: Score(module) for module in wanted}
    for module, name, status in results_of(results, wanted):
        score = found[module]
        score.counts[status] += 1
        if status in KILLED or status == "not checked":
            continue
        (score.explained if name in explained else score.survivors).append(name)
    return found


def not_killed(results: str, wanted: list[str], kept: dict[str, str]) -> list[str]:
    """Names of the `wanted` modules' mutants that no test has killed (yet), leaving out
    the survivors `kept` on purpose (known to survive: re-testing them costs the most)."""
    return [
        name
        for _, name, status in results_of(results, wanted)
        if status not in KILLED and name not in kept
    ]


def explained_survivors(text: str) -> dict[str, str]:
    """`- \\`mutant name\\`: why` lines of the survivors file."""
    return {m["name"]: m["why"] for line in text.splitlines() if (m := LISTED.match(line))}


def render(found: dict[str, Score]) -> str:
    rows = ["module      mutants  killed  survived  no tests  score   score, listed excused"]
    for module, s in found.items():
        rows.append(
            f"{module:<11} {s.total:>7}  {s.killed:>6}  {s.counts['survived']:>8}  "
            f"{s.counts['no tests']:>8}  {s.score(excusing=False):>5.1%}  "
            f"{s.score(excusing=True):>6.1%}"
        )
    return "\n".join(rows)


def mutmut_results(mutmut: list[str]) -> str:
    return subprocess.run(
        [*mutmut, "results", "--all", "true"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 dev.py mutate", description=__doc__)
    parser.add_argument(
        "modules", nargs="*", metavar="module", help=f"any of {', '.join(MODULES)} (all)"
    )
    parser.add_argument("--report-only", action="store_true", help="score the kept results")
    parser.add_argument(
        "--again",
        action="store_true",
        help="re-test only the mutants not killed last time nor listed as kept",
    )
    parser.add_argument(
        "--max-children",
        type=int,
        default=2 * (os.cpu_count() or 2),
        help="mutants tested at once (default: twice the cores)",
    )
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}; known: {', '.join(MODULES)}")
    wanted = args.modules or list(MODULES)
    mutmut = [sys.executable, "-m", "mutmut"]
    explained = explained_survivors(SURVIVORS_FILE.read_text(encoding="utf-8"))
    if not args.report_only:
        if args.again:
            if not (ROOT / "mutants").is_dir():
                parser.error("--again needs an earlier run's results in mutants/")
            names = not_killed(mutmut_results(mutmut), wanted, explained)
        else:
            names = [f"{MODULES[m]}.*" for m in wanted]
        if names:
            run = subprocess.run(
                [*mutmut, "run", "--max-children", str(args.max_children), *names],
                cwd=ROOT,
                check=False,
            )
            if run.returncode != 0:
                print(f"mutate: mutmut run failed (exit {run.returncode})", file=sys.stderr)
                return 2
    found = scores(mutmut_results(mutmut), explained, wanted)
    print(render(found))
    failing = [m for m, s in found.items() if s.score(excusing=True) < TARGET]
    for s in found.values():
        for name in s.survivors:
            print(f"  survived, not listed: {name}   (mutmut show '{name}')")
    if failing:
        print(f"mutate: under {TARGET:.0%}: {', '.join(failing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
