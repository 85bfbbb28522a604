"""Daily prices and share counts from Yahoo Finance, through yfinance (written against 1.7.0).

Prices are fetched one ticker at a time with ``yfinance.Ticker(t).history(...)`` rather than with
``yfinance.download(...)``. ``download`` catches every per-ticker exception, rate limits included,
logs it, and fills that ticker with NaN columns; in 1.7.0 it keeps the errors in a per-call
context and no longer fills ``yfinance.shared._ERRORS``. So after a ``download`` we could neither
tell a rate limit (worth waiting for) from an unknown ticker (not worth it) nor name the tickers
that failed without parsing log messages. Per-ticker calls give us both, and let a retry repeat
only the ticker that was throttled.

Tickers are fetched by a small thread pool (``workers``). A ticker Yahoo has no prices for is a
*per-ticker* failure: the others are delivered and :class:`~eventstudy.errors.PartialFetchError`
names it with the reason. A rate limit or network failure that outlasts the retries, or the
overall ``total_timeout``, is *systemic*: the tickers not fetched yet are not started, and the
error (``fatal=True``) still carries every ticker that was delivered, so the cache keeps them.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

from eventstudy.data.sources.base import (
    PRICE_COLUMNS,
    SHARES_COLUMNS,
    PriceSource,
    empty_prices,
    empty_shares,
)
from eventstudy.errors import DataError, PartialFetchError

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

# yfinance's error switch (``yf.config.debug.hide_exceptions``), its logger and Python's warning
# filters are process-global, while our fetches run in several threads at once. Each thread
# saving the switch on entry and restoring it on exit would let one thread restore "hide" under
# another that is still fetching, and ``warnings.catch_warnings`` is not thread-safe either (its
# restore can undo filters set meanwhile elsewhere). So the switch, the logger and our one warning
# filter are reference-counted: the first fetch to start sets them, the last to finish undoes
# exactly that; the lock guards only the count, never a network call.
_YF_CONFIG_LOCK = threading.Lock()
_yf_users = 0
#: (yfinance's debug config, its error switch, our warning filter, whether its logger was off)
_yf_saved: tuple[Any, Any, Any, bool] | None = None


class _AbortedError(Exception):
    """A worker was told to stop before it started its ticker (a systemic failure elsewhere)."""


def _is_rate_limit(exc: BaseException) -> bool:
    from yfinance.exceptions import YFRateLimitError

    return isinstance(exc, YFRateLimitError)


#: What a failed name lookup says (requests/urllib3, curl): no network, so retrying only waits.
_NO_NETWORK = re.compile(
    r"resolve host|name or service not known|temporary failure in name resolution|getaddrinfo|"
    r"nodename nor servname|no address associated|network is unreachable",
    re.IGNORECASE,
)


def _no_network(exc: BaseException) -> bool:
    return bool(_NO_NETWORK.search(str(exc)))


def _is_transient(exc: BaseException) -> bool:
    if _no_network(exc):
        return False
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
    if _no_network(exc):
        return "cannot reach Yahoo Finance: the host name could not be resolved (no network?)"
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status:  # 0 is no answer at all: said below as the network error it is
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
    """Make yfinance raise instead of log-and-return-empty while we fetch.

    By default (``yf.config.debug.hide_exceptions = True``) yfinance turns a connection error
    during the timezone lookup or the chart request into an empty frame and a logged "possibly
    delisted" message, indistinguishable from a ticker that does not exist, and a failed share
    request into None, indistinguishable from a ticker without share counts. With the switch off,
    network errors surface as exceptions we can retry and missing tickers as
    ``YFTzMissingError``/``YFPricesMissingError`` we can name. The switch is the documented
    replacement of the deprecated ``history(raise_errors=True)``; it is restored when the last
    concurrent user leaves. yfinance's own deprecation and pandas warnings, and its log lines
    (e.g. "Cookie fetch from fc.yahoo.com failed" when there is no network), are not actionable
    for our users and are silenced meanwhile: what went wrong is said once, in our error.
    """
    global _yf_users, _yf_saved
    import yfinance

    with _YF_CONFIG_LOCK:
        if _yf_users == 0:
            debug = yfinance.config.debug if hasattr(yfinance, "config") else None
            previous = debug.hide_exceptions if debug is not None else None
            if debug is not None:
                debug.hide_exceptions = False
            warnings.filterwarnings("ignore", module=r"yfinance(\.|$)")
            logger = logging.getLogger("yfinance")
            _yf_saved = (debug, previous, warnings.filters[0], logger.disabled)
            logger.disabled = True
        _yf_users += 1
    try:
        yield
    finally:
        with _YF_CONFIG_LOCK:
            _yf_users -= 1
            if _yf_users == 0 and _yf_saved is not None:
                debug, previous, entry, disabled = _yf_saved
                _yf_saved = None
                logging.getLogger("yfinance").disabled = disabled
                if debug is not None:
                    debug.hide_exceptions = previous
                # Remove our filter only ("ignore" decisions are never cached, so no reset).
                with suppress(ValueError):
                    cast(list, warnings.filters).remove(entry)


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


class _GaveUpError(DataError):
    """A systemic failure that outlasted the retries (rate limit, network) or the overall timeout;
    ``short`` is the reason in a few words, for the per-ticker failure list."""

    def __init__(self, message: str, short: str) -> None:
        super().__init__(message)
        self.short = short


def _stopped_after(fatal: _GaveUpError, fetched: int, wanted: int) -> str:
    """The systemic error, with how far the fetch got (when it got anywhere)."""
    return f"{fatal} ({fetched} of {wanted} tickers fetched)" if fetched else str(fatal)


class YahooSource(PriceSource):
    """Prices and share counts from Yahoo Finance; needs the network.

    ``session`` is handed to yfinance (a ``curl_cffi`` or ``requests`` session; None lets yfinance
    create its default browser-impersonating one). yfinance keeps one session per process, so two
    sources with different sessions must not fetch at the same time. Up to ``workers`` tickers are
    fetched at once. Rate limits (HTTP 429) and transient network errors are retried ``retries``
    times, waiting ``pause * backoff**k`` seconds (plus up to 25% jitter) before retry ``k + 1``;
    ``sleep`` does the waiting and can be replaced in tests. ``timeout`` bounds each HTTP request;
    ``total_timeout`` (seconds, None: no limit) bounds everything this source fetches, counted from
    its first fetch.
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
        *,
        workers: int = 4,
        total_timeout: float | None = None,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if pause < 0 or backoff < 1:
            raise ValueError("pause must be >= 0 and backoff >= 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if workers < 1:
            raise ValueError("workers must be >= 1")
        if total_timeout is not None and total_timeout <= 0:
            raise ValueError("total_timeout must be positive (or None for no limit)")
        self.session = session
        self.retries = retries
        self.pause = pause
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep
        self.workers = workers
        self.total_timeout = total_timeout
        self._deadline: float | None = None
        self._warm = False  # whether a first ticker ran alone (see _fetch_each)

    # -- time budget ---------------------------------------------------------------------------

    def _start_clock(self) -> None:
        if self.total_timeout is not None and self._deadline is None:
            self._deadline = time.monotonic() + self.total_timeout

    def _remaining(self) -> float | None:
        """Seconds left of ``total_timeout`` (None: unlimited)."""
        return None if self._deadline is None else self._deadline - time.monotonic()

    def _timeout_error(self, what: str) -> _GaveUpError:
        return _GaveUpError(
            f"overall fetch timeout of {self.total_timeout:g} s reached while fetching {what}; "
            "what was fetched is kept, run again to fetch the rest",
            f"overall timeout of {self.total_timeout:g} s reached",
        )

    # -- retrying ------------------------------------------------------------------------------

    def _delay(self, attempt: int) -> float:
        return self.pause * self.backoff**attempt * (1.0 + random.uniform(0.0, _JITTER))

    def _with_retries(
        self, what: str, fn: Callable[[], T], abort: threading.Event | None = None
    ) -> T:
        """``fn()``, retried on rate limits and transient network errors. Gives up with a
        :class:`DataError` (when retries or the overall time run out); stops with ``_AbortedError``
        once ``abort`` is set; any other exception propagates unchanged."""
        attempts = self.retries + 1
        for attempt in range(attempts):
            if abort is not None and abort.is_set():
                raise _AbortedError
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                raise self._timeout_error(what)
            try:
                return fn()
            except Exception as exc:
                if _no_network(exc):
                    # No name lookup, no network: every other ticker would fail the same way.
                    raise _GaveUpError(_reason(exc, ""), "no network") from exc
                rate_limited = _is_rate_limit(exc)
                if not (rate_limited or _is_transient(exc)):
                    raise
                if attempt + 1 == attempts:
                    if rate_limited:
                        raise _GaveUpError(
                            f"Yahoo rate limit (HTTP 429 Too Many Requests) while fetching {what}; "
                            f"gave up after {attempts} attempt(s). Wait a few minutes and retry, "
                            "or use local CSV data",
                            f"Yahoo rate limit (HTTP 429) outlasted {attempts} attempt(s)",
                        ) from exc
                    raise _GaveUpError(
                        f"cannot reach Yahoo Finance: {type(exc).__name__} "
                        f"({_reason(exc, '')}) while fetching {what}; "
                        f"gave up after {attempts} attempt(s)",
                        f"network error ({type(exc).__name__}) outlasted {attempts} attempt(s)",
                    ) from exc
                delay = self._delay(attempt)
                remaining = self._remaining()
                if remaining is not None and delay >= remaining:
                    # Waiting would end after the deadline: stop now rather than sleep in vain.
                    raise self._timeout_error(what) from exc
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

    def _fetch_each(
        self, what: str, tickers: list[str], one: Callable[[str], T]
    ) -> tuple[dict[str, T], dict[str, str], _GaveUpError | None]:
        """``one(ticker)`` for every ticker, ``workers`` at a time, each with retries.

        Returns the results, the failed tickers with their reasons, and the systemic error that
        stopped the fetch (None if there was none). After a systemic error no new ticker is
        started; tickers already in flight finish and are kept."""
        self._start_clock()
        results: dict[str, T] = {}
        failed: dict[str, str] = {}
        fatal: _GaveUpError | None = None
        if not tickers:
            return results, failed, fatal
        abort = threading.Event()
        pool = ThreadPoolExecutor(
            max_workers=min(self.workers, len(tickers)), thread_name_prefix="eventstudy-yahoo"
        )

        def work(ticker: str) -> T:
            try:
                return self._with_retries(f"{what} for {ticker}", partial(one, ticker), abort)
            except _GaveUpError:
                abort.set()  # here, not in the collecting thread: no new ticker may start
                raise

        futures: dict[Future[T], str] = {}
        queued = list(tickers)
        if not self._warm:
            # yfinance creates its cookie and timezone caches (sqlite, through peewee) on first
            # use, and threads racing to do so fail with "database is locked". One ticker on its
            # own first sets everything up; the others then run side by side.
            futures[pool.submit(work, queued.pop(0))] = tickers[0]
        else:
            futures |= {pool.submit(work, t): t for t in queued}
            queued = []
        pending = set(futures)
        timed_out = False
        try:
            while pending:
                done, pending = wait(
                    pending, timeout=self._remaining(), return_when=FIRST_COMPLETED
                )
                if not done:
                    # Requests still in flight at the deadline: abandon them (each is bounded by
                    # the per-request timeout and finishes in the background, unused).
                    timed_out = True
                    fatal = fatal or self._timeout_error(what)
                    abort.set()
                    break
                for future in done:
                    ticker = futures[future]
                    try:
                        results[ticker] = future.result()
                    except _AbortedError:
                        pass  # named below
                    except _GaveUpError as exc:
                        failed[ticker] = exc.short
                        fatal = fatal or exc
                    except Exception as exc:
                        # Anything else yfinance raises is about this ticker (YFTzMissingError for
                        # unknown symbols, YFPricesMissingError for empty ranges, HTTP errors).
                        failed[ticker] = _reason(exc, ticker)
                self._warm = True
                if queued and fatal is None:
                    started = {pool.submit(work, t): t for t in queued}
                    futures |= started
                    pending |= set(started)
                    queued = []
        finally:
            pool.shutdown(wait=not timed_out, cancel_futures=True)
        if fatal is not None:
            for ticker in tickers:
                if ticker not in results and ticker not in failed:
                    failed[ticker] = f"not fetched: {fatal.short}"
        return results, failed, fatal

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
        """Daily close, adjusted close and volume; ``start`` and ``end`` inclusive.

        Raises :class:`~eventstudy.errors.PartialFetchError` (a :class:`DataError`) when
        any ticker is missing: it names each one with the reason and carries the prices of the
        others (``frame``); ``fatal`` is set when a rate limit, the network or the overall timeout
        stopped the fetch rather than the tickers themselves."""
        start, end = _day(start), _day(end)
        if end < start:
            raise DataError(
                f"price window ends ({end:%Y-%m-%d}) before it starts ({start:%Y-%m-%d})"
            )
        wanted = list(dict.fromkeys(tickers))

        def one(ticker: str) -> pd.DataFrame:
            return _tidy_history(self._history(ticker, start, end), ticker, start, end)

        results, failed, fatal = self._fetch_each("prices", wanted, one)
        frames = []
        for ticker, frame in results.items():
            if frame.empty:
                failed[ticker] = "no rows with a close"
            else:
                frames.append(frame)
        out = (
            pd.concat(frames, ignore_index=True).sort_values(["ticker", "date"], ignore_index=True)
            if frames
            else empty_prices()
        )[PRICE_COLUMNS]
        if failed:
            failed = {t: failed[t] for t in wanted if t in failed}  # in the order asked
            if fatal is not None:
                message = _stopped_after(fatal, len(wanted) - len(failed), len(wanted))
            else:
                reasons = "; ".join(f"{t}: {why}" for t, why in failed.items())
                message = (
                    f"Yahoo returned no prices for {', '.join(failed)} between {start:%Y-%m-%d} "
                    f"and {end:%Y-%m-%d} ({reasons})"
                )
            raise PartialFetchError(message, out, failed, fatal=fatal is not None)
        return out

    # -- shares --------------------------------------------------------------------------------

    def _shares(self, ticker: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series | None:
        import yfinance

        try:
            with _yfinance_raising():
                # A day of slack on each side, trimmed by fetch_shares: yfinance asks Yahoo for
                # [midnight exchange time of start, midnight of end), but labels each count with
                # the UTC wall-clock date of its timestamp, so a count stamped at 00:00 UTC on
                # ``start`` falls before the window it is labelled inside.
                return yfinance.Ticker(ticker, session=self.session).get_shares_full(
                    start=f"{start - pd.Timedelta(days=1):%Y-%m-%d}",
                    end=f"{end + pd.Timedelta(days=2):%Y-%m-%d}",
                )
        except Exception as exc:
            if _is_rate_limit(exc) or _is_transient(exc):
                raise  # retried by _with_retries
            # Share counts only feed dollar-effect estimates, and whoever needs one reports its
            # absence; an unknown symbol or an odd answer means "no share history".
            log.info("no usable Yahoo share history for %s: %s", ticker, _reason(exc, ticker))
            return None

    def fetch_shares(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """Shares-outstanding history from ``Ticker.get_shares_full``; tickers without one (indices,
        ETFs, unknown symbols) are simply absent. A rate limit, network failure or timeout that
        outlasts the retries raises a fatal :class:`~eventstudy.errors.PartialFetchError`
        carrying the histories fetched so far and naming the tickers not fetched."""
        start, end = _day(start), _day(end)
        wanted = list(dict.fromkeys(tickers))
        results, failed, fatal = self._fetch_each(
            "share counts", wanted, partial(self._share_frame, start=start, end=end)
        )
        frames = [results[t] for t in wanted if t in results and not results[t].empty]
        out = (
            pd.concat(frames, ignore_index=True).sort_values(["ticker", "as_of"], ignore_index=True)
            if frames
            else empty_shares()
        )[SHARES_COLUMNS]
        if fatal is not None:
            failed = {t: failed[t] for t in wanted if t in failed}
            message = _stopped_after(fatal, len(wanted) - len(failed), len(wanted))
            raise PartialFetchError(message, out, failed, fatal=True)
        return out

    def _share_frame(self, ticker: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        series = self._shares(ticker, start, end)
        if series is None or len(series) == 0:
            return empty_shares()
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
        return frame[keep].drop_duplicates("as_of", keep="last")[SHARES_COLUMNS]
