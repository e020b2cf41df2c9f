"""configuration.loader: YAML into keyword-only dataclasses, one error line per mistake."""

from __future__ import annotations

import dataclasses

import pytest

from configuration.loader import ConfigError, build, read_yaml


@dataclasses.dataclass(frozen=True, kw_only=True)
class Inner:
    size: int = 1
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("size must be >= 0")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Outer:
    rate: float = 0.5
    pair: tuple[float, float] = (0.9, 0.95)
    label: str | None = None
    inner: Inner = Inner()


def test_builds_nested_dataclasses_and_converts_values():
    out = build(Outer, {"rate": "1e-3", "pair": [1, 2], "inner": {"size": 3, "names": "x"}})
    assert out == Outer(rate=1e-3, pair=(1.0, 2.0), inner=Inner(size=3, names=("x",)))
    assert build(Outer, None) == Outer() and build(Outer, {"inner": None}) == Outer()


@pytest.mark.parametrize("data, message", [
    ({"colour": 1}, "unknown key 'colour'"),
    ({"inner": {"sise": 1}}, "unknown key 'inner.sise'"),
    ({"rate": "fast"}, "rate: expected float, got 'fast'"),
    ({"inner": {"size": True}}, "inner.size: expected int, got True"),
    ({"pair": [1]}, "pair: expected a list of 2 values"),
    ({"inner": {"size": -1}}, "inner: size must be >= 0"),
    ({"inner": [1]}, "inner: expected a mapping, got list"),
])
def test_every_mistake_is_one_line_naming_the_key(data, message):
    with pytest.raises(ConfigError, match=message) as err:
        build(Outer, data)
    assert "\n" not in str(err.value)


def test_read_yaml_names_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML \(line \d+\)"):
        read_yaml(str(bad))
    with pytest.raises(ConfigError, match="no config at"):
        read_yaml(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="is a folder"):
        read_yaml(str(tmp_path))
