"""Frames a library user hands in, checked at the door: what they must hold, in which units.

Each check either returns the frame in the one form the rest of the package reads (dates as
``datetime64[ns]`` at midnight, numbers as floats) or raises a one-line
:class:`~eventstudy.errors.DataError` naming the argument and saying how to fix it. The command
line's readers (:mod:`eventstudy.data.sources.imports`) produce the same forms from files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from eventstudy.errors import DataError, argument

#: A daily return whose typical (median absolute) size is above this is not a return: the
#: frame holds prices or percent. Real daily returns have a median absolute size near 1%.
MAX_TYPICAL_RETURN = 0.2
#: Daily factor returns as fractions have a median absolute size near 0.005; in percent, 100x.
MAX_TYPICAL_FACTOR = 0.1


def _dates(values: pd.Series | pd.Index, what: str) -> pd.Series:
    """Dates of any resolution, time zone or ISO text as ``datetime64[ns]`` at midnight."""
    try:
        out = pd.to_datetime(pd.Series(values), errors="raise", format="mixed")
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}: not dates ({str(exc).splitlines()[0]})") from None
    if out.dt.tz is not None:
        out = out.dt.tz_localize(None)
    return out.dt.normalize().astype("datetime64[ns]")


def check_returns(returns: pd.DataFrame) -> pd.DataFrame:
    """A dates x tickers frame of returns; refuses an empty frame and one that holds prices."""
    if not isinstance(returns, pd.DataFrame):
        raise DataError(
            f"{argument('returns')} must be a DataFrame of returns (dates x tickers), "
            f"not {type(returns).__name__}"
        )
    if returns.empty or returns.shape[1] == 0:
        raise DataError(f"{argument('returns')} is empty: it needs dates x tickers of returns")
    typical = _typical_size(returns.to_numpy(dtype=float, na_value=np.nan))
    if typical is None:
        raise DataError(f"{argument('returns')} holds no returns (every value is missing)")
    if typical > MAX_TYPICAL_RETURN:
        raise DataError(
            f"{argument('returns')} does not look like daily returns (median absolute value "
            f"{typical:.4g}): for prices use EventStudy.from_prices; for returns in percent "
            "divide by 100"
        )
    return returns


#: Values whose median size :func:`_typical_size` takes: evenly spaced cells of a larger panel.
TYPICAL_SAMPLE = 1_000_000


def _typical_size(values: np.ndarray) -> float | None:
    """The median absolute value of the finite ``values`` (None if there are none), taken over
    :data:`TYPICAL_SAMPLE` evenly spaced cells when there are more: a check of scale (returns
    or prices?), which a million cells settle as well as 30 million (20,000 firms over six years:
    1.4 s for the whole panel, a twentieth of that for the sample)."""
    flat = values.ravel(order="K")  # no copy: a frame's values are often column by column
    step = max(1, len(flat) // TYPICAL_SAMPLE)
    sample = flat[::step]
    finite = np.abs(sample[np.isfinite(sample)])
    if step > 1 and len(finite) < 1000:  # a sample of mostly missing cells: every cell
        finite = np.abs(flat[np.isfinite(flat)])
    return float(np.median(finite)) if len(finite) else None


def check_volume(volume: pd.DataFrame) -> pd.DataFrame:
    """Shares traded, dates x tickers (a dates index or one that parses as dates); numbers only,
    none negative."""
    if not isinstance(volume, pd.DataFrame):
        raise DataError(
            f"{argument('volume')} must be a DataFrame of shares traded (dates x tickers), "
            f"not {type(volume).__name__}"
        )
    try:
        index = pd.DatetimeIndex(pd.to_datetime(volume.index))
    except (TypeError, ValueError) as exc:
        raise DataError(f"{argument('volume')} index is not made of dates ({exc})") from None
    try:
        values = volume.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise DataError(f"{argument('volume')} holds values that are not numbers") from None
    refuse_negative_volume(values, index, volume.columns, f"{argument('volume')}: ")
    return volume.set_axis(index, axis=0)


def refuse_negative_volume(
    values: np.ndarray, dates: pd.Index, tickers: Sequence[object], where: str = ""
) -> None:
    """A negative share count is a :class:`DataError` naming the first ticker and date."""
    with np.errstate(invalid="ignore"):
        bad = np.argwhere(values < 0)
    if len(bad):
        row, col = bad[0]
        raise DataError(
            f"{where}negative volume {values[row, col]:g} for {tickers[col]} on "
            f"{pd.Timestamp(dates[row]):%Y-%m-%d}"
        )


def check_shares(shares: pd.DataFrame) -> pd.DataFrame:
    """Share counts, long: ``ticker``, ``as_of`` (or ``date``), ``shares_outstanding`` and an
    optional ``source``; ``as_of`` may be dates of any resolution or ISO text."""
    if not isinstance(shares, pd.DataFrame):
        raise DataError(f"{argument('shares')} must be a DataFrame, not {type(shares).__name__}")
    frame = shares.rename(columns={"date": "as_of"}) if "as_of" not in shares else shares
    missing = [c for c in ("ticker", "as_of", "shares_outstanding") if c not in frame]
    if missing:
        raise DataError(
            f"{argument('shares')} needs column(s) {', '.join(missing)} "
            "(ticker, as_of, shares_outstanding[, source])"
        )
    out = pd.DataFrame(
        {
            "ticker": frame["ticker"].astype(str).to_numpy(dtype=object),
            "as_of": _dates(frame["as_of"], f"{argument('shares')} column as_of").to_numpy(),
            "shares_outstanding": pd.to_numeric(frame["shares_outstanding"], errors="coerce"),
            "source": (
                frame["source"].astype(str).to_numpy(dtype=object)
                if "source" in frame
                else np.full(len(frame), "user data", dtype=object)
            ),
        }
    )
    bad = out["shares_outstanding"].isna() | (out["shares_outstanding"] <= 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{argument('shares')}, row {row}: shares_outstanding "
            f"{frame['shares_outstanding'].iloc[row]} is not a positive number"
        )
    return out


def check_factor_frame(factors: pd.DataFrame) -> pd.DataFrame:
    """Daily factors as fractions, dates x ``Mkt-RF, SMB, HML, RF, ...``; a frame in percent (as
    Ken French publishes them) is refused with how to convert it."""
    if factors.empty:
        raise DataError(f"{argument('factor_data')} is empty")
    index = pd.DatetimeIndex(_dates(pd.Series(factors.index), f"{argument('factor_data')} index"))
    frame = factors.set_axis(index, axis=0).astype(float)
    values = np.abs(frame.to_numpy())
    typical = float(np.nanmedian(values)) if np.isfinite(values).any() else 0.0
    if typical > MAX_TYPICAL_FACTOR:
        raise DataError(
            f"{argument('factor_data')} looks like percent (median absolute value {typical:.3g}); "
            "pass fractions: divide by 100 (or read Ken French's file with read_factors)"
        )
    return frame
