"""Experiment configs: the shipped YAML files and presets load, and mistakes give errors that name file, key and choices."""

import copy
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from monai_afpe.experiments import config as schema
from monai_afpe.experiments.arms import model_options
from monai_afpe.experiments.config import (
    ArmConfig,
    AugmentConfig,
    ConditionConfig,
    ConfigError,
    ExperimentConfig,
    FinetuneConfig,
    PrimaryComparison,
    ResampleConfig,
    RotaryConfig,
    SearchConfig,
    SimilarityConfig,
    SpacingEmbeddingConfig,
    TrainingConfig,
    UNETRModelConfig,
    ViTModelConfig,
    deep_merge,
    load_experiment_config,
    parse_experiment_config,
)
from monai_afpe.experiments.data import DATA_OPTION_KEYS
from monai_afpe.experiments.runner import count_runs
from monai_afpe.networks.blocks import positional_embedding_options
from monai_afpe.transforms import ScalePolicy

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs" / "experiments").glob("*.yaml"))


def _base(**changes) -> dict:
    config = {
        "name": "demo",
        "kind": "benchmark",
        "data": {"source": "organ_shapes", "anisotropy": 4, "organ_shapes": {"protocol": "stride"}},
        "arms": [
            {"name": "sincos", "pos_embed": "sincos"},
            {"name": "afpe", "pos_embed": "afpe", "scales": {"policy": "resolution", "base_scale": 0.5}},
        ],
    }
    config.update(changes)
    return config


def test_shipped_configs_load_with_every_preset():
    assert {p.stem for p in CONFIGS} >= {
        "anisotropy_sweep",
        "mixed_spacing",
        "echo_ablation",
        "scale_search",
        "similarity_kernel",
    }
    for path in CONFIGS:
        presets = yaml.safe_load(path.read_text())["presets"]
        assert {"quick", "full", "tiny"} <= set(presets), path.name
        for preset in presets:
            config = load_experiment_config(path, preset)
            assert config.preset == preset and config.path == str(path)
            assert config.expected_time, f"{path.name} documents no expected_time"
            if config.kind != "similarity":
                assert len(config.seeds) >= (2 if preset == "tiny" else 3)


def test_anisotropy_presets_hold_the_arms_of_the_issue():
    path = next(p for p in CONFIGS if p.stem == "anisotropy_sweep")
    full = load_experiment_config(path, "full")
    assert [c.name for c in full.conditions] == ["k=1", "k=4", "k=6", "k=8"]
    assert {a.pos_embed for a in full.arms} == {
        "none",
        "learnable",
        "sincos",
        "ifpe",
        "lfpe",
        "afpe",
        "afpe_learnable_scales",
    }
    assert full.arm("ifpe-tuned").tune == {"values": [0.25, 0.5, 1.0, 2.0]}
    assert full.arm("afpe-spacing-conditioned").pos_embed_kwargs["mode"] == "physical"
    quick = load_experiment_config(path, "quick")
    assert [c.name for c in quick.conditions] == ["k=4", "k=8"] and quick.seeds == (0, 1, 2)
    assert count_runs(quick) == 2 * 3 * 9
    assert count_runs(full) == 4 * 5 * (9 + 4)  # ifpe-tuned trains four candidates per seed


def test_deep_merge_merges_mappings_and_replaces_lists():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    merged = deep_merge(base, {"a": {"y": [3]}, "c": 2})
    assert merged == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1}


def test_preset_and_overrides(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(_base(seeds=5, presets={"quick": {"seeds": 3, "training": {"epochs": 2}}})))
    assert load_experiment_config(path).seeds == (0, 1, 2, 3, 4)
    quick = load_experiment_config(path, "quick")
    assert quick.seeds == (0, 1, 2) and quick.training.epochs == 2
    assert load_experiment_config(path, "quick", {"seeds": 4}).seeds == (0, 1, 2, 3)
    with pytest.raises(ConfigError, match=r"demo.yaml: presets: no preset 'full'; this config has \['quick'\]"):
        load_experiment_config(path, "full")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"kindd": "x"}, r"unknown key 'kindd' \(did you mean 'kind'\?\)"),
        ({"kind": "train"}, r"kind: 'train' is not one of benchmark, scale_search, similarity"),
        ({"seeds": 0}, r"seeds: expected an integer >= 1, got 0"),
        ({"seeds": [1, 1]}, r"seeds must be distinct"),
        ({"data": {"source": "mnist"}}, r"data.source: 'mnist' is not one of organ_shapes, organmnist3d, echo"),
        ({"data": {"source": "echo", "echo": {"protocol": "stride"}}}, r"data.echo: unknown keys \['protocol'\]"),
        ({"training": {"epochs": 0}}, r"training.epochs: expected an integer >= 1, got 0"),
        ({"training": {"bf16": "yes"}}, r"training.bf16: expected true or false"),
        ({"model": {"hidden_size": -8}}, r"model.hidden_size: expected an integer >= 1"),
        ({"reference_arms": ["ifpe"]}, r"reference_arms\[0\]: 'ifpe' is not an arm; arms: \['sincos', 'afpe'\]"),
        ({"arms": []}, r"arms: expected a non-empty list of arms"),
        (
            {"arms": [{"name": "a", "pos_embed": "afpee"}]},
            r"arms\[0\].pos_embed: 'afpee' is not one of none, learnable",
        ),
        ({"arms": [{"name": "a", "pos_embed": "sincos"}] * 2}, r"arm names must be unique, repeated: \['a'\]"),
        ({"arms": [{"name": "a", "pos_embed": "sincos", "scales": 0.5}]}, r"pos_embed 'sincos' has no scales"),
        (
            {"arms": [{"name": "a", "pos_embed": "afpe", "scales": {"policy": "grid"}}]},
            r"scales: policy: Unsupported option 'grid'",
        ),
        (
            {"arms": [{"name": "a", "pos_embed": "afpe", "scales": {"policy": "fixed"}}]},
            r"scales: values must be given with policy 'fixed' and only then; got policy 'fixed', values None",
        ),
        (
            {"arms": [{"name": "a", "pos_embed": "afpe", "scales": [0.5, -1.0]}]},
            r"scales\[1\]: expected a finite number > 0, got -1.0",
        ),
        (
            {
                "arms": [
                    {"name": "a", "pos_embed": "ifpe", "scales": {"match_bandwidth": "b"}},
                    {"name": "b", "pos_embed": "afpe"},
                ]
            },
            r"match_bandwidth: 'b' must name an earlier arm",
        ),
        (
            {"arms": [{"name": "a", "pos_embed": "afpe", "scales": 0.5, "tune": {"values": [0.5, 1]}}]},
            r"tune: needs a 'scales' mapping",
        ),
        (
            {
                "arms": [
                    {"name": "a", "pos_embed": "afpe", "scales": {"policy": "physical"}, "tune": {"policy": [1, 2]}}
                ]
            },
            r"'policy' cannot be tuned; tunable keys: base_scale",
        ),
        (
            {"arms": [{"name": "a", "pos_embed": "afpe", "pos_embed_kwargs": {"seed": 3}}]},
            r"pos_embed_kwargs.seed: is set by the harness",
        ),
        (
            {"arms": [{"name": "a", "pos_embed": "sincos", "resample": {"spacing": 1.0}}]},
            r"resample: missing required key 'spatial_size'",
        ),
        (
            {"conditions": [{"name": "k", "data": {"organ_shapes": {"spacing": 2}}}]},
            r"conditions\[0\] \(k\): data.organ_shapes: unknown keys \['spacing'\]",
        ),
        (
            {"test_sets": [{"name": "t", "options": {"frame_step": 2}}]},
            r"test_sets\[0\].options: unknown key 'frame_step'",
        ),
        (
            {"primary_comparison": {"arm": "afpe"}},
            r"demo.yaml: primary_comparison: missing required key 'reference'",
        ),
        (
            {"primary_comparison": {"arm": ["afpe", "ifpe"], "reference": "sincos"}},
            r"demo.yaml: primary_comparison.arm\[1\]: 'ifpe' is not an arm; arms: \['sincos', 'afpe'\]",
        ),
        (
            {"primary_comparison": {"arm": [], "reference": "sincos"}},
            r"primary_comparison.arm: expected an arm name or a non-empty list of arm names, got \[\]",
        ),
        (
            {"primary_comparison": {"arm": ["afpe"], "reference": ["sincos", "afpe"]}},
            r"primary_comparison: an arm cannot be compared with itself: \['afpe'\]",
        ),
        (
            {"primary_comparison": "afpe"},
            r"primary_comparison: expected a mapping with keys from \['arm', 'reference'\]",
        ),
    ],
)
def test_invalid_configs_name_the_key_and_the_choices(changes, message):
    with pytest.raises(ConfigError, match=message):
        parse_experiment_config(_base(**changes), source="demo.yaml")


def test_primary_comparison_is_parsed_into_tuples():
    assert parse_experiment_config(_base()).primary_comparison is None
    single = parse_experiment_config(_base(primary_comparison={"arm": "afpe", "reference": "sincos"}))
    assert single.primary_comparison == PrimaryComparison(arm=("afpe",), reference=("sincos",))
    arms = _base()["arms"] + [{"name": "ifpe", "pos_embed": "ifpe"}]
    best_of = parse_experiment_config(
        _base(arms=arms, primary_comparison={"arm": ["afpe", "ifpe"], "reference": ["sincos"]})
    )
    assert best_of.primary_comparison == PrimaryComparison(arm=("afpe", "ifpe"), reference=("sincos",))


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(FileNotFoundError, match="experiment config not found"):
        load_experiment_config(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_experiment_config(bad)


def test_search_and_similarity_sections_are_checked_at_load_time(tmp_path):
    configs = Path(__file__).resolve().parents[1] / "configs" / "experiments"
    search = yaml.safe_load((configs / "scale_search.yaml").read_text())
    search["search"]["trails"] = 5  # a typo of "trials"
    with pytest.raises(ConfigError, match=r"search.*trails"):
        parse_experiment_config(search, source="search.yaml")
    similarity = yaml.safe_load((configs / "similarity_kernel.yaml").read_text())
    similarity["similarity"]["hiden_size"] = 96
    with pytest.raises(ConfigError, match=r"similarity: unknown key 'hiden_size' \(did you mean 'hidden_size'\?\)"):
        parse_experiment_config(similarity, source="similarity.yaml")


def _every_section() -> dict:
    """A valid config that uses every section and nested section of the schema."""
    return _base(
        description="all sections",
        seeds=[0, 1],
        reference_arms=["sincos"],
        primary_comparison={"arm": "afpe", "reference": "sincos"},
        conditions=[{"name": "k=4", "data": {"anisotropy": 4}, "model": {"patch_size": [8, 8, 2]}}],
        model={"hidden_size": 24, "num_heads": 2},
        training={"epochs": 2},
        test_sets=[{"name": "test", "options": {"num_samples": 4}}],
        arms=[
            {"name": "sincos", "pos_embed": "sincos"},
            {
                "name": "afpe",
                "pos_embed": "afpe",
                "scales": {"policy": "physical", "base_scale": 0.5},
                "pos_embed_kwargs": {"mode": "physical", "reference_extent": 24.0},
                "spacing_embedding": {"target": "film"},
                "rotary": {"kind": "axial", "mode": "physical", "reference_extent": 8.0},
                "augment": {"spacing_range": [1.0, 2.0], "prob": 0.5},
                "resample": {"spacing": 1.0, "spatial_size": 32},
                "model": {"num_layers": 1},
            },
        ],
        search={"arm": "afpe", "groups": [[0, 1], [2]]},
        similarity={"draws": 2},
        finetune={"data": {"organ_shapes": {"num_samples": 40}}, "num_samples": [4]},
        expected_time="seconds",
        presets={"quick": {"training": {"epochs": 1}}},
    )


def _keys(section) -> list[str]:
    return [f.name for f in fields(section)]


_SCALE_KEYS = ["values" if key == "scales" else key for key in _keys(ScalePolicy)] + ["match_bandwidth", "proportions"]
_TOP_KEYS = [key for key in _keys(ExperimentConfig) if key not in ("preset", "path")] + ["presets"]
_EMBEDDING_OPTIONS = [k for k in positional_embedding_options("afpe") if k not in ("scales", "seed", "patch_size")]
_MODEL_KEYS = list(dict.fromkeys(_keys(ViTModelConfig) + _keys(UNETRModelConfig)))


@pytest.mark.parametrize(
    "path, typo, meant, allowed",
    [
        ((), "descripton", "description", _TOP_KEYS),
        (("training",), "epoch", "epochs", _keys(TrainingConfig)),
        (("model",), "hidden_sise", "hidden_size", _MODEL_KEYS),
        (("arms", 1), "pos_embd", "pos_embed", _keys(ArmConfig)),
        (("arms", 1, "scales"), "base_scales", "base_scale", _SCALE_KEYS),
        (("arms", 1, "pos_embed_kwargs"), "refrence_extent", "reference_extent", _EMBEDDING_OPTIONS),
        (("arms", 1, "spacing_embedding"), "mlp_dims", "mlp_dim", _keys(SpacingEmbeddingConfig)),
        (("arms", 1, "rotary"), "thetaa", "theta", _keys(RotaryConfig)),
        (("arms", 1, "augment"), "probb", "prob", _keys(AugmentConfig)),
        (("arms", 1, "resample"), "spatial_sise", "spatial_size", _keys(ResampleConfig)),
        (("arms", 1, "model"), "num_layer", "num_layers", _MODEL_KEYS),
        (("conditions", 0), "modle", "model", _keys(ConditionConfig)),
        (("conditions", 0, "data"), "anisotropi", "anisotropy", list(DATA_OPTION_KEYS)),
        (("test_sets", 0), "option", "options", _keys(schema.TestSetConfig)),
        (("finetune",), "epoch", "epochs", _keys(FinetuneConfig)),
        (("search",), "trails", "trials", _keys(SearchConfig)),
        (("similarity",), "hiden_size", "hidden_size", _keys(SimilarityConfig)),
        (("primary_comparison",), "refrence", "reference", _keys(PrimaryComparison)),
    ],
)
def test_an_unknown_key_in_any_section_names_file_section_key_and_the_allowed_keys(path, typo, meant, allowed):
    raw = _every_section()
    assert parse_experiment_config(raw, "quick", source="demo.yaml").training.epochs == 1
    section = raw
    for step in path:
        section = section[step]
    section[typo] = 1
    where = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path).lstrip(".")
    expected = f"unknown key {typo!r} (did you mean {meant!r}?); allowed keys: {', '.join(allowed)}."
    with pytest.raises(ConfigError) as error:
        parse_experiment_config(raw, source="demo.yaml")
    assert str(error.value) == (f"demo.yaml: {where}: {expected}" if where else f"demo.yaml: {expected}")
    # the same mistake made by a preset names the preset
    base = _every_section()
    base["presets"]["quick"] = copy.deepcopy(raw) if not path else {path[0]: copy.deepcopy(raw[path[0]])}
    for key in ("name", "kind", "presets"):
        base["presets"]["quick"].pop(key, None)
    with pytest.raises(ConfigError) as error:
        parse_experiment_config(base, "quick", source="demo.yaml")
    if where:
        assert str(error.value) == f"demo.yaml (preset 'quick'): {where}: {expected}"
    else:  # a preset cannot change the name, the kind or the presets
        overridable = ", ".join(key for key in allowed if key not in ("name", "kind", "presets"))
        assert (
            str(error.value)
            == f"demo.yaml: presets.quick: {expected.split('; allowed keys')[0]}; allowed keys: {overridable}."
        )


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("arms", 1, "augment", "prob"), 2, "arms[1].augment.prob: expected a probability in [0, 1], got 2."),
        (("arms", 1, "rotary", "kind"), "polar", "arms[1].rotary.kind: 'polar' is not one of axial, mixed."),
        (
            ("arms", 1, "spacing_embedding", "target"),
            "slices",
            "arms[1].spacing_embedding.target: 'slices' is not one of cls, tokens, film.",
        ),
        (
            ("arms", 1, "resample", "spatial_size"),
            [32, 0],
            "arms[1].resample.spatial_size[1]: expected an integer >= 1, got 0.",
        ),
        (("finetune", "num_samples"), [4, 0], "finetune.num_samples[1]: expected an integer >= 1, got 0."),
        (("finetune", "from_scratch"), "yes", "finetune.from_scratch: expected true or false, got 'yes'."),
        (
            ("similarity", "grid"),
            [16, 16],
            "similarity: grid, spacing and patch_size need 2 or 3 values each, got [16, 16], [0.7, 0.7, 5.0], [8, 8, 2].",
        ),
        (("search", "low"), 8.0, "search: need 0 < low < high, got low=8.0, high=4.0."),
        (("model", "pooling"), "max", "model.pooling: 'max' is not one of cls, mean."),
        (("conditions", 0, "model", "qkv_bias"), 1, "conditions[0].model.qkv_bias: expected true or false, got 1."),
    ],
)
def test_a_bad_value_in_a_nested_section_names_its_key_path(path, value, message):
    raw = _every_section()
    section = raw
    for step in path[:-1]:
        section = section[step]
    section[path[-1]] = value
    with pytest.raises(ConfigError) as error:
        parse_experiment_config(raw, source="demo.yaml")
    assert str(error.value) == f"demo.yaml: {message}"


def test_sections_are_parsed_into_their_dataclasses_with_the_dataclass_defaults():
    config = parse_experiment_config(_every_section(), source="demo.yaml")
    afpe = config.arm("afpe")
    assert afpe.spacing_embedding == SpacingEmbeddingConfig(target="film")
    assert afpe.rotary == RotaryConfig(kind="axial", mode="physical", reference_extent=8.0)
    assert afpe.augment == AugmentConfig(spacing_range=[1.0, 2.0], prob=0.5) and afpe.augment.log_uniform is False
    assert afpe.resample == ResampleConfig(spacing=1.0, spatial_size=32)
    assert afpe.scales == {"policy": "physical", "base_scale": 0.5}
    assert config.search == SearchConfig(arm="afpe", groups=[[0, 1], [2]]) and config.search.trials == 16
    assert config.similarity == SimilarityConfig(draws=2) and config.similarity.grid == (16, 16, 16)
    assert config.finetune == FinetuneConfig(data={"organ_shapes": {"num_samples": 40}}, num_samples=(4,))
    assert (config.finetune.epochs, config.finetune.learning_rate, config.finetune.from_scratch) == (20, 3e-4, True)
    assert config.training == TrainingConfig(epochs=2) and config.training.batch_size == 32
    # a key set to null keeps its default; a config without a section gets the dataclass's defaults
    assert parse_experiment_config(_base(training={"epochs": None, "bf16": False})).training == TrainingConfig(
        bf16=False
    )
    plain = parse_experiment_config(_base())
    assert plain.seeds == (0, 1, 2) and plain.training == TrainingConfig()
    assert plain.conditions == (ConditionConfig("default"),) and plain.test_sets == (schema.TestSetConfig("test"),)
    assert plain.search is None and plain.finetune is None and plain.primary_comparison is None
    similarity = parse_experiment_config({"name": "s", "kind": "similarity", "data": {"source": "organ_shapes"}})
    assert similarity.arms == () and similarity.similarity == SimilarityConfig()


def test_model_defaults_come_from_the_network_model_dataclasses():
    config = parse_experiment_config(
        _base(
            data={"source": "ct_segmentation"},
            model={"patch_size": 8, "hidden_size": 48},
            arms=[
                {"name": "unetr", "network": "afpe_unetr", "pos_embed": "sincos", "model": {"patch_size": None}},
                {"name": "monai", "network": "monai_unetr", "pos_embed": "learnable", "model": {"patch_size": None}},
            ],
        )
    )
    unetr = model_options(config, {}, config.arm("unetr").model, "afpe_unetr")
    assert unetr == {
        "feature_size": 16,
        "hidden_size": 48,
        "mlp_dim": 192,
        "num_layers": 12,
        "num_heads": 4,
        "dropout_rate": 0.0,
        "qkv_bias": True,
        "patch_size": 16,
    }
    vit = model_options(parse_experiment_config(_base()), {}, {}, "afpe_vit")
    assert vit == {
        "patch_size": 8,
        "hidden_size": 96,
        "mlp_dim": 192,
        "num_layers": 2,
        "num_heads": 4,
        "dropout_rate": 0.0,
        "qkv_bias": True,
        "pooling": "cls",
    }
    # without the arm's null, the shared ViT option would not apply to the UNETR arm
    arms = [{"name": "unetr", "network": "afpe_unetr", "pos_embed": "sincos"}]
    with pytest.raises(ConfigError, match=r"model options \['patch_size'\] do not apply to network 'afpe_unetr'"):
        parse_experiment_config(_base(data={"source": "ct_segmentation"}, model={"patch_size": 8}, arms=arms))


def test_sections_built_in_code_are_checked_too():
    with pytest.raises(ConfigError, match=r"^epochs: expected an integer >= 1, got 0\.$"):
        TrainingConfig(epochs=0)
    with pytest.raises(ConfigError, match=r"^scales: pos_embed 'sincos' has no scales"):
        ArmConfig(name="a", pos_embed="sincos", scales=0.5)
    with pytest.raises(ConfigError, match=r"^rotary: unknown key 'knd' \(did you mean 'kind'\?\)"):
        ArmConfig(name="a", pos_embed="none", rotary={"knd": "axial"})
    with pytest.raises(ConfigError, match=r"^mode 'physical' needs reference_extent"):
        RotaryConfig(kind="axial", mode="physical")
    assert ArmConfig(name="a", pos_embed="sincos", spacing_embedding="cls").spacing_embedding == SpacingEmbeddingConfig(
        "cls"
    )


def test_shipped_configs_load_to_their_documented_values():
    config = {p.stem: p for p in CONFIGS}
    search = load_experiment_config(config["scale_search"])
    assert search.search == SearchConfig(
        arm="afpe-physical",
        groups=[[0, 1], [2]],
        low=0.02,
        high=4.0,
        trials=50,
        seed=1000,
        startup_trials=5,
        warmup_epochs=5,
    )
    quick = load_experiment_config(config["scale_search"], "quick").search
    assert (quick.trials, quick.startup_trials, quick.warmup_epochs, quick.seed) == (12, 4, 3, 1000)
    similarity = load_experiment_config(config["similarity_kernel"], "full").similarity
    assert (similarity.draws, similarity.hidden_size, similarity.grid) == (256, 768, [16, 16, 16])
    assert list(similarity.encodings) == ["sincos", "ifpe", "afpe"] and similarity.plane_axis == 1
    tiny = load_experiment_config(config["similarity_kernel"], "tiny").similarity
    assert (tiny.grid, tiny.patch_size, tiny.hidden_size, tiny.draws) == ([6, 6, 4], [4, 4, 2], 48, 4)
    finetune = load_experiment_config(config["spacing_awareness"], "quick-finetune")
    assert finetune.finetune == FinetuneConfig(
        data={"organ_shapes": {"num_samples": 400, "generator": {"slice_spacing_range": [4.0, 6.0]}}},
        num_samples=(16, 64),
        epochs=20,
        learning_rate=3e-4,
        warmup_epochs=1.0,
        from_scratch=True,
    )
    augment = finetune.arm("afpe-physical-augment").augment
    assert augment == AugmentConfig(spacing_range=[[0.6, 1.2], [0.6, 1.2], [1.0, 3.0]], tie_axes=[[0, 1]], prob=0.5)
    assert finetune.arm("sincos-told-cls").spacing_embedding == SpacingEmbeddingConfig(target="cls")
    rotary = finetune.arm("rotary-physical").rotary
    assert rotary == RotaryConfig(kind="axial", mode="physical", reference_extent=8.0)
    monai_vit = finetune.arm("monai-vit-resample")
    assert monai_vit.resample == ResampleConfig(spacing=1.0, spatial_size=[32, 32, 32])
    assert monai_vit.network == "monai_vit" and monai_vit.model == {"stem_channels": None}
    assert finetune.training == TrainingConfig(
        epochs=8, batch_size=32, learning_rate=1e-3, weight_decay=0.05, warmup_epochs=1, bf16=True, threads=2
    )
    segmentation = load_experiment_config(config["segmentation_spacing"], "full")
    assert segmentation.primary_comparison == PrimaryComparison(
        arm=("afpeunetr-physical", "afpeunetr-rotary-physical"),
        reference=(
            "afpeunetr-sincos",
            "afpeunetr-sincos-told",
            "monai-unetr-resample",
            "afpeunetr-sincos-resample-fov",
        ),
    )
    assert segmentation.arm("monai-unetr-resample").resample == ResampleConfig([1.0, 1.0, 2.5], [64, 64, 32])
    echo = load_experiment_config(config["echo_ablation"])
    assert echo.arm("afpe-hwt").tune == {"multipliers": [[1.0, 2.0, 0.5], [1.0, 0.5, 2.0]]}
    assert echo.arm("afpe-hwt").scales == {"policy": "fixed", "values": [0.78, 0.11, 0.11]}
    assert echo.arm("afpe-shared").scales == {"match_bandwidth": "afpe-space-time"}
