"""Per-provider probe metrics kept as rows of flat arrays: counted, rendered, forgotten, reused."""

from __future__ import annotations

from modelmesh_healthd.daemon.metrics import (
    _MASK,
    _UPS,
    _Lateness,
    _ProviderCollector,
    _ProviderCounts,
)


def samples(table: _ProviderCounts) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in _ProviderCollector(table).collect():
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_each_provider_counts_in_its_own_row() -> None:
    table = _ProviderCounts()
    a, b = table.row("a"), table.row("b")
    assert (a, b) == (0, 1)
    assert table.row("a") == 0  # the same row again
    table.count(a, _UPS)
    table.count(a, _UPS)
    table.count(b, 0)
    got = samples(table)
    assert (
        got[("modelmesh_healthd_provider_transitions_total", (("provider", "a"), ("to", "up")))]
        == 2
    )
    assert (
        "modelmesh_healthd_provider_transitions_total",
        (("provider", "b"), ("to", "up")),
    ) not in got


def test_a_removed_providers_row_is_reused_from_zero() -> None:
    table = _ProviderCounts()
    table.row("a")
    old = table.row("gone")
    table.count(old, _UPS)
    table.sums[old] = 12.5
    table.remove("gone")
    assert all(p != "gone" for (_, labels) in samples(table) for k, p in labels if k == "provider")
    new = table.row("new")
    assert new == old
    assert not any(table.counts[new * (_UPS + 1) : (new + 1) * (_UPS + 1)])
    assert table.sums[new] == 0.0


def test_a_counter_wraps_instead_of_overflowing() -> None:
    table = _ProviderCounts()
    row = table.row("a")
    table.counts[row * (_UPS + 1) + _UPS] = _MASK
    table.count(row, _UPS)  # would not fit in 32 bits: a counter reset, as Prometheus reads it
    assert table.counts[row * (_UPS + 1) + _UPS] == 0


def test_lateness_counts_each_start_in_the_first_bucket_that_holds_it() -> None:
    lateness = _Lateness()
    for seconds in (0.0, 0.005, 0.0051, 0.2, 400.0):
        lateness.observe(seconds)
    (family,) = lateness.collect()
    got = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    name = "modelmesh_healthd_scheduler_lateness_seconds"
    assert got[(f"{name}_bucket", "0.005")] == 2  # a bound holds what equals it
    assert got[(f"{name}_bucket", "0.01")] == 3
    assert got[(f"{name}_bucket", "0.5")] == 4
    assert got[(f"{name}_bucket", "300.0")] == 4
    assert got[(f"{name}_bucket", "+Inf")] == 5
    assert got[(f"{name}_count", None)] == 5
    assert abs(got[(f"{name}_sum", None)] - 400.2101) < 1e-9
