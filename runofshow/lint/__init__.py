"""The run-of-show linter: the practices of live virtual training as rules with stable codes.

``lint(loaded)`` returns the findings for a loaded show, sorted by position, with the severity
each rule has in that show (``show.lint`` overrides the defaults) and justified inline
suppressions applied. The rules are documented in ``docs/lint-rules.md``.
"""

from __future__ import annotations

from runofshow.basics import Severity
from runofshow.lint import balance, breaks, cadence, flex, readiness, structure, timing
from runofshow.lint.core import Finding, Hit, LintContext, Loaded, Rule, clock, length
from runofshow.lint.directives import Problem, scan, severities
from runofshow.schedule import Path

__all__ = [
    "RULES",
    "Finding",
    "Hit",
    "LintContext",
    "Loaded",
    "Rule",
    "clock",
    "length",
    "lint",
    "rule",
]

#: Rules the framework applies itself: about the configuration and the suppressions.
FRAMEWORK_RULES = (
    Rule(
        "FB001",
        "unknown-rule",
        Severity.error,
        "A rule named in the show's lint settings or in a suppression must exist, or the "
        "setting silently does nothing.",
        None,
    ),
    Rule(
        "FB002",
        "suppression-without-reason",
        Severity.warning,
        "An exception to a practice is fine when it is justified; the reason is what the next "
        "facilitator needs to read. A suppression without one is not applied.",
        None,
    ),
    Rule(
        "FB003",
        "unused-suppression",
        Severity.advice,
        "A suppression that suppresses nothing is left over from an earlier version of the "
        "show and hides the next real finding on its line.",
        None,
    ),
    Rule(
        "FB004",
        "malformed-directive",
        Severity.warning,
        "A '# facilbot:' comment that cannot be understood does nothing; say so rather than "
        "silently ignore it.",
        None,
    ),
)

RULES: tuple[Rule, ...] = (
    *FRAMEWORK_RULES,
    *cadence.RULES,
    *breaks.RULES,
    *flex.RULES,
    *structure.RULES,
    *balance.RULES,
    *timing.RULES,
    *readiness.RULES,
)

_BY_CODE = {r.code: r for r in RULES}
_FRAMEWORK = frozenset(r.code for r in FRAMEWORK_RULES)


def rule(code: str) -> Rule:
    """The rule with this code (KeyError when there is none)."""
    return _BY_CODE[code]


def lint(loaded: Loaded) -> list[Finding]:
    """Lint a loaded show; findings sorted by position."""
    show, source, file = loaded.show, loaded.source, loaded.file
    ctx = LintContext(show=show, source=source, file=file, text=loaded.text)
    level, problems = severities(show.lint, RULES, source)

    def finding(code: str, message: str, line: int, column: int, path: Path) -> Finding:
        r = _BY_CODE[code]
        return Finding(code, r.name, level[code], message, file, line, column, path)

    findings: list[Finding] = []
    for r in RULES:
        if r.check is None or level[r.code] == Severity.off:
            continue
        for hit in r.check(ctx):
            where = source.position(hit.path, prefer_key=hit.key)
            findings.append(finding(r.code, hit.message, where.line, where.column, hit.path))

    suppressions, directive_problems = scan(loaded.text, RULES, _FRAMEWORK)
    problems.extend(directive_problems)
    by_line: dict[int, list[int]] = {}
    for n, s in enumerate(suppressions):
        by_line.setdefault(s.target, []).append(n)
    kept: list[Finding] = []
    for f in findings:
        here = (suppressions[n] for n in by_line.get(f.line, ()))
        hit_by = [s for s in here if f.code in s.codes]
        for s in hit_by:
            s.used.add(f.code)
        if not hit_by:
            kept.append(f)
    for s in suppressions:
        for code in s.codes:
            if code not in s.used:
                problems.append(
                    Problem(
                        "FB003",
                        f"the suppression of {code} suppresses nothing on line {s.target}; "
                        "remove it",
                        s.line,
                        s.column,
                    )
                )
    for p in problems:
        if level[p.code] != Severity.off:
            kept.append(finding(p.code, p.message, p.line, p.column, p.path))
    kept.sort(key=lambda f: (f.line, f.column, f.code, f.message))
    return kept
