"""Size and power of the test battery on synthetic data, in the manner of Brown & Warner (1985).

``python -m benchmarks.simulation [--samples 1000] [--firms 50] [--seed 1985]`` (``make validate``)
draws samples of firm-events from a known market model, fits each firm-event with the library's
own estimator (:func:`eventstudy.estimation.kernel.fit_batch`), runs every test of
:mod:`eventstudy.inference.battery` and the bootstrap tests (:mod:`eventstudy.inference.bootstrap`,
999 replications) on every sample at once and prints each test's rejection rate at the 5% level
(two-sided) on day 0 and over the CAR window [-1, +1]. Two rows test single firm-events (the rate
is over every firm-event of every sample): the CAR's t-test of ``car.csv`` and the sample-quantile
test of Gelbach, Helland & Klick (2013) (:mod:`eventstudy.inference.single_firm`).

The data-generating process (per firm-event; 250 estimation days [-255, -6], event window [-5, +5]):

* market ``R_mt ~ N(0.0005, 0.01^2)``; ``R_it = alpha_i + beta_i R_mt + e_it`` with
  ``alpha_i ~ N(0, 0.0005^2)``, ``beta_i ~ U(0.5, 1.5)``, ``sd(e_i) = sigma_i ~ U(0.01, 0.03)``;
* residuals are fat-tailed: Student t with 5 df scaled to unit variance;
* *independent*: every firm-event has its own calendar (own market and residual draws), so there is
  no event-date clustering;
* *clustered*: the firms of a sample share one event date and one market path, and their residuals
  share an industry factor, ``e_it = sigma_i (sqrt(rho) f_t + sqrt(1 - rho) u_it)``, so that the
  pairwise residual correlation is ``rho`` (0.05);
* *event-induced variance*: the day-0 residual variance is doubled;
* an abnormal return (0.5% or 1%) is added to every firm's day-0 return.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventstudy.estimation.kernel import Design, fit_batch
from eventstudy.inference.battery import group_tests
from eventstudy.inference.bootstrap import bootstrap_skewness_adjusted_t, wild_bootstrap_t
from eventstudy.inference.registry import BOOTSTRAP_TESTS, TESTS
from eventstudy.inference.sample import FirmEventSample
from eventstudy.inference.single_firm import sample_quantile_p
from eventstudy.inference.stats import t_pvalue

ESTIMATION = (-255, -6)
EVENT = (-5, 5)
WINDOWS = ((0, 0), (-1, 1))
RHO = 0.05
T_DF = 5
#: Replications of the bootstrap tests.
BOOTSTRAP_REPS = 999
#: Rows beside the battery's: the bootstrap tests (one per sample, as the battery's), then two
#: tests of each single firm-event (one per firm-event): car.csv's t-test of the CAR and the
#: sample-quantile test of Gelbach, Helland & Klick (2013), two-sided: 2 min(p_sq_lower,
#: p_sq_upper).
SINGLE_FIRM = ("single-firm CAR t", "single-firm sample quantile")
ROWS = (*(t.name for t in TESTS), *(t.name for t in BOOTSTRAP_TESTS), *SINGLE_FIRM)


@dataclass(frozen=True)
class Scenario:
    name: str
    effect: float = 0.0  # abnormal return added on day 0
    clustered: bool = False
    day0_variance: float = 1.0  # multiple of the residual variance on day 0


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("no AR"),
    Scenario("+0.5%", effect=0.005),
    Scenario("+1%", effect=0.01),
    Scenario("no AR, clustered", clustered=True),
    Scenario("+1%, clustered", effect=0.01, clustered=True),
    Scenario("no AR, day-0 var x2", day0_variance=2.0),
    Scenario("+1%, day-0 var x2", effect=0.01, day0_variance=2.0),
)


def _residuals(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Unit-variance Student-t draws (fat tails, as daily returns have)."""
    return rng.standard_t(T_DF, size=shape) / np.sqrt(T_DF / (T_DF - 2.0))


def simulate_scenario(
    scenario: Scenario,
    samples: int,
    firms: int,
    rng: np.random.Generator,
    bootstrap_seed: int = 0,
) -> dict[tuple[str, tuple[int, int]], np.ndarray]:
    """p-values of every test and window for ``samples`` samples of ``firms`` firm-events (the
    bootstrap's draws from ``bootstrap_seed``, so that ``rng`` draws the same data as before the
    bootstrap tests were added)."""
    block = EVENT[1] - ESTIMATION[0] + 1  # rows of relative days ESTIMATION[0] .. EVENT[1]
    zero = -ESTIMATION[0]  # column of day 0 inside a block
    n = samples * firms
    alpha = rng.normal(0.0, 0.0005, n)
    beta = rng.uniform(0.5, 1.5, n)
    sigma = rng.uniform(0.01, 0.03, n)
    if scenario.clustered:
        market = rng.normal(0.0005, 0.01, (samples, block))
        common = _residuals(rng, (samples, 1, block))
        own = _residuals(rng, (samples, firms, block))
        e = np.sqrt(RHO) * common + np.sqrt(1.0 - RHO) * own
        e = e.reshape(n, block)
        m = np.repeat(market, firms, axis=0)  # (n, block) the market each firm-event sees
    else:
        m = rng.normal(0.0005, 0.01, (n, block))
        e = _residuals(rng, (n, block))
    e[:, zero] *= np.sqrt(scenario.day0_variance)
    ret = alpha[:, None] + beta[:, None] * m + sigma[:, None] * e
    ret[:, zero] += scenario.effect

    if scenario.clustered:
        # One block of rows per sample, one column per firm: the firms share a calendar.
        panel = ret.reshape(samples, firms, block).transpose(0, 2, 1).reshape(-1, firms)
        regressor = market.reshape(-1, 1)
        col = np.tile(np.arange(firms), samples)
        day0 = np.repeat(np.arange(samples) * block + zero, firms)
    else:
        # One block of rows per firm-event in a single column: every firm-event has its own dates.
        panel = ret.reshape(-1, 1)
        regressor = m.reshape(-1, 1)
        col = np.zeros(n, dtype=int)
        day0 = np.arange(n) * block + zero
    design = Design(regressors=regressor, names=("market",))
    fit = fit_batch(panel, design, col, day0, ESTIMATION, EVENT, min_obs=100)
    sample = FirmEventSample.from_fits([(fit, np.arange(n))])
    labels = np.repeat(np.arange(samples), firms)
    _, results = group_tests(sample, labels, WINDOWS)
    out = {key: r.p_value for key, r in results.items()}
    seed = bootstrap_seed
    values = np.column_stack([sample.car(w)[0] for w in WINDOWS])
    wild = wild_bootstrap_t(values, labels, samples, BOOTSTRAP_REPS, seed)
    wild_name, skew_name = (t.name for t in BOOTSTRAP_TESTS)
    for k, w in enumerate(WINDOWS):
        out[(wild_name, w)] = wild.p_value[:, k]
        skew = bootstrap_skewness_adjusted_t(
            values[:, k], labels, samples, BOOTSTRAP_REPS, seed, (2, k)
        )
        out[(skew_name, w)] = skew.p_value[:, 0]
        car, var, _ = fit.car(*w)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[(SINGLE_FIRM[0], w)] = t_pvalue(car / np.sqrt(var), fit.df)
        lower, upper = sample_quantile_p(fit.resid, car[:, None], [w[1] - w[0] + 1])
        out[(SINGLE_FIRM[1], w)] = np.minimum(1.0, 2.0 * np.minimum(lower, upper))[:, 0]
    return out


def run(
    samples: int = 1000,
    firms: int = 50,
    seed: int = 1985,
    scenarios: Sequence[Scenario] = SCENARIOS,
    level: float = 0.05,
) -> pd.DataFrame:
    """Rejection rates at ``level``: one row per (window, test), one column per scenario."""
    rng = np.random.default_rng(seed)
    columns = {}
    for k, scenario in enumerate(scenarios):
        pvalues = simulate_scenario(scenario, samples, firms, rng, bootstrap_seed=seed + k)
        columns[scenario.name] = {
            key: float(np.mean(np.nan_to_num(p, nan=1.0) < level)) for key, p in pvalues.items()
        }
    index = pd.MultiIndex.from_tuples(
        [(f"[{w[0]}, {w[1]}]", t) for w in WINDOWS for t in ROWS], names=["window", "test"]
    )
    frame = pd.DataFrame(
        {name: [col[(t, w)] for w in WINDOWS for t in ROWS] for name, col in columns.items()},
        index=index,
    )
    return frame


def to_markdown(frame: pd.DataFrame) -> str:
    """The table as GitHub markdown, rates in percent."""
    header = "| window | test | " + " | ".join(frame.columns) + " |"
    rule = "|---|---|" + "---:|" * len(frame.columns)
    lines = [header, rule]
    for (window, test), row in frame.iterrows():
        rates = " | ".join(f"{100 * v:.1f}" for v in row)
        name = test if test in SINGLE_FIRM else f"`{test}`"
        lines.append(f"| {window} | {name} | {rates} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.simulation",
        description="Size and power of the event-study test battery (Brown & Warner 1985 style).",
    )
    parser.add_argument("--samples", type=int, default=1000, help="samples per scenario (1000)")
    parser.add_argument("--firms", type=int, default=50, help="firm-events per sample (50)")
    parser.add_argument("--seed", type=int, default=1985, help="random seed (1985)")
    args = parser.parse_args(argv)
    if args.samples < 1 or args.firms < 2:
        parser.error("needs --samples >= 1 and --firms >= 2")
    started = time.perf_counter()
    frame = run(args.samples, args.firms, args.seed)
    elapsed = time.perf_counter() - started
    print(
        f"Rejection rates (%) at the 5% level, two-sided: {args.samples} samples of {args.firms} "
        f"firm-events per scenario, market model, {ESTIMATION[1] - ESTIMATION[0] + 1}-day "
        f"estimation window, seed {args.seed}. Size columns ('no AR') should be near 5."
    )
    print()
    print(to_markdown(frame))
    print()
    print(f"({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
