"""The one vocabulary of split names that every adapter and bundle of this package accepts.

A split name that is not understood must never select nothing silently: a ``labels.csv`` whose
validation rows say ``valid`` would otherwise give an empty validation split, and training would end
without a saved model. Every split name (a bundle's argument, a CSV's ``split`` column, EchoNet's
``Split`` column, a Decathlon list) is therefore read with :func:`split_name`, which returns the
canonical name or raises an error listing what is allowed. The canonical names are those of the
Medical Segmentation Decathlon's ``dataset.json`` (``training``, ``validation``, ``test``); the short
forms EchoNet-Dynamic and many hospital exports use (``train``, ``val``) are accepted as aliases, in
any case.
"""

from __future__ import annotations

__all__ = ["SPLIT_ALIASES", "SPLIT_NAMES", "allowed_split_names", "split_name"]

SPLIT_NAMES = ("training", "validation", "test")
"""The canonical split names."""

SPLIT_ALIASES = {"train": "training", "val": "validation"}
"""Other accepted spellings (any case) and the canonical name each stands for."""


def allowed_split_names() -> str:
    """``"training (or train), validation (or val), test"``: the vocabulary, for error messages."""
    names = []
    for name in SPLIT_NAMES:
        aliases = [alias for alias, canonical in SPLIT_ALIASES.items() if canonical == name]
        names.append(f"{name} (or {', '.join(aliases)})" if aliases else name)
    return ", ".join(names)


def split_name(value: object, where: str = "split") -> str:
    """The canonical name (``"training"``, ``"validation"`` or ``"test"``) of a split name.

    Args:
        value: a split name in any case, canonical or an alias of :data:`SPLIT_ALIASES`; surrounding
            spaces are ignored.
        where: what holds the value (a file, row and column; an argument), for the message.

    Raises:
        ValueError: ``value`` is not in the vocabulary; the message names ``where``, the value and the
            allowed names.
    """
    text = str(value).strip().lower() if value is not None else ""
    if text in SPLIT_NAMES:
        return text
    if text in SPLIT_ALIASES:
        return SPLIT_ALIASES[text]
    raise ValueError(f"{where}: unknown split name {value!r}; expected one of {allowed_split_names()} (any case).")
