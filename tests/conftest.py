import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO_CSV = ROOT / "examples" / "climate-data.csv"


def small_config(tmp: Path, **overrides: Any) -> dict[str, Any]:
    """The README config, shrunk for tests: tiny network, a few optimizer steps."""
    cfg: dict[str, Any] = json.loads((ROOT / "config.json").read_text())
    cfg["training_config"] = {"epochs": 1, "max_steps": 5}
    cfg["model_config"].update(hidden_size=16, num_layers=2, num_attention_heads=2)
    cfg["model_path"] = str(tmp / "model" / "model.pth")
    cfg["preprocessor_path"] = str(tmp / "preprocessor" / "preprocessor.pkl")
    for key, value in overrides.items():
        cfg[key] = value
    return cfg


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(small_config(tmp_path)))
    return path


def flat(tree: object, prefix: str = "") -> dict[str, object]:
    """A report's nested numbers as {"a.b[0]": value}, to compare with pytest.approx."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in flat(sub, f"{prefix}.{key}").items()}
    if isinstance(tree, list):
        return {k: v for i, sub in enumerate(tree) for k, v in flat(sub, f"{prefix}[{i}]").items()}
    return {prefix: tree}
