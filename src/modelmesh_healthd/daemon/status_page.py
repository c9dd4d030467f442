"""The status page at `/` of the admin endpoint: one server-rendered HTML page for people.

Providers with their state, reason and since when; current incidents; pools with their active
and standby models; a 24-hour availability bar per provider. No JavaScript: the page reloads
itself (`<meta http-equiv="refresh">`), is laid out for a phone's width, and every link carries
`admin.base_path` so it works behind a reverse proxy's path prefix.

Every value is HTML-escaped. Only names, states, reasons and times are shown: never a probe's
detail text (it quotes what a provider answered) and never a key or a store URL's password.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from modelmesh_healthd.daemon.history import Hours, day_by_hour, provider_subject
from modelmesh_healthd.daemon.metrics import SCRAPE_CACHE_S
from modelmesh_healthd.daemon.view import DaemonView
from modelmesh_healthd.state.history import (
    DEGRADED,
    DOWN,
    MAINTENANCE,
    UNKNOWN,
    UP,
    Availability,
    History,
    availability,
)

__all__ = ["CACHE_S", "REFRESH_S", "SLOTS", "render_status_page"]

REFRESH_S = 15
"""Seconds between the page's own reloads."""
SLOTS = 24
"""Segments of the 24-hour bar (one per hour)."""
CACHE_S = SCRAPE_CACHE_S
"""A provider's bar and 24-hour ratio are recomputed at most this often while its history is
unchanged (the cache the metrics' availability ratios use); a new transition shows at once."""

_CSS = """
:root{--up:#2e9d57;--degraded:#d9a21b;--down:#d64541;--maintenance:#4a7fd6;--unknown:#b8bcc4}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
 color:#1d2330;background:#f5f6f8}
main{max-width:60rem;margin:0 auto;padding:.75rem}
h1{font-size:1.3rem;margin:.25rem 0}
h2{font-size:1.05rem;margin:1.25rem 0 .4rem}
.meta{color:#5b6272;font-size:.85rem}
.summary{font-weight:600}
.card{background:#fff;border:1px solid #dde1e8;border-radius:.5rem;padding:.6rem .75rem;
 margin:.4rem 0}
.row{display:flex;flex-wrap:wrap;gap:.25rem .75rem;align-items:baseline}
.name{font-weight:600;min-width:8rem}
.badge{display:inline-block;border-radius:1rem;padding:0 .55rem;color:#fff;font-size:.8rem;
 font-weight:600}
.s-up{background:var(--up)}.s-degraded{background:var(--degraded)}.s-down{background:var(--down)}
.s-maintenance{background:var(--maintenance)}.s-unknown{background:var(--unknown)}
.reason{color:#5b6272}
.bar{display:flex;gap:1px;height:1.1rem;margin:.35rem 0 .1rem}
.bar span{flex:1;border-radius:2px}
.ratio{font-variant-numeric:tabular-nums}
.axis{display:flex;justify-content:space-between;color:#8a90a0;font-size:.7rem}
.legend span.badge{margin-right:.3rem}
.incident{border-left:4px solid var(--down)}
.ok{color:#2e9d57}
ul{margin:.2rem 0;padding-left:1.2rem}
a{color:#2458b3}
"""


@dataclass(frozen=True, slots=True)
class _Provider:
    name: str
    state: str
    reason: str | None
    since: float | None
    day: Availability
    slots: list[tuple[str, str]]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(at: float | None, now: float) -> str:
    if at is None:
        return "never"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))
    ago = max(0.0, now - at)
    if ago < 120:
        span = f"{ago:.0f} s"
    elif ago < 7200:
        span = f"{ago / 60:.0f} min"
    elif ago < 172800:
        span = f"{ago / 3600:.0f} h"
    else:
        span = f"{ago / 86400:.0f} d"
    return f"{stamp} ({span} ago)"


def _slot_state(avail: Availability) -> str:
    """The colour of one slot: the worst state seen in it at all (a short outage still shows)."""
    for state in (DOWN, DEGRADED, MAINTENANCE, UP):
        if avail.seconds.get(state, 0.0) > 0:
            return state
    return UNKNOWN


def _slot_title(start: float, avail: Availability) -> str:
    hour = time.strftime("%H:%M", time.gmtime(start))
    parts = [_share(s, v) for s, v in avail.seconds.items() if v > 0]
    return f"{hour} UTC: {', '.join(parts)}"


def _share(state: str, seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s {state}"
    return f"{seconds / 60:.0f} min {state}"


def _slots(hours: Hours) -> list[tuple[str, str]]:
    return [(_slot_state(avail), _slot_title(start, avail)) for start, avail in hours]


def _providers(view: DaemonView, now: float) -> list[_Provider]:
    out = []
    for name in sorted(view.state.providers):
        ps = view.state.providers[name]
        subject = provider_subject(name)
        history = view.history.histories.get(subject, History())
        state = history.current
        since = history.entries[-1][0] if history.entries else ps.changed_at
        reason = ps.down_reason if state == DOWN else None
        if name not in view.probed:
            state, reason = UNKNOWN, "not probed (disabled)"
        # The bars move by at most the cache's age: a page reloaded every few seconds by many
        # people computes each provider's 24 + 1 windows once per period, like a scrape.
        windows = view.history.windows(subject, now, max_age=CACHE_S)
        day = availability(history, now, 86400.0) if windows is None else windows["24h"]
        hours = view.history.hours(subject, now, max_age=CACHE_S) or day_by_hour(history, now)
        out.append(_Provider(name, state, reason, since, day, _slots(hours)))
    return out


def _badge(state: str) -> str:
    return f'<span class="badge s-{_e(state)}">{_e(state)}</span>'


_LEGEND = (
    '<p class="meta legend">'
    + "".join(_badge(s) for s in (UP, DEGRADED, DOWN, MAINTENANCE, UNKNOWN))
    + "<br>each bar segment is one hour, coloured by the worst state seen in it; "
    "degraded counts as up, maintenance and unknown time are left out of the ratio</p>"
)


def _ratio(avail: Availability) -> str:
    return "no data" if avail.ratio is None else f"{avail.ratio * 100:.2f}% up (24 h)"


def _provider_card(p: _Provider, base: str, now: float) -> str:
    link = f"{base}/v1/providers/{quote(p.name, safe='')}/history"
    reason = f' <span class="reason">{_e(p.reason)}</span>' if p.reason else ""
    bar = "".join(
        f'<span class="s-{_e(state)}" title="{_e(title)}"></span>' for state, title in p.slots
    )
    return (
        f'<div class="card provider" data-provider="{_e(p.name)}" data-state="{_e(p.state)}">'
        f'<div class="row"><span class="name">{_e(p.name)}</span>{_badge(p.state)}{reason}</div>'
        f'<div class="meta">since {_e(_when(p.since, now))}</div>'
        f'<div class="bar" aria-label="last 24 hours, one segment per hour">{bar}</div>'
        '<div class="axis"><span>24 h ago</span><span>now</span></div>'
        f'<div class="meta"><span class="ratio">{_e(_ratio(p.day))}</span> · '
        f'<a href="{_e(link)}">history</a></div></div>'
    )


def _incidents(view: DaemonView, providers: Iterable[_Provider], now: float) -> str:
    items = [
        f'<li class="incident-provider" data-provider="{_e(p.name)}"><b>{_e(p.name)}</b> '
        f"{_badge(p.state)} {_e(p.reason or '')} since {_e(_when(p.since, now))}</li>"
        for p in providers
        if p.state in (DOWN, MAINTENANCE)
    ]
    items += [
        f'<li class="incident-pool" data-pool="{_e(name)}">pool <b>{_e(name)}</b> has no '
        "active model</li>"
        for name, pool in sorted(view.state.pools.items())
        if not pool.active_models
    ]
    if not items:
        return '<p class="ok" id="no-incidents">No current incidents.</p>'
    return f'<div class="card incident"><ul id="incidents">{"".join(items)}</ul></div>'


def _pools(view: DaemonView) -> str:
    cards = []
    for name, pool in sorted(view.state.pools.items()):
        active = ", ".join(_e(m) for m in sorted(pool.active_models)) or "<i>none</i>"
        standby = ", ".join(
            f"{_e(m)} <span class='reason'>({_e(view.state.models[m].deactivation_reason or '')})"
            "</span>"
            if m in view.state.models
            else _e(m)
            for m in sorted(pool.standby_models)
        )
        cards.append(
            f'<div class="card pool" data-pool="{_e(name)}"><div class="name">{_e(name)}</div>'
            f'<div>active: <span class="active">{active}</span></div>'
            + (f'<div>standby: <span class="standby">{standby}</span></div>' if standby else "")
            + "</div>"
        )
    return "".join(cards)


def render_status_page(view: DaemonView, base_path: str = "") -> str:
    """The page, as of `view.wall_clock()`.

    Args:
        view: The daemon.
        base_path: The prefix every link carries (`admin.base_path`, no trailing slash).
    """
    now = view.wall_clock()
    providers = _providers(view, now)
    counts: dict[str, int] = {}
    for p in providers:
        counts[p.state] = counts.get(p.state, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no providers"
    instance = view.config.daemon.instance
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="{REFRESH_S}">'
        f"<title>{_e(instance)} · modelmesh-healthd</title>"
        f"<style>{_CSS}</style></head><body><main>"
        f"<h1>modelmesh-healthd · {_e(instance)}</h1>"
        f'<p class="meta">as of {_e(_when(now, now).split(" (")[0])}, refreshes every '
        f'{REFRESH_S} s · <a href="{_e(base_path)}/v1/state">state (JSON)</a> · '
        f'<a href="{_e(base_path)}/metrics">metrics</a></p>'
        f'<p class="summary" id="summary">{_e(summary)}</p>'
        f"<h2>Current incidents</h2>{_incidents(view, providers, now)}"
        f"<h2>Providers</h2>{_LEGEND}"
        f"{''.join(_provider_card(p, base_path, now) for p in providers)}"
        f"<h2>Pools</h2>{_pools(view)}"
        "</main></body></html>\n"
    )
