"""Match rules: how records of one canonical model are recognised as the same entity, and how a
cluster of them becomes one golden record. Declared in YAML (`mappings/match_rules/*.yaml`).

This module only parses and validates; it never touches a warehouse. An invalid file raises
`MatchRuleFileError` naming the file, the line and the field at fault.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from mappings.errors import MappingFileError
from mappings.yaml_source import dotted, validate_with_lines

IDENTIFIER = r"^[a-z_][a-z0-9_]*$"
QUALIFIED_TABLE = r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$"

# How a field's value becomes a comparable key. Each has one SQL form (see sqlgen.py).
Normalizer = Literal[
    "none",  # the value as text
    "trim",  # surrounding whitespace removed
    "lower_trim",  # trimmed and lower-cased (emails, names)
    "digits",  # only digits and '+' kept (phones already in E.164 stay unchanged)
    "domain",  # host of a URL or e-mail address, lower-cased, without "www."
    "email_domain",  # the part after '@', lower-cased
    "initial",  # the first letter, lower-cased
]
Strategy = Literal["most_recent", "source_priority", "first_non_null"]
Scorer = Literal["ratio", "token_sort_ratio", "token_set_ratio", "partial_ratio", "jaro_winkler"]


class MatchRuleFileError(MappingFileError):
    """A match-rule file is invalid: names the file, the line and the field (dotted path), in
    the same form as a mapping file's errors."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BlockKey(_Strict):
    """One component of a fuzzy rule's blocking key: only records sharing it are compared."""

    field: str = Field(pattern=IDENTIFIER)
    normalize: Normalizer = "lower_trim"
    prefix: int | None = Field(default=None, ge=1, description="keep only the first N chars")


class ExactRule(_Strict):
    """Records whose normalized key (all `fields`, none null) is equal are the same entity."""

    name: str = Field(pattern=IDENTIFIER)
    type: Literal["exact"]
    fields: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(min_length=1)
    normalize: Normalizer = "lower_trim"
    # A key shared by more records than this is generic (a switchboard phone, info@...) and
    # links nothing; None means no cap.
    max_group_size: int | None = Field(default=None, ge=2)


class FuzzyRule(_Strict):
    """Records in the same block whose compared text scores at least `threshold` match.

    Comparisons happen only inside a block, so the cost is the sum of squared block sizes,
    not the square of the table; blocks larger than `max_block_size` are skipped (reported).
    """

    name: str = Field(pattern=IDENTIFIER)
    type: Literal["fuzzy"]
    fields: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(min_length=1)
    block_by: list[BlockKey] = Field(min_length=1)
    scorer: Scorer = "token_sort_ratio"
    threshold: float = Field(default=90.0, gt=0, le=100)
    max_block_size: int = Field(default=200, ge=2)


# How a probabilistic rule compares one field (each a Splink comparison with graded levels):
CompareMethod = Literal[
    "exact",  # null | equal | different
    "name",  # null | equal | Jaro-Winkler >= 0.92 | >= 0.80 | different (typos, short forms)
    "email",  # null | same address | same domain, other address | different domain: never
    # a fuzzy address (two people at one company have near-identical addresses)
]


class Comparison(_Strict):
    """One field a probabilistic rule weighs; each level's weight is learned (m and u)."""

    field: str = Field(pattern=IDENTIFIER)
    method: CompareMethod = "exact"
    normalize: Normalizer = "lower_trim"
    # Agreement on a rare value weighs more than on a common one (Smith vs Zielinski; for
    # `email`, the domain: acme.io vs gmail.com).
    term_frequency: bool = False
    # A canonical table without this column is compared as if every value were missing (the
    # null level: no evidence either way) instead of stopping the run; a block_by entry using
    # it then finds no candidates.
    optional: bool = False


class Threshold(_Strict):
    """Pairs scoring at least this are the same entity: one of the two, not both."""

    match_probability: float | None = Field(default=None, gt=0, lt=1)
    match_weight: float | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Threshold:
        if (self.match_probability is None) == (self.match_weight is None):
            raise ValueError("give exactly one of match_probability (0-1) or match_weight")
        return self


class Training(_Strict):
    """How `platform dedup train <model>` estimates the model: u from random pairs, m by EM
    on pairs agreeing on each `em_blocks` entry (a field list), the prior from `prior`."""

    em_blocks: list[list[Annotated[str, Field(pattern=IDENTIFIER)]]] = Field(min_length=1)
    prior_agree_on: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(min_length=1)
    prior_recall: float = Field(default=0.8, gt=0, le=1)
    u_max_pairs: int = Field(default=5_000_000, ge=1000)
    seed: int = 42


class ProbabilisticRule(_Strict):
    """Fellegi-Sunter matching (Splink): each pair in a candidate block gets a match weight,
    the sum of its fields' level weights; pairs at or above `threshold` are the same entity.

    The trained parameters live in `model` (Splink's settings JSON, relative to the rule
    file), written by `platform dedup train <model>`.
    """

    name: str = Field(pattern=IDENTIFIER)
    type: Literal["probabilistic"]
    model: str = Field(min_length=1, description="trained model file, relative to this file")
    threshold: Threshold
    compare: list[Comparison] = Field(min_length=1)
    # Candidate pairs: records sharing every key of at least one entry (OR of ANDs).
    block_by: list[list[BlockKey]] = Field(min_length=1)
    max_block_size: int = Field(default=500, ge=2)
    training: Training

    @model_validator(mode="after")
    def _fields_are_compared(self) -> ProbabilisticRule:
        fields = [c.field for c in self.compare]
        dupes = sorted({f for f in fields if fields.count(f) > 1})
        if dupes:
            raise ValueError(f"fields compared twice: {', '.join(dupes)}")
        for entry in (*self.training.em_blocks, self.training.prior_agree_on):
            unknown = [f for f in entry if f not in fields]
            if unknown:
                raise ValueError(f"training names fields not in compare: {', '.join(unknown)}")
        return self

    @property
    def fields(self) -> list[str]:
        return [c.field for c in self.compare]


Rule = Annotated[ExactRule | FuzzyRule | ProbabilisticRule, Field(discriminator="type")]
RULE_TYPES = ("exact", "fuzzy", "probabilistic")


class FieldSurvivorship(_Strict):
    strategy: Strategy
    sources: list[str] | None = Field(
        default=None, description="priority order for source_priority (first wins)"
    )


class Survivorship(_Strict):
    """Which member's value a golden record takes, per field; `default` for the rest."""

    default: Strategy = "most_recent"
    source_priority: list[str] = Field(
        default_factory=list, description="default order for the source_priority strategy"
    )
    fields: dict[str, FieldSurvivorship] = Field(default_factory=dict)

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """`email: most_recent` is short for `email: {strategy: most_recent}`."""
        if isinstance(value, dict):
            return {k: {"strategy": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _priority_lists_exist(self) -> Survivorship:
        if self.default == "source_priority" and not self.source_priority:
            raise ValueError("default strategy source_priority needs a source_priority list")
        for name, spec in self.fields.items():
            if not re.match(IDENTIFIER, name):
                raise ValueError(f"field name {name!r} is not a column identifier")
            if spec.strategy == "source_priority" and not (spec.sources or self.source_priority):
                raise ValueError(
                    f"field {name!r} uses source_priority but neither it nor the survivorship "
                    "block lists sources"
                )
        return self

    def for_field(self, field: str) -> FieldSurvivorship:
        spec = self.fields.get(field)
        if spec is None:
            spec = FieldSurvivorship(strategy=self.default)
        if spec.strategy == "source_priority" and not spec.sources:
            spec = FieldSurvivorship(strategy="source_priority", sources=self.source_priority)
        return spec


class MatchRules(_Strict):
    """Everything the dedup engine needs for one canonical model."""

    model: str = Field(pattern=IDENTIFIER)
    description: str | None = None
    source_table: str | None = Field(default=None, pattern=QUALIFIED_TABLE)
    golden_table: str | None = Field(default=None, pattern=QUALIFIED_TABLE)
    crosswalk_table: str | None = Field(default=None, pattern=QUALIFIED_TABLE)
    merges_table: str | None = Field(default=None, pattern=QUALIFIED_TABLE)
    rules: list[Rule] = Field(min_length=1)
    survivorship: Survivorship = Field(default_factory=Survivorship)
    exclude_fields: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(
        default_factory=list, description="canonical columns not carried into the golden table"
    )
    # Where relative model paths resolve (the rule file's folder; set by the loader).
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="after")
    def _unique_rule_names(self) -> MatchRules:
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(dupes)}")
        return self

    @property
    def source(self) -> str:
        return self.source_table or f"crm.{self.model}"

    @property
    def golden(self) -> str:
        return self.golden_table or f"{self.source}_golden"

    @property
    def crosswalk(self) -> str:
        return self.crosswalk_table or f"{self.source}_crosswalk"

    @property
    def merges(self) -> str:
        return self.merges_table or f"{self.source}_golden_merges"

    def referenced_fields(self) -> set[str]:
        """Every canonical column a rule reads (checked against the table before a run)."""
        used: set[str] = set()
        for rule in self.rules:
            if isinstance(rule, ProbabilisticRule):
                optional = {c.field for c in rule.compare if c.optional}
                used.update(c.field for c in rule.compare if not c.optional)
                used.update(
                    b.field for entry in rule.block_by for b in entry if b.field not in optional
                )
                continue
            used.update(rule.fields)
            if isinstance(rule, FuzzyRule):
                used.update(b.field for b in rule.block_by)
        return used

    def model_path(self, rule: ProbabilisticRule) -> Path:
        """The rule's trained model file (relative paths from the rule file's folder)."""
        path = Path(rule.model)
        return path if path.is_absolute() else self._base_dir / path

    def probabilistic_rules(self) -> list[ProbabilisticRule]:
        return [r for r in self.rules if isinstance(r, ProbabilisticRule)]


def parse_match_rules(
    text: str,
    path: Path | str = "<memory>",
    *,
    base_dir: Path | str | None = None,
    require_models: bool = True,
) -> MatchRules:
    """Validate match-rule YAML text; raise MatchRuleFileError naming file, line and field.

    Model files of probabilistic rules resolve from `base_dir` (the file's folder when
    loaded from a file) and must exist and fit the rule unless `require_models` is False
    (training writes them).
    """
    rules, lines = validate_with_lines(
        text,
        path,
        MatchRules,
        MatchRuleFileError,
        expected="expected a mapping with model, rules",
        union_tags=RULE_TYPES,
    )
    rules._base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
    if require_models:
        for index, rule in enumerate(rules.rules):
            if isinstance(rule, ProbabilisticRule):
                problem = model_file_problem(rules.model_path(rule), rule, rules.model)
                if problem:
                    loc = ("rules", index, "model")
                    raise MatchRuleFileError(path, lines.get(loc), dotted(loc), problem)
    return rules


def model_file_problem(model_path: Path, rule: ProbabilisticRule, model: str) -> str | None:
    """Why a trained model file cannot serve `rule` (missing, unreadable, trained for other
    fields), or None when it fits."""
    retrain = f"train it with `platform dedup train {model}` (rule {rule.name!r})"
    try:
        settings = json.loads(model_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"model file {model_path} does not exist; {retrain}"
    except (OSError, ValueError) as exc:
        return f"model file {model_path} is not readable JSON ({exc}); {retrain}"
    comparisons = settings.get("comparisons") if isinstance(settings, dict) else None
    if not isinstance(comparisons, list):
        return f"model file {model_path} is not a Splink model (no comparisons); {retrain}"
    trained = [c.get("output_column_name") for c in comparisons if isinstance(c, dict)]
    if trained != rule.fields:
        return (
            f"model file {model_path} was trained on {trained}, the rule compares "
            f"{rule.fields}; {retrain}"
        )
    return None


def load_match_rules(path: Path | str, *, require_models: bool = True) -> MatchRules:
    """Parse and validate one match-rule file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MatchRuleFileError(path, None, "", f"cannot read: {exc.strerror}") from None
    return parse_match_rules(
        text, path, base_dir=path.resolve().parent, require_models=require_models
    )


def load_match_rules_dir(directory: Path | str, *, require_models: bool = True) -> list[MatchRules]:
    """Every `*.yaml` in a directory, sorted by file name; one file per canonical model."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found: dict[str, Path] = {}
    loaded = []
    for path in sorted(directory.glob("*.yaml")):
        rules = load_match_rules(path, require_models=require_models)
        if rules.model in found:
            raise MatchRuleFileError(
                path, 1, "model", f"{rules.model!r} already declared in {found[rules.model]}"
            )
        found[rules.model] = path
        loaded.append(rules)
    return loaded
