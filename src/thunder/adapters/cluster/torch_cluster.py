"""The processes of one training run, over torch.distributed and Lightning's cluster environments.

A run is distributed when a launcher started it: `torchrun` (or thunder itself, see launcher.py)
or SLURM's `srun`. Lightning's `TorchElasticEnvironment` and `SLURMEnvironment` read the ranks
and the main address from the launcher's environment variables. thunder opens the process group
itself, before any data is read, so rank 0 can prepare the data once and hand the fitted scaler
to the others; Lightning's DDP strategy then finds the group open and trains in it.

torch is imported inside the functions: a single-process run never pays for it here.
"""

import atexit
import os
import pickle
import signal
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from thunder.adapters.messages import first_line
from thunder.domain.errors import ClusterError
from thunder.domain.ports import Cluster
from thunder.domain.threads import threads_per_process

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


def connect(accelerator: str) -> SingleProcess | TorchCluster:
    """This process's place in the run: joins the process group when a launcher started it.
    Call it once per process (the container's `cluster` provider is a singleton)."""
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
        torch.set_num_threads(threads_per_process(layout.local_processes))
    if layout.backend == "nccl":  # each rank on its own GPU before NCCL meets (as Lightning does)
        torch.cuda.set_device(env.local_rank())
    if not dist.is_initialized():
        dist.init_process_group(
            layout.backend,
            rank=env.global_rank(),
            world_size=env.world_size(),
            timeout=COLLECTIVE_TIMEOUT,
        )
        # as Lightning does for the groups it opens: a group left to the interpreter's teardown
        # can abort the process after its work is done ("terminate called without an active
        # exception", exit -6), which the launcher reports as a failed rank
        atexit.register(_close_process_group)
    objects = dist.new_group(backend="gloo", timeout=COLLECTIVE_TIMEOUT)
    return TorchCluster(layout, objects)


def _close_process_group() -> None:
    import torch.distributed as dist

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a 2nd Ctrl+C must not cut it short
    try:
        if dist.is_initialized():
            dist.destroy_process_group()
    finally:
        signal.signal(signal.SIGINT, previous)


def layout_of(cluster: Cluster) -> Layout | None:
    """The layout of a connected run, for Lightning's Trainer; None in a single process."""
    return cluster.layout if isinstance(cluster, TorchCluster) else None


def _layout(accelerator: str) -> Layout | None:
    """Where a launcher placed this process, from its environment variables; None for a run
    of one process."""
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
