"""Running the bundles in tests: ``ConfigWorkflow`` in this process, ``python -m monai.bundle`` in a subprocess.

Tests point ``bundle_root`` at a temporary folder so that data, checkpoints and outputs never land in
the repository; the configs themselves are read from ``bundles/<name>/configs``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from monai.bundle import ConfigWorkflow

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"


def config_paths(bundle: str, *configs: str) -> list[str]:
    """Paths of ``bundles/<bundle>/configs/<config>`` for each config name (``"train.json"``, ...)."""
    folder = BUNDLES / bundle / "configs"
    return [str(folder / config) for config in configs]


def bundle_workflow(
    bundle: str, configs: list[str], workflow_type: str, bundle_root: Path, **override
) -> ConfigWorkflow:
    """A ``ConfigWorkflow`` of ``bundle`` built from ``configs`` (later ones override earlier ones), not yet initialised."""
    return ConfigWorkflow(
        config_file=config_paths(bundle, *configs),
        meta_file=str(BUNDLES / bundle / "configs" / "metadata.json"),
        logging_file=str(BUNDLES / bundle / "configs" / "logging.conf"),
        workflow_type=workflow_type,
        bundle_root=str(bundle_root),
        **override,
    )


def run_workflow(workflow: ConfigWorkflow) -> ConfigWorkflow:
    """Initialise the workflow, check its required properties, then run and finalise it."""
    workflow.initialize()
    missing = workflow.check_properties()
    assert not missing, f"missing required properties: {missing}"
    workflow.run()
    workflow.finalize()
    return workflow


def run_command(*args: str, cwd: Path | None = None, timeout: float = 600) -> str:
    """Run ``python -m <args>`` (e.g. ``monai.bundle ckpt_export ...``); fail with its output if it fails."""
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)
    assert result.returncode == 0, (
        f"python -m {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    return result.stdout + result.stderr


def run_torchrun(bundle: str, configs: list[str], bundle_root: Path, overrides: dict, nproc: int = 2) -> None:
    """``torchrun --nproc_per_node=<nproc> -m monai.bundle run`` on the CPU (gloo), one thread per process."""
    folder = BUNDLES / bundle / "configs"
    arguments = [arg for key, value in overrides.items() for arg in (f"--{key}", json.dumps(value))]
    command = [
        sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "-m", "monai.bundle", "run",
        "--config_file", str(config_paths(bundle, *configs)), "--meta_file", str(folder / "metadata.json"),
        "--logging_file", str(folder / "logging.conf"), "--bundle_root", str(bundle_root), *arguments,
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1")
    )
    assert result.returncode == 0, result.stderr[-5000:]
