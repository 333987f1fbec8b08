"""DESIGN §4: epochs, learning rate and model size by dataset size; overrides; the cost estimate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.tuning.costs import estimate_cost
from services.tuning.pricing import PricesError, load_prices
from services.tuning.recommend import MODEL_SIZES, check_override, recommend


@pytest.mark.parametrize(
    ("examples", "epochs", "epochs_range", "learning_rate", "learning_rate_range"),
    [
        (0, 8, (7, 10), 1e-5, (5e-6, 1e-5)),
        (499, 8, (7, 10), 1e-5, (5e-6, 1e-5)),
        (500, 5, (5, 5), 1e-5, (1e-5, 1e-5)),
        (5_000, 5, (5, 5), 1e-5, (1e-5, 1e-5)),
        (5_001, 3, (3, 4), 2e-5, (1e-5, 5e-5)),
        (1_000_000, 3, (3, 4), 2e-5, (1e-5, 5e-5)),
    ],
)
def test_rules_and_their_boundaries(
    examples: int,
    epochs: int,
    epochs_range: tuple[int, int],
    learning_rate: float,
    learning_rate_range: tuple[float, float],
) -> None:
    result = recommend(examples)
    assert result.epochs == epochs
    assert result.epochs_range == epochs_range
    assert result.learning_rate == learning_rate
    assert result.learning_rate_range == learning_rate_range


def test_values_stay_inside_bedrock_ranges() -> None:
    for examples in (0, 499, 500, 5_000, 5_001, 50_000):
        result = recommend(examples)
        assert 1 <= result.epochs_range[0] <= result.epochs <= result.epochs_range[1] <= 10
        low, high = result.learning_rate_range
        assert 5e-6 <= low <= result.learning_rate <= high <= 0.1


def test_each_value_explains_itself_in_one_sentence() -> None:
    result = recommend(120)
    assert len(result.reasons) == 3
    assert "8 epochs" in result.reasons[0] and "120" in result.reasons[0]
    assert "1e-05" in result.reasons[1]
    assert result.reasons[2].startswith("90B")
    assert all(reason.count(". ") == 0 and reason.endswith(".") for reason in result.reasons)


def test_model_advice_little_data_favours_90b_and_asked_size_wins() -> None:
    assert recommend(200).model == "90b"
    assert recommend(2_000).model == "11b"
    assert recommend(200, "11b").model == "11b"
    assert recommend(20_000, "90b").model == "90b"


def test_json_shape_of_the_recommendation() -> None:
    payload = json.loads(recommend(1_000).model_dump_json(exclude={"examples"}))
    assert set(payload) == {
        "model",
        "epochs",
        "learning_rate",
        "epochs_range",
        "learning_rate_range",
        "reasons",
    }


def test_override_inside_recommended_range_is_silent() -> None:
    check = check_override(8, 1e-5, recommend(300))
    assert check.allowed and check.warnings == [] and check.refusal is None


def test_override_outside_recommended_range_warns() -> None:
    check = check_override(2, 1e-4, recommend(300))
    assert check.allowed
    assert len(check.warnings) == 2
    assert "outside the recommended 7-10" in check.warnings[0]


@pytest.mark.parametrize(("epochs", "learning_rate"), [(11, 1e-5), (0, 1e-5), (5, 1e-6), (5, 0.2)])
def test_override_outside_bedrock_range_is_refused(epochs: int, learning_rate: float) -> None:
    check = check_override(epochs, learning_rate, recommend(300))
    assert not check.allowed
    assert check.refusal is not None and "Bedrock accepts" in check.refusal


def test_cost_is_tokens_times_epochs_times_price_plus_storage_and_evaluation() -> None:
    prices = load_prices()
    table = prices.models["11b"]
    cost = estimate_cost(
        model="11b", epochs=5, train_tokens=2_000_000, test_records=100, test_tokens=200_000, prices=prices
    )

    assert cost.estimate is True
    assert cost.training_tokens == 10_000_000
    assert cost.training_usd == pytest.approx(10 * table.training_per_million_tokens.usd, abs=0.01)
    assert cost.storage_usd_per_month == table.storage_per_model_month.usd
    assert cost.evaluation_usd >= table.provisioned_throughput_per_hour.usd  # at least one hour provisioned
    assert cost.total_usd == pytest.approx(
        cost.training_usd + cost.storage_usd_per_month + cost.evaluation_usd, abs=0.02
    )
    assert "training_per_million_tokens" in cost.unconfirmed  # the placeholder says so
    assert cost.prices_as_of == prices.as_of.isoformat()


def test_shipped_price_table_marks_placeholders() -> None:
    prices = load_prices()
    for model in MODEL_SIZES:
        training = prices.models[model].training_per_million_tokens
        assert training.status == "placeholder" and "placeholder" in training.source


def test_prices_file_overrides_the_default(tmp_path: Path) -> None:
    table = json.loads(load_prices().model_dump_json())
    table["models"]["11b"]["training_per_million_tokens"] = {
        "usd": 1.0,
        "source": "our contract",
        "status": "published",
    }
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))

    prices = load_prices(path)

    assert prices.models["11b"].training_per_million_tokens.usd == 1.0
    cost = estimate_cost(
        model="11b", epochs=1, train_tokens=1_000_000, test_records=0, test_tokens=0, prices=prices
    )
    assert cost.training_usd == 1.0 and cost.evaluation_usd == 0
    assert "training_per_million_tokens" not in cost.unconfirmed


def test_broken_prices_file_is_a_readable_error(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text('{"as_of": "yesterday"}')
    with pytest.raises(PricesError, match=r"prices\.json is invalid"):
        load_prices(path)
    with pytest.raises(PricesError, match="cannot be read"):
        load_prices(tmp_path / "missing.json")
