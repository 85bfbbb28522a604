"""A fake Yahoo Finance for tests: a real ``requests.Session`` whose transport answers the requests
yfinance (checked against 1.7.0) makes, in Yahoo's own formats, from the sample data.

Only the HTTP layer is fake, so the code under test runs through yfinance's real parsing (cookie and
crumb handshake, timezone lookup, chart JSON, share-count JSON). What yfinance asks for, and what
this fake answers:

- ``GET https://fc.yahoo.com`` (cookie, "basic" strategy): a 404 page that sets an ``A3`` cookie,
  as the real host does; yfinance pickles that cookie into its cookie cache.
- ``GET https://guce.yahoo.com/consent``, ``POST consent.yahoo.com/v2/collectConsent``,
  ``GET guce.yahoo.com/copyConsent`` (cookie, "csrf" strategy, used after a failed request when no
  cookie is cached): a consent form with csrfToken/sessionId, then 200s.
- ``GET query1|query2.finance.yahoo.com/v1/test/getcrumb``: a crumb, as ``text/plain``.
- ``GET query2.../v8/finance/chart/T?range=1d&interval=1d`` (yfinance's timezone lookup): chart
  JSON with the last session; yfinance only reads ``meta.exchangeTimezoneName``.
- ``GET query2.../v8/finance/chart/T?period1=P1&period2=P2&interval=1d&...``: chart JSON with the
  sessions whose bar timestamp t has ``P1 <= t < P2``; a window without sessions gets Yahoo's
  "no bars" result (``meta`` plus ``"indicators": {"quote": [{}], ...}``, no ``timestamp``).
- ``GET query2.../ws/fundamentals-timeseries/v1/finance/timeseries/T?symbol=T&period1=..``
  ``&period2=..`` (``Ticker.get_shares_full``): ``{"timeseries": {"result": [{"meta":
  {"symbol": [T], "type": ["shares_out"]}, "timestamp": [...], "shares_out": [...]}], "error":
  null}}`` with counts whose stamp t has ``P1 <= t <= P2``; a ticker without share counts
  gets one result holding only ``meta`` (``"type": []``), which yfinance turns into None.
- ``GET query2.../v10/finance/quoteSummary/T`` (yfinance's fallback timezone lookup, tried for the
  first two unknown tickers of a process): Yahoo's 404 ``quoteSummary`` error JSON.
- ``GET query1.../v7/finance/quote?symbols=T``: an empty ``quoteResponse``.
- anything else on a Yahoo host: 404 JSON, and the URL is listed in ``unhandled``;
- any other host: refused with :class:`UnexpectedHostError` and listed in ``blocked``.

Unknown tickers (absent from ``prices``, or listed in ``not_found``) get Yahoo's 404 chart JSON
``{"chart": {"result": null, "error": {"code": "Not Found", "description": "No data found, symbol
may be delisted"}}}``.

Chart bars are stamped like Yahoo's daily bars: at the session open, 09:30 America/New_York, in UTC
seconds (14:30 UTC in winter, 13:30 UTC in summer); a ticker given in ``listings`` (a Tokyo
listing, an FX series) is stamped at 09:00 in its exchange's time zone and its chart metadata
names that zone and its currency (``exchangeTimezoneName``, ``currency``). The sample has no
open/high/low, so those repeat the close; a blank volume is sent as 0, as Yahoo does for indices
without volume. Share counts are stamped at midnight UTC of their ``as_of`` date (yfinance then
re-labels that wall time as exchange time, so the date survives). Dividend and split events are
not replayed.

Scripted failures, per ticker (upper case, as yfinance sends it): ``fail_429`` answers the ticker's
chart and timeseries requests with ``429 Too Many Requests`` that many times before answering
normally; ``fail_connect`` raises ``requests.ConnectionError`` that many times; ``not_found``
answers every chart request with Yahoo's 404 JSON (tickers absent from ``prices`` get it too);
``empty`` answers dated chart requests with a result that has no bars.
"""

from __future__ import annotations

import datetime as dt
import http
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import numpy as np
import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

#: Hosts yfinance talks to; the fake refuses every other host.
YAHOO_HOSTS = frozenset(
    {
        "query1.finance.yahoo.com",
        "query2.finance.yahoo.com",
        "fc.yahoo.com",
        "guce.yahoo.com",
        "consent.yahoo.com",
    }
)
CHART_PATH = "/v8/finance/chart/"
TIMESERIES_PATH = "/ws/fundamentals-timeseries/v1/finance/timeseries/"
QUOTE_SUMMARY_PATH = "/v10/finance/quoteSummary/"
CRUMB = "FakeCrumb.v1"
EXCHANGE_TZ = "America/New_York"

NOT_FOUND_CHART = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}
VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
ETFS = frozenset({"SPY", "QQQ", "SMH", "SOXX"})


class UnexpectedHostError(AssertionError):
    """A request to a host that is not Yahoo's: tests must never reach the real network."""


@dataclass(frozen=True)
class Call:
    """One request the fake received, and the status it answered with (0: raised instead)."""

    method: str
    url: str
    host: str
    path: str
    params: Mapping[str, str]
    status: int

    @property
    def symbol(self) -> str | None:
        """The ticker in a chart / timeseries / quoteSummary path, else None."""
        for prefix in (CHART_PATH, TIMESERIES_PATH, QUOTE_SUMMARY_PATH):
            if self.path.startswith(prefix):
                return unquote(self.path[len(prefix) :])
        return None


def session_open_timestamps(
    dates: pd.Series | pd.DatetimeIndex, tz: str = EXCHANGE_TZ, open_at: str = "09:30"
) -> np.ndarray:
    """UTC epoch seconds of 09:30 New York time on each date: how Yahoo stamps daily bars (another
    exchange's: its own open, ``open_at`` in ``tz``, e.g. 09:00 Asia/Tokyo = 00:00 UTC)."""
    local = pd.DatetimeIndex(dates) + pd.Timedelta(f"{open_at}:00")
    utc = local.tz_localize(tz).tz_convert("UTC").tz_localize(None)
    return (utc - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)


def _epoch(ts: pd.Timestamp) -> int:
    return int(ts.timestamp())


def _plain(values: Iterable[Any]) -> list[Any]:
    """JSON-ready list: NaN becomes null, numpy scalars become Python numbers."""
    out: list[Any] = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif isinstance(v, np.integer):
            out.append(int(v))
        elif isinstance(v, np.floating):
            out.append(float(v))
        else:
            out.append(v)
    return out


class FakeYahoo:
    """The fake server: sample data, scripted failures, and the log of what was asked."""

    def __init__(
        self,
        prices: pd.DataFrame,
        shares: pd.DataFrame | None = None,
        fail_429: Mapping[str, int] | None = None,
        fail_connect: Mapping[str, int] | None = None,
        not_found: Iterable[str] = (),
        empty: Iterable[str] = (),
        listings: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        frame = prices.copy()
        frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
        frame = frame.sort_values(["ticker", "date"])
        #: Tickers listed outside New York: (exchange time zone, currency); bars at 09:00 local.
        self.listings = {str(k).upper(): v for k, v in (listings or {}).items()}
        frame["t"] = session_open_timestamps(frame["date"])
        for ticker, (tz, _currency) in self.listings.items():
            rows = (frame["ticker"].str.upper() == ticker).to_numpy()
            frame.loc[rows, "t"] = session_open_timestamps(frame.loc[rows, "date"], tz, "09:00")
        # yfinance upper-cases tickers before building URLs, so key everything by upper case.
        self.prices = {str(t).upper(): g.reset_index(drop=True) for t, g in frame.groupby("ticker")}
        self.shares: dict[str, pd.DataFrame] = {}
        if shares is not None:
            sh = shares.copy()
            sh["as_of"] = pd.to_datetime(sh["as_of"]).astype("datetime64[ns]")
            sh = sh.sort_values(["ticker", "as_of"])
            sh["t"] = (sh["as_of"] - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
            self.shares = {
                str(t).upper(): g.reset_index(drop=True) for t, g in sh.groupby("ticker")
            }
        self.fail_429 = {k.upper(): int(v) for k, v in (fail_429 or {}).items()}
        self.fail_connect = {k.upper(): int(v) for k, v in (fail_connect or {}).items()}
        self.not_found = {t.upper() for t in not_found}
        self.empty = {t.upper() for t in empty}
        self.calls: list[Call] = []
        self.blocked: list[str] = []
        self.unhandled: list[str] = []

    # -- routing -------------------------------------------------------------------------------

    def handle(
        self, session: requests.Session, request: requests.PreparedRequest
    ) -> requests.Response:
        url = request.url or ""
        parts = urlsplit(url)
        host = parts.hostname or ""
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        method = request.method or "GET"
        if host not in YAHOO_HOSTS:
            self.blocked.append(url)
            self.calls.append(Call(method, url, host, parts.path, params, 0))
            raise UnexpectedHostError(f"test tried to reach {url}")
        call = Call(method, url, host, parts.path, params, 0)
        symbol = call.symbol.upper() if call.symbol else None
        if symbol and parts.path.startswith((CHART_PATH, TIMESERIES_PATH)):
            if self.fail_connect.get(symbol, 0) > 0:
                self.fail_connect[symbol] -= 1
                self.calls.append(call)
                raise requests.exceptions.ConnectionError(f"fake connection reset for {url}")
            if self.fail_429.get(symbol, 0) > 0:
                self.fail_429[symbol] -= 1
                return self._answer(request, call, 429, "Too Many Requests\r\n", "text/plain")
        status, body, ctype = self._route(session, method, host, parts.path, params, symbol)
        return self._answer(request, call, status, body, ctype)

    def _route(
        self,
        session: requests.Session,
        method: str,
        host: str,
        path: str,
        params: dict[str, str],
        symbol: str | None,
    ) -> tuple[int, Any, str]:
        if host == "fc.yahoo.com":
            # The real fc.yahoo.com answers 404 but sets the A3 cookie that yfinance caches.
            expires = int((dt.datetime.now(dt.UTC) + dt.timedelta(days=365)).timestamp())
            session.cookies.set(
                "A3", "d=AQABBFAKE&S=AQAAAFAKE", domain=".yahoo.com", path="/", expires=expires
            )
            return 404, "<html><body>Not Found</body></html>", "text/html"
        if host == "guce.yahoo.com" and path == "/consent":
            form = (
                '<html><body><form method="post" action="https://consent.yahoo.com/v2/collectConsent">'
                '<input type="hidden" name="csrfToken" value="fakecsrf"/>'
                '<input type="hidden" name="sessionId" value="fakesession"/>'
                "</form></body></html>"
            )
            return 200, form, "text/html"
        if host in ("guce.yahoo.com", "consent.yahoo.com"):
            return 200, "<html><body>ok</body></html>", "text/html"
        if path == "/v1/test/getcrumb":
            return 200, CRUMB, "text/plain"
        if symbol is not None and path.startswith(CHART_PATH):
            return self._chart(symbol, params)
        if symbol is not None and path.startswith(TIMESERIES_PATH):
            return 200, self._timeseries(symbol, params), "application/json"
        if symbol is not None and path.startswith(QUOTE_SUMMARY_PATH) and not self._known(symbol):
            error = {"code": "Not Found", "description": f"Quote not found for symbol: {symbol}"}
            return 404, {"quoteSummary": {"result": None, "error": error}}, "application/json"
        if path == "/v7/finance/quote":
            return 200, {"quoteResponse": {"result": [], "error": None}}, "application/json"
        self.unhandled.append(f"{method} https://{host}{path}")
        error = {"code": "Not Found", "description": "HTTP 404 Not Found"}
        return 404, {"finance": {"result": None, "error": error}}, "application/json"

    def _known(self, symbol: str) -> bool:
        return symbol in self.prices and symbol not in self.not_found

    def _answer(
        self, request: requests.PreparedRequest, call: Call, status: int, body: Any, ctype: str
    ) -> requests.Response:
        self.calls.append(Call(call.method, call.url, call.host, call.path, call.params, status))
        response = requests.Response()
        response.status_code = status
        response.reason = http.HTTPStatus(status).phrase
        text = json.dumps(body, allow_nan=False) if not isinstance(body, str) else body
        response._content = text.encode("utf-8")
        response.headers = CaseInsensitiveDict({"Content-Type": f"{ctype};charset=utf-8"})
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    # -- payloads ------------------------------------------------------------------------------

    def _chart(self, symbol: str, params: dict[str, str]) -> tuple[int, Any, str]:
        if not self._known(symbol):
            return 404, NOT_FOUND_CHART, "application/json"
        rows = self.prices[symbol]
        if "period1" in params or "period2" in params:
            if symbol in self.empty:
                rows = rows.iloc[0:0]
            else:
                lo = int(params.get("period1", "0"))
                hi = int(params.get("period2", str(2**40)))
                rows = rows[(rows["t"] >= lo) & (rows["t"] < hi)]
        else:
            # range=1d: the latest session (yfinance only wants the metadata here).
            rows = rows.iloc[-1:]
        return (
            200,
            {"chart": {"result": [self._chart_result(symbol, rows)], "error": None}},
            ("application/json"),
        )

    def _chart_result(self, symbol: str, rows: pd.DataFrame) -> dict[str, Any]:
        history = self.prices[symbol]
        last_day = history["date"].iloc[-1]
        exchange_tz, currency = self.listings.get(symbol, (EXCHANGE_TZ, "USD"))
        ny_last = (last_day + pd.Timedelta(hours=16)).tz_localize(exchange_tz)
        gmtoffset = int(ny_last.utcoffset().total_seconds())
        tzname = ny_last.tzname()

        def period(start_h: float, end_h: float) -> dict[str, Any]:
            start = (last_day + pd.Timedelta(hours=start_h)).tz_localize(exchange_tz)
            end = (last_day + pd.Timedelta(hours=end_h)).tz_localize(exchange_tz)
            return {
                "timezone": tzname,
                "start": _epoch(start),
                "end": _epoch(end),
                "gmtoffset": gmtoffset,
            }

        if symbol.startswith("^"):
            instrument, exchange = "INDEX", "SNP" if symbol == "^GSPC" else "NIM"
        elif symbol in ETFS:
            instrument, exchange = "ETF", "PCX"
        else:
            instrument, exchange = "EQUITY", "NMS"
        before = history[history["t"] < (int(rows["t"].iloc[0]) if len(rows) else 0)]
        meta = {
            "currency": currency,
            "symbol": symbol,
            "exchangeName": exchange,
            "fullExchangeName": exchange,
            "instrumentType": instrument,
            "firstTradeDate": int(history["t"].iloc[0]),
            "regularMarketTime": _epoch(ny_last),
            "hasPrePostMarketData": instrument != "INDEX",
            "gmtoffset": gmtoffset,
            "timezone": tzname,
            "exchangeTimezoneName": exchange_tz,
            "regularMarketPrice": float(history["close"].iloc[-1]),
            "chartPreviousClose": float(
                before["close"].iloc[-1] if len(before) else history["close"].iloc[0]
            ),
            "priceHint": 2,
            "currentTradingPeriod": {
                "pre": period(4, 9.5),
                "regular": period(9.5, 16),
                "post": period(16, 20),
            },
            "dataGranularity": "1d",
            "range": "",
            "validRanges": VALID_RANGES,
        }
        if rows.empty:
            # Yahoo's answer for a range without bars: no timestamps, empty indicator dicts.
            return {"meta": meta, "indicators": {"quote": [{}], "adjclose": [{}]}}
        close = _plain(rows["close"])
        volume = rows["volume"].fillna(0).astype("int64")
        return {
            "meta": meta,
            "timestamp": _plain(rows["t"]),
            "indicators": {
                "quote": [
                    {
                        "open": close,
                        "high": close,
                        "low": close,
                        "close": close,
                        "volume": _plain(volume),
                    }
                ],
                "adjclose": [{"adjclose": _plain(rows["adj_close"])}],
            },
        }

    def _timeseries(self, symbol: str, params: dict[str, str]) -> dict[str, Any]:
        kind = params.get("type", "shares_out")
        result: dict[str, Any] = {"meta": {"symbol": [symbol], "type": []}}
        rows = self.shares.get(symbol)
        if kind == "shares_out" and rows is not None and symbol not in self.not_found:
            lo = int(params.get("period1", "0"))
            hi = int(params.get("period2", str(2**40)))
            rows = rows[(rows["t"] >= lo) & (rows["t"] <= hi)]
            if len(rows):
                result = {
                    "meta": {"symbol": [symbol], "type": ["shares_out"]},
                    "timestamp": _plain(rows["t"]),
                    "shares_out": _plain(rows["shares_outstanding"].astype("int64")),
                }
        return {"timeseries": {"result": [result], "error": None}}

    # -- queries for tests ---------------------------------------------------------------------

    def chart_calls(self, symbol: str | None = None, dated: bool | None = None) -> list[Call]:
        """Chart requests (optionally for one ticker; ``dated``: only period1/period2 ones, or only
        the others, i.e. yfinance's ``range=1d`` timezone lookups)."""
        out = [c for c in self.calls if c.path.startswith(CHART_PATH)]
        if symbol is not None:
            out = [c for c in out if c.symbol == symbol.upper()]
        if dated is not None:
            out = [c for c in out if ("period1" in c.params) == dated]
        return out


class _FakeYahooAdapter(HTTPAdapter):
    """Transport that answers from :class:`FakeYahoo` instead of opening a connection."""

    def __init__(self, server: FakeYahoo, session: requests.Session) -> None:
        super().__init__()
        self.server = server
        self.session = session

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # type: ignore[override]
        return self.server.handle(self.session, request)


class FakeYahooSession(requests.Session):
    """``requests.Session`` wired to a :class:`FakeYahoo` on both http:// and https://."""

    def __init__(self, server: FakeYahoo) -> None:
        super().__init__()
        self.server = server
        adapter = _FakeYahooAdapter(server, self)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    @property
    def calls(self) -> list[Call]:
        return self.server.calls


def make_fake_session(
    prices: pd.DataFrame,
    shares: pd.DataFrame | None = None,
    *,
    fail_429: Mapping[str, int] | None = None,
    fail_connect: Mapping[str, int] | None = None,
    not_found: Iterable[str] = (),
    empty: Iterable[str] = (),
    listings: Mapping[str, tuple[str, str]] | None = None,
) -> FakeYahooSession:
    """A session answering like Yahoo from ``prices`` (long ``ticker,date,close,adj_close,volume``)
    and ``shares`` (``ticker,shares_outstanding,as_of``); ``listings``: tickers listed outside
    New York, with their exchange's time zone and currency (``{"8035.T": ("Asia/Tokyo",
    "JPY")}``); see the module docstring."""
    server = FakeYahoo(
        prices,
        shares,
        fail_429=fail_429,
        fail_connect=fail_connect,
        not_found=not_found,
        empty=empty,
        listings=listings,
    )
    return FakeYahooSession(server)


@contextmanager
def isolated_yfinance(cache_dir: Path, tz_info_fetches: int = 0) -> Iterator[None]:
    """Run yfinance with no state carried in or out: fresh ``YfData`` singleton, empty request
    cache, and its timezone / cookie / ISIN caches in ``cache_dir`` instead of the user's cache.

    yfinance 1.7.0 keeps all of this in module globals: ``YfData`` is a singleton that keeps its
    cookie, crumb and cookie strategy and only swaps the session when one is passed;
    ``YfData.cache_get`` is an ``lru_cache`` that answers repeated past-dated requests without
    touching the session; the sqlite caches live in a platformdirs folder and cache the timezone
    lookup per ticker; ``base._tz_info_fetch_ctr`` lets only the first two timezone failures in a
    process fall back to ``quoteSummary`` (``tz_info_fetches`` sets how many were used already).
    """
    from yfinance import base as yf_base
    from yfinance import cache as yf_cache
    from yfinance import data as yf_data

    db_managers = (yf_cache._TzDBManager, yf_cache._CookieDBManager, yf_cache._ISINDBManager)
    cache_slots = (
        (yf_cache._TzCacheManager, "_tz_cache", yf_cache.tz_db_proxy),
        (yf_cache._CookieCacheManager, "_Cookie_cache", yf_cache.Cookie_db_proxy),
        (yf_cache._ISINCacheManager, "_isin_cache", yf_cache.isin_db_proxy),
    )
    saved_dbs = [(m, m._cache_dir, m._db) for m in db_managers]
    saved_caches = [(m, attr, proxy, getattr(m, attr)) for m, attr, proxy in cache_slots]
    instances = yf_data.SingletonMeta._instances
    saved_singleton = instances.pop(yf_data.YfData, None)
    saved_ctr = yf_base._tz_info_fetch_ctr
    yf_data.YfData.cache_get.cache_clear()
    for manager in db_managers:
        manager._cache_dir = str(cache_dir)
        manager._db = None
    for manager, attr, _proxy in cache_slots:
        setattr(manager, attr, None)
    yf_base._tz_info_fetch_ctr = tz_info_fetches
    try:
        yield
    finally:
        for manager in db_managers:
            manager.close_db()
        for manager, cache_dir_was, db_was in saved_dbs:
            manager._cache_dir = cache_dir_was
            manager._db = db_was
        for manager, attr, proxy, cache_was in saved_caches:
            setattr(manager, attr, cache_was)
            # The proxies are module globals that our fresh caches re-pointed at the tmp db.
            if cache_was is not None and getattr(cache_was, "db", None) is not None:
                proxy.initialize(cache_was.db)
        instances.pop(yf_data.YfData, None)
        if saved_singleton is not None:
            instances[yf_data.YfData] = saved_singleton
        yf_data.YfData.cache_get.cache_clear()
        yf_base._tz_info_fetch_ctr = saved_ctr
