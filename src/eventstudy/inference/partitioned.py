"""The residual pass in two halves, for firm-events whose residuals stay where they were fitted
(the partitions of the Dask engine, :mod:`eventstudy.engines.dask`).

The battery's residual pass (:func:`eventstudy.inference.engine._prepare`) reduces the (firm-events
x estimation days) residuals to per-group, per-day running sums (:class:`~eventstudy.inference.
engine._GroupPlan`: residuals, centred unit-norm residuals, Corrado's U, the signs, the rank part
of the generalised rank U, counts, the window sums of the generalised rank test) and to a few
per firm-event values (:class:`~eventstudy.inference.residual_pass._Shared`). Sums over firm-events
split: here each partition runs the same pass (:func:`~eventstudy.inference.engine._run_pass`,
the same plans and chunks) over its own firm-events, on the whole sample's day axes and with the
whole sample's thresholds (x* of the generalised rank test divides by its group's sd of SCAR,
which the client has from the fits), and sends back its groups' sums (:func:`partition_sums`,
:class:`PartSums`); the client adds the partitions' sums into the plans and finishes them with
the local engine's code (:func:`prepare_partitioned`). So every statistic has one definition:
the local engine is the one-partition case, and the partitioned sums differ from its sums by the
order of the additions only (relative differences of order 1e-15; the tests allow 1e-12).

What is not a sum travels as it is: the per firm-event values (Corrado's U and the signs on the
event days, residual variances, x*'s U), and, on request, the residual rows of the few groups
whose statistic needs pairs of firm-events (Kolari & Pynnönen's mean correlation of a group with
ragged days, up to :data:`~eventstudy.inference.engine.EXACT_CORRELATION_MAX` firm-events) or an
exact tie ``e == x*``: :class:`PartitionedResiduals` fetches them through its host.

Per firm-event numbers that read the residuals are computed where they are, once per fit
(:func:`held_summary`): the counts of :class:`~eventstudy.inference.sample._RowStats` and
``car.csv``'s sample-quantile p-values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from eventstudy.inference.engine import EXACT_CORRELATION_MAX, _GroupPlan, _Groups, _run_pass
from eventstudy.inference.residual_pass import _Shared
from eventstudy.inference.sample import FirmEventSample, HeldResiduals, Window, _RowStats

if TYPE_CHECKING:
    from eventstudy.estimation.kernel import BatchFit

#: How far the tests of the partitioned pass may be from the local engine's (its sums added in
#: another order): relative 1e-12; absolute 1e-13 for statistics that are zero up to rounding
#: (a sum that cancels leaves a few 1e-16 whose relative difference means nothing).
TOLERANCE = {"rtol": 1e-12, "atol": 1e-13}

#: The running sums of a plan that add up over partitions (group x day arrays).
SUMS = ("ts", "z", "base", "u", "g", "cnt")


@dataclasses.dataclass
class PartRequest:
    """What a partition's half of the pass needs from the client: the sample's day axes, its
    firm-events (``pieces``: a fit of the partition and rows of it, in the sample's order), the
    windows of the generalised rank test and, per grouping, each firm-event's group, thresholds
    ``x``/``ok`` (windows x firm-events) and whether window sums are counted."""

    est_days: np.ndarray
    ev_days: np.ndarray
    pieces: list[tuple[int, np.ndarray]]
    windows: list[Window]
    labels: list[np.ndarray]
    x: list[np.ndarray]
    ok: list[np.ndarray]
    counting: list[bool]


@dataclasses.dataclass
class PlanSums:
    """One grouping's sums over a partition's firm-events: ``ids`` (the groups present, as the
    client numbers them), :data:`SUMS` (``bcnt``, ``v``/``vcount`` too), the exact ties
    ``dirty`` (window, group), the sums of ``u0`` (window x group) and what tells ragged groups
    apart."""

    ids: np.ndarray
    sums: dict[str, np.ndarray]
    dirty: list[tuple[int, int]]
    u0_sum: np.ndarray
    ragged: np.ndarray
    first_valid: np.ndarray
    first_use: np.ndarray


@dataclasses.dataclass
class PartSums:
    """A partition's half of the pass: its groupings' sums and its firm-events' values (in the
    order of the request), ``store`` for those the generalised rank test takes back out."""

    plans: list[PlanSums]
    u_ev: np.ndarray
    sign_ev: np.ndarray
    resid_var: np.ndarray
    use: np.ndarray
    store: np.ndarray


class Host(Protocol):
    """Where the partitions are (the Dask engine): runs their halves of the pass, fetches rows."""

    def run_pass(self, requests: dict[int, PartRequest]) -> dict[int, PartSums]:
        """:func:`partition_sums` of each partition's request."""

    def fetch(self, origin: np.ndarray) -> np.ndarray:
        """The residual rows ``origin`` (rows of (partition, fit, row))."""


# ----------------------------------------------------------------------------- per partition
def partition_sums(fits: Sequence[BatchFit], request: PartRequest) -> PartSums:
    """The partition's half of the pass: the local engine's pass (same plans, same chunks) over
    its firm-events, with the thresholds the client computed for the whole sample."""
    sample = _on_axes(
        FirmEventSample.from_fits([(fits[b], rows) for b, rows in request.pieces]),
        request.est_days,
        request.ev_days,
    )
    shared = _Shared(sample)
    plans = [
        _GroupPlan(_Groups(labels, sample), request.windows, given=(x, ok), counting=counting)
        for labels, x, ok, counting in zip(
            request.labels, request.x, request.ok, request.counting, strict=True
        )
    ]
    _run_pass(sample, plans, shared)
    return PartSums(
        [_plan_sums(p) for p in plans],
        shared.u_ev, _pack_signs(shared.sign_ev), shared.resid_var, shared.use, shared.store,
    )  # fmt: skip


def _plan_sums(p: _GroupPlan) -> PlanSums:
    ids = np.asarray(p.groups.ids, dtype=np.intp)
    sums = {name: _compact(getattr(p, name)) for name in SUMS}
    if p.bcnt is not None:
        sums["bcnt"] = _compact(p.bcnt)
    if p.vcount is not None:
        sums["vcount"] = _compact(p.vcount)
    elif p.v is not None:
        sums["v"] = p.v
    return PlanSums(
        ids,
        sums,
        [(j, int(ids[g])) for j, g in sorted(p.dirty)],
        p.u0_sum.T.copy(),
        _compact(p.ragged),
        p.first_valid,
        p.first_use,
    )


def _compact(a: np.ndarray) -> np.ndarray:
    """``a`` in the smallest integer type that holds it exactly when its values are whole
    numbers (counts, sums of signs), else as it is: less to send, the same numbers back."""
    if not a.size or a.dtype.kind not in "fiu":
        return a
    if a.dtype.kind == "f" and not (np.isfinite(a).all() and (np.rint(a) == a).all()):
        return a
    lo, hi = a.min(), a.max()
    for t in (np.int8, np.int16, np.int32):
        if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
            return a.astype(t)
    return a


#: A missing sign, packed (:func:`_pack_signs`).
_NO_SIGN = np.int8(2)


def _pack_signs(a: np.ndarray) -> np.ndarray:
    """Signs (-1, 0, 1, NaN where missing) as int8, NaN as :data:`_NO_SIGN`: an eighth of the
    bytes, the same numbers back (:func:`_unpack_signs`); other values stay as they are."""
    missing = np.isnan(a)
    if not (np.isin(a[~missing], (-1.0, 0.0, 1.0)).all() and not np.signbit(a[a == 0]).any()):
        return a
    out = np.where(missing, 0.0, a).astype(np.int8)
    out[missing] = _NO_SIGN
    return out


def _unpack_signs(a: np.ndarray) -> np.ndarray:
    if a.dtype != np.int8:
        return a
    return np.where(a == _NO_SIGN, np.nan, a.astype(float))


def _on_axes(sample: FirmEventSample, est_days: np.ndarray, ev_days: np.ndarray) -> FirmEventSample:
    """``sample`` on the day axes of the whole sample (a partition may lack a configuration
    whose windows widen them): event-axis arrays padded with NaN; the residuals are read on the
    axis :attr:`FirmEventSample.est_days` gives."""
    if np.array_equal(sample.ev_days, ev_days) and np.array_equal(sample.est_days, est_days):
        return sample
    at = int(sample.ev_days[0] - ev_days[0]) if len(sample.ev_days) else 0

    def pad(a: np.ndarray) -> np.ndarray:
        out = np.full((len(a), len(ev_days)), np.nan)
        out[:, at : at + a.shape[1]] = a
        return out

    return FirmEventSample(
        est_days, ev_days, pad(sample.ar), pad(sample.sar), pad(sample.h), sample.sigma,
        sample.df, sample.ev_lo, sample.ev_hi, sample.parts,
    )  # fmt: skip


# ----------------------------------------------------------------------------- on the client
def prepare_partitioned(
    groupings: Sequence[_Groups],
    windows: Sequence[Window],
    origin: np.ndarray,
    run: Callable[[dict[int, PartRequest]], dict[int, PartSums]],
) -> None:
    """:func:`eventstudy.inference.engine._prepare` for a sample whose residuals are in
    partitions: ``origin`` gives each firm-event's (partition, fit, row); ``run`` runs
    :func:`partition_sums` on each partition's request. The plans (thresholds included) are the
    local engine's, their sums the partitions' sums added up in partition order, and they are
    finished by the local engine's code."""
    sample = groupings[0].sample
    shared = _Shared(sample)
    plans = [_GroupPlan(g, windows) for g in groupings]
    need = np.zeros(sample.n, dtype=bool)
    for p in plans:
        need |= p.need
    shared.keep_ranks(need)
    rows_of: dict[int, np.ndarray] = {}
    requests: dict[int, PartRequest] = {}
    fetched = np.zeros(sample.n, dtype=bool)
    for k in np.unique(origin[:, 0]):
        rows = np.flatnonzero(origin[:, 0] == k)
        # A partition's firm-events of a group travel as their residuals when those are smaller
        # than the group's sums (a group of few firm-events there): the client adds them as a
        # partition of its own.
        few = _few(plans, rows)
        fetched[rows[few]] = True
        rows = rows_of[int(k)] = rows[~few]
        if len(rows):
            fit, at = origin[rows, 1], origin[rows, 2]
            cuts = np.flatnonzero(np.diff(fit)) + 1
            starts, ends = np.r_[0, cuts], np.r_[cuts, len(rows)]
            pieces = [(int(fit[a]), at[a:b]) for a, b in zip(starts, ends, strict=True)]
            requests[int(k)] = _request(sample, plans, rows, pieces)
    got = run(requests)
    if fetched.any():  # after the partitions, in sample order
        last = np.flatnonzero(fetched)
        fits, pieces = [], []
        for f, fit_rows, here in sample.parts:
            sel = np.flatnonzero(fetched[here])
            if len(sel):
                sub = dataclasses.replace(f, resid=np.empty((f.n, 0))).take(fit_rows[sel])
                fits.append(dataclasses.replace(sub, resid=np.asarray(f.resid[fit_rows[sel]])))
                pieces.append((len(fits) - 1, np.arange(len(sel))))
        key = max(got, default=-1) + 1
        got[key] = partition_sums(fits, _request(sample, plans, last, pieces))
        rows_of[key] = last
    seen = [np.zeros(p.groups.G, dtype=bool) for p in plans]
    for k in sorted(got):  # partition order: the same sums on every run
        part, rows = got[k], rows_of[k]
        shared.u_ev[rows] = part.u_ev
        shared.sign_ev[rows] = _unpack_signs(part.sign_ev)
        shared.resid_var[rows] = part.resid_var
        shared.use[rows] = part.use
        kept = rows[need[rows]]
        shared.store[shared.store_pos[kept]] = part.store
        for p, sums, have in zip(plans, part.plans, seen, strict=True):
            _add(p, sums, have)
    # The groups whose mean correlation is the exact pairwise one read their rows: in one
    # request per fit rather than one per group (a host keeps what it fetched).
    exact = np.zeros(sample.n, dtype=bool)
    for p in plans:
        n_use = p.groups.sum(p.groups.take(shared.use))
        pairs = (p.ragged > 0) & (n_use >= 2) & (n_use <= EXACT_CORRELATION_MAX)
        exact |= pairs[p.g_sample]
    exact &= ~fetched
    for f, fit_rows, here in sample.parts:
        sel = np.flatnonzero(exact[here])
        if len(sel):
            f.resid[fit_rows[sel]]
    for p in plans:
        p.finish(shared)


def _few(plans: Sequence[_GroupPlan], rows: np.ndarray) -> np.ndarray:
    """Which of a partition's firm-events ``rows`` are in a group of fewer firm-events there
    than the group's sums have rows (:data:`SUMS` and one per window) in some grouping."""
    few = np.zeros(len(rows), dtype=bool)
    for p in plans:
        label = p.g_sample[rows]
        few |= np.bincount(label, minlength=p.groups.G)[label] < len(SUMS) + len(p.windows)
    return few


def _request(
    sample: FirmEventSample,
    plans: Sequence[_GroupPlan],
    rows: np.ndarray,
    pieces: list[tuple[int, np.ndarray]],
) -> PartRequest:
    """The request for the firm-events ``rows`` of the sample (``pieces`` of a partition's
    fits)."""
    return PartRequest(
        sample.est_days,
        sample.ev_days,
        pieces,
        plans[0].windows if plans else [],
        [p.g_sample[rows] for p in plans],
        [p.x[:, rows] for p in plans],
        [p.ok[:, rows] for p in plans],
        [p.counting for p in plans],
    )


def _add(p: _GroupPlan, part: PlanSums, seen: np.ndarray) -> None:
    """Add a partition's sums to plan ``p`` (``seen``: the groups a partition before had)."""
    ids = part.ids
    for name in SUMS:
        getattr(p, name)[ids] += part.sums[name]
    if p.bcnt is not None:
        # A partition where every e exists where its residual does counts them in ``cnt``.
        p.bcnt[ids] += (
            part.sums["bcnt"] if "bcnt" in part.sums else part.sums["cnt"][:, : p.bcnt.shape[1]]
        )
    if p.vcount is not None:
        p.vcount[:, ids] += part.sums["vcount"]
    elif p.v is not None:
        p.v[:, ids] += part.sums["v"]
    p.dirty.update(part.dirty)
    p.u0_sum[ids] += part.u0_sum.T
    # Ragged: a firm-event unlike its group's first (its days with residuals, whether it enters
    # the correlation). Within a partition the partition counted it; across, the partitions'
    # first firm-events are compared ("unlike" is an equivalence: its class is the key).
    p.ragged[ids] += part.ragged
    new = ~seen[ids]
    p.first_use[ids[new]] = part.first_use[new]
    p.first_valid[ids[new]] = part.first_valid[new]
    old = ~new
    if old.any():
        g, fu, fv = ids[old], part.first_use[old], part.first_valid[old]
        unlike = (fu != p.first_use[g]) | (
            (fv != p.first_valid[g]) & fu[:, None] & p.first_use[g][:, None]
        ).any(axis=1)
        p.ragged[g] += unlike
    seen[ids] = True


# ----------------------------------------------------------------------------- held residuals
@dataclasses.dataclass
class Quantiles:
    """A fit's sample-quantile p-values (:func:`~eventstudy.inference.single_firm.
    sample_quantile_p`) of ``windows`` (each a CAR window), with the CARs they were computed
    for, per firm-event: ``car``, ``lower``, ``upper`` (firm-events x windows)."""

    windows: list[Window]
    car: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def take(self, rows: np.ndarray) -> Quantiles:
        return Quantiles(self.windows, self.car[rows], self.lower[rows], self.upper[rows])


def held_summary(fit: BatchFit, car_windows: Sequence[Window]) -> tuple[_RowStats, Quantiles]:
    """What is read of a fit's residuals per firm-event, computed where they are: the counts of
    :class:`~eventstudy.inference.sample._RowStats` and the sample-quantile p-values of each of
    ``car_windows`` inside the fit's event window (the same numbers the client would compute:
    both go row by row)."""
    from eventstudy.inference.single_firm import sample_quantile_p

    stats = _RowStats.compute(FirmEventSample.from_fits([(fit, np.arange(fit.n))]))
    lo, hi = fit.event_window
    windows = sorted({(int(a), int(b)) for a, b in car_windows if lo <= a and b <= hi})
    car = np.empty((fit.n, len(windows)))
    for k, w in enumerate(windows):
        car[:, k] = fit.car(*w)[0]
    lower, upper = sample_quantile_p(fit.resid, car, [b - a + 1 for a, b in windows])
    return stats, Quantiles(windows, car, lower, upper)


class PartitionedResiduals(HeldResiduals):
    """A fit's residuals left in partitions: each firm-event's ``origin`` (partition, fit of the
    partition, row of that fit), what was computed there per firm-event (``row_stats``,
    ``quantiles``) and the ``host`` that runs the pass there and fetches rows (None until the
    client sets it)."""

    def __init__(
        self,
        origin: np.ndarray,
        width: int,
        row_stats: _RowStats,
        quantiles: Quantiles,
        host: Host | None = None,
    ) -> None:
        self.origin, self.row_stats, self.quantiles, self.host = origin, row_stats, quantiles, host
        self.shape = (len(origin), width)

    def take(self, rows: np.ndarray) -> PartitionedResiduals:
        rows = np.asarray(rows, dtype=np.intp)
        return PartitionedResiduals(
            self.origin[rows], self.shape[1], self.row_stats.take(rows),
            self.quantiles.take(rows), self.host,
        )  # fmt: skip

    @classmethod
    def concat(cls, held: Sequence[PartitionedResiduals], host: Host) -> PartitionedResiduals:
        """The rows of ``held`` (fits of one configuration) one after the other."""
        first = held[0]
        q = [h.quantiles for h in held]
        windows = sorted({w for x in q for w in x.windows})

        def spread(x: Quantiles, a: np.ndarray) -> np.ndarray:
            out = np.full((len(a), len(windows)), np.nan)
            out[:, [windows.index(w) for w in x.windows]] = a
            return out

        quantiles = Quantiles(
            windows,
            *(
                np.concatenate([spread(x, getattr(x, k)) for x in q])
                for k in ("car", "lower", "upper")
            ),
        )
        stats = [dataclasses.astuple(h.row_stats) for h in held]
        return cls(
            np.concatenate([h.origin for h in held]),
            first.shape[1],
            _RowStats(*(np.concatenate(a) for a in zip(*stats, strict=True))),
            quantiles,
            host,
        )

    def _host(self) -> Host:
        if self.host is None:
            raise RuntimeError("residuals held in partitions without a host to reach them")
        return self.host

    def __getitem__(self, key: Any) -> np.ndarray:
        rest: tuple = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        one = isinstance(key, (int, np.integer))
        idx = np.arange(self.shape[0], dtype=np.intp)[np.array([key]) if one else key]
        out = self._host().fetch(self.origin[idx]) if len(idx) else np.empty((0, self.shape[1]))
        if one:
            out = out[0]
        return out[rest] if rest else out

    def prepare(self, groupings: Sequence[Any], windows: Sequence[Window]) -> None:
        sample = groupings[0].sample
        origin = (
            np.concatenate([f.resid.origin[rows] for f, rows, _ in sample.parts])
            if sample.parts
            else np.zeros((0, 3), dtype=np.intp)
        )
        prepare_partitioned(groupings, windows, origin, self._host().run_pass)

    def quantile_p(self, car: np.ndarray, lengths: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The p-values computed where the residuals are: for each column of ``car``, those of
        the window of that length whose CAR is that CAR (the p-values depend on the length and
        the CAR only); NaN where none is (a firm-event whose event does not ask for the window)."""
        q = self.quantiles
        lower = np.full(car.shape, np.nan)
        upper = np.full(car.shape, np.nan)
        for k, length in enumerate(lengths):
            for j, (a, b) in enumerate(q.windows):
                if b - a + 1 != length:
                    continue
                hit = (q.car[:, j] == car[:, k]) & np.isnan(lower[:, k])
                lower[hit, k] = q.lower[hit, j]
                upper[hit, k] = q.upper[hit, j]
        return lower, upper
