"""Daily prices and share counts from Yahoo Finance, through yfinance (written against 1.7.0).

Prices are fetched one ticker at a time with ``yfinance.Ticker(t).history(...)`` rather than with
``yfinance.download(...)``. ``download`` catches every per-ticker exception, rate limits included,
logs it, and fills that ticker with NaN columns; in 1.7.0 it keeps the errors in a per-call
context and no longer fills ``yfinance.shared._ERRORS``. So after a ``download`` we could neither
tell a rate limit (worth waiting for) from an unknown ticker (not worth it) nor name the tickers
that failed without parsing log messages. Per-ticker calls give us both, and let a retry repeat
only the ticker that was throttled. It costs nothing: ``download`` with ``threads=False`` makes the
same ``Ticker.history`` calls in a loop.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from eventstudy.errors import DataError
from eventstudy.sources.base import (
    PRICE_COLUMNS,
    SHARES_COLUMNS,
    PriceSource,
    empty_prices,
    empty_shares,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Each backoff delay is stretched by a random factor in [1, 1 + _JITTER] so that several clients
#: throttled at the same moment do not all come back at the same moment.
_JITTER = 0.25

#: Exception class names (matched anywhere in the MRO) that mean "the network hiccuped, try again".
#: Matched by name because requests and curl_cffi have parallel, unrelated hierarchies, and both
#: derive every exception (HTTPError included) from OSError, so ``isinstance(exc, OSError)`` would
#: retry a plain 404 too.
_TRANSIENT = frozenset(
    {
        "ConnectionError",
        "Timeout",
        "TimeoutError",
        "ConnectTimeout",
        "ReadTimeout",
        "ChunkedEncodingError",
        "RemoteDisconnected",
        "IncompleteRead",
    }
)

# yfinance's error switch is process-global; this lock keeps our own threads from interleaving
# their save/restore of it.
_YF_CONFIG_LOCK = threading.Lock()


def _is_rate_limit(exc: BaseException) -> bool:
    from yfinance.exceptions import YFRateLimitError

    return isinstance(exc, YFRateLimitError)


def _is_transient(exc: BaseException) -> bool:
    return any(cls.__name__ in _TRANSIENT for cls in type(exc).__mro__)


def _reason(exc: BaseException, ticker: str) -> str:
    """One short line saying why yfinance failed for ``ticker``."""
    from yfinance.exceptions import YFPricesMissingError, YFTzMissingError

    if isinstance(exc, YFTzMissingError):
        # yfinance's timezone lookup (a chart request) failed: Yahoo does not know the symbol.
        return "unknown or delisted symbol (Yahoo has no metadata for it)"
    if isinstance(exc, YFPricesMissingError):
        # Its generic text quotes yfinance's exclusive end date, which would contradict ours.
        return getattr(exc, "yahoo_reason", None) or "no price data in this window"
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is not None:
        # HTTPError's text repeats the whole URL, crumb included; the status is what matters.
        return f"Yahoo answered HTTP {status}" + (" (unknown symbol?)" if status == 404 else "")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"\?\S*", "", text)  # query strings carry the session's crumb
    text = text.removeprefix(f"${ticker.upper()}: ")  # yfinance's "$TICKER: ..." messages
    if len(text) > 160:
        text = text[:157] + "..."
    return text


def _day(value: Any) -> pd.Timestamp:
    """A naive midnight timestamp (the calendar date) from a date-like value."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


@contextmanager
def _yfinance_raising() -> Iterator[None]:
    """Make yfinance raise instead of log-and-return-empty while fetching prices.

    By default (``yf.config.debug.hide_exceptions = True``) yfinance turns a connection error
    during the timezone lookup or the chart request into an empty frame and a logged "possibly
    delisted" message, indistinguishable from a ticker that does not exist. With the switch off,
    network errors surface as exceptions we can retry and missing tickers as
    ``YFTzMissingError``/``YFPricesMissingError`` we can name. The switch is the documented
    replacement of the deprecated ``history(raise_errors=True)``; it is restored afterwards. Its
    own deprecation and pandas warnings are not actionable for our users and are silenced.
    """
    import yfinance

    debug = yfinance.config.debug if hasattr(yfinance, "config") else None
    with _YF_CONFIG_LOCK, warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"yfinance(\.|$)")
        if debug is None:
            yield
            return
        previous = debug.hide_exceptions
        debug.hide_exceptions = False
        try:
            yield
        finally:
            debug.hide_exceptions = previous


def _column(raw: pd.DataFrame, name: str) -> pd.Series:
    if name not in raw.columns:
        raise ValueError(f"yfinance returned no {name!r} column")
    return pd.to_numeric(raw[name], errors="coerce").astype(float)


def _tidy_history(
    raw: pd.DataFrame | None, ticker: str, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """``Ticker.history`` output -> rows of :data:`PRICE_COLUMNS` within ``[start, end]``."""
    if raw is None or raw.empty:
        return empty_prices()
    index = pd.DatetimeIndex(raw.index)
    if index.tz is not None:
        # yfinance labels daily bars with midnight exchange time: dropping the zone keeps that
        # exchange date, whereas converting to UTC first would move exchanges east of Greenwich
        # (Tokyo, Sydney) to the previous day.
        index = index.tz_localize(None)
    volume = _column(raw, "Volume")
    out = pd.DataFrame(
        {
            "ticker": ticker,
            "date": index.normalize().astype("datetime64[ns]"),
            "close": _column(raw, "Close").to_numpy(),
            "adj_close": _column(raw, "Adj Close").to_numpy(),
            # yfinance writes a missing volume as 0 (it does fillna(0)); indices without volume
            # come back as 0 on every day. Unknown is NaN in our layout, as in the CSV source.
            "volume": volume.where(volume != 0, np.nan).to_numpy(),
        }
    )
    keep = out[["close", "adj_close"]].notna().any(axis=1) & out["date"].between(start, end)
    out = out[keep].drop_duplicates("date", keep="last")
    return out[PRICE_COLUMNS].reset_index(drop=True)


class YahooSource(PriceSource):
    """Prices and share counts from Yahoo Finance; needs the network.

    ``session`` is handed to yfinance (a ``curl_cffi`` or ``requests`` session; None lets yfinance
    create its default browser-impersonating one). Rate limits (HTTP 429) and transient network
    errors are retried ``retries`` times, waiting ``pause * backoff**k`` seconds (plus up to 25%
    jitter) before retry ``k + 1``; ``sleep`` does the waiting and can be replaced in tests.
    """

    name = "yahoo"
    uses_network = True

    def __init__(
        self,
        session: Any = None,
        retries: int = 3,
        pause: float = 1.0,
        backoff: float = 2.0,
        timeout: float = 30.0,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if pause < 0 or backoff < 1:
            raise ValueError("pause must be >= 0 and backoff >= 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.session = session
        self.retries = retries
        self.pause = pause
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep

    # -- retrying ------------------------------------------------------------------------------

    def _delay(self, attempt: int) -> float:
        return self.pause * self.backoff**attempt * (1.0 + random.uniform(0.0, _JITTER))

    def _with_retries(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()``, retried on rate limits and transient network errors. Gives up with a
        :class:`DataError`; any other exception propagates unchanged."""
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                return fn()
            except Exception as exc:
                rate_limited = _is_rate_limit(exc)
                if not (rate_limited or _is_transient(exc)):
                    raise
                if attempt + 1 == attempts:
                    if rate_limited:
                        raise DataError(
                            f"Yahoo rate limit (HTTP 429 Too Many Requests) while fetching {what}; "
                            f"gave up after {attempts} attempt(s). Wait a few minutes and retry, "
                            "or use local CSV data"
                        ) from exc
                    raise DataError(
                        f"could not reach Yahoo while fetching {what} "
                        f"({type(exc).__name__}: {_reason(exc, '')}); "
                        f"gave up after {attempts} attempt(s)"
                    ) from exc
                delay = self._delay(attempt)
                log.warning(
                    "Yahoo %s while fetching %s; retrying in %.1f s (attempt %d of %d)",
                    "rate limit" if rate_limited else type(exc).__name__,
                    what,
                    delay,
                    attempt + 2,
                    attempts,
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- prices --------------------------------------------------------------------------------

    def _history(self, ticker: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        import yfinance

        with _yfinance_raising():
            return yfinance.Ticker(ticker, session=self.session).history(
                start=f"{start:%Y-%m-%d}",
                # yfinance's end is exclusive (midnight exchange time of that day).
                end=f"{end + pd.Timedelta(days=1):%Y-%m-%d}",
                interval="1d",
                auto_adjust=False,  # we want both Close (split-adjusted) and Adj Close
                back_adjust=False,
                actions=False,
                repair=False,  # repair can rewrite history with guesses; keep Yahoo's numbers
                keepna=False,
                prepost=False,
                rounding=False,
                timeout=self.timeout,
            )

    def fetch_prices(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """Daily close, adjusted close and volume; ``start`` and ``end`` inclusive. Raises
        :class:`DataError` naming every ticker Yahoo had no prices for, or when the rate limit
        or the network does not recover within the retries."""
        start, end = _day(start), _day(end)
        if end < start:
            raise DataError(
                f"price window ends ({end:%Y-%m-%d}) before it starts ({start:%Y-%m-%d})"
            )
        wanted = list(dict.fromkeys(tickers))
        frames: list[pd.DataFrame] = []
        failed: dict[str, str] = {}
        for ticker in wanted:
            try:
                raw = self._with_retries(
                    f"prices for {ticker}", partial(self._history, ticker, start, end)
                )
                frame = _tidy_history(raw, ticker, start, end)
            except DataError:
                raise  # rate limit or network still failing after the retries: no point going on
            except Exception as exc:
                # Anything else yfinance raises is about this ticker (YFTzMissingError for unknown
                # symbols, YFPricesMissingError for empty ranges, HTTP errors): report, go on.
                failed[ticker] = _reason(exc, ticker)
                continue
            if frame.empty:
                failed[ticker] = "no rows with a close"
            else:
                frames.append(frame)
        if failed:
            reasons = "; ".join(f"{t}: {why}" for t, why in failed.items())
            raise DataError(
                f"Yahoo returned no prices for {', '.join(failed)} between {start:%Y-%m-%d} and "
                f"{end:%Y-%m-%d} ({reasons})"
            )
        if not frames:
            return empty_prices()
        out = pd.concat(frames, ignore_index=True)
        return out.sort_values(["ticker", "date"], ignore_index=True)[PRICE_COLUMNS]

    # -- shares --------------------------------------------------------------------------------

    def _shares(self, ticker: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series | None:
        import yfinance

        # Default yfinance error handling on purpose: a missing share history comes back as None
        # (logged by yfinance), which is exactly "this ticker has none".
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"yfinance(\.|$)")
            # A day of slack on each side, trimmed by fetch_shares: yfinance asks Yahoo for
            # [midnight exchange time of start, midnight of end), but labels each count with the
            # UTC wall-clock date of its timestamp, so a count stamped at 00:00 UTC on ``start``
            # falls before the window it is labelled inside.
            return yfinance.Ticker(ticker, session=self.session).get_shares_full(
                start=f"{start - pd.Timedelta(days=1):%Y-%m-%d}",
                end=f"{end + pd.Timedelta(days=2):%Y-%m-%d}",
            )

    def fetch_shares(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """Shares-outstanding history from ``Ticker.get_shares_full``; tickers without one (indices,
        ETFs, unknown symbols) are simply absent."""
        start, end = _day(start), _day(end)
        frames: list[pd.DataFrame] = []
        for ticker in dict.fromkeys(tickers):
            try:
                series = self._with_retries(
                    f"share counts for {ticker}", partial(self._shares, ticker, start, end)
                )
            except DataError:
                raise
            except Exception as exc:
                # Share counts only feed dollar-effect estimates, and whoever needs one reports
                # its absence; an odd answer for one ticker must not sink the price fetch.
                log.warning(
                    "no usable Yahoo share history for %s: %s", ticker, _reason(exc, ticker)
                )
                continue
            if series is None or len(series) == 0:
                continue
            index = pd.DatetimeIndex(series.index)
            if index.tz is not None:
                index = index.tz_localize(None)  # wall-clock date, as for prices
            frame = pd.DataFrame(
                {
                    "ticker": ticker,
                    "as_of": index.normalize().astype("datetime64[ns]"),
                    "shares_outstanding": pd.to_numeric(series, errors="coerce")
                    .astype(float)
                    .to_numpy(),
                    "source": "yahoo",
                }
            )
            keep = frame["as_of"].between(start, end) & (frame["shares_outstanding"] > 0)
            # Yahoo sometimes lists two counts for one date; keep the last one it gives.
            frames.append(frame[keep].drop_duplicates("as_of", keep="last"))
        frames = [f for f in frames if not f.empty]
        if not frames:
            return empty_shares()
        out = pd.concat(frames, ignore_index=True)
        return out.sort_values(["ticker", "as_of"], ignore_index=True)[SHARES_COLUMNS]
