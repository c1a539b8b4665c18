"""How the machine's cores are shared by the processes that run on it at once."""

import os


def threads_per_process(processes: int) -> int:
    """Each of `processes` processes gets an equal share of the cores, at least one thread:
    without the split each one runs torch on every core and they thrash."""
    return max(1, (os.cpu_count() or 1) // processes)
