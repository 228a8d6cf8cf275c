"""Sub-commands of the ``monai-afpe`` command line; each module defines ``add_arguments`` and ``run``."""
