"""What `medvlm-sft validate` reports, and the source ranges it points at.

A `Problem` is the unit the CLI prints and the editor turns into a diagnostic, so its JSON
shape (`Problem.to_dict`) is a contract with the TypeScript side (design contract 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]
PathPart = str | int
YamlPath = tuple[PathPart, ...]


@dataclass(frozen=True)
class Span:
    """A source range, 0-based, end exclusive (as PyYAML marks are)."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, line: int = 0, column: int = 0) -> Span:
        return cls(line, column, line, column + 1)


@dataclass(frozen=True)
class Problem:
    """One diagnostic. Positions are 1-based; the end is exclusive, like a VS Code range."""

    path: str
    message: str
    severity: Severity
    code: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def at(cls, span: Span | None, path: str, message: str, code: str, severity: Severity = "error") -> Problem:
        span = span or Span.point()
        return cls(
            path=path,
            message=message,
            severity=severity,
            code=code,
            line=span.line + 1,
            column=span.column + 1,
            end_line=span.end_line + 1,
            end_column=span.end_column + 1,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "message": self.message,
            "severity": self.severity,
            "code": self.code,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }

    def format(self, config: str) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{config}:{self.line}:{self.column}: {self.severity}: [{self.code}] {where}{self.message}"


def dotted(path: YamlPath) -> str:
    """`("data", "sources", 0, "records")` -> `data.sources[0].records`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)
