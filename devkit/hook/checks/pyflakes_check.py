"""pyflakes on one file's staged bytes, with configurable builtins."""

from __future__ import annotations

import ast

from pyflakes import checker

from devkit.hook.findings import SYNTAX_CODE, Finding

# flake8's codes for pyflakes' messages, so a noqa comment naming F401 works.
CODES = {
    "UnusedImport": "F401", "ImportShadowedByLoopVar": "F402",
    "ImportStarUsed": "F403", "LateFutureImport": "F404", "ImportStarUsage": "F405",
    "ImportStarNotPermitted": "F406", "FutureFeatureNotDefined": "F407",
    "PercentFormatInvalidFormat": "F501", "PercentFormatExpectedMapping": "F502",
    "PercentFormatExpectedSequence": "F503", "PercentFormatExtraNamedArguments": "F504",
    "PercentFormatMissingArgument": "F505",
    "PercentFormatMixedPositionalAndNamed": "F506",
    "PercentFormatPositionalCountMismatch": "F507",
    "PercentFormatStarRequiresSequence": "F508",
    "PercentFormatUnsupportedFormatCharacter": "F509",
    "StringDotFormatInvalidFormat": "F521",
    "StringDotFormatExtraNamedArguments": "F522",
    "StringDotFormatExtraPositionalArguments": "F523",
    "StringDotFormatMissingArgument": "F524", "StringDotFormatMixingAutomatic": "F525",
    "FStringMissingPlaceholders": "F541", "TStringMissingPlaceholders": "F542",
    "MultiValueRepeatedKeyLiteral": "F601", "MultiValueRepeatedKeyVariable": "F602",
    "TooManyExpressionsInStarredAssignment": "F621", "TwoStarredExpressions": "F622",
    "AssertTuple": "F631", "IsLiteral": "F632", "InvalidPrintSyntax": "F633",
    "IfTuple": "F634", "BreakOutsideLoop": "F701", "ContinueOutsideLoop": "F702",
    "YieldOutsideFunction": "F704", "ReturnOutsideFunction": "F706",
    "DefaultExceptNotLast": "F707", "DoctestSyntaxError": "F721",
    "ForwardAnnotationSyntaxError": "F722", "RedefinedWhileUnused": "F811",
    "UndefinedName": "F821", "UndefinedExport": "F822", "UndefinedLocal": "F823",
    "UnusedIndirectAssignment": "F824", "DuplicateArgument": "F831",
    "UnusedVariable": "F841", "UnusedAnnotation": "F842", "RaiseNotImplemented": "F901",
}  # fmt: skip

CRASH_CODE = "E902"


def parse(source: bytes, path: str) -> ast.Module | Finding:
    """The tree of `source` (bytes, so coding declarations apply), or a finding."""
    try:
        return ast.parse(source, filename=path)
    except SyntaxError as exc:
        return syntax_finding(path, exc)
    except (ValueError, RecursionError, MemoryError) as exc:
        # pyflakes says "problem decoding source" here; name the real cause.
        return crash_finding(path, "could not parse", exc)


def check_tree(tree: ast.Module, path: str, builtins: tuple[str, ...]) -> list[Finding]:
    """pyflakes' messages for `tree`; a pyflakes crash becomes one finding."""
    try:
        flakes = checker.Checker(tree, filename=path, builtins=builtins)
    except RecursionError as exc:
        # Deeply nested expressions exhaust pyflakes' recursion: report the
        # file and go on, as one file must never abort the whole run.
        return [crash_finding(path, "pyflakes could not check this file", exc)]
    return [
        Finding(
            path,
            message.lineno,
            message.col + 1,
            message.message % message.message_args,
            "pyflakes",
            CODES.get(type(message).__name__, "F"),
        )
        for message in flakes.messages
    ]


def syntax_finding(path: str, exc: SyntaxError) -> Finding:
    """A syntax error in pyflakes' own shape (line at least 1, 1-based column)."""
    line = max(exc.lineno or 0, 1)
    col = max(exc.offset or 1, 1)
    return Finding(path, line, col, str(exc.args[0]), "pyflakes", SYNTAX_CODE)


def crash_finding(path: str, what: str, exc: BaseException) -> Finding:
    """A file that could not be checked at all: always a finding, never silence."""
    reason = type(exc).__name__ + (f": {exc}" if str(exc) else "")
    return Finding(path, 1, 1, f"{what} ({reason})", "pyflakes", CRASH_CODE)
