"""Where a launched process sits, read from its launcher's environment, and what a config may ask.

The real runs (torchrun, thunder's own launcher) are in tests/integration/test_distributed.py;
SLURM cannot run here, so its environment variables are set by hand as srun sets them.
"""

import pytest

from thunder.adapters.cluster import launcher, torch_cluster
from thunder.adapters.cluster.torch_cluster import Layout, SingleProcess, TorchCluster
from thunder.domain.errors import ConfigError

TORCHRUN = {  # rank 3 of 2 nodes x 2 processes
    "RANK": "3",
    "WORLD_SIZE": "4",
    "LOCAL_RANK": "1",
    "LOCAL_WORLD_SIZE": "2",
    "GROUP_RANK": "1",
    "TORCHELASTIC_RUN_ID": "x",
    "MASTER_ADDR": "10.0.0.1",
    "MASTER_PORT": "29500",
}
SRUN = {  # task 5 of `sbatch --nodes=2 --ntasks-per-node=4`
    "SLURM_NTASKS": "8",
    "SLURM_PROCID": "5",
    "SLURM_LOCALID": "1",
    "SLURM_NODEID": "1",
    "SLURM_NNODES": "2",
    "SLURM_NTASKS_PER_NODE": "4",
    "SLURM_JOB_NAME": "thunder",
    "SLURM_JOB_ID": "123456",
    "SLURM_NODELIST": "gpu[07-08]",
}


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*TORCHRUN, *SRUN]:
        monkeypatch.delenv(name, raising=False)


def test_torchrun_ranks_are_read_from_torchruns_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TORCHRUN.items():
        monkeypatch.setenv(name, value)
    layout = torch_cluster._layout("cpu")
    assert layout is not None
    assert (layout.local_processes, layout.nodes, layout.backend) == (2, 2, "gloo")
    assert layout.environment.global_rank() == 3
    assert layout.environment.main_address == "10.0.0.1"


def test_srun_tasks_are_read_from_slurms_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SRUN.items():
        monkeypatch.setenv(name, value)
    layout = torch_cluster._layout("cpu")
    assert layout is not None
    assert (layout.local_processes, layout.nodes) == (4, 2)
    assert layout.environment.global_rank() == 5
    assert layout.environment.main_address == "gpu07"  # the allocation's first node


def test_an_interactive_slurm_shell_trains_as_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**SRUN, "SLURM_JOB_NAME": "interactive"}.items():
        monkeypatch.setenv(name, value)
    assert isinstance(torch_cluster.connect("cpu"), SingleProcess)


def test_no_launcher_is_one_process() -> None:
    assert isinstance(torch_cluster.connect("auto"), SingleProcess)


def launched(local: int, nodes: int) -> TorchCluster:
    env = type("Env", (), {"global_rank": lambda self: 0, "world_size": lambda self: 4})()
    return TorchCluster(Layout(env, local, nodes, "gloo"), objects=None)  # type: ignore[arg-type]


def test_a_config_that_contradicts_the_launcher_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"devices is 4 but the launcher started 2") as e:
        launcher.check_layout(4, 1, launched(2, 2))
    assert e.value.field == "training_config.devices"
    with pytest.raises(ConfigError, match=r"num_nodes is 3 but the launcher started 2"):
        launcher.check_layout("auto", 3, launched(2, 2))
    launcher.check_layout(2, 2, launched(2, 2))
    launcher.check_layout("auto", 1, launched(2, 2))


def ask(**options: object) -> bool:
    defaults: dict[str, object] = {
        "accelerator": "cpu",
        "devices": "auto",
        "strategy": "auto",
        "num_nodes": 1,
        "command": ["-m", "thunder", "chunk"],
    }
    return launcher.launch_if_asked(SingleProcess(), **{**defaults, **options})  # type: ignore[arg-type]


def test_one_process_launches_nothing() -> None:
    assert ask() is False
    assert ask(devices=1, strategy="ddp") is False


def test_several_nodes_need_a_launcher_on_each() -> None:
    with pytest.raises(ConfigError, match="start thunder on every node with torchrun or srun"):
        ask(num_nodes=2)


def test_a_run_that_cannot_be_split_says_why_when_several_processes_are_asked_for() -> None:
    with pytest.raises(ConfigError, match="this run needs one process") as e:
        ask(devices=2, one_process_only="this run needs one process")
    assert e.value.field == "training_config.devices"
    assert ask(devices=1, one_process_only="this run needs one process") is False


def test_the_trainer_is_handed_the_layout_of_a_launched_run_only() -> None:
    assert torch_cluster.layout_of(SingleProcess()) is None
    layout = torch_cluster.layout_of(launched(2, 2))
    assert layout is not None and (layout.local_processes, layout.nodes) == (2, 2)
