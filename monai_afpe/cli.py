"""The ``monai-afpe`` command line: one sub-command per module in :mod:`monai_afpe.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["COMMANDS", "build_parser", "main"]

# sub-command name -> module that defines ``add_arguments(parser)`` and ``run(args) -> int``;
# command modules import torch and MONAI inside ``run`` so that ``monai-afpe --help`` stays fast.
COMMANDS = {
    "similarity-map": "monai_afpe.commands.similarity_map",
    "info": "monai_afpe.commands.info",
    "generate": "monai_afpe.commands.generate",
    "report": "monai_afpe.commands.report",
    "benchmark": "monai_afpe.commands.benchmark",
    "export-onnx": "monai_afpe.commands.export_onnx",
    "bundle-baselines": "monai_afpe.commands.bundle_baselines",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monai-afpe", description="Anisotropic Fourier feature positional encodings for MONAI (arXiv 2509.02488)."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.__doc__.strip().splitlines()[0], description=module.__doc__)
        module.add_arguments(sub)
        sub.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command. Arguments after ``--`` are passed through, as ``args.passthrough``, to the
    commands whose module sets ``PASSTHROUGH = True`` (those that start other programs); elsewhere they
    are an error."""
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, passthrough = argv[:split], argv[split + 1 :]
    parser = build_parser()
    args = parser.parse_args(argv)
    if passthrough and not getattr(args._module, "PASSTHROUGH", False):
        parser.error(f"{args.command} takes no arguments after --: {' '.join(passthrough)}")
    args.passthrough = passthrough
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
