"""The mount table: which dialect answers which paths, and refusing tables that collide."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from davfiles.errors import ConfigError

ANY_METHOD = "*"


@dataclass(frozen=True)
class Claim:
    """A (methods, path pattern) that one owner answers; patterns use werkzeug rule syntax."""

    owner: str
    path: str
    methods: frozenset[str]

    def describe(self) -> str:
        methods = "any method" if ANY_METHOD in self.methods else "/".join(sorted(self.methods))
        return f"{self.owner} ({methods} {self.path})"


def _tokens(pattern: str) -> tuple[str, ...]:
    """Segments: literal text, "*" for one variable segment, "*?" for zero or more."""
    tokens: list[str] = []
    for segment in pattern.strip("/").split("/"):
        if not segment:
            continue
        if segment.startswith("<path:"):
            tokens += ["*", "*?"]
        elif "<" in segment:
            tokens.append("*")
        else:
            tokens.append(segment)
    return tuple(tokens)


def patterns_overlap(first: str, second: str) -> bool:
    """True if some request path matches both patterns (trailing slashes are not significant)."""
    return _overlap(_tokens(first), _tokens(second))


@lru_cache(maxsize=4096)
def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if not a and not b:
        return True
    if a and a[0] == "*?":
        if _overlap(a[1:], b) or (b and b[0] != "*?" and _overlap(a, b[1:])):
            return True
    if b and b[0] == "*?":
        if _overlap(a, b[1:]) or (a and a[0] != "*?" and _overlap(a[1:], b)):
            return True
    if a and b and "*?" not in (a[0], b[0]):
        if a[0] == "*" or b[0] == "*" or a[0] == b[0]:
            return _overlap(a[1:], b[1:])
    return False


def check_claims(claims: Sequence[Claim]) -> None:
    """Raise ConfigError naming both sides if two owners would answer one method and path."""
    for index, first in enumerate(claims):
        for second in claims[index + 1 :]:
            if first.owner == second.owner:
                continue
            shared = first.methods & second.methods
            if not shared and ANY_METHOD not in first.methods | second.methods:
                continue
            if patterns_overlap(first.path, second.path):
                raise ConfigError(
                    f"REST mount collision: {first.describe()} and {second.describe()} "
                    "answer the same requests; change a prefix or disable one in davfiles.dialects"
                )


def any_method(owner: str, paths: Iterable[str]) -> list[Claim]:
    return [Claim(owner, path, frozenset({ANY_METHOD})) for path in paths]
