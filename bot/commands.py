"""The /finetune grammar: text in, a typed command (or a usage error) out. Pure."""

from __future__ import annotations

from dataclasses import dataclass

SUBCOMMANDS: dict[str, str] = {
    "help": "/finetune help: what each command does",
    "launch": "/finetune launch <dataset> [model=11b|90b|both] [epochs=N] [lr=X] [eval=on|off] [name=TEXT]",
    "recommend": "/finetune recommend <examples> [model=11b|90b]",
    "status": "/finetune status <job>",
    "history": "/finetune history [mine|all|@user] [status=..] [model=..] [limit=N]",
    "cancel": "/finetune cancel <job>",
    "compare": "/finetune compare <group> | /finetune compare <job> <job>",
    "datasets": "/finetune datasets [mine|all]",
}


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class UsageError:
    """What the user typed does not parse; ``usage`` is the closest valid form."""

    message: str
    usage: str


@dataclass(frozen=True)
class NotYetAvailable:
    """A known subcommand this build does not serve yet."""

    name: str


Command = Help | UsageError | NotYetAvailable


def parse(text: str) -> Command:
    words = text.split()
    if not words or words[0].lower() == "help":
        return Help()
    name = words[0].lower()
    if name in SUBCOMMANDS:
        return NotYetAvailable(name)
    closest = _closest(name)
    return UsageError(
        f"`{words[0]}` is not a /finetune command.", SUBCOMMANDS.get(closest, SUBCOMMANDS["help"])
    )


def _closest(word: str) -> str:
    """The subcommand sharing the longest prefix with ``word`` (typos keep their start)."""

    def shared(candidate: str) -> int:
        count = 0
        for a, b in zip(word, candidate, strict=False):
            if a != b:
                break
            count += 1
        return count

    best = max(SUBCOMMANDS, key=shared)
    return best if shared(best) > 0 else "help"
