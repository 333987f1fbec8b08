"""The /finetune grammar: text in, a typed command (or a usage error) out. Pure."""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass

from services.api.schemas import JobStatus

SUBCOMMANDS: dict[str, str] = {
    "help": "/finetune help",
    "launch": "/finetune launch <dataset> [model=11b|90b|both] [epochs=N] [lr=X] [eval=on|off] [name=TEXT]",
    "recommend": "/finetune recommend <examples> [model=11b|90b]",
    "status": "/finetune status <job>",
    "history": "/finetune history [mine|all|@user] [status=..] [model=11b|90b] [limit=N]",
    "cancel": "/finetune cancel <job>",
    "compare": "/finetune compare <sweep|group> | /finetune compare <job> <job>",
    "datasets": "/finetune datasets [mine|all]",
    "sweep": "/finetune sweep <dataset> [sizes=100,1000,all] [models=11b,90b]",
    "examples": "/finetune examples <job|group>",
}
EXAMPLES: dict[str, str] = {
    "help": "what each command does",
    "launch": "<dataset> is an id, an s3:// URI or `last` (your last upload); "
    "`/finetune launch last model=both` shows the cost and asks you to confirm",
    "recommend": "`/finetune recommend 1200` gives epochs and learning rate, with reasons",
    "status": "`/finetune status charts-11b` shows one job",
    "history": "`/finetune history mine status=done limit=5` lists jobs, newest first",
    "cancel": "`/finetune cancel charts-90b` stops a job (you, or an admin)",
    "compare": "`/finetune compare <group>` compares the 11B and 90B runs of one launch; "
    "`/finetune compare <sweep>` shows a sweep's learning curve and verdict again",
    "datasets": "`/finetune datasets mine` lists recent datasets with their record counts",
    "sweep": "`/finetune sweep last sizes=100,1000,all models=11b,90b` trains each size on nested subsets "
    "and answers: more data, the bigger model, or stop (the estimate first, you confirm)",
    "examples": "`/finetune examples charts-11b` posts where fine-tuning helped and hurt most "
    "(a launch group: also where 11B and 90B disagree)",
}
JOB_STATUSES = tuple(status.value for status in JobStatus)
MODELS = ("11b", "90b")
MAX_HISTORY = 50
DEFAULT_SWEEP_SIZES: tuple[int | str, ...] = (100, 1_000, "all")
BEDROCK_MIN_RECORDS = 100  # Bedrock's minimum of training records per job (the service checks it too)
MAX_SWEEP_SIZES = 6
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_USER = re.compile(r"^<@([A-Z0-9]+)(\|[^>]*)?>$")
_S3 = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/\S*)?$")


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class UsageError:
    """What the user typed does not parse; ``usage`` is the closest valid form, ``field`` the option (or
    ``dataset``) at fault when one is, so a form can put the message on that field."""

    message: str
    usage: str
    field: str | None = None


@dataclass(frozen=True)
class Launch:
    """``dataset`` None means "no arguments": open the launch modal."""

    dataset: str | None
    models: tuple[str, ...] = ("11b",)
    epochs: int | None = None
    learning_rate: float | None = None
    evaluate: bool = True
    name: str | None = None


@dataclass(frozen=True)
class Recommend:
    examples: int
    model: str | None = None


@dataclass(frozen=True)
class Status:
    job: str


@dataclass(frozen=True)
class History:
    """``user`` None means everyone's jobs."""

    user: str | None
    status: JobStatus | None = None
    model: str | None = None
    limit: int = 10


@dataclass(frozen=True)
class Cancel:
    job: str


@dataclass(frozen=True)
class Compare:
    """Either one launch group, or two jobs."""

    group: str | None = None
    jobs: tuple[str, str] | None = None


@dataclass(frozen=True)
class Datasets:
    mine: bool = True


@dataclass(frozen=True)
class Sweep:
    """A learning-curve sweep: ``dataset`` as for launch; sizes ascending and distinct, ``all`` last."""

    dataset: str
    sizes: tuple[int | str, ...] = DEFAULT_SWEEP_SIZES
    models: tuple[str, ...] = MODELS


@dataclass(frozen=True)
class Examples:
    """The gallery of one job, or of a launch group (a pair)."""

    target: str


Command = (
    Help | UsageError | Launch | Recommend | Status | History | Cancel | Compare | Datasets | Sweep | Examples
)


class _Bad(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def parse(text: str, user_id: str) -> Command:
    """Parse what followed ``/finetune``; ``user_id`` is the caller (for ``mine``)."""
    try:
        words = shlex.split(text.strip())
    except ValueError:
        words = text.split()
        if words and words[0].lower() in SUBCOMMANDS:
            return UsageError("A quote is not closed.", SUBCOMMANDS[words[0].lower()])
        return UsageError("A quote is not closed.", SUBCOMMANDS["help"])
    if not words or words[0].lower() == "help":
        return Help()
    name, args = words[0].lower(), words[1:]
    parser = _PARSERS.get(name)
    if parser is None:
        closest = _closest(name)
        return UsageError(f"`{words[0]}` is not a /finetune command.", SUBCOMMANDS[closest])
    try:
        return parser(args, user_id)
    except _Bad as bad:
        return UsageError(bad.message, SUBCOMMANDS[name], bad.field)


def _options(args: list[str], allowed: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    positional: list[str] = []
    options: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            positional.append(arg)
            continue
        key = key.lower()
        if key not in allowed:
            raise _Bad(
                f"`{key}=` is not an option here (options: {', '.join(k + '=' for k in allowed)}).", key
            )
        if not value:
            raise _Bad(f"`{key}=` needs a value.", key)
        if key in options:
            raise _Bad(f"`{key}=` is given twice.", key)
        options[key] = value
    return positional, options


def _models(value: str) -> tuple[str, ...]:
    value = value.lower()
    if value == "both":
        return MODELS
    if value in MODELS:
        return (value,)
    raise _Bad(f"model `{value}` is not 11b, 90b or both.", "model")


def _one_model(value: str | None) -> str | None:
    if value is None:
        return None
    if value.lower() not in MODELS:
        raise _Bad(f"model `{value}` is not 11b or 90b.", "model")
    return value.lower()


def _int(value: str, what: str, low: int, high: int) -> int:
    try:
        number = int(value.replace(",", "").replace("_", ""))
    except ValueError:
        raise _Bad(f"{what} `{value}` is not a whole number.", what) from None
    if not low <= number <= high:
        raise _Bad(f"{what} must be between {low:,} and {high:,}; got {number:,}.", what)
    return number


def _identifier(value: str, what: str) -> str:
    if not _ID.match(value):
        raise _Bad(f"`{value}` is not a {what} id or name.", what)
    return value


def _dataset(positional: list[str]) -> str:
    if len(positional) != 1:
        raise _Bad("Give exactly one dataset: its id, an s3:// URI, or `last` (your last upload).", "dataset")
    dataset = positional[0]
    if dataset.lower() == "last":
        return "last"
    if dataset.startswith("s3://"):
        if not _S3.match(dataset):
            raise _Bad(f"`{dataset}` is not a valid s3://bucket/prefix URI.", "dataset")
        return dataset
    return _identifier(dataset, "dataset")


def _launch(args: list[str], _user: str) -> Command:
    if not args:
        return Launch(dataset=None)
    positional, options = _options(args, ("model", "epochs", "lr", "eval", "name"))
    dataset = _dataset(positional)
    learning_rate: float | None = None
    if "lr" in options:
        try:
            learning_rate = float(options["lr"])
        except ValueError:
            raise _Bad(f"lr `{options['lr']}` is not a number such as 1e-5.", "lr") from None
        if not 0 < learning_rate < 1:
            raise _Bad(f"lr `{options['lr']}` must be between 0 and 1, such as 1e-5.", "lr")
    evaluate = options.get("eval", "on").lower()
    if evaluate not in ("on", "off"):
        raise _Bad(f"eval `{evaluate}` is not on or off.", "eval")
    return Launch(
        dataset=dataset,
        models=_models(options.get("model", "11b")),
        epochs=_int(options["epochs"], "epochs", 1, 10) if "epochs" in options else None,
        learning_rate=learning_rate,
        evaluate=evaluate == "on",
        name=options.get("name"),
    )


def _recommend(args: list[str], _user: str) -> Command:
    positional, options = _options(args, ("model",))
    if len(positional) != 1:
        raise _Bad("Give the number of training examples.")
    return Recommend(_int(positional[0], "examples", 1, 10_000_000), _one_model(options.get("model")))


def _one_job(args: list[str], what: str) -> str:
    if len(args) != 1 or "=" in args[0]:
        raise _Bad(f"Give one {what}: its id or name.")
    return _identifier(args[0], what)


def _status(args: list[str], _user: str) -> Command:
    return Status(_one_job(args, "job"))


def _cancel(args: list[str], _user: str) -> Command:
    return Cancel(_one_job(args, "job"))


def _history(args: list[str], user: str) -> Command:
    positional, options = _options(args, ("status", "model", "limit"))
    if len(positional) > 1:
        raise _Bad("Give at most one of mine, all or @user.")
    who: str | None = user
    if positional:
        scope = positional[0]
        mention = _USER.match(scope)
        if scope.lower() == "mine":
            who = user
        elif scope.lower() == "all":
            who = None
        elif mention:
            who = mention.group(1)
        else:
            raise _Bad(f"`{scope}` is not mine, all or an @mention (pick the person from Slack's list).")
    status = options.get("status")
    if status is not None and status.lower() not in JOB_STATUSES:
        raise _Bad(f"status `{status}` is not one of {', '.join(JOB_STATUSES)}.")
    limit = _int(options["limit"], "limit", 1, MAX_HISTORY) if "limit" in options else 10
    return History(
        who, JobStatus(status.lower()) if status else None, _one_model(options.get("model")), limit
    )


def _compare(args: list[str], _user: str) -> Command:
    if len(args) == 1:
        return Compare(group=_identifier(args[0], "sweep or launch group"))
    if len(args) == 2:
        first, second = (_identifier(arg, "job") for arg in args)
        if first == second:
            raise _Bad("Compare two different jobs.")
        return Compare(jobs=(first, second))
    raise _Bad("Give one sweep or launch group, or two jobs.")


def _sizes(value: str) -> tuple[int | str, ...]:
    numbers: set[int] = set()
    every = False
    for part in (piece.strip().lower() for piece in value.split(",")):
        if part == "all":
            every = True
            continue
        digits, multiplier = (part[:-1], 1_000) if part.endswith("k") else (part, 1)
        if not digits.isdigit():
            raise _Bad(f"size `{part}` is not a number of examples or `all` (e.g. sizes=100,1000,all).")
        size = int(digits) * multiplier
        if size < BEDROCK_MIN_RECORDS:
            raise _Bad(f"size {size:,} is below Bedrock's minimum of {BEDROCK_MIN_RECORDS} training records.")
        numbers.add(size)
    sizes: tuple[int | str, ...] = (*sorted(numbers), *(("all",) if every else ()))
    if not sizes:
        raise _Bad("Give at least one size, e.g. sizes=100,1000,all.")
    if len(sizes) > MAX_SWEEP_SIZES:
        raise _Bad(f"Give at most {MAX_SWEEP_SIZES} sizes: each is one job per model size.")
    return sizes


def _sweep_models(value: str) -> tuple[str, ...]:
    if value.lower() == "both":
        return MODELS
    models = {part.strip().lower() for part in value.split(",") if part.strip()}
    unknown = sorted(models - set(MODELS))
    if unknown or not models:
        raise _Bad(f"models `{value}` is not 11b, 90b or 11b,90b.")
    return tuple(model for model in MODELS if model in models)


def _sweep(args: list[str], _user: str) -> Command:
    positional, options = _options(args, ("sizes", "models"))
    return Sweep(
        dataset=_dataset(positional),
        sizes=_sizes(options["sizes"]) if "sizes" in options else DEFAULT_SWEEP_SIZES,
        models=_sweep_models(options["models"]) if "models" in options else MODELS,
    )


def _examples(args: list[str], _user: str) -> Command:
    return Examples(_one_job(args, "job or launch group"))


def _datasets(args: list[str], _user: str) -> Command:
    if not args:
        return Datasets(mine=True)
    if len(args) == 1 and args[0].lower() in ("mine", "all"):
        return Datasets(mine=args[0].lower() == "mine")
    raise _Bad("Give mine or all.")


_PARSERS = {
    "launch": _launch,
    "recommend": _recommend,
    "status": _status,
    "history": _history,
    "cancel": _cancel,
    "compare": _compare,
    "datasets": _datasets,
    "sweep": _sweep,
    "examples": _examples,
}


def _closest(word: str) -> str:
    """The subcommand most like ``word`` (difflib's similarity: typos and swapped letters still match),
    or help when none is close."""
    close = difflib.get_close_matches(word.lower(), list(SUBCOMMANDS), n=1, cutoff=0.6)
    return close[0] if close else "help"
