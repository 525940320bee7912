"""The shared input checks: declared ranges, the schema check, valid JSON out, checkpoint reading."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import pytest
import torch

from gnnhw.checkpoint import checkpoint_header, load_checkpoint, read_torch_file
from gnnhw.checks import SEED_MAX, bounded, check_config, check_memory, config_from_dict, describe, unique
from gnnhw.errors import CheckpointError, ConfigError, ResultsFileError
from gnnhw.jsonio import dumps, read_json
from gnnhw.schema import Float, Int, ListOf, Record, Str, TensorSpec


@dataclass
class _Config:
    size: int = bounded(4, min=1, max=100, why="units")
    rate: float = bounded(0.1, min=0, min_open=True, max=1.0, why="a step")
    seed: int = bounded(0, min=0, max=SEED_MAX, why="rng")
    kind: str = bounded("a", choices=("a", "b"))
    flag: bool = False
    cap: int | None = bounded(None, min=1)
    steps: list[int] = bounded(default_factory=list, min=1)


def test_a_valid_config_passes():
    check_config(_Config())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("size", 0, "size must be in [1, 100] (units), got 0"),
        ("size", 101, "size must be in [1, 100]"),
        ("size", True, "size must be an integer, got bool"),
        ("size", 4.0, "size must be an integer, got float"),
        ("rate", 0.0, "rate must be in (0, 1]"),
        ("rate", math.nan, "rate must be a finite number"),
        ("rate", math.inf, "rate must be a finite number"),
        ("rate", "0.1", "rate must be a number, got str"),
        ("seed", 2**32, "seed must be in [0, 4294967295]"),
        ("seed", 2**64, "seed must be in"),
        ("kind", "c", "unknown kind 'c'; expected one of a, b"),
        ("flag", 1, "flag must be true or false"),
        ("cap", 0, "cap must be in [1, inf)"),
        ("steps", [1, 0], "steps[1] must be in [1, inf)"),
        ("steps", "1", "steps must be a list"),
    ],
)
def test_each_bad_field_is_named_with_its_range(field, value, message):
    config = _Config()
    setattr(config, field, value)
    with pytest.raises(ConfigError) as err:
        check_config(config)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_labels_name_the_cli_option():
    config = _Config(rate=5.0)
    with pytest.raises(ConfigError, match=r"^--lr must be in"):
        check_config(config, labels={"rate": "--lr"})


def test_describe_gives_range_and_why_for_help():
    assert describe(_Config, "size") == "[1, 100]: units"
    assert describe(_Config, "rate") == "(0, 1]: a step"


def test_config_from_dict_names_source_and_field_and_fills_defaults():
    assert config_from_dict(_Config, {"size": 7}, "ckpt").size == 7
    with pytest.raises(ConfigError, match=r"^ckpt: config.size must be an integer, got str 'abc'"):
        config_from_dict(_Config, {"size": "abc"}, "ckpt")
    with pytest.raises(ConfigError, match="config must be a mapping, got str"):
        config_from_dict(_Config, "not a dict", "ckpt")


def test_check_memory_refuses_more_than_the_machine_has():
    check_memory(10, "a thing", "make it smaller", available=100)
    with pytest.raises(ConfigError, match=r"a thing needs about 1\.0 KiB of memory, more than .*100 B; make it"):
        check_memory(1024, "a thing", "make it smaller", available=100)
    with pytest.raises(ConfigError, match="needs about"):
        check_memory(1e30, "an absurd model", "smaller")  # against this machine's real memory


def test_unique_refuses_repeated_values():
    assert unique("--seeds", [0, 1]) == [0, 1]
    with pytest.raises(ConfigError, match="--seeds repeats 0;"):
        unique("--seeds", [0, 0, 1])


# ------------------------------------------------------------------------------------------------- JSON


def test_dumps_turns_non_finite_numbers_into_null_and_is_strict_json():
    text = dumps({"a": math.nan, "b": [1.0, math.inf, -math.inf], "c": (2, "x")})
    assert json.loads(text, parse_constant=lambda t: pytest.fail(f"bare {t}")) == {
        "a": None,
        "b": [1.0, None, None],
        "c": [2, "x"],
    }


def test_read_json_refuses_bare_nan_naming_the_file(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"a": NaN}')
    with pytest.raises(ResultsFileError, match=r"r\.json' is not a readable JSON file \(NaN is not valid JSON\)"):
        read_json(path)


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1.5e999"])
def test_read_json_refuses_a_number_beyond_a_float_naming_the_file(tmp_path, number):
    path = tmp_path / "r.json"
    path.write_text(f'{{"a": [{number}]}}')
    with pytest.raises(ResultsFileError, match=rf"r\.json' is not a readable JSON file \({number} is out of"):
        read_json(path)


def test_read_json_checks_the_schema_naming_file_and_field(tmp_path):
    path = tmp_path / "r.json"
    spec = Record({"records": ListOf(Record({"length": Int(min=2), "acc": Float(0, 1)}))}, {"name": Str()})
    path.write_text('{"records": [{"length": 3, "acc": 0.5}, {"acc": 0.5}]}')
    with pytest.raises(ResultsFileError, match=r"r\.json': records\[1\] lacks the required key\(s\) length"):
        read_json(path, spec)
    path.write_text('{"records": 5}')
    with pytest.raises(ResultsFileError, match=r"records must be a list, got int 5"):
        read_json(path, spec)
    path.write_text('{"records": [], "name": 3}')
    with pytest.raises(ResultsFileError, match=r"name must be a string, got int 3"):
        read_json(path, spec)
    path.write_text("[1]")
    with pytest.raises(ResultsFileError, match=r"the file must be a mapping, got list"):
        read_json(path, spec)
    with pytest.raises(ResultsFileError, match="does not exist"):
        read_json(tmp_path / "missing.json", spec)


# ----------------------------------------------------------------------------------------- checkpoints


def _spec():
    return Record({"weights": TensorSpec(dtype="float"), "step": Int(min=0)})


def test_a_good_checkpoint_loads(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({**checkpoint_header("gnnhw.test", 1), "weights": torch.ones(2), "step": 3}, path)
    assert load_checkpoint(path, "gnnhw.test", (1,), _spec())["step"] == 3


def test_random_bytes_are_refused_without_the_weights_only_advice(tmp_path):
    path = tmp_path / "c.pt"
    path.write_bytes(os.urandom(2000))
    with pytest.raises(CheckpointError) as err:
        read_torch_file(path)
    assert "c.pt" in str(err.value)
    assert "weights_only" not in str(err.value)


def test_a_pickled_object_is_refused_without_running_it(tmp_path):
    import pickle

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "ran"),))

    path = tmp_path / "c.pt"
    with open(path, "wb") as f:
        pickle.dump(Boom(), f)
    with pytest.raises(CheckpointError) as err:
        read_torch_file(path)
    assert "weights_only" not in str(err.value)
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"format": "other", "version": 1}, "is not a gnnhw checkpoint (format 'other'"),
        ({"format": "gnnhw.test", "version": 2}, "has format version 2; this gnnhw reads version(s) 1"),
        ({"format": "gnnhw.test/1", "step": 1}, "lacks the required key(s) weights"),
        ({"format": "gnnhw.test", "version": 1, "weights": torch.ones(1), "step": "x"}, "step must be an integer"),
        ({"format": "gnnhw.test", "version": 1, "weights": torch.tensor([math.nan]), "step": 0}, "weights holds 1"),
        ({"format": "gnnhw.test", "version": 1, "weights": [1.0], "step": 0}, "weights must be a tensor"),
    ],
)
def test_checkpoint_content_is_checked_naming_the_field(tmp_path, content, message):
    path = tmp_path / "c.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, "gnnhw.test", (1,), _spec())
    assert message in str(err.value)
    assert "c.pt" in str(err.value)


def test_missing_directory_and_non_dict_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt", "gnnhw.test", (1,))
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path, "gnnhw.test", (1,))
    torch.save([1, 2], tmp_path / "l.pt")
    with pytest.raises(CheckpointError, match="holds a list, not a dict"):
        load_checkpoint(tmp_path / "l.pt", "gnnhw.test", (1,))


def test_check_training_finite_names_step_and_kept_checkpoint_only_when_it_exists(tmp_path):
    from gnnhw.checks import check_training_finite
    from gnnhw.errors import DivergedError

    check_training_finite(3, 0.5, [torch.ones(2)])
    with pytest.raises(DivergedError, match=r"^training diverged at step 3: the loss is nan, so no result") as err:
        check_training_finite(3, math.nan, kept=tmp_path / "none.pt")
    assert "kept" not in str(err.value)
    with pytest.raises(DivergedError, match="the weights hold NaN or infinity"):
        check_training_finite(4, 0.5, [torch.tensor([1.0, math.inf])])
    (tmp_path / "c.pt").write_bytes(b"x")
    with pytest.raises(DivergedError, match=r"the last good checkpoint '.*c\.pt' is kept; lower"):
        check_training_finite(5, math.inf, kept=tmp_path / "c.pt")
