"""thunder's own launcher: the local processes `training_config.devices` asks for, started with
torch's elastic launcher (what `torchrun --standalone` runs), and the checks of a config against
a launcher that started the run. The command each rank runs is the caller's: this adapter does
not know the CLI.
"""

import os
import signal
import sys
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from thunder.adapters.cluster.torch_cluster import TorchCluster
from thunder.adapters.messages import first_line
from thunder.domain.errors import ClusterError, ConfigError
from thunder.domain.ports import Cluster
from thunder.domain.threads import threads_per_process

if TYPE_CHECKING:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig


def launch_if_asked(
    cluster: Cluster,
    *,
    accelerator: str,
    devices: int | str,
    strategy: str,
    num_nodes: int,
    command: Sequence[str],
    one_process_only: str | None = None,
) -> bool:
    """Start the local ranks a config asks for, each running `python <command>` (the caller's
    command, e.g. ["-m", "thunder", "chunk", ...]). True when this process launched them and
    they have all finished (the caller's work is done); False when this process is to train.
    `one_process_only`: why the caller's run cannot be split, said as a ConfigError when the
    config asks for several processes (None: it can be)."""
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
    if one_process_only is not None and processes > 1:
        raise ConfigError(one_process_only, field="training_config.devices")
    if isinstance(cluster, TorchCluster) or processes == 1:
        return False
    launch_local(processes, command)
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


def launch_local(processes: int, command: Sequence[str]) -> None:
    """Run `python <command>` as `processes` ranks on this machine with torch's elastic
    launcher (what `torchrun --standalone` runs), on 127.0.0.1; ClusterError when any rank fails
    (its own error line is already on stderr)."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import elastic_launch

    config = _launch_config(processes)
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads is None:  # the machine's cores, shared by its ranks
        os.environ["OMP_NUM_THREADS"] = str(threads_per_process(processes))
    try:
        elastic_launch(config, sys.executable)(*command)
    except SignalException as e:  # Ctrl+C or a kill: the agent has stopped the ranks
        if e.sigval == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise ClusterError(
            f"stopped by {e.sigval.name}; the previous artifacts are unchanged"
        ) from None
    except ChildFailedError as e:
        raise ClusterError(
            f"the distributed run failed in {_failed_ranks(e)} of {processes}; the previous "
            f"artifacts are unchanged"
        ) from None
    except Exception as e:  # the rendezvous itself
        raise ClusterError(
            f"cannot start {processes} training processes: {first_line(e)}"
        ) from None
    finally:
        if threads is None:
            del os.environ["OMP_NUM_THREADS"]


def _launch_config(processes: int) -> "LaunchConfig":
    """One node of `processes` ranks meeting on 127.0.0.1, never restarted."""
    import logging

    from torch.distributed.launcher.api import LaunchConfig

    # the agent's own lines ("Sending process ... SIGTERM") would bury the rank's one-line error;
    # torch sets each of its elastic modules' loggers to WARNING by name, so each is quietened
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    return LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=processes,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0",
        max_restarts=0,
        monitor_interval=0.1,
    )


def _failed_ranks(e: "ChildFailedError") -> str:
    """The ranks that failed, with their exit codes; those the agent stopped after the first
    failure (exit 0, or -15 for its SIGTERM) only when no other is left to blame."""
    failed = sorted(
        (r, f.exitcode) for r, f in e.failures.items() if f.exitcode not in (0, -15)
    ) or sorted((r, f.exitcode) for r, f in e.failures.items())
    return ", ".join(f"rank {r} (exit {code})" for r, code in failed)


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
