"""The dated price table cost estimates use. Prices live in configuration, never in code.

The default table ships as ``services/tuning/prices.json``; ``TUNEBOT_PRICES_FILE`` (Settings.prices_file)
points at a replacement with the same shape. Every price says where it came from and whether it is
published, unconfirmed or a placeholder, so an estimate can say how far to trust it.
"""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PriceStatus = Literal["published", "unconfirmed", "placeholder"]
DEFAULT_PRICES = "prices.json"


class PricesError(Exception):
    """The price table cannot be read; the message names the file and what to fix."""


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    usd: float = Field(ge=0)
    source: str
    status: PriceStatus


class ModelPrices(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    training_per_million_tokens: Price
    storage_per_model_month: Price
    inference_input_per_million_tokens: Price
    inference_output_per_million_tokens: Price
    provisioned_throughput_per_hour: Price

    def doubtful(self) -> list[str]:
        """Names of the prices that are not published figures."""
        return [name for name, price in self if isinstance(price, Price) and price.status != "published"]


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: date
    currency: Literal["USD"]
    region: str
    note: str
    models: dict[Literal["11b", "90b"], ModelPrices]


def load_prices(path: Path | None = None) -> PriceTable:
    """The table at ``path``, or the shipped default when ``path`` is None."""
    try:
        if path is None:
            text = resources.files("services.tuning").joinpath(DEFAULT_PRICES).read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        return PriceTable.model_validate(json.loads(text))
    except OSError as exc:
        raise PricesError(
            f"price table {path} cannot be read ({exc.strerror}): fix TUNEBOT_PRICES_FILE"
        ) from None
    except (ValueError, ValidationError) as exc:
        first = str(exc).strip().splitlines()[0]
        where = path or DEFAULT_PRICES
        raise PricesError(
            f"price table {where} is invalid ({first}): copy services/tuning/prices.json and edit the figures"
        ) from None
