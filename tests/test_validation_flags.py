"""True / false options from command lines: `--resume false` reaches a config as the string 'false'."""

import re

import numpy as np
import pytest
from fire import parser

from monai_afpe.data import BundleData, ensure_dataset
from monai_afpe.handlers import SpacingRangeRecorder
from monai_afpe.inferers import AutocastInferer
from monai_afpe.validation import check_flag


def test_command_line_words_are_read_as_what_they_say():
    assert parser.DefaultParseValue("false") == "false"  # what monai.bundle run hands the config
    for word in ("false", "False", "FALSE", " no ", "0", 0, False, np.bool_(False)):
        assert check_flag(word, "resume") is False
    for word in ("true", "True", "yes", "1", 1, True, np.bool_(True)):
        assert check_flag(word, "resume") is True


@pytest.mark.parametrize("value", ["flase", "", 2, None, 0.5, [True]])
def test_anything_else_is_an_error_naming_the_option(value):
    with pytest.raises(ValueError, match=re.escape(f"resume must be true or false, got {value!r}.")):
        check_flag(value, "resume")


def test_consumers_of_bundle_flags_read_false_as_false(tmp_path):
    assert AutocastInferer(enabled="false").enabled is False
    assert SpacingRangeRecorder(save_dir=tmp_path, merge="false").merge is False
    assert BundleData("ct-classification", tmp_path, regenerate_data="false").regenerate_data is False
    with pytest.raises(ValueError, match="regenerate must be true or false, got 'perhaps'"):
        ensure_dataset(tmp_path, "organ-shapes", regenerate="perhaps")
