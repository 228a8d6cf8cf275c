"""Adapters that turn data a user already has into MONAI items.

OrganMNIST3D (with the stride-anisotropy protocol), EchoNet-Dynamic (with test-time averaging over
clips), Decathlon / BTCV ``dataset.json`` files, a hospital's own folder of NIfTI / DICOM with a CSV, and
chest radiographs: NIH ChestX-ray14, NIH-CXR-LT, CheXpert and the synthetic ``labels.csv`` layout.
"""

from monai_afpe.data.adapters.chest_xray import (
    CHEST_XRAY_IMAGE_COLUMNS,
    CHESTXRAY14_COLUMNS,
    CHESTXRAY14_LABELS,
    CHEXPERT_LABELS,
    UNCERTAIN_POLICIES,
    load_chest_xray_csv,
    load_chestxray14,
    load_chexpert,
    load_nih_cxr_lt,
    read_chestxray14_entries,
)
from monai_afpe.data.adapters.decathlon import DECATHLON_SPLITS, load_decathlon
from monai_afpe.data.adapters.echonet import (
    ECHONET_COLUMNS,
    ECHONET_SPLITS,
    ECHONET_TARGETS,
    load_echonet_datalist,
    read_echonet_file_list,
)
from monai_afpe.data.adapters.hospital_folder import LABEL_TYPES, load_hospital_folder
from monai_afpe.data.adapters.organmnist3d import (
    MEDMNIST_SPLITS,
    ORGANMNIST3D_CLASS_NAMES,
    export_organmnist3d,
    load_organmnist3d,
    read_medmnist_split,
    stride_anisotropy,
)

__all__ = [
    "CHEST_XRAY_IMAGE_COLUMNS",
    "CHESTXRAY14_COLUMNS",
    "CHESTXRAY14_LABELS",
    "CHEXPERT_LABELS",
    "UNCERTAIN_POLICIES",
    "load_chest_xray_csv",
    "load_chestxray14",
    "load_chexpert",
    "load_nih_cxr_lt",
    "read_chestxray14_entries",
    "DECATHLON_SPLITS",
    "ECHONET_COLUMNS",
    "ECHONET_SPLITS",
    "ECHONET_TARGETS",
    "LABEL_TYPES",
    "MEDMNIST_SPLITS",
    "ORGANMNIST3D_CLASS_NAMES",
    "export_organmnist3d",
    "load_decathlon",
    "load_echonet_datalist",
    "load_hospital_folder",
    "load_organmnist3d",
    "read_echonet_file_list",
    "read_medmnist_split",
    "stride_anisotropy",
]
