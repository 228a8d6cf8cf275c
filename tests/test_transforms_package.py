"""The transforms package re-exports exactly the public names of its modules, each once, and every dictionary
transform under MONAI's three names."""

import importlib
import pkgutil

import pytest
from monai.transforms import MapTransform

import monai_afpe.transforms as transforms

DICTIONARY_TRANSFORMS = (
    "BatchNormalizeIntensity",
    "BatchRandFlip",
    "BatchRandRotate90",
    "BatchRandTranslate",
    "CheckSpacingRange",
    "ComputeAFPEScales",
    "ExtractSpacing",
    "RandFrameRate",
    "RandSpacing",
    "SampleClip",
    "SetPixelSpacing",
)
"""Names of the dictionary transforms of the package, without MONAI's ``d`` / ``D`` / ``Dict`` suffix."""


def test_every_public_name_of_every_module_is_exported_once():
    modules = [
        importlib.import_module(f"{transforms.__name__}.{info.name}")
        for info in pkgutil.iter_modules(transforms.__path__)
        if not info.name.startswith("_")
    ]
    names = [name for module in modules for name in module.__all__]
    assert len(names) == len(set(names))  # no name is public in two modules
    assert sorted(transforms.__all__) == sorted(names)
    for module in modules:
        for name in module.__all__:
            assert getattr(transforms, name) is getattr(module, name), name


@pytest.mark.parametrize("name", DICTIONARY_TRANSFORMS)
def test_dictionary_transform_has_the_monai_aliases(name):
    """MONAI's naming: the dictionary transform ``<name>d`` is also ``<name>D`` and ``<name>Dict``."""
    transform = getattr(transforms, f"{name}d")
    assert issubclass(transform, MapTransform)
    assert getattr(transforms, f"{name}D") is transform
    assert getattr(transforms, f"{name}Dict") is transform


def test_every_dictionary_transform_is_listed():
    exported = [getattr(transforms, name) for name in transforms.__all__]
    mapped = {
        name
        for name, value in zip(transforms.__all__, exported)
        if isinstance(value, type) and issubclass(value, MapTransform)
    }
    assert mapped == {name + suffix for name in DICTIONARY_TRANSFORMS for suffix in ("d", "D", "Dict")}
