"""tunebot's job service: datasets, jobs, evaluation, and the REST API the bot talks to."""

__version__ = "0.1.0"
