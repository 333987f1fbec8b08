"""`tunebot prices`: the price table estimates use, each price with its date, source and status.

It reads the same table the service reads (TUNEBOT_PRICES_FILE, else the shipped default), so what it
prints is what every estimate rests on.
"""

from __future__ import annotations

import typer

from services.platform.config import ConfigError, load_settings
from services.tuning.pricing import PricesError, PriceTable, load_prices

PRICE_LABELS = {
    "training_per_million_tokens": "training, per million tokens",
    "storage_per_model_month": "custom model storage, per month",
    "inference_input_per_million_tokens": "base model input, per million tokens",
    "inference_output_per_million_tokens": "base model output, per million tokens",
    "provisioned_throughput_per_hour": "Provisioned Throughput, per hour",
}


def register(app: typer.Typer) -> None:
    app.command("prices")(prices)


def price_lines(table: PriceTable, origin: str) -> list[str]:
    """The table as lines a person reads: one per price, then what to do about doubtful ones."""
    lines = [f"Prices as of {table.as_of.isoformat()} ({table.currency}, {table.region}), from {origin}"]
    doubtful = 0
    for model, model_prices in table.models.items():
        lines.append(f"Llama 3.2 {model.upper()}")
        for name, label in PRICE_LABELS.items():
            price = getattr(model_prices, name)
            doubtful += price.status != "published"
            lines.append(f"  {label:<40} ${price.usd:>8,.2f}  {price.status:<11}  {price.source}")
    if doubtful:
        lines.append(
            f"{doubtful} prices are placeholders or unconfirmed, so every estimate says so. To set real "
            "ones: copy services/tuning/prices.json, put in the figures from the Amazon Bedrock pricing "
            'page with status "published", and point TUNEBOT_PRICES_FILE at the copy.'
        )
    return lines


def prices() -> None:
    """The price table cost estimates use: each price with its date, source and status."""
    try:
        settings = load_settings()
        table = load_prices(settings.prices_file)
    except (ConfigError, PricesError) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    origin = str(settings.prices_file) if settings.prices_file else "the shipped default table"
    for line in price_lines(table, origin):
        typer.echo(line)
