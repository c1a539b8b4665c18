"""`thunder tune`'s output: one line per trial of the study, then the best and where it went."""

from thunder.app.tune import Tuned
from thunder.domain.tuning import Param, TrialOutcome

COLUMNS = (  # (param, heading, width)
    ("hidden_size", "hidden", 7),
    ("num_layers", "layers", 7),
    ("block_pattern", "blocks", 7),
    ("dropout", "dropout", 8),
    ("learning_rate", "lr", 9),
    ("past_steps", "past", 5),
)


def format_trials(tuned: Tuned) -> str:
    finished = sum(t.finished for t in tuned.trials)
    head = "".join(f"{name:>{width}}" for _, name, width in COLUMNS)
    lines = [
        f"study '{tuned.study}' in {tuned.storage}: {finished} finished trial(s), "
        f"{tuned.ran} run now",
        f"{'trial':>5}  {'state':<9}{'val_loss':>10}{head}{'epochs':>7}{'wall_s':>8}",
    ]
    lines += [_row(t) for t in tuned.trials]
    best = tuned.best
    lines.append(
        f"best: trial {best.number}, val_loss {best.value:.4f} -> {tuned.output} "
        f"(train it: thunder chunk --config {tuned.output} ...)"
    )
    return "\n".join(lines)


def _row(t: TrialOutcome) -> str:
    value = f"{t.value:>10.4f}" if t.value is not None else f"{'-':>10}"
    cells = "".join(f"{_cell(t.params.get(key)):>{width}}" for key, _, width in COLUMNS)
    wall = f"{t.wall_s:>8.1f}" if t.wall_s is not None else f"{'-':>8}"
    return f"{t.number:>5}  {t.state:<9}{value}{cells}{t.epochs or 0:>7}{wall}"


def _cell(value: Param | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2e}" if value < 0.01 else f"{value:.3f}"
    return str(value)
