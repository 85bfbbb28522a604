"""The study file: a validated description of events, tickers, benchmark, model and windows.

A study file is YAML (see the README for every key). :func:`load_study` turns it into a
(:class:`StudySpec`), or raises :class:`~eventstudy.errors.StudyFileError` with a one-line message
that names the file, the line (for YAML syntax errors) and the field.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from eventstudy.errors import StudyFileError

Timing = Literal["close", "after_close"]
#: What a study measures around its events (docs/measures.md): abnormal returns always; abnormal
#: trading volume and abnormal volatility when listed.
Measure = Literal["return", "volume", "volatility"]
VolumeModel = Literal["mean", "market"]
VolatilityModel = Literal["constant", "garch"]
FactorRegion = Literal[
    "us", "developed", "north_america", "europe", "japan", "asia_pacific_ex_japan", "emerging"
]
#: A cross-sectional regression's covariance (docs/explaining.md): classical, White's HC1 or
#: HC3, or clustered (by event, or by the column named in ``cluster``).
RegressionCov = Literal["nonrobust", "HC1", "HC3", "cluster"]
#: ``precision``: WLS with weights 1 / Var(CAR) (car.csv's ``se`` squared).
RegressionWeights = Literal["none", "precision"]
#: What a BHAR compounds against (docs/long_horizon.md): the normal-return model's returns, the
#: market index, each firm's matched control firm, or an equal-weighted reference portfolio.
BharBenchmark = Literal["model", "market", "matched", "portfolio"]
#: Which p-values of car.csv the terminal and the report mark with stars: the CAR's own t-test,
#: or adjusted across the event's firms (Holm 1979; Benjamini & Hochberg 1995).
MultipleTesting = Literal["none", "holm", "bh"]



@dataclass(frozen=True)
class StudyDefaults:
    """The defaults of every study-file key that has one (README, "Study file"): the only place
    they are written. :class:`StudySpec` fills them in; :class:`~eventstudy.EventStudy` takes
    its keyword defaults from here."""

    market: str = "^GSPC"
    model: str = "market"
    factors: tuple[str, ...] = ()
    dimson_lags: int = 1
    bhar_windows: tuple[tuple[int, int], ...] = ()
    estimation_window: tuple[int, int] = (-250, -11)
    event_window: tuple[int, int] = (-5, 5)
    car_windows: tuple[tuple[int, int], ...] = ((0, 0), (-1, 1), (-5, 5))
    timing: Timing = "close"
    #: Fewer non-missing estimation-window returns and the firm-event is skipped.
    min_estimation_obs: int = 100
    returns: Literal["simple", "log"] = "simple"
    price: Literal["adj_close", "close"] = "adj_close"
    measures: tuple[Measure, ...] = ("return",)
    #: Normal log volume: the estimation-window mean, or OLS on the market's log volume.
    volume_model: VolumeModel = "mean"
    #: The variance squared ARs are compared with: the return model's, or a GARCH(1,1) forecast.
    volatility_model: VolatilityModel = "constant"
    #: The currency valuation.csv's reporting columns are in (docs/global.md).
    reporting_currency: str = "USD"
    #: Which of Ken French's factor sets the factor models use (docs/global.md).
    factor_region: FactorRegion = "us"
    #: A cross-sectional regression's CAR (or BHAR) window, covariance and weights.
    regression_window: tuple[int, int] = (-1, 1)
    regression_cov: RegressionCov = "HC1"
    regression_weights: RegressionWeights = "none"
    bhar_benchmark: BharBenchmark = "model"
    #: Resamples of the BHARs' bootstrap and pseudo-portfolio tests (0: not run).
    bhar_resamples: int = 0
    #: Stars on the firms' CARs from their own p-values, or from Holm / BH adjusted ones.
    multiple_testing: MultipleTesting = "none"
    #: Bootstrap tests: off unless the study asks (``bootstrap: {}`` takes these two).
    bootstrap_reps: int = 999
    bootstrap_seed: int = 1


DEFAULTS = StudyDefaults()
#: Default minimum number of non-missing estimation-window returns for a firm-event to be fitted.
DEFAULT_MIN_ESTIMATION_OBS = DEFAULTS.min_estimation_obs


#: Window ends beyond this many trading days from day 0 are refused (about 40 years of sessions).
MAX_WINDOW_DAYS = 10_000
#: The name of the pooled sample (all firm-events of all events) in the tables: no event may
#: have it.
POOLED = "all"
#: Longest event name or study title.
MAX_NAME_LENGTH = 200
#: Longest ticker (exchange symbols, ISINs and database identifiers are far shorter).
MAX_TICKER_LENGTH = 40
#: Longest slug (file names are slug + a chart's name + extension, within 255 bytes).
MAX_SLUG_LENGTH = 80


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: messages never print unbounded input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...'"


def _as_window(value: Any) -> Any:
    if isinstance(value, list | tuple) and len(value) == 2:
        return tuple(value)
    raise ValueError("must be a pair [start, end] of trading days relative to day 0")


def _as_date(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"bad date {shown(value)} (expected YYYY-MM-DD)")


Window = Annotated[tuple[int, int], BeforeValidator(_as_window)]
Date = Annotated[dt.date, BeforeValidator(_as_date)]


def _check_window(window: tuple[int, int]) -> tuple[int, int]:
    for end in window:
        if abs(end) > MAX_WINDOW_DAYS:
            raise ValueError(
                f"{end} is more than {MAX_WINDOW_DAYS:,} trading days from day 0"
            )
    if window[0] > window[1]:
        raise ValueError(f"start {window[0]} is after end {window[1]}")
    return window


class Bootstrap(BaseModel):
    """The study key ``bootstrap``: replications and the seed of the bootstrap tests
    (docs/tests.md, "Bootstrap")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reps: int = Field(default=DEFAULTS.bootstrap_reps, ge=19, le=100_000)
    seed: int = Field(default=DEFAULTS.bootstrap_seed, ge=0)


class _Settings(BaseModel):
    """Keys that may be set for the whole study and overridden per event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    market: str | None = None
    model: str | None = None
    factors: list[str] | None = None
    dimson_lags: int | None = Field(default=None, ge=1, le=10)
    bhar_windows: list[Window] | None = None
    estimation_window: Window | None = None
    event_window: Window | None = None
    car_windows: list[Window] | None = None
    timing: Timing | None = None
    min_estimation_obs: int | None = Field(default=None, ge=3)
    measures: list[Measure] | None = None
    volume_model: VolumeModel | None = None
    volatility_model: VolatilityModel | None = None
    #: A listing's exchange by ticker (ISO 10383 MIC), overriding its suffix (docs/global.md).
    exchanges: dict[str, str] | None = None

    @field_validator("exchanges")
    @classmethod
    def _exchanges(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is None:
            return None
        out = {}
        for ticker, mic in v.items():
            if not isinstance(mic, str) or not re.fullmatch(r"[A-Z0-9]{4}", mic.strip()):
                raise ValueError(
                    f"{shown(ticker)}: {shown(mic)} is not an exchange MIC (e.g. XTKS, XAMS)"
                )
            out[str(ticker).strip()] = mic.strip()
        return out
    bhar_benchmark: BharBenchmark | None = None
    #: Tickers of the equal-weighted reference portfolio of ``bhar_benchmark: portfolio``.
    reference_portfolio: list[str] | None = None
    bhar_resamples: int | None = Field(default=None, ge=0, le=100_000)

    @field_validator("reference_portfolio")
    @classmethod
    def _reference(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _clean_tickers(v)
    multiple_testing: MultipleTesting | None = None

    @field_validator("measures")
    @classmethod
    def _measures(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        if not v:
            raise ValueError("needs at least one measure (return, volume, volatility)")
        # Returns are always measured: volume and volatility are reported beside them.
        return list(dict.fromkeys(["return", *v]))

    @field_validator("model")
    @classmethod
    def _known_model(cls, v: str | None) -> str | None:
        from eventstudy.estimation.models import MODELS

        if v is not None and v not in MODELS:
            raise ValueError(f"unknown model {shown(v)} (choose from {', '.join(MODELS)})")
        return v

    @field_validator("factors")
    @classmethod
    def _factor_tickers(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _clean_tickers(v)

    @field_validator("market")
    @classmethod
    def _market_ticker(cls, v: str | None) -> str | None:
        return None if v is None else _clean_tickers([v])[0]

    @field_validator("estimation_window", "event_window")
    @classmethod
    def _ordered(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        return None if v is None else _check_window(v)

    @field_validator("car_windows", "bhar_windows")
    @classmethod
    def _ordered_list(cls, v: list[tuple[int, int]] | None) -> list[tuple[int, int]] | None:
        if v is None:
            return None
        if not v:
            raise ValueError("needs at least one window")
        return [_check_window(w) for w in v]


class EventSpec(_Settings):
    """One dated event and the tickers it concerns, with optional per-event overrides."""

    name: str = Field(min_length=1)
    date: Date
    tickers: list[str] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v)

    @field_validator("tickers")
    @classmethod
    def _tickers(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _clean_tickers(v)


def check_currency(code: str) -> str:
    """A reporting currency: an ISO 4217 code (``USD``, ``EUR``, ``JPY``)."""
    if not isinstance(code, str) or not re.fullmatch(r"[A-Z]{3}", code.strip()):
        raise ValueError(f"{shown(code)} is not an ISO 4217 currency code (e.g. USD, EUR, JPY)")
    return code.strip()


def check_name(name: str) -> str:
    """An event name or study title that can label files, tables and charts: no control
    characters (NUL, line breaks, escapes), at most :data:`MAX_NAME_LENGTH` characters."""
    name = name.strip()
    if not name:
        raise ValueError("is empty")
    if name == POOLED:
        raise ValueError(f"{POOLED!r} names the pooled sample in the tables; choose another name")
    _printable(name, MAX_NAME_LENGTH)
    return name


def _printable(text: str, limit: int, what: str = "") -> None:
    """No control characters (they would reach terminals and files), at most ``limit`` long."""
    # str.isprintable() is False for every character of these categories (and some allowed ones,
    # such as a no-break space): only then is each character looked at (100k tickers: 0.1 s).
    bad = None
    if not text.isprintable():
        bad = next((c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:
        raise ValueError(f"{what}{shown(text)} holds the control character U+{ord(bad):04X}")
    if len(text) > limit:
        raise ValueError(f"{what}{shown(text)} is longer than {limit} characters")


def _clean_tickers(tickers: list[Any]) -> list[str]:
    out: dict[str, None] = {}
    for t in tickers:
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"bad ticker {shown(t)}")
        _printable(t.strip(), MAX_TICKER_LENGTH, "ticker ")
        out[t.strip()] = None
    if not out:
        raise ValueError("needs at least one ticker")
    return list(out)


class ResolvedEvent(BaseModel):
    """An event with every setting filled in from the study defaults."""

    model_config = ConfigDict(frozen=True)

    name: str
    date: dt.date
    tickers: tuple[str, ...]
    market: str
    model: str
    factors: tuple[str, ...] = ()
    dimson_lags: int = 1
    estimation_window: tuple[int, int]
    event_window: tuple[int, int]
    car_windows: tuple[tuple[int, int], ...]
    bhar_windows: tuple[tuple[int, int], ...] = ()
    timing: Timing
    min_estimation_obs: int
    measures: tuple[Measure, ...] = DEFAULTS.measures
    volume_model: VolumeModel = DEFAULTS.volume_model
    volatility_model: VolatilityModel = DEFAULTS.volatility_model
    #: Listings named in the study file: (ticker, MIC) pairs (the rest: from the suffix).
    exchanges: tuple[tuple[str, str], ...] = ()
    bhar_benchmark: BharBenchmark = DEFAULTS.bhar_benchmark
    reference_portfolio: tuple[str, ...] = ()
    bhar_resamples: int = DEFAULTS.bhar_resamples
    multiple_testing: MultipleTesting = DEFAULTS.multiple_testing

    def model_key(self) -> tuple:
        """Events sharing this key share the model's regressors."""
        return (self.model, self.market, self.factors, self.dimson_lags)

    def config_key(self) -> tuple:
        """Events sharing this key are fitted in one vectorised batch."""
        return (
            *self.model_key(),
            self.estimation_window,
            self.event_window,
            self.min_estimation_obs,
        )

    @property
    def windows(self) -> tuple[tuple[int, int], ...]:
        """CAR and BHAR windows, without repeats."""
        return tuple(dict.fromkeys((*self.car_windows, *self.bhar_windows)))


class RegressionSpec(BaseModel):
    """One entry of the study file's ``regressions`` (docs/explaining.md): a statsmodels formula
    (``car ~ np.log(market_value) + C(sector)``), the CAR or BHAR ``window`` it explains, the
    covariance ``cov`` (``cluster`` clusters by event, or by the column ``cluster`` names), the
    ``weights`` and an optional ``name`` (default: its 1-based number). A bare formula is an
    entry with every default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    formula: str = Field(min_length=1)
    name: str | None = None
    window: Window = DEFAULTS.regression_window
    cov: RegressionCov | None = None
    cluster: str | None = Field(default=None, min_length=1)
    weights: RegressionWeights = DEFAULTS.regression_weights

    @model_validator(mode="before")
    @classmethod
    def _bare_formula(cls, data: Any) -> Any:
        """``- car ~ C(sector)``: a bare formula is an entry with every default."""
        return {"formula": data} if isinstance(data, str) else data

    @field_validator("formula")
    @classmethod
    def _formula(cls, v: str) -> str:
        lhs, tilde, rhs = v.partition("~")
        if not tilde or not lhs.strip() or not rhs.strip():
            raise ValueError(f"{shown(v)} is not a formula 'y ~ x + ...' (e.g. 'car ~ C(sector)')")
        return v.strip()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return None if v is None else check_name(v)

    @field_validator("window")
    @classmethod
    def _window(cls, v: tuple[int, int]) -> tuple[int, int]:
        return _check_window(v)

    @model_validator(mode="after")
    def _cluster(self) -> RegressionSpec:
        if self.cluster is not None and self.cov not in (None, "cluster"):
            raise ValueError(f"cluster: {self.cluster!r} needs cov 'cluster', not {self.cov!r}")
        return self

    @property
    def covariance(self) -> RegressionCov:
        """``cov`` with its default: ``cluster`` when a cluster column is named, else HC1."""
        if self.cov is not None:
            return self.cov
        return "cluster" if self.cluster is not None else DEFAULTS.regression_cov

    def label(self, number: int) -> str:
        """The name of the regression in the tables: its ``name``, or its 1-based number."""
        return self.name or str(number)


class CalendarTime(BaseModel):
    """The ``calendar_time`` study key: a calendar-time portfolio regression
    (:mod:`eventstudy.inference.calendar_time`, docs/long_horizon.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon: Window = (1, 250)
    weighting: Literal["equal", "value"] = "equal"
    model: Literal["market", "ff3", "carhart", "ff5"] = "market"
    frequency: Literal["daily", "monthly"] = "daily"
    min_firms: int = Field(default=1, ge=1)
    #: Newey-West HAC (lags by Newey & West's 1994 rule) or White's HC1 standard errors.
    errors: Literal["hac", "hc1"] = "hac"

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, v: tuple[int, int]) -> tuple[int, int]:
        return _check_window(v)


class StudySpec(_Settings):
    """A whole study file."""

    study: str = Field(min_length=1)
    engine: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    returns: Literal["simple", "log"] = DEFAULTS.returns
    price: Literal["adj_close", "close"] = DEFAULTS.price
    reporting_currency: str = DEFAULTS.reporting_currency
    factor_region: FactorRegion = DEFAULTS.factor_region
    tickers: list[str] | None = None
    bootstrap: Bootstrap | None = None
    events: list[EventSpec] = Field(min_length=1)
    #: A CSV of firm characteristics keyed by ``ticker`` or ``event,ticker``, relative to the
    #: study file (docs/explaining.md).
    characteristics: Path | None = None
    regressions: list[RegressionSpec] | None = None
    #: Characteristic columns (or ``event``) whose values split the firm-events into groups.
    groups: list[str] | None = None
    calendar_time: CalendarTime | None = None
    #: A CSV file ``event,ticker,match_ticker`` of control firms (``bhar_benchmark: matched``),
    #: relative to the study file's folder.
    matches: Path | None = None
    source: Path | None = Field(default=None, exclude=True)
    _resolved: tuple[ResolvedEvent, ...] = PrivateAttr(default=())

    @field_validator("tickers")
    @classmethod
    def _tickers(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _clean_tickers(v)

    @field_validator("reporting_currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        return check_currency(v)

    @field_validator("study")
    @classmethod
    def _title(cls, v: str) -> str:
        return check_name(v)

    @model_validator(mode="after")
    def _check(self) -> StudySpec:
        seen: set[str] = set()
        for i, event in enumerate(self.events):
            if event.name in seen:
                raise ValueError(f"events[{i}].name: duplicate event name {event.name!r}")
            seen.add(event.name)
        for i, event in enumerate(self.events):
            if event.tickers is None and self.tickers is None:
                raise ValueError(
                    f"events[{i}] ({event.name}): no tickers "
                    "(give the event's or the study's 'tickers')"
                )
        self._resolved = tuple(self._resolve())
        for resolved in self._resolved:
            _check_windows(resolved)
        _check_explaining(self)
        return self

    @property
    def characteristics_path(self) -> Path | None:
        """``characteristics`` relative to the study file's folder (as written when absolute)."""
        if self.characteristics is None:
            return None
        if self.characteristics.is_absolute() or self.source is None:
            return self.characteristics
        return self.source.parent / self.characteristics

    @property
    def slug(self) -> str:
        return slugify(self.study)

    def resolved(self) -> list[ResolvedEvent]:
        """Events with study-level defaults applied (resolved and checked once, when the study
        was validated)."""
        return list(self._resolved)

    def _resolve(self) -> list[ResolvedEvent]:
        out = []
        for event in self.events:

            def pick(key: str, event: EventSpec = event) -> Any:
                value = getattr(event, key)
                if value is None:
                    value = getattr(self, key)
                return getattr(DEFAULTS, key) if value is None else value

            out.append(
                ResolvedEvent(
                    name=event.name,
                    date=event.date,
                    tickers=tuple(event.tickers or self.tickers or ()),
                    market=pick("market"),
                    model=pick("model"),
                    factors=tuple(pick("factors")),
                    dimson_lags=pick("dimson_lags"),
                    bhar_windows=tuple(pick("bhar_windows")),
                    estimation_window=pick("estimation_window"),
                    event_window=pick("event_window"),
                    car_windows=tuple(pick("car_windows")),
                    timing=pick("timing"),
                    min_estimation_obs=pick("min_estimation_obs"),
                    measures=tuple(pick("measures")),
                    volume_model=pick("volume_model"),
                    volatility_model=pick("volatility_model"),
                    exchanges=tuple({**(self.exchanges or {}), **(event.exchanges or {})}.items()),
                    bhar_benchmark=pick("bhar_benchmark"),
                    bhar_resamples=pick("bhar_resamples"),
                    reference_portfolio=tuple(
                        event.reference_portfolio or self.reference_portfolio or ()
                    ),
                    multiple_testing=pick("multiple_testing"),
                )
            )
        return out


def _check_windows(event: ResolvedEvent) -> None:
    where = f"event {event.name!r}"
    (e0, e1), (w0, w1) = event.estimation_window, event.event_window
    if not (e1 < w0 or e0 > w1):
        raise ValueError(
            f"{where}: estimation_window [{e0}, {e1}] overlaps event_window [{w0}, {w1}]"
        )
    length = e1 - e0 + 1
    if length < event.min_estimation_obs:
        raise ValueError(
            f"{where}: estimation_window [{e0}, {e1}] has {length} days, fewer than "
            f"min_estimation_obs = {event.min_estimation_obs}"
        )
    for kind, windows in (("car", event.car_windows), ("bhar", event.bhar_windows)):
        for c0, c1 in windows:
            if c0 < w0 or c1 > w1:
                raise ValueError(
                    f"{where}: {kind} window [{c0}, {c1}] is outside event_window [{w0}, {w1}]"
                )
    if "volatility" in event.measures and event.volatility_model == "garch" and e1 >= w0:
        raise ValueError(
            f"{where}: volatility_model 'garch' forecasts variances forward, so the "
            "estimation_window must end before the event_window"
        )
    if event.bhar_benchmark == "portfolio" and not event.reference_portfolio:
        raise ValueError(
            f"{where}: bhar_benchmark 'portfolio' needs 'reference_portfolio: [TICKER, ...]'"
        )
    if event.model == "factor" and not event.factors:
        raise ValueError(f"{where}: model 'factor' needs 'factors: [TICKER, ...]' (regressors)")
    if event.model == "factor" and event.factors and set(event.factors) & set(event.tickers):
        both = sorted(set(event.factors) & set(event.tickers))
        raise ValueError(f"{where}: {', '.join(both)} is both a regressor and an event ticker")


def _check_explaining(spec: StudySpec) -> None:
    """The cross-sectional keys (docs/explaining.md): names given once, groups of known kind."""
    labels = [r.label(k) for k, r in enumerate(spec.regressions or (), start=1)]
    twice = sorted({name for name in labels if labels.count(name) > 1})
    if twice:
        raise ValueError(f"regressions: the name {twice[0]!r} is given to two regressions")
    groups = spec.groups or []
    if spec.groups is not None and not groups:
        raise ValueError("groups: needs at least one column")
    for k, column in enumerate(groups):
        if not isinstance(column, str) or not column.strip():
            raise ValueError(f"groups[{k}]: bad column {shown(column)}")
        if groups.count(column) > 1:
            raise ValueError(f"groups: {column!r} is listed twice")
    needs = [c for c in groups if c != "event"]
    if needs and spec.characteristics is None:
        raise ValueError(
            f"groups: {needs[0]!r} is a characteristic: name the file that has it with "
            "'characteristics: FILE' (a CSV keyed by ticker or event,ticker)"
        )


def slugify(text: str) -> str:
    """A file-system-safe name: lowercase ASCII letters, digits and hyphens only, at most
    :data:`MAX_SLUG_LENGTH` characters (file names must stay within the system's limit)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:MAX_SLUG_LENGTH].rstrip("-") or "study"


def format_error(error: dict[str, Any]) -> str:
    loc = ""
    for part in error["loc"]:
        if isinstance(part, int):
            loc += f"[{part}]"
        elif part in {"function-before[_as_window(), tuple[int, int]]"} or "function-" in str(part):
            continue
        else:
            loc += f".{part}" if loc else str(part)
    msg = error["msg"]
    if error["type"] == "extra_forbidden":
        msg = "unknown key"
    elif error["type"] == "missing":
        msg = "required key is missing"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif error["type"] == "literal_error":
        msg = f"{shown(error.get('input'))} is not one of {msg.split('Input should be ')[-1]}"
    return f"{loc}: {msg}" if loc else msg


def parse_study(data: Any, source: str | Path = "<study>") -> StudySpec:
    """Validate an already-parsed study mapping."""
    if not isinstance(data, dict):
        raise StudyFileError(f"{source}: expected a mapping of study keys at the top level")
    try:
        spec = StudySpec.model_validate(data)
    except ValidationError as exc:
        raise StudyFileError(f"{source}: {format_error(dict(exc.errors()[0]))}") from None
    return spec.model_copy(update={"source": Path(source)})


class _StudyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that leaves dates as text: the study validator parses them and names the field
    (PyYAML's own timestamp constructor raises a bare ValueError on e.g. 2025-13-45). Built on
    libyaml's parser where PyYAML has it (ten times faster on studies listing 100k firm-events).
    A key given twice in one mapping is an error naming the key and its line (YAML would keep
    the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise _DuplicateKeyError(key, key_node.start_mark.line + 1)
            seen.add(key if isinstance(key, str | int | float | bool) else id(key_node))
        return super().construct_mapping(node, deep=deep)


class _DuplicateKeyError(Exception):
    def __init__(self, key: Any, line: int | None) -> None:
        self.key, self.line = key, line


def _json_study(text: str) -> Any:
    """A study file written as JSON (JSON is YAML; scripts that write large studies often do),
    read by the JSON parser: 1 MB in milliseconds, not the YAML constructor's half second. The
    same values as YAML for what a study holds (quoted text, whole numbers, decimals, true,
    false, null); a key given twice is refused as YAML's is. :data:`None` when the text is not
    plain JSON (YAML's flow style allows more): the YAML loader reads it."""
    import json

    if not text.lstrip().startswith("{"):
        return None

    def mapping(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _DuplicateKeyError(key, None)
            out[key] = value
        return out

    def number(text: str) -> Any:  # as YAML 1.1 reads it (1e5, without a dot, is text there)
        return yaml.load(text, Loader=_StudyLoader)

    try:
        return json.loads(
            text, object_pairs_hook=mapping, parse_float=number, parse_constant=str
        )
    except json.JSONDecodeError:
        return None


_StudyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _refuse_aliases(text: str, path: Path) -> None:
    """Anchors and aliases (``&a`` / ``*a``) are refused: a few hundred bytes of nested aliases
    expand to billions of values (a "billion laughs" file), and a study needs none."""
    if "&" not in text and "*" not in text:  # the common case, without scanning
        return
    try:
        for token in yaml.scan(text, Loader=_StudyLoader):
            if isinstance(token, yaml.AnchorToken | yaml.AliasToken):
                raise StudyFileError(
                    f"{path}, line {token.start_mark.line + 1}: YAML anchors and aliases "
                    "(&name, *name) are not allowed in a study file"
                )
    except yaml.YAMLError:
        return  # a syntax error: the loader reports it with its line


def load_study(path: str | Path) -> StudySpec:
    """Read and validate a YAML study file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudyFileError(f"{path}: study file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyFileError(f"{path}: cannot read study file ({exc})") from None
    try:
        data = _json_study(text)
        if data is None:
            _refuse_aliases(text, path)
            data = yaml.load(text, Loader=_StudyLoader)
    except _DuplicateKeyError as dup:
        where = f", line {dup.line}" if dup.line is not None else ""
        raise StudyFileError(
            f"{path}{where}: key {shown(dup.key)} is given twice in the same mapping"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if mark is not None:
            where = f", line {mark.line + 1}"
        elif isinstance(exc, yaml.reader.ReaderError):  # a character YAML refuses: its place
            where = f", line {text.count(chr(10), 0, exc.position) + 1}"
        else:
            where = ""
        raise StudyFileError(f"{path}{where}: YAML syntax error: {problem}") from None
    return parse_study(data, path)
