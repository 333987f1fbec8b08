"""`tunebot doctor`: one line per dependency, OK / WARN / FAIL / SKIP with the reason and the fix.

Every check catches its own failure: a broken dependency is a line of output, never a traceback.
Nothing here prints a secret (tokens are SecretStr; error texts from boto3 and Slack carry none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from services.aws.clients import ClientOptions, has_credentials, make_client
from services.aws.errors import AwsError, aws_errors
from services.aws.queue import JobEventQueue
from services.platform.backend import resolve_backend
from services.platform.config import Settings

Status = Literal["OK", "WARN", "FAIL", "SKIP"]
BASE_MODELS = ("meta.llama3-2-11b-instruct-v1:0:128k", "meta.llama3-2-90b-instruct-v1:0:128k")
BEDROCK_REGION = "us-west-2"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4} {self.name}: {self.detail}"
        return f"{text} -> {self.fix}" if self.fix and self.status != "OK" else text


def ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name, "OK", detail)


def fail(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, "FAIL", detail, fix)


def warn(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, "WARN", detail, fix)


def skip(name: str, detail: str, fix: str = "") -> CheckResult:
    return CheckResult(name, "SKIP", detail, fix)


class Clients:
    """AWS clients pointed at AWS_ENDPOINT_URL when set (moto in tests); impatient, since a person waits."""

    def __init__(self, settings: Settings) -> None:
        self._options = ClientOptions.from_settings(
            settings, max_attempts=2, connect_timeout=5, read_timeout=10
        )

    def __call__(self, service: str, region: str | None = None) -> Any:
        options = self._options if region is None else replace(self._options, region=region)
        return make_client(service, options)


def _aws_reason(error: AwsError) -> str:
    """AWS's own words, on one short line (some endpoints answer with a whole HTML page)."""
    reason = f"{error.code}: {error.message}"
    reason = " ".join(reason.split()).rstrip(": ")
    return reason if len(reason) <= 120 else reason[:117] + "..."


def check_database(settings: Settings) -> CheckResult:
    from services.platform.db import make_engine
    from services.platform.migrate import current_revision, head_revision

    engine = make_engine(settings.database_url)
    try:
        current = current_revision(engine)
    except Exception as error:  # any driver error
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return fail(
            "database", f"cannot connect ({reason})", "check TUNEBOT_DATABASE_URL and that the server runs"
        )
    finally:
        engine.dispose()
    head = head_revision()
    if current != head:
        return fail(
            "database", f"schema at {current or 'empty'}, code expects {head}", "run `tunebot db upgrade`"
        )
    return ok("database", f"{engine.dialect.name}, schema {current}")


def check_credentials(settings: Settings, clients: Clients) -> CheckResult:
    if not has_credentials():
        return fail(
            "aws credentials",
            "none found by boto3's default chain",
            "set AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run on a role "
            "(or TUNEBOT_BACKEND=sandbox)",
        )
    try:
        with aws_errors("GetCallerIdentity"):
            identity = clients("sts").get_caller_identity()
    except AwsError as error:
        return fail(
            "aws credentials", f"rejected ({_aws_reason(error)})", "refresh or replace the credentials"
        )
    return ok("aws credentials", f"account {identity['Account']}")


def check_region(settings: Settings) -> CheckResult:
    if settings.aws_region != BEDROCK_REGION:
        return fail(
            "aws region",
            f"{settings.aws_region}: Llama 3.2 fine-tuning runs only in {BEDROCK_REGION}",
            f"set AWS_REGION={BEDROCK_REGION}",
        )
    return ok("aws region", settings.aws_region)


def check_role(settings: Settings, clients: Clients) -> CheckResult:
    if settings.role_arn is None:
        return fail(
            "role arn", "TUNEBOT_ROLE_ARN is not set", "create the role from aws/trust-policy.json and set it"
        )
    role_name = settings.role_arn.rsplit("/", 1)[-1]
    try:
        with aws_errors("GetRole"):
            role = clients("iam").get_role(RoleName=role_name)["Role"]
    except AwsError as error:
        return fail(
            "role arn", f"cannot read {role_name} ({_aws_reason(error)})", "create it, or grant iam:GetRole"
        )
    policy = role.get("AssumeRolePolicyDocument", {})
    if "bedrock.amazonaws.com" not in str(policy):
        return fail(
            "role arn", f"{role_name} does not trust bedrock.amazonaws.com", "apply aws/trust-policy.json"
        )
    return ok("role arn", f"{role_name} trusts bedrock.amazonaws.com")


def check_bucket(settings: Settings, clients: Clients) -> CheckResult:
    if settings.s3_uri is None:
        return fail(
            "s3 bucket", "TUNEBOT_S3_URI is not set", "set it to s3://bucket/prefix for data and outputs"
        )
    bucket = settings.s3_uri.removeprefix("s3://").split("/", 1)[0]
    try:
        with aws_errors("HeadBucket"):
            clients("s3").head_bucket(Bucket=bucket)
    except AwsError as error:
        return fail(
            "s3 bucket", f"{bucket}: {_aws_reason(error)}", "create the bucket or grant s3:ListBucket"
        )
    return ok("s3 bucket", bucket)


def check_model_access(settings: Settings, clients: Clients) -> CheckResult:
    bedrock = clients("bedrock", BEDROCK_REGION)
    missing: list[str] = []
    for model_id in BASE_MODELS:
        try:
            with aws_errors("GetFoundationModel"):
                bedrock.get_foundation_model(modelIdentifier=model_id)
        except AwsError as error:
            missing.append(f"{model_id} ({_aws_reason(error)})")
    if missing:
        return fail(
            "model access",
            "; ".join(missing),
            f"request access to Llama 3.2 11B/90B Vision in the Bedrock console ({BEDROCK_REGION})",
        )
    return ok("model access", "Llama 3.2 11B and 90B Vision")


def check_events_queue(settings: Settings, clients: Clients) -> CheckResult:
    """Push: the queue EventBridge delivers Bedrock's job events to is reachable and lets EventBridge in."""
    name = "events queue"
    if settings.events_queue_url is None:
        return skip(
            name,
            f"TUNEBOT_EVENTS_QUEUE_URL is not set; jobs are polled every {settings.poll_seconds} s",
            "see the README's Push section for changes within seconds",
        )
    queue_name = settings.events_queue_url.rsplit("/", 1)[-1]
    try:
        attributes = JobEventQueue(clients("sqs"), settings.events_queue_url).attributes()
    except AwsError as error:
        return fail(
            name,
            f"cannot read {queue_name} ({_aws_reason(error)})",
            "check TUNEBOT_EVENTS_QUEUE_URL, and grant the sqs actions of aws/caller-policy.json",
        )
    if "events.amazonaws.com" not in attributes.get("Policy", ""):
        return fail(
            name,
            f"{queue_name}'s policy does not let EventBridge (events.amazonaws.com) send to it",
            "apply aws/events-queue-policy.json to the queue",
        )
    waiting = attributes.get("ApproximateNumberOfMessages", "?")
    return ok(
        name,
        f"{queue_name}, {waiting} waiting; the poll reconciles every {settings.reconcile_seconds} s",
    )


def check_slack(settings: Settings) -> CheckResult:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError, SlackClientError

    if settings.slack_bot_token is None:
        return skip("slack", "SLACK_BOT_TOKEN is not set; the bot is off", "set it to run the Slack bot")
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url, timeout=10
    )
    try:
        answer = client.auth_test()
    except SlackApiError as error:
        return fail(
            "slack",
            f"auth.test said {error.response.get('error')}",
            "reinstall the app and copy its bot token",
        )
    except (SlackClientError, OSError) as error:
        return fail(
            "slack", f"cannot reach Slack ({type(error).__name__})", "check TUNEBOT_SLACK_API_URL and network"
        )
    signing = "" if settings.slack_signing_secret else " (SLACK_SIGNING_SECRET missing: HTTP mode is off)"
    return ok("slack", f"bot {answer.get('user')} in {answer.get('team')}{signing}")


def check_prices(settings: Settings) -> CheckResult:
    """Estimates are only as good as the price table: warn while any price is not a published figure."""
    from services.tuning.costs import HOW_TO_SET_PRICES
    from services.tuning.pricing import PricesError, load_prices

    try:
        table = load_prices(settings.prices_file)
    except PricesError as error:
        return fail("prices", str(error), "fix TUNEBOT_PRICES_FILE, or unset it for the shipped table")
    statuses = [price.status for model in table.models.values() for _, price in model]
    placeholders, unconfirmed = statuses.count("placeholder"), statuses.count("unconfirmed")
    if placeholders or unconfirmed:
        return warn(
            "prices",
            f"{placeholders} placeholder and {unconfirmed} unconfirmed prices (as of {table.as_of}): "
            "estimates say so",
            f"{HOW_TO_SET_PRICES} (`tunebot prices` shows each price's source)",
        )
    return ok("prices", f"all published, as of {table.as_of}")


def run_checks(settings: Settings) -> list[CheckResult]:
    results = [check_database(settings), check_prices(settings)]
    if resolve_backend(settings) == "sandbox":
        results.append(
            skip("aws", "sandbox backend: jobs are simulated offline", "configure AWS for real jobs")
        )
    else:
        clients = Clients(settings)
        aws_checks: list[Callable[[], CheckResult]] = [
            lambda: check_credentials(settings, clients),
            lambda: check_region(settings),
            lambda: check_role(settings, clients),
            lambda: check_bucket(settings, clients),
            lambda: check_model_access(settings, clients),
            lambda: check_events_queue(settings, clients),
        ]
        results.extend(check() for check in aws_checks)
    results.append(check_slack(settings))
    return results
