"""training.config: the YAML loader, overrides and validation."""

from pathlib import Path

import pytest
import yaml

from training.config import ConfigError, load_config, parse_argv

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "configs" / "demo-train.yaml"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "train.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


MINIMAL = "data:\n  manifest: m.json\n"


def test_demo_config_loads():
    cfg = load_config(str(DEMO))
    assert cfg.data.manifest == "out/demo/manifest.json"
    assert cfg.training.output_dir == "out/demo/train"
    assert cfg.optim.betas == (0.9, 0.95)


def test_unknown_key_is_named(tmp_path):
    path = write(tmp_path, MINIMAL + "optim:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: unknown key 'optim.lrr' (did you mean 'lr'?)"


def test_unknown_section_is_named(tmp_path):
    path = write(tmp_path, MINIMAL + "optimizer:\n  lr: 0.1\n")
    with pytest.raises(ConfigError, match="unknown key 'optimizer'"):
        load_config(path)


def test_override_sets_a_yaml_scalar(tmp_path):
    path = write(tmp_path, MINIMAL + "training:\n  resume_from: ckpt\n")
    cfg = load_config(path, ["training.steps=20", "optim.lr=1e-3",
                             "training.resume_from=null"])
    assert cfg.training.steps == 20
    assert cfg.optim.lr == 1e-3
    assert cfg.training.resume_from is None


def test_override_of_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'training.stepz'"):
        load_config(write(tmp_path, MINIMAL), ["training.stepz=3"])


def test_missing_file():
    with pytest.raises(ConfigError, match="^no config at /nonexistent/train.yaml$"):
        load_config("/nonexistent/train.yaml")


def test_bad_yaml_is_one_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "data: [unclosed\n"))
    assert "not valid YAML" in str(err.value) and "\n" not in str(err.value)


def test_wrong_type_is_named(tmp_path):
    with pytest.raises(ConfigError, match="training.steps: expected int, got .ten."):
        load_config(write(tmp_path, MINIMAL + "training:\n  steps: ten\n"))


def test_invalid_value_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"model.dim \(130\) must be divisible"):
        load_config(write(tmp_path, MINIMAL + "model:\n  dim: 130\n  n_heads: 4\n"))


def test_manifest_is_required(tmp_path):
    with pytest.raises(ConfigError, match="data.manifest is required"):
        load_config(write(tmp_path, yaml.safe_dump({"training": {"steps": 3}})))


def test_argv_errors_are_config_errors():
    assert parse_argv(["c.yaml", "--set", "a.b=1"]).overrides == ["a.b=1"]
    with pytest.raises(ConfigError):
        parse_argv([])


def test_attention_options_load(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), ["training.objective=prefix_lm",
                                                 "training.document_mask=true"])
    assert cfg.training.objective == "prefix_lm" and cfg.training.document_mask is True
    assert load_config(write(tmp_path, MINIMAL)).training.document_mask is False


def test_bad_attention_options_are_one_line(tmp_path):
    path = write(tmp_path, MINIMAL + "training:\n  document_mask: maybe\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: training.document_mask: expected bool, got 'maybe'"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, MINIMAL), ["training.objective=prefix"])
    assert str(err.value).endswith("training.objective must be one of bimodal, clm, codegen2, "
                                   "fim, prefix_lm, seq2seq_lm, t5_span, got 'prefix'")
    assert "\n" not in str(err.value)


def test_objective_settings_load_and_reach_their_objective(tmp_path):
    path = write(tmp_path, MINIMAL + "objectives:\n  fim_rate: 0.25\n"
                 "  codegen2_mask_ratio: [0.1, 0.3]\n")
    cfg = load_config(path, ["objectives.codegen2_max_spans=8", "objectives.syntax_spans=true"])
    assert cfg.objectives.options("fim") == {"fim_rate": 0.25, "spm_rate": 0.5,
                                             "syntax_spans": True}
    assert cfg.objectives.options("codegen2") == {
        "clm_probability": 0.5, "mask_ratio": (0.1, 0.3), "max_spans": 8, "syntax_spans": True}
    assert cfg.objectives.options("clm") == {}
    assert not load_config(path).objectives.syntax_spans  # off unless asked for


@pytest.mark.parametrize("body, message", [
    ("  fim_rate: 1.5\n", "objectives.fim_rate must be in [0, 1], got 1.5"),
    ("  codegen2_mask_ratio: [0.5, 0.2]\n", "codegen2_mask_ratio must satisfy 0 < low"),
    ("  codegen2_max_spans: 40\n", "codegen2_max_spans must be in [1, 32], got 40"),
])
def test_bad_objective_settings_are_one_line(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, MINIMAL + "objectives:\n" + body))


def test_objectives_per_component_override_the_global_one(tmp_path):
    path = write(tmp_path, MINIMAL + "training:\n  objective: clm\n"
                 "  objective_per_component: {code-python: codegen2}\n")
    cfg = load_config(path, ["training.objective_per_component={code-python: codegen2, "
                             "text-docs: fim}"])
    assert cfg.training.objectives_for(["code-python", "text-docs", "pairs"]) == {
        "code-python": "codegen2", "text-docs": "fim", "pairs": "clm"}
    assert load_config(write(tmp_path, MINIMAL)).training.objectives_for(["a"]) == {"a": "clm"}


def test_bad_objectives_per_component_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"training.objective_per_component.code-python must "
                                          r"be one of bimodal, clm, codegen2, fim, prefix_lm, "
                                          r"seq2seq_lm, t5_span, got 't5'$"):
        load_config(write(tmp_path, MINIMAL), ["training.objective_per_component="
                                               "{code-python: t5}"])
    with pytest.raises(ConfigError, match="objective_per_component must map component names"):
        load_config(write(tmp_path, MINIMAL), ["training.objective_per_component=fim"])
    cfg = load_config(write(tmp_path, MINIMAL), ["training.objective_per_component="
                                                 "{code-java: fim}"])
    with pytest.raises(ConfigError, match=r"^training.objective_per_component names "
                                          r"'code-java', which is not a component of the "
                                          r"manifest \(have: code-python, text-docs\)$"):
        cfg.training.objectives_for(["code-python", "text-docs"])


def test_evaluation_settings(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), ["training.eval_sequences=8",
                                                 "training.eval_every=50"])
    assert (cfg.training.eval_sequences, cfg.training.eval_every) == (8, 50)
    assert load_config(write(tmp_path, MINIMAL)).training.eval_sequences == 0
    with pytest.raises(ConfigError, match="training.eval_every needs held-out sequences: set "
                                          "training.eval_sequences$"):
        load_config(write(tmp_path, MINIMAL), ["training.eval_every=50"])
    with pytest.raises(ConfigError, match="training.eval_sequences must be non-negative"):
        load_config(write(tmp_path, MINIMAL), ["training.eval_sequences=-1"])
