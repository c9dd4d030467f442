"""The self-connectivity guard, as a table of results in time order."""

from __future__ import annotations

import pytest

from modelmesh_healthd.state import ConnectivityGuard, Outcome

TO, CE, OK, AUTH = Outcome.TIMEOUT, Outcome.CONNECT_ERROR, Outcome.OK, Outcome.AUTH_INVALID

# (provider, outcome, time, would_go_down) -> expected hold
Step = tuple[str, Outcome, float, bool, bool]


@pytest.mark.parametrize(
    ("steps", "fleet"),
    [
        pytest.param(
            [("a", TO, 0, False, False), ("b", OK, 3, False, False), ("a", TO, 5, True, False)],
            3,
            id="another provider answered since the trouble began: the outage is real",
        ),
        pytest.param(
            [("b", OK, 0, False, False), ("a", TO, 1, False, False), ("a", CE, 6, True, True)],
            3,
            id="nobody answered since the trouble began: held",
        ),
        pytest.param(
            [
                ("a", TO, 0, False, False),
                ("a", TO, 5, True, True),
                ("c", OK, 6, False, False),
                ("a", TO, 10, True, False),
            ],
            3,
            id="held until evidence arrives, then applied",
        ),
        pytest.param(
            [("a", TO, 0, False, False), ("a", TO, 5, True, False)],
            2,
            id="fleets below min_providers are not guarded",
        ),
        pytest.param(
            [("a", AUTH, 0, True, False)],
            3,
            id="an HTTP answer is never held",
        ),
        pytest.param(
            [
                ("a", TO, 0, False, False),
                ("b", TO, 1, False, False),
                ("c", TO, 2, False, False),
                ("a", TO, 5, True, True),
                ("b", TO, 6, True, True),
                ("c", TO, 7, True, True),
            ],
            3,
            id="every provider failing at once: nobody goes down",
        ),
    ],
)
def test_guard_holds_only_failures_without_evidence(steps: list[Step], fleet: int) -> None:
    guard = ConnectivityGuard(enabled=True, min_providers=3)
    for provider, outcome, at, would_go_down, hold in steps:
        decision = guard.observe(provider, outcome, at, would_go_down=would_go_down, fleet=fleet)
        assert decision.hold is hold, (provider, outcome, at)


def test_a_suspicion_episode_is_announced_once_and_ended_by_an_answer() -> None:
    guard = ConnectivityGuard(enabled=True, min_providers=1)
    first = guard.observe("a", TO, 0.0, would_go_down=True, fleet=3)
    second = guard.observe("b", TO, 1.0, would_go_down=True, fleet=3)
    assert (first.suspect_started, second.suspect_started) == (True, False)
    assert guard.suspect
    ended = guard.observe("c", OK, 2.0, would_go_down=False, fleet=3)
    assert ended.suspect_ended
    assert not guard.suspect


def test_a_disabled_guard_holds_nothing() -> None:
    guard = ConnectivityGuard(enabled=False)
    assert not guard.observe("a", TO, 0.0, would_go_down=True, fleet=100).hold
