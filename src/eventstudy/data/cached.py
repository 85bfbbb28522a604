"""The cache policy: :class:`CachedSource` answers from the local price store and fetches
from a source only what the store does not cover yet.

It fetches in batches of tickers and stores each batch in its own transaction, so an interrupted
fetch keeps every completed batch and the next run fetches only the rest. See docs/data.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import pandas as pd

from eventstudy.data.sources.base import PriceSource
from eventstudy.data.store import (
    _DAY,
    _MIN_FETCH_DAYS,
    _SHARES_HISTORY_START,
    PriceStore,
    Range,
    _chunks,
    _day,
    _unique,
)
from eventstudy.errors import DataError, OfflineError, PartialFetchError, argument, listed
from eventstudy.progress import progress_bar


def _trim_weekends(start: pd.Timestamp, end: pd.Timestamp) -> Range | None:
    """``[start, end]`` without leading and trailing Saturdays and Sundays (None if nothing is
    left): no exchange this package serves has weekend sessions, and asking a source for a
    weekend alone costs a call and makes some sources report an error."""
    while start <= end and start.day_of_week >= 5:
        start += _DAY
    while end >= start and end.day_of_week >= 5:
        end -= _DAY
    return (start, end) if start <= end else None


def _widen_over_weekends(start: pd.Timestamp, end: pd.Timestamp) -> Range:
    """Extend a weekday range over the weekend days touching it, so that coverage recorded on
    either side of a weekend merges into one range."""
    while (start - _DAY).day_of_week >= 5:
        start -= _DAY
    while (end + _DAY).day_of_week >= 5:
        end += _DAY
    return start, end


class CachedSource(PriceSource):
    """A :class:`PriceSource` that answers from a :class:`PriceStore` and fetches from
    ``upstream`` only what the store does not cover yet.

    ``offline`` refuses upstreams that use the network (a local file upstream is still read);
    ``refresh`` refetches whole requested ranges instead of only the missing parts. Days after
    yesterday (UTC) are fetched but never recorded as covered, because their bars may still change
    or not exist yet; ``today`` pins the date for tests and reproducible runs.

    Missing tickers are fetched ``batch_size`` at a time and each batch is stored in its own
    transaction, so an interrupted run keeps what it completed. When the upstream cannot deliver
    some tickers (:class:`PartialFetchError`), the others are stored and the failed ones are
    recorded in ``failures`` (ticker -> reason) and left uncovered, to be tried again next run;
    with ``strict`` the first such failure raises a :class:`DataError`. A fatal partial failure
    (rate limit, network, timeout) always raises, after storing what was delivered.
    ``progress`` shows a bar on stderr (None: only when stderr is a terminal).
    ``upstream_calls`` counts the calls made to the upstream source; ``fetched`` holds the tickers
    it delivered prices for."""

    def __init__(
        self,
        store: PriceStore,
        upstream: PriceSource | None,
        offline: bool = False,
        refresh: bool = False,
        *,
        today: object = None,
        strict: bool = False,
        batch_size: int = 25,
        progress: bool | None = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.store = store
        self.upstream = upstream
        self.offline = offline
        self.refresh = refresh
        self.today = _day(today) if today is not None else None
        self.strict = strict
        self.batch_size = batch_size
        self.progress = progress
        self.upstream_calls = 0
        #: Tickers the upstream could not deliver prices for, with the reason (this source's life).
        self.failures: dict[str, str] = {}
        #: Tickers whose share history the upstream could not deliver, with the reason.
        self.share_failures: dict[str, str] = {}
        #: Tickers the upstream delivered prices for.
        self.fetched: set[str] = set()
        self.name = f"cache:{upstream.name}" if upstream is not None else "cache"
        self.uses_network = bool(upstream is not None and upstream.uses_network and not offline)

    @property
    def can_fetch(self) -> bool:
        """Whether missing data may be fetched from the upstream source in this run."""
        return self.upstream is not None and not (self.offline and self.upstream.uses_network)

    def _today(self) -> pd.Timestamp:
        return self.today if self.today is not None else _day(pd.Timestamp.now(tz="UTC"))

    def _call(self, fetch: Callable[..., pd.DataFrame], *args: object) -> pd.DataFrame:
        self.upstream_calls += 1
        return fetch(*args)

    def _unavailable(self, detail: str) -> OfflineError:
        if self.upstream is None:
            return OfflineError(
                f"no stored prices for {detail} and no source to fetch them from; "
                "import a price file"
            )
        return OfflineError(
            f"offline: no stored prices for {detail}; fetch them ({argument('offline=False')}) or "
                f"import a price file"
        )

    def _fetch_batch(
        self, fetch: Callable[..., pd.DataFrame], batch: list[str], *args: object
    ) -> tuple[pd.DataFrame, list[str], dict[str, str], PartialFetchError | None]:
        """One upstream call for ``batch``: the frame of the delivered tickers, the delivered
        tickers, the failed ones with reasons, and the error to raise once the frame is stored
        (a fatal partial failure), if any."""
        fatal = None
        try:
            frame = self._call(fetch, batch, *args)
            failed: dict[str, str] = {}
        except PartialFetchError as exc:
            frame, failed = exc.frame, {t: r for t, r in exc.failures.items() if t in batch}
            fatal = exc if exc.fatal else None
        delivered = [t for t in batch if t not in failed]
        if not frame.empty:
            frame = frame[frame["ticker"].isin(delivered)]
        return frame, delivered, failed, fatal

    @staticmethod
    def _stopped(exc: PartialFetchError, what: str, kept: bool) -> DataError:
        if not kept:  # nothing arrived: the reason alone says it all
            return DataError(str(exc))
        return DataError(
            f"{exc}; the {what} fetched so far are stored, and the next run fetches only the rest"
        )

    def prices(self, tickers: Iterable[str], start: object, end: object) -> pd.DataFrame:
        """Prices of ``tickers`` between ``start`` and ``end`` (inclusive), fetching the missing
        parts first. Tickers missing the same ranges share upstream calls (in batches). Tickers
        the upstream cannot deliver are left out (see ``failures``) unless ``strict``."""
        names = _unique(tickers)
        lo, hi = _day(start), _day(end)
        if lo > hi:
            raise ValueError(f"start {lo:%Y-%m-%d} is after end {hi:%Y-%m-%d}")
        settled = self._today() - _DAY
        if self.refresh and self.can_fetch:
            missing = {t: [(lo, hi)] for t in names}
        else:
            missing = self.store._missing_by_ticker(names, lo, hi)

        groups: dict[tuple[Range, ...], list[str]] = {}
        for ticker in names:
            trimmed = (_trim_weekends(a, b) for a, b in missing[ticker])
            ranges = tuple(r for r in trimmed if r is not None)
            if ranges:
                groups.setdefault(ranges, []).append(ticker)

        if groups and not self.can_fetch:
            # Days after the last settled one cannot be complete anywhere yet: not an error.
            unavailable: dict[tuple[Range, ...], list[str]] = {}
            for ranges, group in groups.items():
                clipped = tuple((a, min(b, settled)) for a, b in ranges if a <= settled)
                if clipped:
                    unavailable.setdefault(clipped, []).extend(group)
            if unavailable:
                parts = [
                    listed(group)
                    + " "
                    + " and ".join(f"between {a:%Y-%m-%d} and {b:%Y-%m-%d}" for a, b in ranges)
                    for ranges, group in list(unavailable.items())[:5]
                ]
                if len(unavailable) > 5:
                    rest = sum(len(g) for g in list(unavailable.values())[5:])
                    parts.append(f"and {rest} more tickers")
                raise self._unavailable(", ".join(parts))
        elif groups:
            assert self.upstream is not None  # can_fetch
            total = sum(len(group) * len(ranges) for ranges, group in groups.items())
            failed_now: dict[str, str] = {}
            with progress_bar(self.progress, total, "Fetching prices", "ticker") as bar:
                for ranges, group in groups.items():
                    for first, last in ranges:
                        # Widen short ranges backwards (into days probably stored already;
                        # refetching them is harmless) so that the request always spans sessions.
                        a = min(first, last - (_MIN_FETCH_DAYS - 1) * _DAY)
                        cover_lo, cover_hi = _widen_over_weekends(a, last)
                        # A ticker that failed one range is not asked for the next one.
                        todo = [t for t in group if t not in failed_now]
                        bar.update(len(group) - len(todo))
                        for batch in _chunks(todo, self.batch_size):
                            frame, delivered, failed, fatal = self._fetch_batch(
                                self.upstream.fetch_prices, list(batch), a, last
                            )
                            # Each batch is its own transaction: an interruption keeps what was
                            # completed; failed tickers stay uncovered, to be tried next run.
                            if delivered:
                                self.store.put_prices(
                                    frame,
                                    self.upstream.name,
                                    start=cover_lo,
                                    end=min(cover_hi, settled),
                                    tickers=delivered,
                                )
                            self.fetched.update(delivered)
                            failed_now.update(failed)
                            self.failures.update(failed)
                            bar.update(len(batch))
                            if fatal is not None:
                                raise self._stopped(fatal, "prices", bool(self.fetched)) from fatal
                            if failed and self.strict:
                                raise DataError(
                                    f"could not fetch prices for {listed(list(failed))} "
                                    f"({_reasons(failed)}); {argument('strict=True')} makes "
                                    "this fatal"
                                )
        return self.store.get_prices(names, lo, hi)

    def shares(self, tickers: Iterable[str], as_of: object = None) -> pd.DataFrame:
        """Stored share counts of ``tickers``, fetching the histories not fetched yet. With
        ``as_of``, a history fetched on or before that date is fetched again (it cannot hold
        filings made since). Tickers without any share data are not an error: they are absent.
        A fatal partial failure raises after storing the histories that were delivered."""
        names = _unique(tickers)
        if self.can_fetch and names:
            assert self.upstream is not None
            if self.refresh:
                todo = names
            else:
                fetched = self.store._shares_fetched(names)
                needed = _day(as_of) if as_of is not None else None
                todo = [
                    t
                    for t in names
                    if t not in fetched or (needed is not None and _day(fetched[t]) <= needed)
                ]
            kept = False
            with progress_bar(self.progress, len(todo), "Fetching share counts", "ticker") as bar:
                for batch in _chunks(todo, self.batch_size):
                    frame, delivered, failed, fatal = self._fetch_batch(
                        self.upstream.fetch_shares,
                        list(batch),
                        _SHARES_HISTORY_START,
                        self._today(),
                    )
                    # Label rows the upstream left unattributed with its name, not "unknown".
                    frame = frame.copy()
                    if "source" not in frame.columns:
                        frame["source"] = self.upstream.name
                    else:
                        known = frame["source"].notna()
                        frame["source"] = (
                            frame["source"].astype(object).where(known, self.upstream.name)
                        )
                    # Only delivered tickers are marked as fetched: the others are asked again.
                    if delivered:
                        self.store.put_shares(frame, tickers=delivered)
                        kept = True
                    self.share_failures.update(failed)
                    bar.update(len(batch))
                    if fatal is not None:
                        raise self._stopped(fatal, "share counts", kept) from fatal
        return self.store.get_shares(names)

    # PriceSource interface, so a cached source can stand wherever a source is expected.
    def fetch_prices(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        return self.prices(tickers, start, end)

    def fetch_shares(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        return self.shares(tickers)


def _reasons(failed: dict[str, str], limit: int = 5) -> str:
    return listed([f"{t}: {why}" for t, why in failed.items()], limit, "; ")
