"""The mixture spec loader: the demo loads, and every user error is one named line."""

from __future__ import annotations

import copy
import pathlib
import sysconfig

import pytest
import yaml

from pipelines.config import ConfigError, expand_url, load_config

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOOD = {"output": "out", "components": {
    "code": {"kind": "code", "weight": 1.0, "inputs": [{"url": "{stdlib}", "format": "folder"}]}}}


def _load(tmp_path, spec) -> object:
    path = tmp_path / "c.yaml"
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec))
    return load_config(str(path))


def test_demo_config_loads_with_placeholders_expanded():
    config = load_config(str(ROOT / "configs" / "demo.yaml"))
    assert [c.name for c in config.components] == ["code-python", "code-c", "text-docs", "pairs"]
    assert config.component("code-python").inputs[0].url == sysconfig.get_paths()["stdlib"]
    assert config.component("pairs").pairs_from == ("code-python", "code-c")


def test_expand_url_leaves_other_urls_alone():
    assert expand_url("gs://bucket/{x}") == "gs://bucket/{x}"


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s.update(colour="red"), "unknown key 'colour'"),
    (lambda s: s["components"]["code"].update(wieght=1), "unknown key 'components.code.wieght'"),
    (lambda s: s["components"]["code"]["inputs"][0].update(url="/no/such/dir"),
     "no such path /no/such/dir"),
    (lambda s: s["components"]["code"]["inputs"][0].update(format="csv"), "format must be one of"),
    (lambda s: s["components"]["code"].update(epochs=2), "exactly one of weight and epochs"),
    (lambda s: s["components"]["code"].update(kind="pair"), "pairs_from, not inputs"),
    (lambda s: s["components"].update(p={"kind": "pair", "weight": 1, "pairs_from": ["x"]}),
     "unknown code component 'x'"),
    (lambda s: s.pop("output"), "missing key 'output'"),
    (lambda s: s["components"].update(e={"kind": "code", "epochs": 2, "inputs": [
        {"url": "{stdlib}", "format": "folder"}]}), "weights must sum to < 1"),
    (lambda s: s.update(dedup={"threshold": 1.5}), "threshold must be in"),
    (lambda s: s.update(tokenizer={"vocab_size": "big"}), "tokenizer.vocab_size: expected int"),
    (lambda s: s.update(tokenizer={"digits": -1}), "tokenizer: digits must be 0"),
    (lambda s: s.update(tokenizer={"vocab_size": 330}), "tokenizer: vocab_size must be at "
                                                        "least 334"),
    (lambda s: s.update(tokenizer={"special_tokens": {"<|endoftext|>": "</s>"}}),
     "tokenizer: special_tokens and add_missing_special_tokens apply to a given tokenizer"),
    (lambda s: s.update(tokenizer={"path": "t.json", "special_tokens": {"<bos>": "<s>"}}),
     "tokenizer: special_tokens: '<bos>' is not a codemix special token"),
    (lambda s: s.update(tokenizer={"path": "t.json", "special_tokens": ["</s>"]}),
     "tokenizer: special_tokens must be a mapping"),
    (lambda s: s.update(tokenizer={"path": "t.json",
                                   "special_tokens": {"<|pad|>": "<|endoftext|>"}}),
     "tokenizer: special_tokens: two special tokens would both be '<|endoftext|>'"),
])
def test_user_errors_name_the_key(tmp_path, mutate, message):
    spec = yaml.safe_load(yaml.safe_dump(GOOD))
    mutate(spec)
    with pytest.raises(ConfigError, match=message) as err:
        _load(tmp_path, spec)
    assert "\n" not in str(err.value)


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        _load(tmp_path, "output: [")
    with pytest.raises(ConfigError, match="no config at"):
        load_config(str(tmp_path / "missing.yaml"))


def test_config_round_trips_to_plain_values(tmp_path):
    config = _load(tmp_path, GOOD)
    plain = config.to_dict()
    assert plain["components"][0]["inputs"][0]["include"] == ["**"]
    assert plain["dedup"]["threshold"] == 0.7


def test_component_rules_override_the_top_level_key_by_key(tmp_path):
    spec = {**GOOD, "clean": {"min_chars": 10, "vendored": True},
            "pii": {"kinds": ["email"]},
            "components": {**GOOD["components"], "vendored-kept": {
                "kind": "code", "weight": 0.5, "clean": {"vendored": False},
                "decontam": {"enabled": False},
                "inputs": [{"url": "{stdlib}", "format": "folder"}]}}}
    config = _load(tmp_path, spec)
    code, kept = config.component("code"), config.component("vendored-kept")
    assert (code.clean.vendored, code.clean.min_chars) == (True, 10)
    assert (kept.clean.vendored, kept.clean.min_chars) == (False, 10)
    assert code.pii.kinds == kept.pii.kinds == ("email",)
    assert code.decontam.enabled and not kept.decontam.enabled


@pytest.mark.parametrize("section, value, message", [
    ("clean", {"non_utf8": "guess"}, "non_utf8 must be drop, decode or replace"),
    ("clean", {"vendored": "no"}, "c.yaml: clean.vendored: expected bool"),
    ("decontam", {"mode": "erase"}, "mode must be drop or cut"),
    ("filters", {"colour": 1}, "c.yaml: unknown key 'filters.colour'$"),
    ("filters", {"max_mean_line_char": 1},
     r"c.yaml: unknown key 'filters.max_mean_line_char' \(did you mean "
     r"'max_mean_line_chars'\?\)$"),
])
def test_bad_rule_values_are_one_named_line(tmp_path, section, value, message):
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, {**GOOD, section: value})


def test_a_components_own_rule_typo_is_named_in_the_component(tmp_path):
    spec = copy.deepcopy(GOOD)
    spec["components"]["code"]["filters"] = {"min_word": 3}
    with pytest.raises(ConfigError, match=r"unknown key 'components.code.filters.min_word' "
                                          r"\(did you mean 'min_words'\?\)$"):
        _load(tmp_path, spec)


def test_dedup_defaults_lean_to_recall_and_explicit_bands_are_checked(tmp_path):
    assert _load(tmp_path, GOOD).dedup.lsh_params() == (36, 7)
    explicit = _load(tmp_path, {**GOOD, "dedup": {"bands": 20, "rows": 10}})
    assert explicit.dedup.lsh_params() == (20, 10)
    with pytest.raises(ConfigError, match=r"9 bands x 2 rows imply a threshold of 0.33"):
        _load(tmp_path, {**GOOD, "dedup": {"bands": 9, "rows": 2}})
    with pytest.raises(ConfigError, match="1 bands x 64 rows imply a threshold of 1.00"):
        _load(tmp_path, {**GOOD, "dedup": {"bands": 1, "rows": 64}})
    with pytest.raises(ConfigError, match="give both bands and rows"):
        _load(tmp_path, {**GOOD, "dedup": {"bands": 4}})


def test_tokenizer_defaults_are_codegen_like_and_recorded(tmp_path):
    plain = _load(tmp_path, GOOD).to_dict()["tokenizer"]
    assert plain == {"path": None, "vocab_size": 51200, "sample_docs": 5000,
                     "sample_chars": 20000, "min_frequency": 2, "digits": 3, "space_runs": 31,
                     "tab_runs": 9, "special_tokens": {}, "add_missing_special_tokens": False}
    given = _load(tmp_path, {**GOOD, "tokenizer": {
        "path": "t.json", "special_tokens": {"<|endoftext|>": "</s>"},
        "add_missing_special_tokens": True}}).tokenizer
    assert given.special_tokens == {"<|endoftext|>": "</s>"} and given.add_missing_special_tokens
