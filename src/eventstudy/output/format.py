"""The one set of number and text formatters for every output: tables, the report, the charts and
the terminal.

Display text uses the typographic minus (U+2212, :data:`MINUS`); the terminal summary asks for
the ASCII hyphen (``minus="-"``), which copies and pastes into any shell or spreadsheet.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

MINUS = "\u2212"
#: Significance marks, as the tables' notes state them.
STARS_NOTE = "*** p < 0.01, ** p < 0.05, * p < 0.10 (two-sided)."


#: The ``car.csv`` column whose p-values mark a firm's CAR (and day-0 AR) with stars, by the study
#: key ``multiple_testing``; and the adjustment's name for the notes.
P_COLUMN = {"none": "p", "holm": "p_holm", "bh": "p_bh"}
ADJUSTMENT = {"holm": "Holm (1979)", "bh": "Benjamini & Hochberg (1995)"}


def adjusted_note(method: str) -> str:
    """The note saying which p-values the stars of firms' CARs show ("" for ``none``)."""
    if method not in ADJUSTMENT:
        return ""
    return (
        f"Stars of each firm's CAR and day-0 AR: p-values adjusted by {ADJUSTMENT[method]} "
        "across the event's firms, window by window."
    )


def significance_mark(p: float) -> str:
    """``***`` p < 0.01, ``**`` p < 0.05, ``*`` p < 0.10 (two-sided)."""
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.10 else ""


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _minus(text: str) -> str:
    return text.replace("-", MINUS)


def fmt_pct(x: Any, digits: int = 2) -> str:
    """``−13.21%`` from -0.1321; ``n/a`` when missing."""
    if not _finite(x):
        return "n/a"
    return _minus(f"{100 * float(x):.{digits}f}%")


def fmt_num(x: Any, digits: int = 2) -> str:
    if not _finite(x):
        return "n/a"
    text = f"{float(x):.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return _minus(text)


def fmt_coef(x: Any) -> str:
    """A regression coefficient: four decimals (``−0.0412``), or four significant digits in
    scientific notation when that would hide it (``1.234e−12``, ``3.210e+05``)."""
    if not _finite(x):
        return "n/a"
    x = float(x)
    text = f"{x:.4f}" if x == 0 or 1e-3 <= abs(x) < 1e5 else f"{x:.3e}"
    if float(text) == 0:
        text = text.lstrip("-")
    return _minus(text)


def fmt_p(p: Any) -> str:
    """Two-sided p-value: three decimals, ``<0.001`` below that."""
    if not _finite(p):
        return "n/a"
    p = float(p)
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_log(x: Any, digits: int = 2) -> str:
    """``+0.85``, ``−0.12``: a value in log units (abnormal log volume), signed."""
    if not _finite(x):
        return "n/a"
    return _minus(f"{float(x):+.{digits}f}")


def fmt_multiple(log_value: Any) -> str:
    """``2.34×``, ``0.52×``, ``12.5×``: ``exp(log_value)``, a multiple of the normal level."""
    if not _finite(log_value) or float(log_value) > 700:
        return "n/a"
    return _ratio_digits(math.exp(float(log_value))) + "×"


def fmt_ratio(x: Any) -> str:
    """``45.2``, ``1.01``, ``0.003``: a positive ratio to about three significant digits."""
    return _ratio_digits(float(x)) if _finite(x) else "n/a"


def _ratio_digits(x: float) -> str:
    size = abs(x)
    digits = 0 if size >= 99.95 else 1 if size >= 9.995 else 2 if size >= 0.0995 else 3
    return f"{x:,.{digits}f}"


def fmt_measure(x: Any, unit: str) -> str:
    """A measure's value in its unit (``MeasureSpec.unit``): ``percent``, ``log`` or ``ratio``."""
    if unit == "percent":
        return fmt_pct(x)
    return fmt_log(x) if unit == "log" else fmt_ratio(x)


def fmt_int(x: Any) -> str:
    return f"{int(x):,}" if _finite(x) else "n/a"


#: How money in each currency (ISO 4217) is written: the symbol before the amount. A currency
#: not listed is written with its code (``SEK 1.2B``); see docs/global.md.
CURRENCY_SYMBOLS = {
    "USD": "$", "EUR": "€", "JPY": "¥", "GBP": "£", "CNY": "CN¥", "HKD": "HK$", "TWD": "NT$",
    "KRW": "₩", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "SGD": "S$", "INR": "₹", "CHF": "CHF ",
}  # fmt: skip


def currency_symbol(currency: str = "USD") -> str:
    """``$`` for USD, ``¥`` for JPY, ``€`` for EUR, ``SEK `` for a currency without a symbol."""
    return CURRENCY_SYMBOLS.get(currency, f"{currency} ")


def fmt_money(x: Any, signed: bool = True, currency: str = "USD") -> str:
    """``−$592.3B``, ``+$31.0B``, ``+$2.1T``, ``−$45.0M`` (``$3.5T`` with ``signed=False``);
    ``+¥1.2T``, ``−€3.4B`` in another ``currency``."""
    if not _finite(x):
        return "n/a"
    x = float(x)
    sign = MINUS if x < 0 else "+" if x > 0 and signed else ""
    size = abs(x)
    symbol = currency_symbol(currency)
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6)):
        if size >= scale:
            return f"{sign}{symbol}{size / scale:,.1f}{unit}"
    return f"{sign}{symbol}{size:,.0f}"


def fmt_window(window: Sequence[int]) -> str:
    """``[−1, +1]``, ``[0, 0]``."""
    return "[" + ", ".join(_signed(int(d)) for d in window) + "]"


def _signed(day: int) -> str:
    return "0" if day == 0 else f"+{day}" if day > 0 else f"{MINUS}{-day}"


def _stars(p: Any) -> str:
    return significance_mark(float(p)) if _finite(p) else ""


def _iso(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    try:
        return pd.Timestamp(value).date().isoformat()
    except (TypeError, ValueError):
        return str(value)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def md_escape(text: Any) -> str:
    """``text`` as literal Markdown: markup characters backslash-escaped, ``<`` and ``>`` (and an
    ``&`` that would start an entity) as entities, line breaks as spaces (safe in a table cell)."""
    out = str(text).replace("\\", "\\\\")
    for ch in "`*_[]|~#!{}":
        out = out.replace(ch, "\\" + ch)
    out = _ENTITY.sub("&amp;", out).replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(out.splitlines())



# -- terminal
# The terminal summary's formatters: the ASCII hyphen-minus (copies and pastes into any shell or
# spreadsheet) and a sign on every change (``+1.23%``, ``+$0``), so a column reads at a glance.
# Unlike the display formatters above, a value that rounds to zero keeps its sign (``-0.00``)
# and dollars have no thousands separator in front of the unit.


def term_pct(x: Any, digits: int = 2) -> str:
    """``+13.21%``, ``-0.50%``, ``+0.00%``; ``n/a`` when missing."""
    return f"{100 * float(x):+.{digits}f}%" if _finite(x) else "n/a"


def term_num(x: Any, digits: int = 2) -> str:
    """``-1.23``, ``0.45``; ``n/a`` when missing."""
    return f"{float(x):.{digits}f}" if _finite(x) else "n/a"


def term_coef(x: Any) -> str:
    """:func:`fmt_coef` with the ASCII hyphen-minus."""
    return fmt_coef(x).replace(MINUS, "-")


def term_money(x: Any, currency: str = "USD") -> str:
    """``-$592.3B``, ``+$31.0B``, ``+$45.0M``, ``+$12,345``, ``+$0``; ``n/a`` when missing
    (``+¥1.2T`` in another ``currency``)."""
    if not _finite(x):
        return "n/a"
    sign, size = ("-" if float(x) < 0 else "+"), abs(float(x))
    symbol = currency_symbol(currency)
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6)):
        if size >= scale:
            return f"{sign}{symbol}{size / scale:.1f}{unit}"
    return f"{sign}{symbol}{size:,.0f}"


def term_multiple(log_value: Any) -> str:
    """``2.34x``: :func:`fmt_multiple` with an ASCII ``x``."""
    return fmt_multiple(log_value).replace("×", "x")


def term_measure(x: Any, unit: str) -> str:
    """:func:`fmt_measure` for the terminal: ``+0.85``, ``-0.12``, ``45.2``, ``+1.23%``."""
    if unit == "percent":
        return term_pct(x)
    return f"{float(x):+.2f}" if unit == "log" and _finite(x) else fmt_ratio(x)


# -- charts
def fmt_short(x: Any) -> str:
    """``−5``, ``2.5``, ``0.25``: the shortest form (``%g``), as on a chart's axis."""
    if not _finite(x):
        return "n/a"
    return _minus(f"{float(x):g}")


def fmt_signed_pct(x: Any, digits: int = 1) -> str:
    """``+3.2%``, ``−13.2%``, ``0.0%`` from 0.032, -0.132, 0: every non-zero value signed."""
    if not _finite(x):
        return "n/a"
    value = 100 * float(x)
    sign = MINUS if value < 0 else "+" if value > 0 else ""
    return f"{sign}{abs(value):.{digits}f}%"


def fmt_billions(billions: Any, currency: str = "USD") -> str:
    """An amount given in billions of dollars, signed, as a bar label: ``−$592B``, ``+$31B``
    (whole billions from $10B), ``−$7.1B``, ``+$0.42B`` (``−¥88B`` in another ``currency``)."""
    if not _finite(billions):
        return "n/a"
    value = float(billions)
    sign = MINUS if value < 0 else "+" if value > 0 else ""
    size = abs(value)
    digits = 0 if size >= 9.95 else 1 if size >= 0.995 else 2
    return f"{sign}{currency_symbol(currency)}{size:,.{digits}f}B"


def plural(n: int, word: str) -> str:
    """``1 stock``, ``3 stocks``."""
    return f"{n} {word}{'' if n == 1 else 's'}"
