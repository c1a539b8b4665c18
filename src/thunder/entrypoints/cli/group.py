"""The `thunder` command group: every ThunderError and bad option ends as one line on stderr."""

from typing import Any

import click

from thunder.domain.errors import ThunderError


class UserError(click.ClickException):
    """A ThunderError as the CLI shows it: one line, no traceback, exit 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"thunder: error: {self.message}", err=True)


class UsageLine(click.UsageError):
    """A bad option as one line too (click's own adds the usage and a hint on three more)."""

    def __init__(self, error: click.UsageError) -> None:
        super().__init__(error.format_message().rstrip("."), error.ctx)

    def show(self, file: Any = None) -> None:
        where = f" (see '{self.ctx.command_path} --help')" if self.ctx else ""
        click.echo(f"thunder: error: {self.message}{where}", err=True)


def _one_line(e: click.UsageError) -> click.UsageError:
    if isinstance(e, (UsageLine, click.exceptions.NoArgsIsHelpError)):
        return e
    return UsageLine(e)


class ThunderGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            raise _one_line(e) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as e:  # the subcommand's options are parsed in here
            raise _one_line(e) from None
        except ThunderError as e:
            raise UserError(e.message) from None
        except KeyboardInterrupt:
            raise UserError(
                "interrupted; the previous artifacts are unchanged (chunk --resume continues "
                "from the last finished epoch)"
            ) from None


@click.group(cls=ThunderGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """thunder: train xLSTM forecasters on CSVs larger than memory, and serve them."""
