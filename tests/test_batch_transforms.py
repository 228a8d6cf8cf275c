"""Batch transforms: the same operations and distributions as MONAI's per-item transforms, spacing kept."""

import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Affine, Compose, Flip, NormalizeIntensity, RandRotate90d, Rotate90

from monai_afpe.data import BatchTransformCollate
from monai_afpe.transforms import (
    BatchNormalizeIntensity,
    BatchNormalizeIntensityd,
    BatchRandFlip,
    BatchRandFlipd,
    BatchRandRotate90,
    BatchRandRotate90d,
    BatchRandTranslate,
    BatchRandTranslated,
    ExtractSpacingd,
)


def _batch(size=6, shape=(4, 4, 3)):
    return torch.arange(size * 2 * int(torch.tensor(shape).prod()), dtype=torch.float32).reshape(size, 2, *shape)


@pytest.mark.parametrize("axes", [0, 2, (0, 1)])
def test_flipped_samples_equal_monai_flip_and_the_others_stay(axes):
    batch = _batch(size=10)
    flip = BatchRandFlip(prob=0.5).set_random_state(0)
    flip.spatial_axis = (axes,) if isinstance(axes, int) else axes
    out = flip(batch)
    assert 0 < int(flip.flipped.sum()) < len(batch)
    for sample, result, flipped in zip(batch, out, flip.flipped):
        expected = Flip(spatial_axis=axes)(sample) if flipped else sample
        torch.testing.assert_close(result, torch.as_tensor(expected), rtol=0, atol=0)


def test_turned_samples_equal_monai_rotate90_and_odd_turns_swap_the_spacing():
    batch = _batch(size=8, shape=(4, 4, 3))
    spacing = torch.tensor([[0.7, 0.9, 5.0]]).repeat(8, 1)
    rotate = BatchRandRotate90d(["image", "label"], prob=0.75, spacing_keys="image_spacing").set_random_state(1)
    out = rotate({"image": batch, "label": batch[:, :1], "image_spacing": spacing})
    turns = rotate.batch_transform.turns
    assert set(turns.tolist()) >= {0, 1} and len(set(turns.tolist())) >= 3
    for i, k in enumerate(turns.tolist()):
        expected = Rotate90(k=k, spatial_axes=(0, 1))(batch[i]) if k else batch[i]
        torch.testing.assert_close(out["image"][i], torch.as_tensor(expected), rtol=0, atol=0)
        torch.testing.assert_close(out["label"][i], out["image"][i][:1], rtol=0, atol=0)
        expected_spacing = [0.9, 0.7, 5.0] if k % 2 else [0.7, 0.9, 5.0]
        assert out["image_spacing"][i].tolist() == pytest.approx(expected_spacing)


def test_spacing_follows_monai_metadata():
    """A turned MetaTensor's spacing read by ExtractSpacingd equals the batch transform's swapped spacing."""
    affine = torch.diag(torch.tensor([0.7, 0.9, 5.0, 1.0]))
    item = {"image": MetaTensor(torch.rand(1, 4, 4, 3), affine=affine)}
    rotate = BatchRandRotate90d("image", prob=1.0, max_k=1, spacing_keys="image_spacing")
    batch = rotate({"image": item["image"].as_tensor()[None], "image_spacing": torch.tensor([[0.7, 0.9, 5.0]])})
    monai_turned = ExtractSpacingd("image")({"image": Rotate90(k=1)(item["image"])})
    torch.testing.assert_close(batch["image_spacing"][0], torch.as_tensor(monai_turned["image_spacing"]).float())


def test_draw_frequencies_match_monai_per_item_transforms():
    n = 4000
    flip = BatchRandFlip(prob=0.5, spatial_axis=0).set_random_state(0)
    flip.randomize(torch.empty(n, 1, 1))
    rotate = BatchRandRotate90(prob=0.75, max_k=3).set_random_state(0)
    rotate.randomize(torch.empty(n, 1, 1))
    # RandFlipd(prob=0.5) flips half; RandRotate90d(prob=0.75) turns 3/4, k uniform on 1..3
    assert float(flip.flipped.float().mean()) == pytest.approx(0.5, abs=0.03)
    frequencies = torch.bincount(rotate.turns, minlength=4).float() / n
    assert frequencies.tolist() == pytest.approx([0.25, 0.25, 0.25, 0.25], abs=0.03)
    monai = RandRotate90d("image", prob=0.75, max_k=3).set_random_state(0)
    monai_turns = []
    for _ in range(2000):
        monai.randomize()
        monai_turns.append(monai._rand_k if monai._do_transform else 0)
    monai_frequencies = torch.bincount(torch.tensor(monai_turns), minlength=4).float() / 2000
    assert monai_frequencies.tolist() == pytest.approx(frequencies.tolist(), abs=0.05)


def test_default_generator_is_seeded_by_torch():
    batch = _batch()
    torch.manual_seed(7)
    first = BatchRandFlip(prob=0.5)(batch)
    torch.manual_seed(7)
    torch.testing.assert_close(BatchRandFlip(prob=0.5)(batch), first, rtol=0, atol=0)


def test_collate_then_transform_in_a_data_loader():
    items = [{"image": torch.rand(1, 4, 4, 3), "image_spacing": torch.tensor([0.7, 0.9, 5.0])} for _ in range(4)]
    augment = Compose(
        [
            BatchRandFlipd("image", prob=0.5, spatial_axis=2),
            BatchRandRotate90d("image", prob=1.0, max_k=1, spacing_keys="image_spacing"),
        ]
    )
    loader = torch.utils.data.DataLoader(items, batch_size=4, collate_fn=BatchTransformCollate(augment))
    batch = next(iter(loader))
    assert batch["image"].shape == (4, 1, 4, 4, 3)
    assert batch["image_spacing"].tolist() == [pytest.approx([0.9, 0.7, 5.0])] * 4
    assert BatchTransformCollate()(items)["image"].shape == (4, 1, 4, 4, 3)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="prob must be a number in \\[0, 1\\], got 2"):
        BatchRandFlip(prob=2)
    with pytest.raises(ValueError, match="spatial_axes must be 2 distinct non-negative spatial axes"):
        BatchRandRotate90(spatial_axes=(0, 0))
    with pytest.raises(ValueError, match="expects a batch \\(B, C, \\*spatial\\)"):
        BatchRandFlip(prob=1.0)(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="the two axes need the same size"):
        BatchRandRotate90(prob=1.0, max_k=1)(torch.zeros(2, 1, 4, 5, 3))
    with pytest.raises(KeyError, match="no spacing key 'image_spacing' in the batch"):
        BatchRandRotate90d("image", prob=1.0, spacing_keys="image_spacing")({"image": torch.zeros(2, 1, 4, 4, 3)})
    with pytest.raises(ValueError, match="collate_fn must be callable, got int"):
        BatchTransformCollate(collate_fn=3)


@pytest.mark.parametrize("shape,translate_range", [((6, 8, 8), (0, 4, 4)), ((9, 7), 3.0)])
def test_translated_samples_equal_monai_affine(shape, translate_range):
    batch = torch.rand(5, 2, *shape, generator=torch.Generator().manual_seed(0))
    translate = BatchRandTranslate(translate_range).set_random_state(2)
    out = translate(batch)
    assert translate.shifts.shape == (5, len(shape))
    if isinstance(translate_range, tuple):
        assert torch.all(translate.shifts[:, 0] == 0)
    for sample, result, shift in zip(batch, out, translate.shifts):
        expected = Affine(translate_params=shift.tolist(), mode="bilinear", padding_mode="zeros", image_only=True)(
            sample
        )
        torch.testing.assert_close(result, torch.as_tensor(expected), rtol=1e-5, atol=1e-5)


def test_translation_draws_are_uniform_over_the_range():
    translate = BatchRandTranslate((0, 4, 4)).set_random_state(0)
    translate.randomize(torch.empty(4000, 1, 1, 1, 1))
    shifts = translate.shifts
    assert float(shifts[:, 1:].abs().max()) <= 4.0 and float(shifts[:, 1:].mean()) == pytest.approx(0.0, abs=0.15)
    assert float(shifts[:, 1:].std()) == pytest.approx(8 / 12**0.5, abs=0.1)  # uniform on [-4, 4]


@pytest.mark.parametrize("channel_wise", [True, False])
def test_batch_normalisation_equals_monai_per_sample(channel_wise):
    batch = torch.rand(4, 3, 5, 6, generator=torch.Generator().manual_seed(0)) * torch.arange(1, 5).view(4, 1, 1, 1)
    out = BatchNormalizeIntensityd("image", channel_wise=channel_wise)({"image": batch})["image"]
    for sample, result in zip(batch, out):
        expected = NormalizeIntensity(channel_wise=channel_wise)(sample)
        torch.testing.assert_close(result, torch.as_tensor(expected), rtol=1e-5, atol=1e-6)


def test_translation_then_normalisation_keys_and_errors():
    clips = torch.rand(2, 1, 4, 8, 8)
    out = Compose([BatchRandTranslated("image", (0, 2, 2)), BatchNormalizeIntensityd("image", channel_wise=True)])(
        {"image": clips, "label": torch.tensor([1.0, 2.0])}
    )
    assert out["image"].shape == clips.shape and torch.equal(out["label"], torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="translate_range must be non-negative voxel shifts"):
        BatchRandTranslate(-1)
    with pytest.raises(ValueError, match="has 2 entries for 3 spatial dims"):
        BatchRandTranslate((1, 1))(clips)
    with pytest.raises(ValueError, match="expects a batch"):
        BatchNormalizeIntensity()(torch.zeros(3, 3))
