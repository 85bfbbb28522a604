"""Firm characteristics and the cross-section of a window (docs/explaining.md).

A characteristics table is keyed by ``ticker`` (one row per firm, for every event) or by
``event,ticker`` (one row per firm-event); every other column is a characteristic, numeric when
every non-empty value is a number and text otherwise; an empty value is missing. Checks, each a
one-line :class:`~eventstudy.errors.DataError` naming the keys (at most ten of them):

* a column named like a built-in variable (:data:`BUILTINS`), a column named twice, no
  characteristic column, an empty key;
* a key given twice;
* a row for an event or ticker the study does not have (or a ticker its event does not list);
* a fitted firm-event without a row.

:func:`cross_section` puts a window's CAR (and BHAR) of every fitted firm-event beside the
built-in variables and the characteristics: the data a regression formula or a group test reads.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy.errors import DataError, StudyFileError, listed
from eventstudy.study import ResolvedEvent

#: The variables every cross-section has, with what they are (the formulas may use them; no
#: characteristic may be named like them).
BUILTINS: dict[str, str] = {
    "car": "the firm-event's CAR over the window",
    "car_se": "the CAR's standard error (car.csv's se)",
    "bhar": "the firm-event's BHAR over the window (a BHAR window)",
    "market_value": "market value on day -1 (valuation.csv)",
    "beta": "the market model's slope (models with one: market, scholes-williams, dimson, garch)",
    "sigma": "the normal-return model's residual standard deviation",
    "event": "the event's name",
    "ticker": "the firm's ticker",
}
#: The key columns of a characteristics table.
KEYS = ("event", "ticker")
#: Models whose parameters hold the market model's slope ``beta_<market>``.
MARKET_MODELS = frozenset({"market", "scholes-williams", "dimson", "garch"})
#: Columns of the built-in variables' frame.
BUILTIN_COLUMNS = ["event", "ticker", "market_value", "beta", "sigma"]
#: pandas' default text dtype (``str`` under pandas 3, ``object`` before).
_TEXT = pd.Series(["text"]).dtype


def read_characteristics(path: Path | str) -> pd.DataFrame:
    """A characteristics CSV, checked (:func:`characteristics_table`); a missing or unreadable
    file is a one-line :class:`~eventstudy.errors.StudyFileError` naming it."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise StudyFileError(f"characteristics: file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyFileError(f"characteristics: cannot read {path} ({exc})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a CSV file ({exc})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise DataError(f"{path}: empty (expected a header 'ticker,...' or 'event,ticker,...')")
    header = [h.strip() for h in rows[0]]
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(
                f"{path}, line {line}: {len(row)} fields where the header has {len(header)}"
            )
    _check_columns(header, str(path))
    frame = pd.DataFrame(rows[1:], columns=header, dtype=object)
    return characteristics_table(frame, str(path))


def _check_columns(columns: Sequence[str], where: str) -> None:
    names = [str(c) for c in columns]
    twice = sorted({c for c in names if names.count(c) > 1})
    if twice:
        raise DataError(f"{where}: column {twice[0]!r} is named twice")
    if "ticker" not in names:
        raise DataError(
            f"{where}: no 'ticker' column (a characteristics table is keyed by ticker or by "
            f"event,ticker; columns: {listed(names)})"
        )
    if "" in names:
        raise DataError(f"{where}: a column has no name")
    builtin = [c for c in names if c in BUILTINS and c not in KEYS]
    if builtin:
        raise DataError(
            f"{where}: column {builtin[0]!r} is named like a built-in variable "
            f"({BUILTINS[builtin[0]]}); rename it"
        )
    if not [c for c in names if c not in KEYS]:
        raise DataError(f"{where}: no characteristic columns besides the keys")


def characteristics_table(frame: pd.DataFrame, where: str = "characteristics") -> pd.DataFrame:
    """``frame`` checked and typed: key columns as text (``event`` first when present), each
    characteristic numeric (float) when every non-empty value is a number, text otherwise; empty
    values missing. Raises a one-line :class:`~eventstudy.errors.DataError` for bad columns,
    empty keys or a key given twice."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{where}: expected a pandas DataFrame, got {type(frame).__name__}")
    if "ticker" not in frame.columns and frame.index.name == "ticker":
        frame = frame.reset_index()
    _check_columns([str(c) for c in frame.columns], where)
    keys = [k for k in KEYS if k in frame.columns]
    out = {}
    for key in keys:
        values = frame[key].map(lambda v: "" if _missing(v) else str(v).strip())
        empty = np.flatnonzero((values == "").to_numpy())
        if len(empty):
            raise DataError(f"{where}: row {int(empty[0]) + 1} has an empty {key!r}")
        out[key] = pd.array(values.to_numpy(dtype=object), dtype=_TEXT)
    for column in frame.columns:
        if column not in KEYS:
            out[str(column)] = _typed(frame[column])
    table = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    dup = table.duplicated(keys, keep=False).to_numpy()
    if dup.any():
        shown = list(dict.fromkeys(_key_text(table, keys, int(i)) for i in np.flatnonzero(dup)))
        raise DataError(f"{where}: key given twice: {listed(shown)}")
    return table


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _typed(column: pd.Series) -> pd.Series:
    """A characteristic as floats when every non-empty value is a number, else as text (values
    stripped; empty or missing values NaN)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype(float).reset_index(drop=True)
    text = column.map(lambda v: np.nan if _missing(v) else (str(v).strip() or np.nan))
    numbers = pd.to_numeric(text, errors="coerce")
    present = text.notna().to_numpy()
    if present.any() and numbers[present].notna().all():
        return numbers.astype(float).reset_index(drop=True)
    return pd.Series(pd.array(text.to_numpy(dtype=object), dtype=_TEXT))


def _key_text(table: pd.DataFrame, keys: Sequence[str], row: int) -> str:
    return " / ".join(str(table[k].iloc[row]) for k in keys)


def check_known(table: pd.DataFrame, events: Sequence[ResolvedEvent], where: str) -> None:
    """Every row is for an event and ticker the study has (by ``event,ticker``: a ticker its
    event lists); a one-line :class:`~eventstudy.errors.DataError` naming the unknown keys."""
    listed_by = {e.name: set(e.tickers) for e in events}
    every = {t for tickers in listed_by.values() for t in tickers}
    tickers = table["ticker"].astype(str).to_numpy()
    if "event" in table.columns:
        names = table["event"].astype(str).to_numpy()
        unknown_events = list(dict.fromkeys(n for n in names if n not in listed_by))
        if unknown_events:
            raise DataError(
                f"{where}: unknown event(s) {listed([repr(n) for n in unknown_events])} "
                f"(events: {listed([repr(n) for n in listed_by])})"
            )
        pairs = [
            f"{n} / {t}"
            for n, t in zip(names, tickers, strict=True)
            if t not in listed_by[n]
        ]
        if pairs:
            raise DataError(f"{where}: rows for tickers their event does not list: {listed(pairs)}")
        return
    unknown = list(dict.fromkeys(t for t in tickers if t not in every))
    if unknown:
        raise DataError(f"{where}: ticker(s) {listed(unknown)} are in no event of the study")


def per_firm_event(table: pd.DataFrame, fitted: pd.DataFrame, where: str) -> pd.DataFrame:
    """One row per fitted firm-event (``fitted``: ``event,ticker`` in study order) with its
    characteristics: ``event,ticker,<columns>``; a fitted firm-event without a row is a one-line
    :class:`~eventstudy.errors.DataError` naming it."""
    keys = ["event", "ticker"] if "event" in table.columns else ["ticker"]
    merged = fitted[["event", "ticker"]].merge(
        table.assign(_row=np.arange(len(table))), on=keys, how="left", validate="many_to_one"
    )
    missing = merged["_row"].isna().to_numpy()
    if missing.any():
        shown = [
            f"{e} / {t}"
            for e, t in zip(merged["event"][missing], merged["ticker"][missing], strict=True)
        ]
        by = "event,ticker" if len(keys) == 2 else "ticker"
        raise DataError(
            f"{where}: no row for firm-event(s) {listed(shown)} (keyed by {by}; add a row for "
            "each, with empty values where a characteristic is unknown)"
        )
    return merged.drop(columns="_row").reset_index(drop=True)


def fitted_firm_events(car: pd.DataFrame) -> pd.DataFrame:
    """``event,ticker`` of every fitted firm-event (those with CAR rows), in study order."""
    return car[["event", "ticker"]].drop_duplicates().reset_index(drop=True)


def builtin_variables(
    car: pd.DataFrame,
    valuation: pd.DataFrame,
    params: pd.DataFrame,
    events: Sequence[ResolvedEvent],
) -> pd.DataFrame:
    """``event,ticker,market_value,beta,sigma`` of every fitted firm-event: the market value on
    day -1 from ``valuation.csv`` (NaN without a share count), the slope ``beta_<market>`` of
    the models in :data:`MARKET_MODELS` (NaN for the others) and the residual sd ``sigma`` from
    ``params.csv``."""
    out = fitted_firm_events(car)
    if len(valuation) and "market_value" in valuation.columns:
        value = valuation.drop_duplicates(["event", "ticker"])[["event", "ticker", "market_value"]]
        out = out.merge(value, on=["event", "ticker"], how="left")
    else:
        out["market_value"] = np.nan
    market_of = {e.name: e.market for e in events}
    model_of = {e.name: e.model for e in events}
    fitted = params.drop_duplicates(["event", "ticker"]).set_index(["event", "ticker"])
    at = out.set_index(["event", "ticker"]).index
    beta = np.full(len(out), np.nan)
    for name in dict.fromkeys(out["event"]):
        column = f"beta_{market_of.get(name)}"
        if model_of.get(name) not in MARKET_MODELS or column not in fitted.columns:
            continue
        rows = (out["event"] == name).to_numpy()
        beta[rows] = fitted[column].reindex(at[rows]).to_numpy(dtype=float)
    out["beta"] = beta
    out["sigma"] = (
        fitted["sigma"].reindex(at).to_numpy(dtype=float) if "sigma" in fitted else np.nan
    )
    out["market_value"] = out["market_value"].astype(float)
    return out[BUILTIN_COLUMNS]


def cross_section(
    window: tuple[int, int],
    car: pd.DataFrame,
    bhar: pd.DataFrame,
    builtins: pd.DataFrame,
    characteristics: pd.DataFrame | None,
) -> pd.DataFrame:
    """Every fitted firm-event with the window as a CAR or BHAR window: ``event,ticker``, then
    ``car`` with its standard error ``car_se`` (a CAR window) and ``bhar`` (a BHAR window), the
    built-in ``market_value,beta,sigma`` and the characteristics. Study order; no rows (with the
    columns) when no firm-event has the window."""
    start, end = window
    keys = ["event", "ticker"]
    data = builtins
    present = np.zeros(len(data), dtype=bool)
    for frame, values in ((car, {"car": "car", "se": "car_se"}), (bhar, {"bhar": "bhar"})):
        if not len(frame):
            continue
        at = frame[(frame["start"] == start) & (frame["end"] == end)]
        if not len(at):
            continue
        part = at[[*keys, *values]].rename(columns=values).assign(_in=True)
        data = data.merge(part, on=keys, how="left")
        present |= data.pop("_in").notna().to_numpy()
    measured = [c for c in ("car", "car_se", "bhar") if c in data.columns]
    data = data.loc[present, [*keys, *measured, *BUILTIN_COLUMNS[2:]]]
    if characteristics is not None:
        data = data.merge(characteristics, on=keys, how="left")
    return data.reset_index(drop=True)


def window_kind(data: pd.DataFrame) -> str | None:
    """``car`` when the cross-section has CARs, ``bhar`` when it has BHARs only, else None."""
    for column in ("car", "bhar"):
        if column in data.columns and data[column].notna().any():
            return column
    return None
