"""Experiment configs: the shipped YAML files and presets load, and mistakes give errors that name file, key and choices."""

from pathlib import Path

import pytest
import yaml

from monai_afpe.experiments.config import ConfigError, deep_merge, load_experiment_config, parse_experiment_config
from monai_afpe.experiments.runner import count_runs

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
    assert single.primary_comparison == {"arm": ("afpe",), "reference": ("sincos",)}
    arms = _base()["arms"] + [{"name": "ifpe", "pos_embed": "ifpe"}]
    best_of = parse_experiment_config(
        _base(arms=arms, primary_comparison={"arm": ["afpe", "ifpe"], "reference": ["sincos"]})
    )
    assert best_of.primary_comparison == {"arm": ("afpe", "ifpe"), "reference": ("sincos",)}


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
    with pytest.raises(ConfigError, match=r"similarity: unknown keys \['hiden_size'\]; allowed: grid, spacing"):
        parse_experiment_config(similarity, source="similarity.yaml")
