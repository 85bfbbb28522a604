"""Listings: the exchange (ISO 10383 MIC) and currency of a ticker, from its Yahoo suffix.

A Yahoo ticker names its listing by a suffix: ``8035.T`` is Tokyo Electron on the Tokyo Stock
Exchange (XTKS, yen), ``ASML.AS`` ASML on Euronext Amsterdam (XAMS, euro), ``2330.TW`` TSMC in
Taipei. A ticker without a suffix (``NVDA``) is a US listing, read as trading on the exchange of
the study's market series. A study can name a listing's exchange itself (study key
``exchanges: {TICKER: MIC}``), which wins over the suffix. See docs/global.md.

Currencies are ISO 4217 codes; three Yahoo quote *sub-units* are kept apart from their currency:
London quotes most shares in pence (``GBp``), Johannesburg in cents (``ZAc``), Tel Aviv in agorot
(``ILA``): a price in them is 1/100 of a GBP, ZAR or ILS (:data:`SUBUNITS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from eventstudy.errors import DataError


@dataclass(frozen=True)
class Listing:
    """Where a suffix trades: the exchange's MIC and the currency its prices are quoted in."""

    exchange: str
    currency: str


#: Yahoo ticker suffix -> listing (the exchange calendars of ``exchange_calendars``).
SUFFIXES: dict[str, Listing] = {
    "T": Listing("XTKS", "JPY"),  # Tokyo
    "AS": Listing("XAMS", "EUR"),  # Euronext Amsterdam
    "DE": Listing("XETR", "EUR"),  # Xetra
    "F": Listing("XFRA", "EUR"),  # Frankfurt floor
    "TW": Listing("XTAI", "TWD"),  # Taiwan Stock Exchange
    "HK": Listing("XHKG", "HKD"),  # Hong Kong
    "L": Listing("XLON", "GBp"),  # London, quoted in pence
    "PA": Listing("XPAR", "EUR"),  # Euronext Paris
    "SW": Listing("XSWX", "CHF"),  # SIX Swiss Exchange
    "TO": Listing("XTSE", "CAD"),  # Toronto
    "KS": Listing("XKRX", "KRW"),  # Korea Exchange (KOSPI)
    "KQ": Listing("XKRX", "KRW"),  # Korea Exchange (KOSDAQ)
    "SS": Listing("XSHG", "CNY"),  # Shanghai
    "AX": Listing("XASX", "AUD"),  # Australian Securities Exchange
    "MI": Listing("XMIL", "EUR"),  # Borsa Italiana
    "MC": Listing("XMAD", "EUR"),  # Madrid
    "BR": Listing("XBRU", "EUR"),  # Euronext Brussels
    "ST": Listing("XSTO", "SEK"),  # Stockholm
    "CO": Listing("XCSE", "DKK"),  # Copenhagen
    "HE": Listing("XHEL", "EUR"),  # Helsinki
    "OL": Listing("XOSL", "NOK"),  # Oslo
    "SI": Listing("XSES", "SGD"),  # Singapore
    "BO": Listing("XBOM", "INR"),  # Bombay
    "JO": Listing("XJSE", "ZAc"),  # Johannesburg, quoted in cents
    "SA": Listing("BVMF", "BRL"),  # B3, Sao Paulo
    "MX": Listing("XMEX", "MXN"),  # Mexico
    "NZ": Listing("XNZE", "NZD"),  # New Zealand
    "IR": Listing("XDUB", "EUR"),  # Euronext Dublin
    "VI": Listing("XWBO", "EUR"),  # Vienna
    "LS": Listing("XLIS", "EUR"),  # Euronext Lisbon
    "WA": Listing("XWAR", "PLN"),  # Warsaw
}

#: Benchmarks whose sessions are a non-US exchange's (the US ones are in ``calendar.py``).
BENCHMARK_EXCHANGES: dict[str, str] = {
    "^N225": "XTKS", "^TOPX": "XTKS", "^AEX": "XAMS", "^GDAXI": "XETR", "^TWII": "XTAI",
    "^HSI": "XHKG", "^FTSE": "XLON", "^FCHI": "XPAR", "^SSMI": "XSWX", "^GSPTSE": "XTSE",
    "^KS11": "XKRX", "^AXJO": "XASX", "^STOXX50E": "XETR",
}  # fmt: skip

#: The currency each exchange quotes in (for a listing named by ``exchanges:`` without a suffix).
EXCHANGE_CURRENCIES: dict[str, str] = {
    "XNYS": "USD",
    **{v.exchange: v.currency for v in SUFFIXES.values()},
}

#: Yahoo quote sub-units: (the currency, how many sub-units make one).
SUBUNITS: dict[str, tuple[str, float]] = {"GBp": ("GBP", 100.0), "ZAc": ("ZAR", 100.0),
                                          "ILA": ("ILS", 100.0)}  # fmt: skip

#: A US listing: the exchange of a ticker without a suffix when the market's is unknown.
US = Listing("XNYS", "USD")


def suffix_of(ticker: str) -> str | None:
    """``T`` for ``8035.T``; None for ``NVDA``, ``BRK.B`` (a share class, not a known suffix) or
    an index (``^N225``) or FX series (``JPYUSD=X``)."""
    if ticker.startswith("^") or ticker.endswith("=X") or "." not in ticker:
        return None
    suffix = ticker.rsplit(".", 1)[1].upper()
    return suffix if suffix in SUFFIXES else None


def market_exchange(market: str) -> str | None:
    """The exchange whose sessions the market series ``market`` follows, if known."""
    from eventstudy.data.calendar import exchange_of

    known = exchange_of(market) or BENCHMARK_EXCHANGES.get(market)
    if known is not None:
        return known
    suffix = suffix_of(market)
    return SUFFIXES[suffix].exchange if suffix else None


def listing_exchange(ticker: str, market: str, named: Mapping[str, str] | None = None) -> str:
    """The exchange ``ticker`` trades on: the one ``named`` for it, else its suffix's, else (no
    suffix) the market's exchange (XNYS when the market's is unknown)."""
    if named and ticker in named:
        return named[ticker]
    suffix = suffix_of(ticker)
    if suffix is not None:
        return SUFFIXES[suffix].exchange
    return market_exchange(market) or US.exchange


def listing_currency(ticker: str, exchange: str | None = None) -> str:
    """The currency ``ticker``'s prices are quoted in (Yahoo's code: ``GBp`` for pence): its
    suffix's, else its exchange's, else USD."""
    suffix = suffix_of(ticker)
    if suffix is not None:
        return SUFFIXES[suffix].currency
    if exchange is not None and exchange in EXCHANGE_CURRENCIES:
        return EXCHANGE_CURRENCIES[exchange]
    return US.currency


def check_exchange(exchange: str, ticker: str | None = None) -> str:
    """``exchange`` if ``exchange_calendars`` knows it; otherwise a :class:`DataError` naming
    ``exchanges`` (the study key and the library's argument alike) and the ticker."""
    from eventstudy.data.calendar import _calendar

    try:
        _calendar(exchange)
    except Exception:
        whose = f" for ticker {ticker}" if ticker is not None else ""
        raise DataError(
            f"exchanges: unknown exchange {exchange!r}{whose}: name it by its "
            "ISO 10383 MIC as exchange_calendars does (XNYS, XTKS, XAMS, XETR, XTAI, XHKG, "
            "XLON, ...)"
        ) from None
    return exchange


def foreign_listings(
    tickers: Iterable[str], market: str, named: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The tickers that trade on another exchange than ``market``'s, with their exchange: the
    firms that take the own-calendar path (docs/global.md). Empty for a US-only study."""
    home = market_exchange(market) or US.exchange
    out = {}
    for t in dict.fromkeys(tickers):
        exchange = listing_exchange(t, market, named)
        if exchange != home:
            out[t] = check_exchange(exchange, t)
    return out
