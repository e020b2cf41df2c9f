"""Bytes to text: binary detection and the three policies for text that is not UTF-8."""

from __future__ import annotations

import codecs

from hypothesis import given, settings, strategies as st

from pipelines.charset import Decoded, decode, is_binary
from pipelines.config import CleanSpec

DROP = CleanSpec()
DECODE = CleanSpec(non_utf8="decode")
REPLACE = CleanSpec(non_utf8="replace")
LATIN1 = "café naïve façade\n".encode("latin-1")


def test_utf8_is_decoded_unchanged():
    assert decode("héllo wörld\n".encode(), DROP) == Decoded("héllo wörld\n")


def test_a_nul_byte_means_binary():
    assert is_binary(b"text\0more")
    assert decode(b"PK\x03\x04\0\0rest", DROP) == "binary"


def test_mostly_control_bytes_mean_binary():
    assert is_binary(bytes(range(1, 9)) * 10 + b"abc")
    assert decode(bytes(range(1, 9)) * 10, DROP) == "binary"


def test_tabs_newlines_and_escapes_are_not_control_noise():
    assert not is_binary(b"\tcol\r\n\x1b[31mred\x1b[0m\f\n" * 20)
    assert not is_binary(b"")


def test_binary_detection_can_be_switched_off():
    assert decode(b"a\0b", CleanSpec(binary=False)) == Decoded("a\0b")


def test_latin1_is_dropped_by_default():
    assert decode(LATIN1, DROP) == "not_utf8"


def test_latin1_is_transcoded_under_decode():
    assert decode(LATIN1, DECODE) == Decoded("café naïve façade\n", "transcoded")


def test_latin1_bad_bytes_become_replacement_characters_under_replace():
    assert decode(LATIN1, REPLACE) == Decoded("caf\ufffd na\ufffdve fa\ufffdade\n", "replaced")


def test_text_no_listed_encoding_fits_is_dropped_under_decode():
    # 0x81 is undefined in cp1252, and the file has no UTF-16 BOM.
    assert decode(b"\x81\x81 text", DECODE) == "not_utf8"
    assert decode(b"\x81 text", CleanSpec(non_utf8="decode", encodings=("latin-1",))) == \
        Decoded("\x81 text", "transcoded")


def test_unknown_encodings_are_skipped():
    spec = CleanSpec(non_utf8="decode", encodings=("no-such-codec", "rot13", "cp1252"))
    assert decode(LATIN1, spec) == Decoded("café naïve façade\n", "transcoded")


def test_utf16_with_a_bom_is_transcoded_under_decode():
    text = "def f():\n    return 'ü'\n"
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        assert decode(bom + text.encode(encoding), DECODE) == Decoded(text, "transcoded")


def test_utf16_is_recognised_under_any_spelling():
    data = "x = 1\n".encode("utf-16")
    assert decode(data, CleanSpec(non_utf8="decode", encodings=("UTF16",))) == \
        Decoded("x = 1\n", "transcoded")


def test_utf16_is_binary_under_drop_and_without_utf16_listed():
    data = "x = 1\n".encode("utf-16")
    assert decode(data, DROP) == "binary"
    assert decode(data, CleanSpec(non_utf8="decode", encodings=("cp1252",))) == "binary"


def test_utf16_without_a_bom_is_not_guessed():
    assert decode("x = 1\n".encode("utf-16-le"), DECODE) == "binary"


def test_the_utf8_bom_is_removed():
    assert decode(codecs.BOM_UTF8 + b"print(1)\n", DROP) == Decoded("print(1)\n")
    assert decode(codecs.BOM_UTF8 + b"caf\xe9", REPLACE) == Decoded("caf\ufffd", "replaced")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([DROP, DECODE, REPLACE]))
def test_decode_never_raises_and_answers_a_known_reason(data, spec):
    result = decode(data, spec)
    assert (isinstance(result, Decoded) and isinstance(result.text, str)
            and result.edit in ("", "transcoded", "replaced")) or result in ("binary",
                                                                             "not_utf8")
    if spec is REPLACE:
        assert result != "not_utf8"
