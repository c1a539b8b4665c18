"""The processes of one training run, over torch.distributed and Lightning's cluster environments.

A run is distributed when a launcher started it: `torchrun` (or thunder itself, which starts
`training_config.devices` local processes with the same elastic launcher) or SLURM's `srun`.
Lightning's `TorchElasticEnvironment` and `SLURMEnvironment` read the ranks and the main address
from the launcher's environment variables. thunder opens the process group itself, before any
data is read, so rank 0 can prepare the data once and hand the fitted scaler to the others;
Lightning's DDP strategy then finds the group open and trains in it.

torch is imported inside the functions: a single-process run never pays for it here.
"""

import os
import pickle
import signal
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from thunder.adapters.messages import first_line
from thunder.domain.errors import ClusterError, ConfigError
from thunder.domain.ports import Cluster

if TYPE_CHECKING:
    from lightning_fabric.plugins.environments.cluster_environment import ClusterEnvironment
    from torch.distributed import ProcessGroup

# how long a rank waits in a collective: rank 0 may spend a while building the row cache of a
# large file while the others wait for it
COLLECTIVE_TIMEOUT = timedelta(hours=2)
_LAUNCHER_VARS = ("TORCHELASTIC_RUN_ID", "LOCAL_WORLD_SIZE", "SLURM_NTASKS")


class SingleProcess:
    """The usual run: one process, so every collective is the identity."""

    rank = 0
    world_size = 1

    def broadcast(self, value: object) -> object:
        return value

    def gather(self, value: object) -> list[object]:
        return [value]


@dataclass(frozen=True)
class Layout:
    """Where this process sits, as Lightning's Trainer wants it (devices per node, nodes)."""

    environment: "ClusterEnvironment"
    local_processes: int
    nodes: int
    backend: str


class TorchCluster:
    """The ranks of a launched run. Python objects travel over a gloo group, whatever the backend
    of the training's gradients (NCCL needs GPU tensors, and these are small)."""

    def __init__(self, layout: Layout, objects: "ProcessGroup") -> None:
        self.layout = layout
        self._objects = objects

    @property
    def rank(self) -> int:
        return int(self.layout.environment.global_rank())

    @property
    def world_size(self) -> int:
        return int(self.layout.environment.world_size())

    def broadcast(self, value: object) -> object:
        import torch.distributed as dist

        box = [value]
        self._collective(lambda: dist.broadcast_object_list(box, src=0, group=self._objects))
        return box[0]

    def gather(self, value: object) -> list[object]:
        import torch.distributed as dist

        out: list[object] = [None] * self.world_size
        self._collective(lambda: dist.all_gather_object(out, value, group=self._objects))
        return out

    def _collective(self, call: Any) -> None:
        try:
            call()
        except (RuntimeError, pickle.UnpicklingError) as e:  # gloo: a peer closed its connection
            raise ClusterError(
                f"rank {self.rank}: another training process stopped ({first_line(e)})"
            ) from None


_cluster: TorchCluster | None = None


def connect(accelerator: str) -> SingleProcess | TorchCluster:
    """This process's place in the run: joins the process group when a launcher started it."""
    global _cluster
    if _cluster is not None:
        return _cluster
    if not any(v in os.environ for v in _LAUNCHER_VARS):
        return SingleProcess()
    layout = _layout(accelerator)
    if layout is None:
        return SingleProcess()
    import torch
    import torch.distributed as dist

    env = layout.environment
    os.environ["MASTER_ADDR"] = env.main_address
    os.environ["MASTER_PORT"] = str(env.main_port)
    if "OMP_NUM_THREADS" not in os.environ:  # the node's cores, shared by its processes
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // layout.local_processes))
    if layout.backend == "nccl":  # each rank on its own GPU before NCCL meets (as Lightning does)
        torch.cuda.set_device(env.local_rank())
    if not dist.is_initialized():
        dist.init_process_group(
            layout.backend,
            rank=env.global_rank(),
            world_size=env.world_size(),
            timeout=COLLECTIVE_TIMEOUT,
        )
    objects = dist.new_group(backend="gloo", timeout=COLLECTIVE_TIMEOUT)
    _cluster = TorchCluster(layout, objects)
    return _cluster


def layout() -> Layout | None:
    """The layout of the connected run, for the Trainer; None in a single process."""
    return _cluster.layout if _cluster is not None else None


def _layout(accelerator: str) -> Layout | None:
    from lightning_fabric.plugins.environments.slurm import SLURMEnvironment
    from lightning_fabric.plugins.environments.torchelastic import TorchElasticEnvironment

    env: ClusterEnvironment
    if TorchElasticEnvironment.detect():
        env = TorchElasticEnvironment()
        local = int(os.environ["LOCAL_WORLD_SIZE"])
    elif SLURMEnvironment.detect():
        env = SLURMEnvironment()
        nodes = int(os.environ.get("SLURM_NNODES", "1"))
        local = int(os.environ.get("SLURM_NTASKS_PER_NODE", env.world_size() // nodes))
    else:
        return None
    world = env.world_size()
    if world == 1:
        return None
    return Layout(env, local, max(world // local, 1), _backend(accelerator))


def _backend(accelerator: str) -> str:
    import torch

    gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    return "nccl" if gpu else "gloo"


def launch_if_asked(
    cluster: Cluster,
    *,
    accelerator: str,
    devices: int | str,
    strategy: str,
    num_nodes: int,
    find_lr: bool,
    argv: Sequence[str],
) -> bool:
    """Start the local ranks a config asks for. True when this process launched them and they
    have all finished (the caller's work is done); False when this process is to train."""
    if isinstance(cluster, TorchCluster):
        check_layout(devices, num_nodes, cluster)
        processes = cluster.world_size
    elif num_nodes > 1:
        raise ConfigError(
            f"training_config.num_nodes is {num_nodes}: start thunder on every node with torchrun "
            f"or srun (docs/cluster.md); by itself thunder starts processes on one machine",
            field="training_config.num_nodes",
        )
    else:
        processes = local_devices(accelerator, devices, strategy)
    if find_lr and processes > 1:
        raise ConfigError(
            "chunk --find-lr runs in one process: find the rate without ddp, then set "
            "model_config.learning_rate",
            field="training_config.devices",
        )
    if isinstance(cluster, TorchCluster) or processes == 1:
        return False
    launch_local(processes, argv)
    return True


def local_devices(accelerator: str, devices: int | str, strategy: str) -> int:
    """How many processes `training_config.devices` asks for on this machine: "auto" is one,
    or with strategy "ddp" one per GPU."""
    if isinstance(devices, int):
        return devices
    if strategy != "ddp" or accelerator == "cpu":
        return 1
    import torch

    return max(torch.cuda.device_count(), 1)


def launch_local(processes: int, argv: Sequence[str]) -> None:
    """Run `python -m thunder <argv>` as `processes` ranks on this machine with torch's elastic
    launcher (what `torchrun --standalone` runs), on 127.0.0.1; ClusterError when any rank fails
    (its own error line is already on stderr)."""
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    # the agent's own lines ("Sending process ... SIGTERM") would bury the rank's one-line error;
    # torch sets each of its elastic modules' loggers to WARNING by name, so each is quietened
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=processes,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0",
        max_restarts=0,
        monitor_interval=0.1,
    )
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads is None:  # the machine's cores, shared by its ranks
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // processes))
    try:
        elastic_launch(config, sys.executable)("-m", "thunder", *argv)
    except SignalException as e:  # Ctrl+C or a kill: the agent has stopped the ranks
        if e.sigval == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise ClusterError(
            f"stopped by {e.sigval.name}; the previous artifacts are unchanged"
        ) from None
    except ChildFailedError as e:
        failed = sorted(
            (r, f.exitcode) for r, f in e.failures.items() if f.exitcode not in (0, -15)
        ) or sorted((r, f.exitcode) for r, f in e.failures.items())
        ranks = ", ".join(f"rank {r} (exit {code})" for r, code in failed)
        raise ClusterError(
            f"the distributed run failed in {ranks} of {processes}; the previous artifacts "
            f"are unchanged"
        ) from None
    except Exception as e:  # the rendezvous itself
        raise ClusterError(
            f"cannot start {processes} training processes: {first_line(e)}"
        ) from None
    finally:
        if threads is None:
            del os.environ["OMP_NUM_THREADS"]


def check_layout(devices: int | str, num_nodes: int, cluster: Cluster) -> None:
    """A launcher decides the processes; a config that says otherwise is a mistake to name."""
    if not isinstance(cluster, TorchCluster):
        return
    got = cluster.layout
    if isinstance(devices, int) and devices != got.local_processes:
        raise ConfigError(
            f"training_config.devices is {devices} but the launcher started {got.local_processes} "
            f'process(es) per node; set it to {got.local_processes} or "auto"',
            field="training_config.devices",
        )
    if num_nodes not in (1, got.nodes):
        raise ConfigError(
            f"training_config.num_nodes is {num_nodes} but the launcher started {got.nodes} "
            f"node(s); set it to {got.nodes}",
            field="training_config.num_nodes",
        )
