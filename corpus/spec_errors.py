"""The error a spec that must not run raises: every problem, each naming its field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpecIssue:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class SpecError(ValueError):
    """A spec that must not run. ``issues`` lists every problem by field."""

    def __init__(self, issues: list[SpecIssue], where: str = "pipeline spec"):
        self.issues = issues
        self.where = where
        lines = "\n".join(f"  - {i}" for i in issues)
        super().__init__(f"{where} is invalid ({len(issues)} problem{'s' if len(issues) != 1 else ''}):\n{lines}")
