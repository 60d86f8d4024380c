"""The YAML configuration: feeds, watchlists and notification targets.

Validated on load; every error names the file, the line and the field. Notification URLs and
templates are checked here, so a wrong one fails at start-up, not at 3 a.m.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from worker.core.match import WatchRule
from worker.core.pacing import DigestSchedule, QuietHours

SECTORS = frozenset(
    [
        "ai",
        "telecom",
        "cybersecurity",
        "e_government",
        "digital_economy",
        "data_centers",
        "space",
        "energy",
        "transport",
        "health_biotech",
        "nanotech",
        "agritech",
        "research_education",
        "innovation",
        "post",
    ]
)
EVENT_TYPES = frozenset(["agreement", "joint_body", "visit", "meeting", "event", "intent"])
_ISO2 = re.compile(r"^[A-Z]{2}$")
_LANG = re.compile(r"^[a-z]{2,3}$")


class ConfigError(Exception):
    """A configuration file that cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedConfig(_Strict):
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    name: str | None = None
    language: Annotated[str, Field(pattern=_LANG.pattern)] | None = None


def _upper_codes(values: list[str]) -> list[str]:
    out = []
    for value in values:
        codes = [c.strip().upper() for c in value.split("+")]
        bad = [c for c in codes if not _ISO2.match(c)]
        if bad:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 code (or a pair like IR+CN)")
        out.append("+".join(codes))
    return out


class MatchConfig(_Strict):
    keywords: list[Annotated[str, Field(min_length=1)]] = []
    partners: list[str] = Field(default=[], description="all of these countries are partners")
    partners_any: list[str] = Field(default=[], description="any of these (IR+CN = a pair)")
    sectors: list[str] = []
    event_types: list[str] = []
    languages: list[Annotated[str, Field(pattern=_LANG.pattern)]] = []
    feeds: list[str] = []
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.0
    cooperation_only: bool = True

    @field_validator("partners", "partners_any")
    @classmethod
    def _codes(cls, values: list[str]) -> list[str]:
        return _upper_codes(values)

    @field_validator("sectors")
    @classmethod
    def _sectors(cls, values: list[str]) -> list[str]:
        unknown = sorted(set(values) - SECTORS)
        if unknown:
            raise ValueError(f"unknown sector(s) {unknown}; known: {sorted(SECTORS)}")
        return values

    @field_validator("event_types")
    @classmethod
    def _events(cls, values: list[str]) -> list[str]:
        unknown = sorted(set(values) - EVENT_TYPES)
        if unknown:
            raise ValueError(f"unknown event type(s) {unknown}; known: {sorted(EVENT_TYPES)}")
        return values


_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


def _check_tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_tz)]


class DigestConfig(_Strict):
    digest: Literal["hourly", "daily", "weekly"]
    at: Annotated[str, Field(pattern=_HHMM)] = "08:00"
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    timezone: TimeZoneName = "UTC"


class QuietHoursConfig(_Strict):
    start: Annotated[str, Field(pattern=_HHMM)]
    end: Annotated[str, Field(pattern=_HHMM)]
    timezone: TimeZoneName = "UTC"


class TemplatesConfig(_Strict):
    title: str | None = None
    text: str | None = None
    html: str | None = None
    markdown: str | None = None


class WatchlistConfig(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    match: MatchConfig = MatchConfig()
    notify: Annotated[list[str], Field(min_length=1)]
    mode: Literal["instant"] | DigestConfig = "instant"
    quiet_hours: QuietHoursConfig | None = None
    templates: TemplatesConfig | None = None

    @property
    def digest(self) -> DigestSchedule | None:
        if isinstance(self.mode, str):
            return None
        m = self.mode
        return DigestSchedule(m.digest, _hhmm(m.at), m.weekday, m.timezone)

    @property
    def quiet(self) -> QuietHours | None:
        q = self.quiet_hours
        return None if q is None else QuietHours(_hhmm(q.start), _hhmm(q.end), q.timezone)


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


class FeedHealthConfig(_Strict):
    notify: Annotated[list[str], Field(min_length=1)]
    after_errors: Annotated[int, Field(ge=1)] = 3


class CoopwatchConfig(_Strict):
    feeds: list[FeedConfig] = []
    targets: dict[str, str] = Field(default={}, description="named Apprise URLs")
    max_messages_per_hour: Annotated[int, Field(ge=0)] = Field(
        default=0,
        description="per destination; above it alerts are folded into a digest (0: no limit)",
    )
    feed_health: FeedHealthConfig | None = Field(
        default=None, description="where to warn when a feed keeps failing or is gone"
    )
    watchlists: list[WatchlistConfig] = []


@dataclass(frozen=True, slots=True)
class Target:
    """A notification destination. `url` may hold secrets: never log or store it."""

    url: str
    label: str  # redacted, safe to show and store

    @property
    def key(self) -> str:
        return target_key(self.url)


def target_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


@dataclass(frozen=True)
class LoadedConfig:
    source: str
    model: CoopwatchConfig

    @property
    def feeds(self) -> list[FeedConfig]:
        return self.model.feeds

    @property
    def watchlists(self) -> list[WatchlistConfig]:
        return self.model.watchlists

    def targets_of(self, watchlist: WatchlistConfig | FeedHealthConfig) -> list[str]:
        return [self.model.targets.get(item, item) for item in watchlist.notify]

    def watchlist(self, name: str) -> WatchlistConfig | None:
        return next((w for w in self.model.watchlists if w.name == name), None)


def watch_rule(watchlist: WatchlistConfig) -> WatchRule:
    m = watchlist.match
    return WatchRule(
        name=watchlist.name,
        keywords=tuple(m.keywords),
        partners_all=frozenset(c for p in m.partners for c in p.split("+")),
        partners_any=tuple(frozenset(p.split("+")) for p in m.partners_any),
        sectors=frozenset(m.sectors),
        event_types=frozenset(m.event_types),
        languages=frozenset(m.languages),
        feeds=frozenset(m.feeds),
        min_score=m.min_score,
        cooperation_only=m.cooperation_only,
    )


# -- loading ------------------------------------------------------------------------------

Checker = Callable[[LoadedConfig], list[tuple[tuple[str | int, ...], str]]]


def load_config(path: Path, *, checks: tuple[Checker, ...] = ()) -> LoadedConfig:
    """Read, parse and validate `path`; raise ConfigError naming file, line and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: configuration file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_config(text, source=str(path), checks=checks)


def parse_config(text: str, *, source: str, checks: tuple[Checker, ...] = ()) -> LoadedConfig:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the top level must be a mapping with feeds/watchlists")
    lines = dict(_node_lines(node, ())) if node is not None else {}
    try:
        model = CoopwatchConfig.model_validate(data)
    except ValidationError as exc:
        problems = [(tuple(e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigError(_describe(source, lines, problems)) from exc
    loaded = LoadedConfig(source=source, model=model)
    problems = _check_names(model) + [p for check in checks for p in check(loaded)]
    if problems:
        raise ConfigError(_describe(source, lines, problems))
    return loaded


def _check_names(model: CoopwatchConfig) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    for i, w in enumerate(model.watchlists):
        if w.name in seen:
            problems.append((("watchlists", i, "name"), f"duplicate watchlist name {w.name!r}"))
        seen.add(w.name)
    urls: set[str] = set()
    for i, f in enumerate(model.feeds):
        if f.url in urls:
            problems.append((("feeds", i, "url"), f"duplicate feed URL {f.url!r}"))
        urls.add(f.url)
    return problems


def _describe(
    source: str,
    lines: dict[tuple[str | int, ...], int],
    problems: list[tuple[tuple[Any, ...], str]],
) -> str:
    out = []
    for loc, msg in problems:
        line = _closest_line(lines, loc)
        field = ".".join(str(p) for p in loc) or "(top level)"
        out.append(f"{source}:{line}: {field}: {msg}")
    return "invalid configuration:\n  " + "\n  ".join(out)


def _closest_line(lines: dict[tuple[str | int, ...], int], loc: tuple[Any, ...]) -> int:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return 1


def _node_lines(
    node: yaml.Node, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], int]]:
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _node_lines(value, (*path, str(key.value)))
            yield (*path, str(key.value)), key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _node_lines(item, (*path, i))
