"""Segmentation overlays: one slice of image, label and prediction, as a figure and at evaluation as PNGs."""

import sys

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from monai.data import MetaTensor

from monai_afpe.handlers import SegmentationOverlaySaver
from monai_afpe.visualize import as_class_map, save_segmentation_overlay, segmentation_overlay_figure, select_slice

matplotlib = pytest.importorskip("matplotlib")
CLASSES = ["background", "liver", "kidney"]


def case(seed=0, shape=(12, 10, 6)):
    """An image, a class map with a block of class 1 in slices 3-4 and of class 2 in slice 4, its one-hot prediction."""
    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.random((1, *shape), dtype=np.float32))
    label = torch.zeros(1, *shape)
    label[0, 2:6, 2:6, 3:5] = 1
    label[0, 7:10, 5:8, 4] = 2
    pred = torch.nn.functional.one_hot(label[0].long(), 3).permute(3, 0, 1, 2).float()
    return image, label, pred


def test_class_maps_and_the_slice_with_most_foreground():
    _, label, pred = case()
    np.testing.assert_array_equal(as_class_map(pred), as_class_map(label))
    assert as_class_map(label).dtype == np.int64 and as_class_map(label[0]).shape == (12, 10, 6)
    assert select_slice(as_class_map(label), axis=2) == 4
    assert select_slice(np.zeros((4, 4, 8), np.int64), axis=2) == 4  # nothing labelled: the middle
    with pytest.raises(ValueError, match=r"expected a 3D class map.*got shape \(2, 3\)"):
        as_class_map(np.zeros((2, 3)))


def test_overlay_figure_touches_no_global_matplotlib_state(tmp_path):
    backend = matplotlib.get_backend()
    image, label, pred = case()
    fig = segmentation_overlay_figure(image, label, pred, class_names=CLASSES, title="case_000")
    assert [ax.get_title() for ax in fig.axes] == ["image", "label", "prediction"]
    assert fig.get_suptitle() == "case_000: slice 4 along array axis z"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["liver", "kidney"]
    assert len(segmentation_overlay_figure(image, None, pred).axes) == 2  # no reference: image and prediction
    path = save_segmentation_overlay(tmp_path / "sub" / "overlay.png", image, label, pred, index=3)
    assert pytest.importorskip("matplotlib.image").imread(path).ndim == 3
    assert matplotlib.get_backend() == backend
    assert "matplotlib.pyplot" not in sys.modules or not sys.modules["matplotlib.pyplot"].get_fignums()
    with pytest.raises(ValueError, match=r"the prediction has spatial shape \(12, 10, 5\), the image \(12, 10, 6\)"):
        segmentation_overlay_figure(image, None, pred[..., :5])
    with pytest.raises(ValueError, match="index 6 is outside the 6 slices along axis 2"):
        segmentation_overlay_figure(image, label, pred, index=6)


def test_saver_writes_the_first_cases_of_each_run(tmp_path):
    items = []
    for seed in range(3):
        image, label, pred = case(seed)
        image = MetaTensor(image, meta={"filename_or_obj": f"/data/imagesTs/case_{seed:02d}.nii.gz"})
        items.append({"image": image, "label": label, "pred": pred})
    engine = Engine(lambda engine, batch: batch)  # one "batch" of decollated items per iteration
    saver = SegmentationOverlaySaver(tmp_path / "overlays", num_images=2, class_names=CLASSES)
    saver.attach(engine)
    engine.run([items[:1], items[1:]], max_epochs=1)
    assert sorted(p.name for p in (tmp_path / "overlays").iterdir()) == ["case_00_overlay.png", "case_01_overlay.png"]
    assert saver.written == [
        tmp_path / "overlays" / "case_00_overlay.png",
        tmp_path / "overlays" / "case_01_overlay.png",
    ]
    with pytest.raises(ValueError, match="num_images must be an integer >= 0"):
        SegmentationOverlaySaver(tmp_path, num_images=-1)
