"""Synthetic anisotropic CT, echocardiography and chest radiograph data sets, written as real files (NIfTI, AVI,
DICOM, PNG).

Every generator is a pure, seeded function that writes a data set and returns the path of its index
file (datalist / dataset.json / FileList.csv), so MONAI bundles can create their default data when
``dataset_dir`` is empty; the ``sample_*`` functions draw one sample in memory.
"""

from monai_afpe.data.synthetic.chest_xray import (
    CHEST_XRAY_LABELS,
    ChestXrayConfig,
    ChestXraySample,
    chest_xray_labels,
    generate_chest_xray,
    sample_chest_xray,
)
from monai_afpe.data.synthetic.ct_segmentation import (
    CT_SEGMENTATION_LABELS,
    CTSegmentationConfig,
    CTSegmentationSample,
    generate_ct_segmentation,
    sample_ct_segmentation,
)
from monai_afpe.data.synthetic.echo import (
    FILELIST_COLUMNS,
    EchoConfig,
    EchoSample,
    area_length_volume,
    generate_echo,
    sample_echo,
)
from monai_afpe.data.synthetic.organ_shapes import (
    ORGAN_SHAPE_CLASSES,
    SPACING_PROTOCOLS,
    OrganShape,
    OrganShapesConfig,
    generate_organ_shapes,
    make_solid,
    sample_organ_shape,
)
from monai_afpe.data.synthetic.sampling import sample_rng

__all__ = [
    "CHEST_XRAY_LABELS",
    "ChestXrayConfig",
    "ChestXraySample",
    "chest_xray_labels",
    "generate_chest_xray",
    "sample_chest_xray",
    "ORGAN_SHAPE_CLASSES",
    "FILELIST_COLUMNS",
    "CT_SEGMENTATION_LABELS",
    "SPACING_PROTOCOLS",
    "CTSegmentationConfig",
    "CTSegmentationSample",
    "EchoConfig",
    "EchoSample",
    "OrganShape",
    "OrganShapesConfig",
    "area_length_volume",
    "generate_ct_segmentation",
    "generate_echo",
    "generate_organ_shapes",
    "make_solid",
    "sample_ct_segmentation",
    "sample_echo",
    "sample_organ_shape",
    "sample_rng",
]
