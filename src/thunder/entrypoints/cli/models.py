"""`thunder export`, `versions` and `rollback`: the published model versions."""

import click

from thunder.entrypoints.cli.group import UserError
from thunder.entrypoints.cli.options import config_option, container_for


@click.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="write the file here only; default: publish it in a new version beside model_path, "
    "for `serve --backend onnx`",
)
@click.option(
    "--quantize",
    type=click.Choice(["int8"]),
    default=None,
    help="int8 weights for the matrix products (onnxruntime dynamic quantisation)",
)
@click.pass_context
def export(
    ctx: click.Context, config: str | None, fmt: str, output: str | None, quantize: str | None
) -> None:
    """Export the current model version (dynamic batch axis, opset 17)."""
    done = container_for(ctx, config).export_model()(output, int8=quantize == "int8")
    click.echo(
        f"exported version {done.source} to {fmt.upper()}: {done.path} ({done.size:,} bytes)"
    )
    if done.version is not None:
        click.echo(f"published as version {done.version}: serve it with `serve --backend onnx`")


@click.command()
@config_option
@click.pass_context
def versions(ctx: click.Context, config: str | None) -> None:
    """List the kept model versions, the current one marked with *."""
    infos = container_for(ctx, config).versions().list()
    if not infos:
        raise UserError("no versions yet: train one with `thunder chunk`")
    for info in infos:
        maes = "  ".join(
            f"{target} MAE {m['mae']:.4f}" for target, m in info.test.items() if "mae" in m
        )
        mark = "*" if info.current else " "
        click.echo(f"{mark} {info.version}  trained {info.trained_at}  {maes}".rstrip())


@click.command()
@click.argument("version")
@config_option
@click.pass_context
def rollback(ctx: click.Context, version: str, config: str | None) -> None:
    """Make VERSION (from `thunder versions`) current again; running servers pick it up on
    reload (POST /admin/reload or SIGHUP)."""
    info = container_for(ctx, config).versions().rollback(version)
    click.echo(f"current: {info.version} (trained {info.trained_at})")
