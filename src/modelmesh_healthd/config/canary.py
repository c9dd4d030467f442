"""The canary's configuration: per provider its rate and daily budget, per model its price.

The canary is off unless a provider has a `canary:` block **and** a model says `canary: true`
**and** that model has a `price:`. It is the only thing in the daemon that costs tokens.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from modelmesh_healthd.config.documented import Documented
from modelmesh_healthd.config.types import PositiveDuration

__all__ = ["CanaryConfig", "PriceConfig"]

# Attribute docstrings are descriptions in the schema (config/documented.py).
_STRICT = ConfigDict(extra="forbid", frozen=True)


class CanaryConfig(Documented):
    """A provider's canary: a real minimal completion per opted-in model, at a low rate, under
    a hard daily budget (UTC days)."""

    model_config = _STRICT

    every: PositiveDuration = 900.0
    """How often each opted-in model gets one completion (default 15m)."""
    budget_usd_per_day: float = Field(default=0.10, ge=0)
    """The most the provider's canaries may cost per UTC day, in USD (worst case counted
    before sending)."""
    budget_tokens_per_day: int = Field(default=20_000, ge=0)
    """The most tokens (prompt + completion, reasoning included) per UTC day."""
    stream: bool = True
    """Stream the answer and measure time to first token (it feeds the degraded state)."""


class PriceConfig(Documented):
    """A model's price, in USD per million tokens (reasoning tokens bill as output)."""

    model_config = _STRICT

    input_usd_per_mtok: float = Field(ge=0)
    """Prompt tokens."""
    output_usd_per_mtok: float = Field(ge=0)
    """Completion tokens, reasoning tokens included."""
