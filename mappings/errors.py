"""Errors of the mapping layer: a bad mapping file, a mapping that cannot compile against a
source, and a run whose row counts do not add up.

All are `core.errors` types so callers (CLI, Dagster) handle them like any other platform error.
Error text never carries record values: records can hold PII, the quarantine table is the place
to look at them.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import TransformationError, ValidationError


class MappingFileError(ValidationError):
    """A mapping file is invalid: names the file, the line and the field (dotted path)."""

    def __init__(
        self,
        file: str | Path,
        line: int | None,
        field: str,
        message: str,
        problems: list[MappingFileError] | None = None,
    ) -> None:
        self.file = str(file)
        self.line = line
        self.field = field
        self.detail = message
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {field or '<root>'}: {message}", provider=None)
        # every problem found in the file, each its own file:line: field: message (the
        # message above names the first and counts the others)
        self.problems: list[MappingFileError] = problems or [self]

    def __str__(self) -> str:  # the CLI prints exactly file:line: field: message
        return self.message


class MappingCompileError(ValidationError):
    """A valid file that cannot be applied to this source (e.g. a type that cannot convert)."""


class InvariantViolation(TransformationError):
    """rows_in != rows_out + rows_quarantined + rows_deduplicated + rows_filtered: nothing is
    written when this is raised (the run's transaction is rolled back)."""
