"""The registry of tests: each test of the battery described once.

An entry carries the test's function, its names (the key written in ``tests.csv``, the label of the
report's tables, the short label of the terminal summary), the phrase the report's methods
paragraph uses, its citation keys (:mod:`eventstudy.references`) and what the engine must prepare
for it. The battery, ``tests.csv``, the report, the LaTeX/xlsx tables and the terminal summary all
read it; the key of a test is spelled here and nowhere else in the package.

Adding a test: write its function (``(groups, window) -> TestResult``, see
:mod:`eventstudy.inference.parametric` for the shape) and add one :class:`TestSpec` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventstudy.inference import nonparametric, parametric

__all__ = [
    "BHAR_RESAMPLING_TESTS",
    "BHAR_TESTS",
    "BOOTSTRAP_TESTS",
    "TESTS",
    "TestSpec",
    "spec",
    "tests_for",
]


@dataclass(frozen=True)
class TestSpec:
    """Everything the package says about one test."""

    #: Key in ``tests.csv`` (the ``test`` column).
    name: str
    #: Name in the report's and the LaTeX/xlsx tables.
    label: str
    #: Citation keys of :data:`eventstudy.references.REFERENCES`.
    citations: tuple[str, ...]
    #: Phrase for the report's methods paragraph ("... and, as robustness checks, with <methods>").
    methods: str = ""
    #: Label in the terminal summary; ``None``: not shown there (it is still in ``tests.csv``).
    short_label: str | None = None
    #: ``(groups, window) -> TestResult``; ``None`` for tests computed outside the battery.
    function: Callable[..., Any] | None = None
    #: The test reads estimation-window residuals (the engine's residual pass runs for it).
    needs_residuals: bool = False
    #: The residual pass computes the test itself, for every window it is given (the function
    #: reads the result): the pass needs the windows.
    computed_in_pass: bool = False
    #: The measures (:data:`eventstudy.estimation.measures.MEASURES`) whose ``tests.csv`` rows
    #: the test has: every test suits abnormal returns and abnormal log volume; only those that
    #: do not assume symmetry suit the skewed squared ARs of the volatility measure.
    measures: tuple[str, ...] = ("return", "volume")


#: The battery, in the order of ``tests.csv``.
TESTS: tuple[TestSpec, ...] = (
    TestSpec(
        "cross_sectional_t",
        "Cross-sectional t",
        ("brown-warner-1985",),
        methods="the cross-sectional t-test (Brown & Warner 1985)",
        short_label="cross-sectional t",
        function=parametric.cross_sectional_t,
        measures=("return", "volume", "volatility"),
    ),
    TestSpec(
        "time_series_t",
        "Time-series t (crude dependence adjustment)",
        ("brown-warner-1980", "brown-warner-1985"),
        methods="the time-series t-test with the crude dependence adjustment (Brown & Warner 1980)",
        function=parametric.time_series_t,
        needs_residuals=True,
    ),
    TestSpec(
        "patell",
        "Patell Z",
        ("patell-1976",),
        methods="the standardised-residual test of Patell (1976)",
        short_label="Patell Z",
        function=parametric.patell,
    ),
    TestSpec(
        "bmp",
        "Standardised cross-sectional (BMP)",
        ("boehmer-1991",),
        methods="the standardised cross-sectional test of Boehmer, Musumeci & Poulsen (1991)",
        short_label="BMP t",
        function=parametric.bmp,
    ),
    TestSpec(
        "adjusted_patell",
        "Adjusted Patell Z",
        ("kolari-pynnonen-2010",),
        methods="the Patell test adjusted for cross-correlation (Kolari & Pynnönen 2010)",
        short_label="adj. Patell (KP)",
        function=parametric.adjusted_patell,
        needs_residuals=True,
    ),
    TestSpec(
        "adjusted_bmp",
        "Adjusted BMP",
        ("kolari-pynnonen-2010",),
        methods="the BMP test adjusted for cross-correlation (Kolari & Pynnönen 2010)",
        short_label="adj. BMP (KP)",
        function=parametric.adjusted_bmp,
        needs_residuals=True,
    ),
    TestSpec(
        "corrado_rank",
        "Rank test",
        ("corrado-1989", "corrado-zivney-1992"),
        methods="the rank test of Corrado (1989; Corrado & Zivney 1992 for missing returns)",
        short_label="Corrado rank",
        function=nonparametric.corrado_rank,
        needs_residuals=True,
        measures=("return", "volume", "volatility"),
    ),
    TestSpec(
        "sign",
        "Sign test",
        ("brown-warner-1980",),
        methods="the sign test",
        function=nonparametric.sign,
    ),
    TestSpec(
        "generalized_sign",
        "Generalised sign test",
        ("cowan-1992",),
        methods="the generalised sign test of Cowan (1992)",
        short_label="generalized sign",
        function=nonparametric.generalized_sign,
    ),
    TestSpec(
        "wilcoxon",
        "Wilcoxon signed-rank",
        ("wilcoxon-1945",),
        methods="the Wilcoxon (1945) signed-rank test",
        function=nonparametric.wilcoxon,
    ),
    TestSpec(
        "grank",
        "Generalised rank (GRANK)",
        ("kolari-pynnonen-2011",),
        methods="the generalised rank test of Kolari & Pynnönen (2011)",
        short_label="GRANK t",
        function=nonparametric.grank,
        needs_residuals=True,
        computed_in_pass=True,
    ),
    TestSpec(
        "skewness_adjusted_t",
        "Skewness-adjusted t",
        ("hall-1992", "lyon-1999"),
        methods="the skewness-adjusted t-test (Hall 1992; Lyon, Barber & Tsai 1999)",
        function=parametric.skewness_adjusted_t,
    ),
    TestSpec(
        "brown_warner_1980",
        "Brown-Warner t (independence)",
        ("brown-warner-1980",),
        methods="the t-test of Brown & Warner (1980) under cross-sectional independence",
        function=parametric.brown_warner_1980,
        needs_residuals=True,
    ),
    TestSpec(
        "lamb",
        "Lamb Z",
        ("lamb-1995",),
        methods="the time-series test of Lamb (1995) with the prediction error of each day",
        function=parametric.lamb,
        needs_residuals=True,
    ),
    TestSpec(
        "corrado_sign",
        "Sign test (Corrado & Zivney)",
        ("corrado-zivney-1992",),
        methods="the sign test of Corrado & Zivney (1992)",
        function=nonparametric.corrado_sign,
        needs_residuals=True,
    ),
)

#: Tests of buy-and-hold abnormal returns (computed from the BHARs, not by the battery's engine).
BHAR_TESTS: tuple[TestSpec, ...] = (
    TestSpec("bhar_cross_sectional_t", "BHAR: cross-sectional t", ("brown-warner-1985",)),
    TestSpec("bhar_skewness_adjusted_t", "BHAR: skewness-adjusted t", ("hall-1992", "lyon-1999")),
    # One implementation (eventstudy.inference.bootstrap.bhar_tests), asked for by either study
    # key: ``bhar_resamples`` (B per event, among Lyon, Barber & Tsai's resampling tests) or
    # ``bootstrap`` (its reps, with the other bootstrap tests when no event resamples).
    TestSpec(
        "bhar_bootstrap_skewness_adjusted_t",
        "BHAR: bootstrapped skewness-adjusted t",
        ("hall-1992", "lyon-1999"),
        methods="the bootstrapped skewness-adjusted t (Lyon, Barber & Tsai 1999)",
    ),
    # Asked for by ``bhar_resamples`` (eventstudy.inference.bhar_bootstrap).
    TestSpec(
        "bhar_empirical_p",
        "BHAR: empirical p-value (pseudo-portfolios)",
        ("lyon-1999",),
        methods="empirical p-values from pseudo-portfolios (Lyon, Barber & Tsai 1999)",
    ),
)
#: The resampling tests of BHARs (:mod:`eventstudy.inference.bhar_bootstrap`).
BHAR_RESAMPLING_TESTS: tuple[TestSpec, ...] = BHAR_TESTS[2:]

#: Tests with bootstrap p-values, run with the study key ``bootstrap`` (returns only), outside
#: the battery's engine (:mod:`eventstudy.inference.bootstrap`); rows after the battery's.
BOOTSTRAP_TESTS: tuple[TestSpec, ...] = (
    TestSpec(
        "wild_bootstrap_t",
        "Cross-sectional t, wild bootstrap",
        ("wu-1986", "davidson-flachaire-2008"),
        methods="the cross-sectional t (wild bootstrap, Rademacher weights; Wu 1986; Davidson & "
        "Flachaire 2008)",
        short_label="wild bootstrap t",
        measures=("return",),
    ),
    TestSpec(
        "bootstrap_skewness_adjusted_t",
        "Skewness-adjusted t, bootstrapped",
        ("lyon-1999",),
        methods="the skewness-adjusted t (Lyon, Barber & Tsai 1999)",
        short_label="bootstrap skew. t",
        measures=("return",),
    ),
)

_BY_NAME = {t.name: t for t in (*TESTS, *BHAR_TESTS, *BOOTSTRAP_TESTS)}


def tests_for(measure: str) -> tuple[TestSpec, ...]:
    """The battery's tests that suit ``measure``, in :data:`TESTS` order."""
    return tuple(t for t in TESTS if measure in t.measures)


def spec(name: str) -> TestSpec | None:
    """The entry of the test written as ``name`` in ``tests.csv`` (``None`` if unknown)."""
    return _BY_NAME.get(name)
