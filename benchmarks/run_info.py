"""What a benchmark's numbers came from: the machine, the library versions, the load.

Shared by the benchmark scripts, which write it into the ``.json`` beside their CSV.
"""
from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(*packages: str) -> dict:
    """CPU, cores, platform, Python, torch threads, and the versions of ``packages`` (distribution names)."""
    import torch

    info = {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "torch_threads": torch.get_num_threads()}
    for name in ("torch", "autoencoder-anomaly-course", *packages):
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = None
    return info


def load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages (None where the system does not say)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None
