"""Where a bundle's data comes from: one component instead of logic in the configs' JSON strings.

Every bundle of this package reads its data from one of a few sources: the seeded synthetic default
that :func:`~monai_afpe.data.ensure_dataset` generates into an empty ``dataset_dir`` (or a data set of
the same layout that the user put there), a public layout (Decathlon / BTCV ``dataset.json``,
EchoNet-Dynamic ``FileList.csv``, NIH ChestX-ray14, CheXpert) or a hospital's own folder with a CSV.
:class:`BundleData` names the source once, from the options a user overrides on the command line (``dataset_dir``,
``dataset_format``, ``num_samples``, ``data_seed``, ``regenerate_data``, ``data_policy``, ...), and
gives each config what it needs: the checked items of a split (:meth:`BundleData.split`), the inputs
of inference (:meth:`BundleData.inference_items`), the reader of the format
(:attr:`BundleData.reader`) and the file the items come from (:attr:`BundleData.source`).

Example (a bundle's ``train.json``)::

    "bundle_data": {
        "_target_": "monai_afpe.data.BundleData",
        "task": "ct-classification",
        "dataset_dir": "@dataset_dir",
        "dataset_format": "@dataset_format",
        "classes": "@num_classes",
        "reader": "@image_readers",
        "data_policy": "@data_policy",
        "report_dir": "@output_dir",
        "data_seed": "@data_seed",
        "regenerate_data": "@regenerate_data",
        "num_samples": "@num_samples",
        "synthetic_options": "@synthetic_options"
    },
    "train#dataset#data": "$@bundle_data.split('training')"

Nothing is read or generated when the component is built: the data set is generated (or found) at the
first :meth:`~BundleData.load`, :meth:`~BundleData.split` or :meth:`~BundleData.inference_items` that
needs it, once per instance.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from monai.data import ImageReader, load_decathlon_datalist
from monai.utils import ensure_tuple

from monai_afpe.data.adapters import (
    CHESTXRAY14_LABELS,
    load_chest_xray_csv,
    load_chestxray14,
    load_chexpert,
    load_decathlon,
    load_echonet_datalist,
    load_hospital_folder,
)
from monai_afpe.data.dataset_checks import DATA_POLICIES, check_dataset
from monai_afpe.data.default_dataset import SYNTHETIC_DATASETS, ensure_dataset
from monai_afpe.data.inference_inputs import inference_items
from monai_afpe.data.readers import (
    FRAME_COUNT_MISMATCH,
    EnhancedDicomReader,
    RasterImageReader,
    UltrasoundCineReader,
    VideoReader,
)
from monai_afpe.data.splits import split_name
from monai_afpe.data.synthetic import CHEST_XRAY_LABELS
from monai_afpe.validation import check_flag, check_per_axis

__all__ = ["BUNDLE_TASKS", "BundleData", "BundleTask"]


@dataclass(frozen=True)
class BundleTask:
    """What a bundle task's data are (see :data:`BUNDLE_TASKS`).

    Attributes:
        synthetic: the synthetic default, a name of :data:`~monai_afpe.data.SYNTHETIC_DATASETS`.
        formats: the accepted ``dataset_format`` values; the first is the default.
        label_key: the item key of the label that :meth:`BundleData.split` checks; None: not checked.
        label_type: what the label is: ``"class"`` (index), ``"path"`` (label image), ``"value"`` (number) or
            ``"multilabel"`` (0/1 vector, one entry per label name).
        image_pattern: the default ``glob`` pattern of an inference ``image_dir``.
        name_key: inference on the user's images also stores each file name under this key; None: not stored.
        frames_key: the item key of the data list's frame count, checked against the decoded frames.
        inference_image_only: inference on a split keeps only each item's ``image``.
    """

    synthetic: str
    formats: tuple[str, ...]
    label_key: str | None
    label_type: str
    image_pattern: str
    name_key: str | None = None
    frames_key: str | None = None
    inference_image_only: bool = False


BUNDLE_TASKS = {
    "ct-classification": BundleTask(
        synthetic="organ-shapes",
        formats=("datalist", "hospital"),
        label_key="label",
        label_type="class",
        image_pattern="*.nii*",
    ),
    "ct-segmentation": BundleTask(
        synthetic="ct-segmentation",
        formats=("decathlon", "hospital"),
        label_key="label",
        label_type="path",
        image_pattern="*.nii*",
        inference_image_only=True,
    ),
    "echo-regression": BundleTask(
        synthetic="echo",
        formats=("echonet", "dicom"),
        label_key=None,
        label_type="value",
        image_pattern="*.avi",
        name_key="file_name",
        frames_key="num_frames",
    ),
    "cxr-multilabel": BundleTask(
        synthetic="chest-xray",
        formats=("dicom", "png", "chestxray14", "chexpert"),
        label_key="label",
        label_type="multilabel",
        image_pattern="*.dcm",
    ),
}
"""The bundles' tasks and the ``dataset_format`` values each accepts (the first is the default):

- ``"ct-classification"`` (``afpe_ct_classification``): ``"datalist"``, a ``datalist.json`` in ``dataset_dir``
  (MONAI's decathlon datalist of ``{"image", "label": class index}``), the generated organ shapes when the
  folder is empty; ``"hospital"``, a folder with ``labels.csv`` (``image,label,split``).
- ``"ct-segmentation"`` (``afpe_unetr_ct_segmentation``): ``"decathlon"``, a Decathlon / BTCV ``dataset.json``
  (``dataset_json``, else the one in ``dataset_dir``, generated when the folder is empty); ``"hospital"``, a
  folder with a CSV of image and label-image paths (``hospital_csv``).
- ``"echo-regression"`` (``afpe_echo_regression``): ``"echonet"``, EchoNet-Dynamic's ``FileList.csv`` and
  ``Videos/*.avi`` (generated when the folder is empty); ``"dicom"``, the same ``FileList.csv`` with
  ultrasound cine DICOM files in ``DICOM/``.
- ``"cxr-multilabel"`` (``afpe_cxr_multilabel``): ``"dicom"``, the ``labels.csv`` of the synthetic chest radiographs
  (generated when the folder is empty) with its DICOM DX files (pixel size from each file); ``"png"``, the same
  ``labels.csv`` with its PNG exports (pixel size from the CSV); ``"chestxray14"``, NIH ChestX-ray14 as downloaded
  (PNG, pixel size from ``Data_Entry_2017.csv``); ``"chexpert"``, CheXpert as downloaded (JPEG, which states no
  pixel size: ``pixel_spacing`` must be given).
"""

_VIDEO_DIRS = {"echonet": "Videos", "dicom": "DICOM"}
_GENERATED_FORMATS = ("datalist", "decathlon", "echonet", "dicom", "png")  # read from ensure_dataset's index file
_RASTER_FORMATS = ("png", "chestxray14", "chexpert")  # cxr-multilabel formats read with RasterImageReader


def _choice(value: object, allowed: Sequence[str], argument: str, where: str = "") -> str:
    """``value`` if it is one of ``allowed``; else a ``ValueError`` naming the argument (and what it belongs
    to), the value and the allowed values, in their order. Surrounding spaces are ignored, as by MONAI's
    ``look_up_option``."""
    if isinstance(value, str) and value.strip() in allowed:
        return value.strip()
    raise ValueError(f"{argument}{where}: Unsupported option {value!r}; available options are {list(allowed)}.")


class BundleData:
    """The data source of a bundle: the checked items of each split, the inputs of inference, the reader.

    The arguments mirror the bundle config keys a user overrides (``--dataset_dir``, ``--dataset_format``,
    ``--num_samples``, ``--data_seed``, ``--regenerate_data``, ``--data_policy``, ...). The formats of each
    task are listed in :data:`BUNDLE_TASKS`. Formats read from an index file in ``dataset_dir``
    (``datalist``, ``decathlon`` without ``dataset_json``, ``echonet``, ``dicom``) go through
    :func:`~monai_afpe.data.ensure_dataset`: an existing index file is used as it is, an empty or missing
    folder receives the seeded synthetic data set, generated with ``data_seed``, ``num_samples``,
    ``split_fractions``, ``synthetic_frame_size`` and ``synthetic_options``; generation options that differ
    from those of an earlier generation warn (or, with ``regenerate_data``, regenerate).

    Args:
        task: one of :data:`BUNDLE_TASKS`: ``"ct-classification"``, ``"ct-segmentation"``,
            ``"echo-regression"`` or ``"cxr-multilabel"``.
        dataset_dir: the data folder.
        dataset_format: the layout of the data, one of the task's formats (:data:`BUNDLE_TASKS`); None: the
            task's default (``"datalist"``, ``"decathlon"``, ``"echonet"``, ``"dicom"``).
        classes: the class set of the labels (a number of classes ``n``: indices ``0..n-1``, or the allowed
            values), checked by :meth:`split` (class indices, label-image values); None: not checked. Not used by
            ``"cxr-multilabel"``, whose labels are checked against ``label_names``.
        reader: the reader(s) that the pipeline's ``LoadImaged`` uses, with which :meth:`split` and
            :meth:`inference_items` read every file once (instances, classes or names; see
            :func:`~monai_afpe.data.check_dataset`); None: the format's reader for ``"echo-regression"`` and
            ``"cxr-multilabel"`` (:attr:`reader`), MONAI's choice by suffix otherwise.
        data_policy: what a file that cannot be used does: ``"fail"`` (raise) or ``"skip"`` (leave the item
            out and list it in ``data_report_<split>.csv`` in ``report_dir``).
        report_dir: the folder of the skip reports; required with ``data_policy="skip"``.
        data_seed: the seed of the synthetic data (and of the ``validation_fraction`` hold-out).
        regenerate_data: replace a generated data set whose generation options differ from those asked for.
        num_samples: number of generated samples; None: the generator's default.
        split_fractions: training / validation / test fractions of the generated samples; None: the
            generator's default.
        synthetic_frame_size: ``"echo-regression"`` only: the frame size (pixels) of the generated videos;
            None: the generator's default.
        synthetic_options: further options of the generator (``monai_afpe.data.synthetic``), e.g.
            ``{"protocol": "stride", "anisotropy": 4}``; they must not repeat the options above.
        progress: show a progress bar while generating.
        dataset_json: ``"ct-segmentation"``, format ``"decathlon"``: the ``dataset.json`` to read (paths in it
            relative to its folder); None: the one in ``dataset_dir`` (generated when the folder is empty).
        validation_fraction: ``"ct-segmentation"``, format ``"decathlon"``: for a file without a
            ``validation`` list, hold out this fraction of ``training`` (seeded with ``data_seed``);
            ``"cxr-multilabel"``, format ``"chestxray14"`` (which has no validation list): hold out this fraction of
            the patients of ``train_val_list.txt`` as the validation split (seeded with ``data_seed``).
        hospital_csv: format ``"hospital"``: the CSV, relative to ``dataset_dir`` or absolute.
        frame_count_mismatch: ``"echo-regression"``: a video whose decoded frame count differs from its
            container's or from the list's ``NumberOfFrames``: ``"error"`` (a file that cannot be used, see
            ``data_policy``) or ``"warn"``.
        label_names: ``"cxr-multilabel"``: the labels, in the order of the network's outputs: the label columns
            to read (the ``labels.csv`` columns, CheXpert's observation columns, names of
            :data:`~monai_afpe.data.adapters.CHESTXRAY14_LABELS`); every item's label vector has one 0/1 entry per
            name. None: the labels of the synthetic set, :data:`~monai_afpe.data.synthetic.CHEST_XRAY_LABELS`.
        pixel_spacing: ``"cxr-multilabel"``, PNG / JPEG formats: the pixel size ``(row, column)`` or one value, in
            mm, of images whose data list states none (CheXpert, the user's images at inference); an item's own
            ``pixel_spacing`` is kept. None: such an image is an error naming it.

    Raises:
        ValueError: an unknown ``task``, ``dataset_format``, ``data_policy`` or ``frame_count_mismatch`` (the
            message names the argument, the value and the allowed values); ``data_policy="skip"`` without
            ``report_dir``; ``validation_fraction`` outside [0, 1); an option that the task does not use
            (``dataset_json``, ``validation_fraction``, ``synthetic_frame_size``, ``label_names``,
            ``pixel_spacing``); ``"cxr-multilabel"`` with empty ``label_names`` or names that are not unique;
            ``synthetic_options`` that repeat an option given by its own argument.
    """

    def __init__(
        self,
        task: str,
        dataset_dir: os.PathLike | str,
        dataset_format: str | None = None,
        classes: int | Sequence[int] | None = None,
        reader: ImageReader | str | type | Sequence | None = None,
        data_policy: str = "fail",
        report_dir: os.PathLike | str | None = None,
        data_seed: int = 0,
        regenerate_data: bool = False,
        num_samples: int | None = None,
        split_fractions: Sequence[float] | None = None,
        synthetic_frame_size: int | Sequence[int] | None = None,
        synthetic_options: Mapping | None = None,
        progress: bool = False,
        dataset_json: os.PathLike | str | None = None,
        validation_fraction: float = 0.0,
        hospital_csv: os.PathLike | str = "labels.csv",
        frame_count_mismatch: str = "error",
        label_names: Sequence[str] | None = None,
        pixel_spacing: Sequence[float] | float | None = None,
    ) -> None:
        self.task = _choice(task, list(BUNDLE_TASKS), "task")
        spec = BUNDLE_TASKS[self.task]
        self._spec = spec
        self.dataset_format = (
            spec.formats[0]
            if dataset_format is None
            else _choice(dataset_format, spec.formats, "dataset_format", f" (task {self.task!r})")
        )
        self.data_policy = _choice(data_policy, DATA_POLICIES, "data_policy")
        if self.data_policy == "skip" and report_dir is None:
            raise ValueError("data_policy 'skip' needs report_dir, the folder of the report of skipped items.")
        self.frame_count_mismatch = _choice(frame_count_mismatch, FRAME_COUNT_MISMATCH, "frame_count_mismatch")
        unused = {
            "dataset_json": (dataset_json is not None, ("ct-segmentation",)),
            "validation_fraction": (bool(validation_fraction), ("ct-segmentation", "cxr-multilabel")),
            "synthetic_frame_size": (synthetic_frame_size is not None, ("echo-regression",)),
            "label_names": (label_names is not None, ("cxr-multilabel",)),
            "pixel_spacing": (pixel_spacing is not None, ("cxr-multilabel",)),
        }
        for argument, (given, used_by) in unused.items():
            if given and self.task not in used_by:
                users = " and ".join(repr(t) for t in used_by) + (" tasks" if len(used_by) > 1 else " task")
                raise ValueError(f"{argument}: only used by the {users}, not by {self.task!r}; leave it out.")
        if self.task == "cxr-multilabel":
            names = list(CHEST_XRAY_LABELS if label_names is None else ensure_tuple(label_names))
            if not names or len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
                raise ValueError(
                    f"label_names: the {self.task!r} task needs the label names, unique non-empty strings in the "
                    f"order of the network's outputs, got {label_names!r}."
                )
            label_names = tuple(names)
            classes = len(names)
        if not 0.0 <= float(validation_fraction) < 1.0:
            raise ValueError(f"validation_fraction must lie in [0, 1), got {validation_fraction!r}.")
        self.dataset_dir = dataset_dir
        self.classes = classes
        self.report_dir = report_dir
        self.data_seed = data_seed
        self.regenerate_data = check_flag(regenerate_data, "regenerate_data")
        self.dataset_json = dataset_json
        self.validation_fraction = validation_fraction
        self.hospital_csv = hospital_csv
        self.label_names = label_names
        self.pixel_spacing = (
            None if pixel_spacing is None else check_per_axis(pixel_spacing, 2, "pixel_spacing", unit="mm")
        )
        self.generation_options = self._generation_options(
            num_samples, split_fractions, synthetic_frame_size, synthetic_options, progress
        )
        self._reader = reader
        self._index: Path | None = None

    @staticmethod
    def _generation_options(num_samples, split_fractions, frame_size, synthetic_options, progress) -> dict:
        """The keyword arguments of :func:`ensure_dataset` after the data set's name and seed, in the order
        the bundles gave them."""
        options = {
            key: value
            for key, value in (("num_samples", num_samples), ("fractions", split_fractions), ("frame_size", frame_size))
            if value is not None
        }
        if progress:
            options["progress"] = True
        arguments = {
            "num_samples": "num_samples",
            "fractions": "split_fractions",
            "frame_size": "synthetic_frame_size",
            "progress": "progress",
            "seed": "data_seed",
            "regenerate": "regenerate_data",
        }
        extra = dict(synthetic_options or {})
        for key in extra:
            if key in options or key in ("seed", "regenerate"):
                raise ValueError(
                    f"synthetic_options: {key!r} is set by the argument {arguments[key]}; leave it out of "
                    f"synthetic_options (got {extra!r})."
                )
        return {**options, **extra}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(task={self.task!r}, dataset_format={self.dataset_format!r}, source={self.source!r})"
        )

    @property
    def generated_format(self) -> bool:
        """Whether the format is read from an index file that :func:`ensure_dataset` finds or generates in
        ``dataset_dir`` (not for ``"hospital"``, ``"chestxray14"`` and ``"chexpert"``, nor for ``"decathlon"`` with
        ``dataset_json``)."""
        return self.dataset_format in _GENERATED_FORMATS and not (
            self.dataset_format == "decathlon" and self.dataset_json
        )

    @property
    def source(self) -> str:
        """The file the items come from, for messages: the index file in ``dataset_dir`` (``datalist.json``,
        ``dataset.json``, ``FileList.csv``, ``labels.csv``), ``dataset_json``, the hospital CSV, NIH ChestX-ray14's
        ``Data_Entry_2017.csv`` or CheXpert's folder. Reads and generates nothing."""
        if self.dataset_format == "hospital":
            return os.path.join(self.dataset_dir, self.hospital_csv)
        if self.dataset_format == "chestxray14":
            return os.path.join(self.dataset_dir, "Data_Entry_2017.csv")
        if self.dataset_format == "chexpert":
            return os.fspath(self.dataset_dir)
        if not self.generated_format:
            return os.fspath(self.dataset_json)  # type: ignore[arg-type]
        if self._index is not None:
            return str(self._index)
        return str(Path(self.dataset_dir) / SYNTHETIC_DATASETS[self._spec.synthetic][1])

    @property
    def reader(self) -> ImageReader | str | type | Sequence | None:
        """The reader(s) given, or without one the format's: for ``"echo-regression"`` ``VideoReader``
        (grayscale, a 1 mm pixel-size placeholder that ``SetPixelSpacingd`` replaces, ``frame_count_mismatch``)
        for ``"echonet"``, ``UltrasoundCineReader`` for ``"dicom"``; for ``"cxr-multilabel"``
        ``EnhancedDicomReader`` (projection X-ray pixel size from the file) for ``"dicom"``, ``RasterImageReader``
        with a 1 mm placeholder that ``SetPixelSpacingd`` replaces by each item's ``pixel_spacing`` for the PNG /
        JPEG formats; built once."""
        if self._reader is None and self.task == "echo-regression":
            if self.dataset_format == "echonet":
                self._reader = VideoReader(
                    grayscale=True, pixel_spacing=1.0, frame_count_mismatch=self.frame_count_mismatch
                )
            else:
                self._reader = UltrasoundCineReader()
        elif self._reader is None and self.task == "cxr-multilabel":
            raster = self.dataset_format in _RASTER_FORMATS
            self._reader = RasterImageReader(pixel_spacing=1.0) if raster else EnhancedDicomReader()
        return self._reader

    def dataset_index(self) -> Path:
        """The index file of the data in ``dataset_dir`` from :func:`ensure_dataset`, which generates the
        synthetic data set into an empty folder; called once, then remembered.

        Raises:
            ValueError: the format is not read from ``dataset_dir``'s index file (``"hospital"``, or
                ``"decathlon"`` with ``dataset_json``); see :func:`ensure_dataset` for the rest.
        """
        if not self.generated_format:
            raise ValueError(
                f"dataset_format {self.dataset_format!r}"
                f"{' with dataset_json' if self.dataset_json else ''} has no generated index file; "
                f"the items come from {self.source}."
            )
        if self._index is None:
            self._index = ensure_dataset(
                self.dataset_dir,
                self._spec.synthetic,
                seed=self.data_seed,
                regenerate=self.regenerate_data,
                **self.generation_options,
            )
        return self._index

    def load(self, split: str, check_classes: bool = True) -> list[dict]:
        """The items of one split, as the format's loader gives them, before :func:`check_dataset`.

        Args:
            split: ``"training"``, ``"validation"`` or ``"test"`` (or ``"train"``, ``"val"``; any case);
                ``"echo-regression"`` also ``"all"``.
            check_classes: ``"ct-classification"``, format ``"hospital"``: check each row's class index
                against ``classes`` (:func:`load_hospital_folder`).

        Raises:
            ValueError, FileNotFoundError: an unknown split name, a missing file or a bad row, from the
                loader (naming the file and the row or item).
        """
        data_format = self.dataset_format
        if self.task == "cxr-multilabel":
            return self._with_pixel_spacing(self._load_chest_xray(split), self.source)
        if data_format == "hospital":
            class_set = self.classes if check_classes and self._spec.label_type == "class" else None
            return load_hospital_folder(
                self.dataset_dir,
                csv_file=os.fspath(self.hospital_csv),
                label_type=self._spec.label_type,
                split=split,
                classes=class_set,
            )
        if data_format == "datalist":
            return load_decathlon_datalist(self.dataset_index(), is_segmentation=False, data_list_key=split_name(split))
        if data_format == "decathlon":
            dataset_json = self.dataset_json or self.dataset_index()
            return load_decathlon(
                dataset_json, split, validation_fraction=self.validation_fraction, seed=self.data_seed
            )
        root = os.path.dirname(str(self.dataset_index()))  # echonet, dicom
        return load_echonet_datalist(root, split=split, video_dir=_VIDEO_DIRS[data_format])

    def _load_chest_xray(self, split: str) -> list[dict]:
        """The items of one split of a ``"cxr-multilabel"`` format, labels in the order of ``label_names``."""
        data_format, root = self.dataset_format, Path(self.dataset_dir)
        if data_format in ("dicom", "png"):
            column = "Path" if data_format == "dicom" else "PNG"
            return load_chest_xray_csv(self.dataset_index(), split, image_column=column, labels=self.label_names)
        if data_format == "chexpert":
            return load_chexpert(root, split, labels=self.label_names)
        unknown = [n for n in self.label_names if n not in CHESTXRAY14_LABELS]
        if unknown:
            raise ValueError(
                f"label_names: {unknown} are not NIH ChestX-ray14 findings; they are {CHESTXRAY14_LABELS}."
            )
        canonical = split_name(split)
        if canonical == "test":
            items = load_chestxray14(root, "test")
        elif not self.validation_fraction:
            raise ValueError(
                f"{root}: NIH ChestX-ray14 has no validation list (only train_val_list.txt and test_list.txt): give "
                "validation_fraction (bundles: --validation_fraction 0.1) to hold out that fraction of its patients."
            )
        else:
            items = load_chestxray14(root, "training")
            patients = sorted({item["patient_id"] for item in items})
            rng = np.random.default_rng([self.data_seed])
            held_out = set(rng.permutation(patients)[: max(1, round(self.validation_fraction * len(patients)))])
            items = [item for item in items if (item["patient_id"] in held_out) == (canonical == "validation")]
        columns = [CHESTXRAY14_LABELS.index(n) for n in self.label_names]
        return [{**item, "label": item["label"][columns]} for item in items]

    def _with_pixel_spacing(self, items: list[dict], source: str | None) -> list[dict]:
        """``"cxr-multilabel"`` PNG / JPEG items, each with a ``pixel_spacing``: its own, else ``pixel_spacing``.

        Raises:
            ValueError: an item without one and no ``pixel_spacing`` given, naming the file (and the data list).
        """
        if self.dataset_format not in _RASTER_FORMATS:
            return items
        for item in items:
            if item.get("pixel_spacing") is not None:
                continue
            if self.pixel_spacing is None:
                listed = f" (listed in {source})" if source else ""
                raise ValueError(
                    f"{item['image']}{listed}: pixel_spacing: a PNG / JPEG file states no pixel size and the data list "
                    "gives none; give the pixel size in mm (bundles: --pixel_spacing 0.143, or [row, column])."
                )
            item["pixel_spacing"] = self.pixel_spacing
        return items

    def _check(self, items: Sequence[dict], name: str, labels: bool, source: str | None) -> list[dict]:
        return check_dataset(
            items,
            name,
            reader=self.reader,
            label_key=self._spec.label_key if labels else None,
            label_type=self._spec.label_type if labels and self._spec.label_key else "class",
            classes=self.classes if labels and self._spec.label_key else None,
            frames_key=self._spec.frames_key,
            frame_count_mismatch=self.frame_count_mismatch,
            policy=self.data_policy,
            report_dir=self.report_dir,
            source=source,
        )

    def split(self, name: str) -> list[dict]:
        """The checked items of a split: :meth:`load`, then :func:`check_dataset` with the task's label
        check, ``classes``, ``reader``, ``data_policy`` and ``report_dir``, naming :attr:`source`.

        Args:
            name: ``"training"``, ``"validation"`` or ``"test"`` (or ``"train"``, ``"val"``; any case).

        Raises:
            ValueError: an unknown split name; see :meth:`load` and :func:`check_dataset` for the rest
                (an empty split, a label outside the class set, a file that cannot be read).
        """
        items = self.load(name)
        return self._check(items, split_name(name), labels=True, source=self.source)

    def inference_items(
        self,
        image_dir: os.PathLike | str | None = None,
        image_csv: os.PathLike | str | None = None,
        pattern: str | None = None,
        split: str = "test",
    ) -> list[dict]:
        """The checked inputs of inference: the user's unlabelled images if given, else a split of the data.

        The user's images (``image_dir`` or ``image_csv``, see :func:`~monai_afpe.data.inference_items`; for
        ``"echo-regression"`` each item also gets its file name as ``file_name``) read nothing from
        ``dataset_dir``. Otherwise the items of ``split`` (:meth:`load`, without the class check of a
        hospital CSV; ``"ct-segmentation"`` keeps only each item's image). Either list is then checked as
        ``"inference"`` (every file read once with ``reader``; labels are not checked), following
        ``data_policy``.

        Args:
            image_dir: infer on every file of this folder that matches ``pattern``.
            image_csv: infer on the files of this CSV's ``image`` column.
            pattern: ``glob`` pattern of ``image_dir``; None: the task's (``"*.nii*"``, echo ``"*.avi"``).
            split: the split of the data source used when neither ``image_dir`` nor ``image_csv`` is given;
                ``"echo-regression"`` also accepts ``"all"``.

        Raises:
            ValueError: both ``image_dir`` and ``image_csv``; see :func:`~monai_afpe.data.inference_items`,
                :meth:`load` and :func:`check_dataset` for the rest.
        """
        pattern = self._spec.image_pattern if pattern is None else pattern
        items = inference_items(image_dir, image_csv, pattern, name_key=self._spec.name_key)
        source = None
        if items is None:
            items = self.load(split, check_classes=False)
            if self._spec.inference_image_only:
                items = [{"image": item["image"]} for item in items]
            source = self.source
        elif self.task == "cxr-multilabel":
            items = self._with_pixel_spacing(items, image_csv and os.fspath(image_csv))
        return self._check(items, "inference", labels=False, source=source)
