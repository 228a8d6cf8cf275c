"""Validation of option values shared across the package, with messages that name the option and the value."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FLAG_WORDS", "check_flag"]

#: the words accepted for a true / false option, case-insensitive
FLAG_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def check_flag(value: Any, name: str) -> bool:
    """A true / false option as a ``bool``, whether it came from Python, JSON, YAML or a command line.

    ``python -m monai.bundle run ... --resume false`` hands the config the *string* ``'false'`` (Python
    Fire parses only ``True`` / ``False`` as booleans), and ``bool('false')`` is True. This accepts
    booleans, the integers 0 and 1, and the words of :data:`FLAG_WORDS` in any case, and refuses the rest.

    Args:
        value: the option's value.
        name: the option's name, for the message.

    Raises:
        ValueError: any other value, naming ``name`` and the value.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in FLAG_WORDS:
        return FLAG_WORDS[value.strip().lower()]
    raise ValueError(f"{name} must be true or false, got {value!r}.")
