"""Options several commands share, and the container each command works with."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the container loads with the command, not with `--help`
    from thunder.app.container import Container

config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="config.json to use (default: $THUNDER_CONFIG, else ./config.json).",
)

size_option = click.option(
    "--size", type=click.IntRange(min=1), required=True, help="Rows read per chunk; bounds memory."
)


def input_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--input", "input_path", required=True, type=click.Path(dir_okay=False), help=help
    )


def container_for(ctx: click.Context, config: str | None) -> "Container":
    """The container the caller prepared (tests pass one as obj), else a fresh one from config."""
    from thunder.app.settings import load_settings

    if ctx.obj is not None:  # tests pass a prepared container
        if not ctx.obj.settings.overridden:
            ctx.obj.settings.override(load_settings(config))
        prepared: Container = ctx.obj
        return prepared
    settings = load_settings(config)  # first: a bad config fails in a blink, before torch loads
    from thunder.entrypoints.bootstrap import bootstrap  # imported late: `--help` needs no torch

    return bootstrap(settings=settings)
