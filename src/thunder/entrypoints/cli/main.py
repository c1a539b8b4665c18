"""`python -m thunder ...`: the click CLI, one module per command group."""

from thunder.entrypoints.cli.evaluate import evaluate
from thunder.entrypoints.cli.group import cli
from thunder.entrypoints.cli.models import export, rollback, versions
from thunder.entrypoints.cli.serve import serve
from thunder.entrypoints.cli.train import chunk, tune

for command in (chunk, evaluate, tune, export, versions, rollback, serve):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="thunder")
