"""The spacing contract: record the training spacing range, check inputs against it at inference.

``CheckSpacingRange(d)`` warns, fails or ignores; ``load_spacing_contract`` prefers the file written in
training over the bundle's declared default; ``SpacingRangeRecorder`` writes that file from the batches
of an ignite / MONAI trainer; the bundles declare the same default in their configs and metadata, and
CT inference warns about an out-of-range file.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_helpers import BUNDLES, bundle_workflow, config_paths
from ignite.engine import Engine, Events
from monai.bundle import ConfigParser
from monai.data import MetaTensor

import monai_afpe.handlers.spacing_range_recorder as recorder_module
from monai_afpe.handlers import SpacingRangeRecorder
from monai_afpe.transforms import (
    SPACING_CONTRACT_FILENAME,
    CheckSpacingRange,
    CheckSpacingRanged,
    SpacingOutOfRangeWarning,
    check_spacing_contract,
    load_spacing_contract,
)

CONTRACT = {
    "axes": ["x", "y", "z (slices)"],
    "units": ["mm", "mm", "mm"],
    "min": [0.6, 0.6, 1.0],
    "max": [1.2, 1.2, 5.0],
    "source": "test contract",
}


def check(spacing, contract=CONTRACT, filename="case_07.nii.gz", **kwargs):
    """Run CheckSpacingRange; return (output, list of warning messages)."""
    transform = CheckSpacingRange(contract, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = transform(spacing, filename=filename)
    assert all(issubclass(w.category, SpacingOutOfRangeWarning) for w in caught)
    return out, [str(w.message) for w in caught]


# -- the transform --------------------------------------------------------------------------------------
def test_inside_the_range_passes_silently_and_unchanged():
    spacing = torch.tensor([0.6, 1.2, 3.0])
    out, messages = check(spacing)
    assert out is spacing and messages == []
    assert check(np.array([1.0, 1.0, 1.0]))[1] == []


@pytest.mark.parametrize(
    "spacing, expected",
    [
        ([0.9, 0.9, 0.5], ["z (slices) 0.5 mm, trained on 1-5 mm"]),  # below
        ([0.9, 1.5, 6.0], ["y 1.5 mm, trained on 0.6-1.2 mm", "z (slices) 6 mm, trained on 1-5 mm"]),  # above
    ],
)
def test_outside_the_range_warns_with_file_axis_value_and_range(spacing, expected):
    out, messages = check(torch.tensor(spacing))
    assert len(messages) == 1
    message = messages[0]
    assert message.startswith("case_07.nii.gz: spacing outside the range the model was trained on (test contract)")
    for part in expected:
        assert part in message
    assert "x " not in message.split("(test contract)")[1]  # the axis inside the range is not listed
    torch.testing.assert_close(out, torch.tensor(spacing))


def test_error_action_raises_the_same_message_and_ignore_stays_silent():
    with pytest.raises(ValueError, match=r"case_07.nii.gz: spacing outside .* z \(slices\) 6 mm, trained on 1-5 mm"):
        CheckSpacingRange(CONTRACT, action="error")(torch.tensor([1.0, 1.0, 6.0]), filename="case_07.nii.gz")
    assert check(torch.tensor([1.0, 1.0, 60.0]), action="ignore")[1] == []
    assert check(torch.tensor([1.0, 1.0, 60.0]), contract=None)[1] == []  # no contract: nothing to check
    with pytest.raises(ValueError, match="'warn', 'error', 'ignore'|warn"):
        CheckSpacingRange(CONTRACT, action="raise")


def test_relative_tolerance_at_both_ends():
    assert check(torch.tensor([1.0, 1.0, 5.04]))[1] == []  # within 1 % of 5 mm
    assert check(torch.tensor([0.595, 1.0, 3.0]))[1] == []  # within 1 % of 0.6 mm
    assert len(check(torch.tensor([1.0, 1.0, 5.06]))[1]) == 1
    assert len(check(torch.tensor([1.0, 1.0, 5.04]), tolerance=0.0)[1]) == 1
    assert check(torch.tensor([1.0, 1.0, 6.0]), tolerance=0.25)[1] == []
    for bad in (-0.1, float("inf"), "1%"):
        with pytest.raises(ValueError, match="tolerance"):
            CheckSpacingRange(CONTRACT, tolerance=bad)


def test_spacing_with_the_wrong_number_of_axes_is_an_error_naming_the_file():
    with pytest.raises(ValueError, match=r"case_07.nii.gz: expected one spacing per axis .*3 axes"):
        check(torch.tensor([1.0, 1.0]))


def test_dictionary_transform_reads_key_spacing_and_names_the_image_file():
    image = MetaTensor(torch.zeros(1, 4, 4, 4), meta={"filename_or_obj": "/data/ct/case_12.nii.gz"})
    data = {"image": image, "image_spacing": torch.tensor([0.8, 0.8, 7.5]), "label": 3}
    with pytest.warns(
        SpacingOutOfRangeWarning, match=r"/data/ct/case_12.nii.gz: .*z \(slices\) 7.5 mm, trained on 1-5"
    ):
        out = CheckSpacingRanged("image", CONTRACT)(data)
    assert out.keys() == data.keys() and all(out[k] is data[k] for k in data)  # data unchanged
    with pytest.raises(ValueError, match="no 'image_spacing'.*ExtractSpacingd"):
        CheckSpacingRanged("image", CONTRACT)({"image": image})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CheckSpacingRanged("image", CONTRACT, action="ignore")(data)
        CheckSpacingRanged("image", CONTRACT, spacing_key_postfix="mm")({"image": image, "image_mm": torch.ones(3)})


# -- the contract and its file --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change, field",
    [
        ({"min": None}, "'min' is missing"),
        ({"max": [1.2, 1.2]}, "one value per axis"),
        ({"max": [1.2, 1.2, 0.5]}, "'min' exceeds 'max' along axes \\[2\\]"),
        ({"min": [0.6, -1.0, 1.0]}, "field 'min' must be a list of finite spacings > 0"),
        ({"min": "0.6"}, "field 'min'"),
        ({"axes": ["x", "y"]}, "field 'axes' must give one non-empty name per axis \\(3\\)"),
        ({"units": ["mm", "mm"]}, "field 'units'"),
        ({"image_size": [32, 32]}, "field 'image_size'"),
        ({"samples": -1}, "field 'samples'"),
    ],
)
def test_a_malformed_contract_is_an_error_naming_the_source_and_field(change, field):
    contract = {k: v for k, v in {**CONTRACT, **change}.items() if v is not None}
    with pytest.raises(ValueError, match=f"^my source: .*{field}"):
        check_spacing_contract(contract, source="my source")


def test_contract_defaults_for_axes_and_units():
    contract = check_spacing_contract({"min": [1, 2], "max": [3, 4]})
    assert contract == {"axes": ["axis 0", "axis 1"], "units": ["mm", "mm"], "min": [1.0, 2.0], "max": [3.0, 4.0]}
    assert check_spacing_contract({**CONTRACT, "units": "mm"})["units"] == ["mm"] * 3


def test_load_prefers_the_training_file_over_the_bundle_default(tmp_path):
    default = {k: v for k, v in CONTRACT.items() if k != "source"}
    assert load_spacing_contract(tmp_path, None) is None
    fallback = load_spacing_contract(tmp_path, default)
    assert fallback["source"] == "bundle default" and fallback["max"] == [1.2, 1.2, 5.0]
    recorded = {**default, "min": [0.7, 0.7, 2.0], "max": [1.1, 1.1, 3.0], "samples": 40, "source": "training batches"}
    (tmp_path / SPACING_CONTRACT_FILENAME).write_text(json.dumps(recorded))
    for where in (tmp_path, tmp_path / SPACING_CONTRACT_FILENAME, str(tmp_path)):
        contract = load_spacing_contract(where, default)
        assert contract["source"] == str(tmp_path / SPACING_CONTRACT_FILENAME)
        assert contract["max"] == [1.1, 1.1, 3.0] and contract["samples"] == 40


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "cannot read the spacing contract .*JSONDecodeError"),
        (json.dumps({"min": [1.0, 1.0, 1.0]}), "field 'max' is missing"),
        (json.dumps([1, 2, 3]), "a spacing contract must be a mapping"),
    ],
)
def test_a_malformed_file_is_an_error_naming_the_path_and_field(tmp_path, content, message):
    path = tmp_path / SPACING_CONTRACT_FILENAME
    path.write_text(content)
    with pytest.raises(ValueError, match=f"^{path}: {message}"):
        load_spacing_contract(tmp_path, CONTRACT)


def test_a_malformed_default_is_an_error_naming_the_bundle_default(tmp_path):
    with pytest.raises(ValueError, match="^bundle default: field 'max' is missing"):
        load_spacing_contract(tmp_path, {"min": [1.0]})


# -- the recorder ---------------------------------------------------------------------------------------
def batches(*rows_per_batch, key="image_spacing"):
    return [
        {key: torch.tensor(rows, dtype=torch.float32), "image": torch.zeros(len(rows), 1)} for rows in rows_per_batch
    ]


def run_recorder(tmp_path, data, max_epochs=1, **options):
    """Attach a recorder to a no-op ignite Engine over ``data``; return (recorder, contract after each epoch)."""
    engine = Engine(lambda engine, batch: None)
    recorder = SpacingRangeRecorder(tmp_path, axes=["x", "y", "z"], image_size=[32, 32, 32], **options)
    recorder.attach(engine)
    after_epoch = []
    engine.add_event_handler(
        Events.EPOCH_COMPLETED, lambda _: after_epoch.append(json.loads(recorder.path.read_text()))
    )
    engine.run(data, max_epochs=max_epochs)
    return recorder, after_epoch


def test_recorder_writes_the_per_axis_range_of_the_batches(tmp_path):
    data = batches([[0.8, 0.8, 3.0], [1.1, 1.1, 1.5]], [[0.7, 0.7, 4.5]])
    _, after_epoch = run_recorder(tmp_path, data, max_epochs=2)
    contract = json.loads((tmp_path / SPACING_CONTRACT_FILENAME).read_text())
    assert contract == {
        "axes": ["x", "y", "z"],
        "units": ["mm", "mm", "mm"],
        "min": [0.7, 0.7, 1.5],
        "max": [1.1, 1.1, 4.5],
        "image_size": [32, 32, 32],
        "samples": 6,  # three rows in each of two epochs
        "source": "training batches",
    }
    assert [c["samples"] for c in after_epoch] == [3, 6]  # written at every epoch's end
    assert load_spacing_contract(tmp_path)["max"] == [1.1, 1.1, 4.5]  # what inference reads
    assert [p.name for p in tmp_path.iterdir()] == [SPACING_CONTRACT_FILENAME]  # no temporary file left


def test_recorder_writes_atomically_through_a_temporary_file(tmp_path, monkeypatch):
    replaced, real_replace = [], os.replace

    def spy(source, target):
        replaced.append((Path(source), Path(target), json.loads(Path(source).read_text())["max"]))
        return real_replace(source, target)

    monkeypatch.setattr(recorder_module.os, "replace", spy)
    run_recorder(tmp_path, batches([[1.0, 1.0, 2.0]]))
    assert len(replaced) == 1  # once at the epoch's end; COMPLETED has nothing new to write
    source, target, written = replaced[0]
    assert target == tmp_path / SPACING_CONTRACT_FILENAME and source.parent == tmp_path and source.name.endswith(".tmp")
    assert written == [1.0, 1.0, 2.0] and not source.exists()


def test_recorder_reads_decollated_batches(tmp_path):
    # MONAI's trainers decollate the batch into a list of items before ITERATION_COMPLETED
    items = [[{"image_spacing": torch.tensor([0.9, 0.9, 2.0])}, {"image_spacing": torch.tensor([1.0, 1.0, 4.0])}]]
    run_recorder(tmp_path, items)
    contract = load_spacing_contract(tmp_path)
    assert contract["min"] == [0.9, 0.9, 2.0] and contract["max"] == [1.0, 1.0, 4.0] and contract["samples"] == 2


def test_merge_extends_an_existing_range_and_a_fresh_run_replaces_it(tmp_path):
    run_recorder(tmp_path, batches([[0.8, 0.8, 2.0], [1.0, 1.0, 3.0]]))
    run_recorder(tmp_path, batches([[0.9, 0.9, 5.0]]), merge=True)
    merged = load_spacing_contract(tmp_path)
    assert merged["min"] == [0.8, 0.8, 2.0] and merged["max"] == [1.0, 1.0, 5.0] and merged["samples"] == 3
    run_recorder(tmp_path, batches([[0.9, 0.9, 5.0]]), merge=False)
    fresh = load_spacing_contract(tmp_path)
    assert fresh["min"] == fresh["max"] == [0.9, 0.9, 5.0] and fresh["samples"] == 1
    # merging a file with another number of axes is refused
    with pytest.raises(ValueError, match="2 spacing values per sample, the contract file .* being merged had 3"):
        engine = Engine(lambda engine, batch: None)
        SpacingRangeRecorder(tmp_path, merge=True).attach(engine)
        engine.run(batches([[1.0, 1.0]]))


def test_recorder_errors_name_the_key_and_what_was_expected(tmp_path):
    with pytest.raises(ValueError, match="no 'image_spacing'.*spacing_key"):
        run_recorder(tmp_path, batches([[1.0, 1.0, 1.0]], key="spacing"))
    with pytest.raises(ValueError, match=r"axes names \['x', 'y', 'z'\] do not match the 2 spacing values"):
        run_recorder(tmp_path, batches([[1.0, 1.0]]))
    with pytest.raises(ValueError, match="not finite and > 0"):
        run_recorder(tmp_path, batches([[1.0, 0.0, 1.0]]))
    for bad in ({"spacing_key": ""}, {"axes": "xyz"}, {"image_size": [32, 0]}, {"filename": "a/b.json"}):
        with pytest.raises(ValueError):
            SpacingRangeRecorder(tmp_path, **bad)


def test_recorder_on_a_monai_supervised_trainer(tmp_path):
    from monai.engines import PrepareBatchExtraInput, SupervisedTrainer

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(1, 1)

        def forward(self, x, spacing):
            return self.linear(x.mean(dim=(1, 2, 3), keepdim=True)[:, :, 0, 0] * spacing[:, :1])

    data = [
        {"image": torch.rand(2, 1, 4, 4), "label": torch.rand(2, 1), "image_spacing": torch.tensor(s)}
        for s in ([[0.5, 2.0], [0.6, 2.5]], [[0.4, 3.0], [0.5, 2.0]])
    ]
    net = Net()
    trainer = SupervisedTrainer(
        device="cpu",
        max_epochs=2,
        train_data_loader=data,
        epoch_length=len(data),
        network=net,
        optimizer=torch.optim.SGD(net.parameters(), lr=0.1),
        loss_function=torch.nn.MSELoss(),
        prepare_batch=PrepareBatchExtraInput(extra_keys={"spacing": "image_spacing"}),
    )
    SpacingRangeRecorder(tmp_path, axes=["height", "width"]).attach(trainer)
    trainer.run()
    contract = load_spacing_contract(tmp_path)
    assert contract["axes"] == ["height", "width"] and contract["samples"] == 8
    assert contract["min"] == [0.4, 2.0] and contract["max"] == [0.6, 3.0]


# -- the bundles ----------------------------------------------------------------------------------------
BUNDLE_CONFIGS = {
    # the configs inference runs with, and those evaluation runs with
    "afpe_ct_classification": (["inference.json"], ["train.json", "evaluate.json"]),
    "afpe_unetr_ct_segmentation": (["inference.json"], ["train.json", "evaluate.json"]),
    "afpe_echo_regression": (["inference.json"], ["train.json", "evaluate.json"]),
    "afpe_cxr_multilabel": (["inference.json"], ["train.json", "evaluate.json"]),
}


def parsed(bundle: str, configs: list[str]) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(config_paths(bundle, *configs))
    parser.update({"bundle_root": "."})
    return parser


@pytest.mark.parametrize("bundle", sorted(BUNDLE_CONFIGS))
def test_bundles_declare_the_same_default_range_in_metadata_and_configs(bundle):
    metadata = json.loads((BUNDLES / bundle / "configs" / "metadata.json").read_text())["spacing_contract"]
    check_spacing_contract(metadata, source=f"{bundle} metadata")
    inference, evaluation = BUNDLE_CONFIGS[bundle]
    for configs in (inference, ["train.json"], evaluation):
        if configs is None:
            continue
        parser = parsed(bundle, configs)
        assert parser.get_parsed_content("trained_spacing_range") == metadata, configs
        if configs != ["train.json"]:
            assert parser.get("spacing_action") == "warn"
            assert "load_spacing_contract(@ckpt_dir, @trained_spacing_range)" in parser.get("spacing_contract")
    # training records the range next to the checkpoints, with the declared axis names and units
    train = parsed(bundle, ["train.json"])
    recorder = next(
        value
        for value in (
            train.get("train#checkpoint_handlers"),
            train.get("train#spacing_recorder"),
            train.get("spacing_recorder"),
        )
        if isinstance(value, (dict, list))
    )
    recorder = recorder[-1] if isinstance(recorder, list) else recorder
    assert recorder["_target_"] == "monai_afpe.handlers.SpacingRangeRecorder"
    assert recorder["axes"] == "@trained_spacing_range#axes" and recorder["merge"] == "@resume"


@pytest.mark.parametrize("bundle", sorted(BUNDLE_CONFIGS))
def test_every_training_config_attaches_the_recorder(bundle):
    for configs in (["train.json"], ["train.json", "finetune.json"], ["train.json", "multi_gpu_train.json"]):
        parser = parsed(bundle, configs)
        run = " ".join(parser.get("run"))
        handlers = parser.get("train#checkpoint_handlers")
        if "@train#spacing_recorder.attach(@train#trainer)" in run:
            continue
        assert "@train#checkpoint_handlers" in run, configs
        if isinstance(handlers, str):
            assert "@spacing_recorder" in handlers, configs
        else:
            assert handlers[-1]["_target_"] == "monai_afpe.handlers.SpacingRangeRecorder", configs


@pytest.mark.parametrize("bundle", sorted(BUNDLE_CONFIGS))
def test_inference_checks_the_spacing_right_after_it_is_known(bundle):
    inference, _ = BUNDLE_CONFIGS[bundle]
    parser = parsed(bundle, inference)
    if bundle == "afpe_echo_regression":  # after the Lambdad that scales the time step by the clip period
        clips = parser.get("clips")
        index = clips.index("@spacing_check")
        assert clips[index - 1]["_target_"] == "Lambdad" and clips[index - 1]["keys"] == "image_spacing"
    else:
        transforms = parser.get("preprocessing#transforms")
        if isinstance(transforms, str):
            assert transforms.endswith("@spacing_transforms + [@spacing_check]")
        else:
            assert transforms[-1] == "@spacing_check"
            assert transforms[-2]["_target_"] == "monai_afpe.transforms.ExtractSpacingd"


def test_echo_evaluation_checks_the_clip_spacing_right_after_the_clip_period_scales_it():
    parser = parsed("afpe_echo_regression", ["train.json", "evaluate.json"])
    transforms = parser.get_parsed_content("validate#preprocessing").transforms
    index = next(i for i, t in enumerate(transforms) if type(t).__name__ == "CheckSpacingRanged")
    assert type(transforms[index - 1]).__name__ == "Lambdad" and list(transforms[index - 1].keys) == ["image_spacing"]
    assert type(transforms[index + 1]).__name__ == "SampleClipd"
    contract = transforms[index].checker.contract
    assert contract["source"] == "bundle default"  # no models/spacing_contract.json in the source tree
    assert contract["min"] == parser.get_parsed_content("trained_spacing_range")["min"]


def write_ct(path: Path, spacing) -> str:
    image = np.random.default_rng(0).integers(-100, 100, size=(32, 32, 32)).astype(np.int16)
    nib.save(nib.Nifti1Image(image, np.diag([*spacing, 1.0])), str(path))
    return path.name


def test_ct_bundle_inference_warns_about_an_out_of_range_file(tmp_path):
    bundle = "afpe_ct_classification"
    tiny = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_threads": 1}
    folder = tmp_path / "new_scans"
    folder.mkdir()
    inside = write_ct(folder / "inside.nii.gz", [0.9, 0.9, 3.0])
    thick = write_ct(folder / "thick_slices.nii.gz", [0.9, 0.9, 8.0])
    setup = bundle_workflow(bundle, ["inference.json"], "infer", bundle_root=tmp_path, **tiny)
    setup.initialize()
    (tmp_path / "models").mkdir()
    torch.save(setup.parser.get_parsed_content("network_def").state_dict(), tmp_path / "models" / "model.pt")

    def infer(**override):
        workflow = bundle_workflow(
            bundle, ["inference.json"], "infer", bundle_root=tmp_path, **tiny, image_dir=str(folder), **override
        )
        workflow.initialize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            workflow.run()
        workflow.finalize()
        return [str(w.message) for w in caught if issubclass(w.category, SpacingOutOfRangeWarning)]

    # no contract file next to the checkpoint: the bundle's default range (slices 1-5 mm)
    (message,) = infer()
    assert message.startswith(f"{folder / thick}: spacing outside the range the model was trained on (bundle default)")
    assert "z (inferior-superior) 8 mm, trained on 1-5 mm" in message
    rows = (tmp_path / "eval" / "predictions.csv").read_text().splitlines()
    assert len(rows) == 3  # header and both files: the check only warns
    # a contract file written by training wins
    contract = {"axes": ["x", "y", "z"], "min": [0.8, 0.8, 6.0], "max": [1.0, 1.0, 9.0], "source": "training batches"}
    (tmp_path / "models" / SPACING_CONTRACT_FILENAME).write_text(json.dumps(contract))
    (message,) = infer()
    assert message.startswith(f"{folder / inside}: ") and "z 3 mm, trained on 6-9 mm" in message
    assert str(tmp_path / "models" / SPACING_CONTRACT_FILENAME) in message
    with pytest.raises(RuntimeError) as error:  # MONAI's Compose wraps the transform's ValueError
        infer(spacing_action="error")
    causes, cause = [], error.value
    while cause is not None:
        causes.append(cause)
        cause = cause.__cause__
    assert any(isinstance(c, ValueError) and str(c).startswith(f"{folder / inside}: spacing outside") for c in causes)
