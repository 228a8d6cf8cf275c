"""The transforms package re-exports exactly the public names of its modules, each once."""

import importlib
import pkgutil

import monai_afpe.transforms as transforms


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
