"""Size and power of the test battery on synthetic data, in the manner of Brown & Warner (1985).

``python -m benchmarks.simulation [--samples 1000] [--firms 50] [--seed 1985]`` (``make validate``)
draws samples of firm-events from a known market model, fits each firm-event with the library's
own estimator (:func:`eventstudy.estimation.kernel.fit_batch`), runs every test of
:mod:`eventstudy.inference.battery` on every sample at once and prints each test's rejection rate
at the
5% level (two-sided) on day 0 and over the CAR window [-1, +1]; then the size and power of the
calendar-time portfolio's alpha (:func:`calendar_time_rates`, ``--calendar-studies``).

Then the same for the volume and volatility measures (:mod:`benchmarks.simulation_measures`:
synthetic studies with volume, through the public API; ``--measure-samples``, ``--garch N``).
``--quick`` runs 200 return samples and 100 measure samples; ``--only returns|measures`` one
part.

Returns also run the bootstrap tests (:mod:`eventstudy.inference.bootstrap`, 999
replications) and two single-firm-event rows (the rate is over every firm-event of every sample):
the CAR's t-test of ``car.csv`` and the sample-quantile test of Gelbach, Helland & Klick (2013)
(:mod:`eventstudy.inference.single_firm`).

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
    """The table as GitHub markdown, rates in percent (n/a where not run); the index levels are
    the first columns, the last (the test) in code style."""
    names = list(frame.index.names)
    header = "| " + " | ".join([*names, *frame.columns]) + " |"
    rule = "|" + "---|" * len(names) + "---:|" * len(frame.columns)
    lines = [header, rule]
    for keys, row in frame.iterrows():
        *first, test = keys
        rates = " | ".join("n/a" if np.isnan(v) else f"{100 * v:.1f}" for v in row)
        name = test if test in SINGLE_FIRM else f"`{test}`"
        lines.append("| " + " | ".join([*first, name]) + f" | {rates} |")
    return "\n".join(lines)


#: The calendar-time simulation's holding horizon and planted abnormal return (a day).
CALENDAR_HORIZON = (1, 120)
CALENDAR_EFFECT = 0.0005


def calendar_time_rates(seeds: int, seed: int = 1974, errors: str = "hac") -> pd.DataFrame:
    """Rejection rates (5%, two-sided) of the calendar-time portfolio's alpha
    (:mod:`eventstudy.inference.calendar_time`, daily, equal weights, market model) over
    ``seeds`` synthetic studies (:class:`eventstudy.synthetic.SyntheticConfig`: 1,000 firms with
    alpha 0, 40 events of 8 firms on 800 sessions), with no abnormal return and with
    :data:`CALENDAR_EFFECT` a day planted over the horizon; also the mean estimated alpha."""
    from eventstudy.inference.calendar_time import calendar_time_regression
    from eventstudy.synthetic import SyntheticConfig

    h0, h1 = CALENDAR_HORIZON
    out = {}
    for name, effect in (("no alpha", 0.0), (f"+{CALENDAR_EFFECT:.2%} a day", CALENDAR_EFFECT)):
        p_values, alphas = [], []
        for k in range(seeds):
            cfg = SyntheticConfig(
                n_firms=1000,
                n_days=800,
                n_events=40,
                firms_per_event=8,
                seed=seed + k,
                alpha_sd=0.0,
                abnormal={d: effect for d in range(h0, h1 + 1)} if effect else 0.0,
                event_window=(-5, h1),
            )
            returns, _events = cfg.generate()
            day0, firms = cfg.event_rows()
            result = calendar_time_regression(
                returns.index,
                returns[cfg.tickers].to_numpy(),
                np.repeat(day0, firms.shape[1]),
                firms.ravel(),
                returns[cfg.market].to_numpy(),
                horizon=CALENDAR_HORIZON,
                errors=errors,
            )
            p_values.append(float(result.ols.pvalues["const"]))
            alphas.append(result.alpha)
        out[name] = {
            "rejection rate (%)": 100.0 * float(np.mean(np.array(p_values) < 0.05)),
            "mean alpha (% a day)": 100.0 * float(np.mean(alphas)),
        }
    return pd.DataFrame(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.simulation",
        description="Size and power of the event-study test battery (Brown & Warner 1985 style).",
    )
    parser.add_argument("--samples", type=int, help="return samples per scenario (1000)")
    parser.add_argument("--firms", type=int, default=50, help="firm-events per sample (50)")
    parser.add_argument("--seed", type=int, default=1985, help="random seed (1985)")
    parser.add_argument(
        "--calendar-studies",
        type=int,
        default=100,
        help="synthetic studies for the calendar-time portfolio's size and power (100; 0: skip)",
    )
    parser.add_argument(
        "--measure-samples", type=int, help="volume and volatility samples per scenario (1000)"
    )
    parser.add_argument(
        "--measure-seed", type=int, default=1996, help="seed of the measure studies (1996)"
    )
    parser.add_argument(
        "--garch", type=int, default=0, metavar="N",
        help="also the GARCH volatility model on N samples (N >= --firms; slow: 0, off)",
    )
    parser.add_argument("--quick", action="store_true", help="200 return, 100 measure samples")
    parser.add_argument("--only", choices=("returns", "measures"), help="run one part only")
    args = parser.parse_args(argv)
    samples = args.samples or (200 if args.quick else 1000)
    measure_samples = args.measure_samples or (100 if args.quick else 1000)
    if samples < 1 or args.firms < 2:
        parser.error("needs --samples >= 1 and --firms >= 2")
    if measure_samples < args.firms or (args.garch and args.garch < args.firms):
        parser.error("needs --measure-samples and --garch (if set) >= --firms")
    if args.only != "measures":
        started = time.perf_counter()
        frame = run(samples, args.firms, args.seed)
        elapsed = time.perf_counter() - started
        print(
            f"Rejection rates (%) at the 5% level, two-sided: {samples} samples of {args.firms} "
            f"firm-events per scenario, market model, {ESTIMATION[1] - ESTIMATION[0] + 1}-day "
            f"estimation window, seed {args.seed}. Size columns ('no AR') should be near 5."
        )
        print()
        print(to_markdown(frame))
        print()
        print(f"({elapsed:.0f} s)")
    if args.only != "returns":
        from benchmarks import simulation_measures

        started = time.perf_counter()
        tables = simulation_measures.run(
            measure_samples, args.firms, args.measure_seed, args.garch
        )
        elapsed = time.perf_counter() - started
        garch = f"; GARCH rows: {args.garch} samples" if args.garch else ""
        for measure, frame in tables.items():
            print()
            print(
                f"{measure.capitalize()}: rejection rates (%) at the 5% level, two-sided: "
                f"{measure_samples} samples of {args.firms} firm-events per scenario{garch}, "
                f"synthetic studies (eventstudy.synthetic), seed {args.measure_seed}. Size "
                "columns ('none') should be near 5."
            )
            print()
            print(to_markdown(frame))
        print()
        print(f"({elapsed:.0f} s)")
    if args.calendar_studies > 0 and args.only != "measures":
        started = time.perf_counter()
        calendar = calendar_time_rates(args.calendar_studies)
        print()
        print(
            f"Calendar-time portfolio (daily, equal weights, market model, Newey-West errors), "
            f"days {list(CALENDAR_HORIZON)}: {args.calendar_studies} synthetic studies. The "
            "'no alpha' rejection rate should be near 5."
        )
        print()
        print(calendar.round(4).to_string())
        print()
        print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
