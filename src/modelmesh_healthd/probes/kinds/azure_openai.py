"""`azure-openai`: `GET {endpoint}/openai/models?api-version=V` with `api-key`."""

from __future__ import annotations

from urllib.parse import quote

from modelmesh_healthd.probes.classifier import (
    OPENAI_HEADROOM,
    Dialect,
    judge_openai_list,
    judge_single_model,
)
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import get, quoted, single
from modelmesh_healthd.probes.target import AzureOptions, ProbeTarget

__all__ = ["DIALECT", "OPTIONS", "plan"]

DIALECT = Dialect("azure-openai", headroom=OPENAI_HEADROOM)
OPTIONS = AzureOptions


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    opts = target.options if isinstance(target.options, AzureOptions) else AzureOptions()
    version = quote(opts.api_version, safe="")
    one = single(target)
    if one is not None:
        path = f"/openai/models/{quoted(one)}?api-version={version}"
        return (get(target, path, judge_single_model, (one,)),)
    path = f"/openai/models?api-version={version}"
    return (get(target, path, judge_openai_list, target.upstream_models),)
