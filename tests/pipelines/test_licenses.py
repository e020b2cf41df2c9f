"""License files, license detection on real and written texts, permissive expressions."""

from __future__ import annotations

import glob
import os
import sysconfig

import pytest
from hypothesis import given, settings, strategies as st

from dedup.rank import NO_LICENSE_TIER, OTHER_LICENSE_TIER, PERMISSIVE_TIER
from pipelines.licenses import (PERMISSIVE, detect_license, is_license_file, is_permissive,
                                license_tier, normalize_license, repo_license)

SITE = sysconfig.get_paths()["purelib"]

# Installed packages' license files whose license is known, by glob under site-packages.
REAL_FILES = [
    ("pytz-*.dist-info/LICENSE.txt", "MIT"),
    ("six-*.dist-info/LICENSE", "MIT"),
    ("pyyaml-*.dist-info/licenses/LICENSE", "MIT"),
    ("cffi-*.dist-info/licenses/LICENSE", "MIT-0"),
    ("requests-*.dist-info/licenses/LICENSE", "Apache-2.0"),
    ("sortedcontainers-*.dist-info/LICENSE", "Apache-2.0"),
    ("fsspec-*.dist-info/licenses/LICENSE", "BSD-3-Clause"),
    ("click-*.dist-info/licenses/LICENSE.txt", "BSD-3-Clause"),
    ("zstandard-*.dist-info/licenses/LICENSE", "BSD-3-Clause"),
    ("pygments-*.dist-info/licenses/LICENSE", "BSD-2-Clause"),
    ("packaging-*.dist-info/licenses/LICENSE.BSD", "BSD-2-Clause"),
    ("dnspython-*.dist-info/licenses/LICENSE", "ISC"),
    ("hypothesis-*.dist-info/licenses/LICENSE.txt", "MPL-2.0"),
    ("typing_extensions-*.dist-info/licenses/LICENSE", "PSF-2.0"),
    ("numpy-*.dist-info/licenses/numpy/random/LICENSE.md", "NCSA"),
    ("numpy-*.dist-info/licenses/numpy/_core/include/numpy/libdivide/LICENSE.txt", "Zlib"),
    ("numpy-*.dist-info/licenses/numpy/_core/src/highway/LICENSE", "CC0-1.0"),
    ("torch-*.dist-info/licenses/third_party/sleef/LICENSE.txt", "BSL-1.0"),
]


def _read_real(pattern: str) -> str:
    paths = sorted(glob.glob(os.path.join(SITE, pattern)))
    if not paths:
        pytest.skip(f"{pattern} is not installed")
    with open(paths[0], encoding="utf-8", errors="replace") as f:
        return f.read()


@pytest.mark.parametrize("pattern,spdx", REAL_FILES)
def test_installed_license_files_are_recognised(pattern, spdx):
    assert detect_license(_read_real(pattern)) == spdx


def test_the_python_license_is_psf_despite_its_gpl_history_and_0bsd_docs_clause():
    path = os.path.join(sysconfig.get_paths()["stdlib"], "LICENSE.txt")
    if not os.path.exists(path):
        pytest.skip("no LICENSE.txt beside the stdlib")
    with open(path, encoding="utf-8") as f:
        assert detect_license(f.read()) == "PSF-2.0"


def test_a_file_offering_a_choice_by_reference_is_not_guessed():
    # cryptography's LICENSE only points at LICENSE.APACHE and LICENSE.BSD.
    assert detect_license(_read_real("cryptography-*.dist-info/licenses/LICENSE")) is None


GPL_NOTICE = ("This program is free software: you can redistribute it and/or modify it under "
              "the terms of the GNU {kind}General Public License as published by the Free "
              "Software Foundation, either version {version} of the License, or (at your "
              "option) any later version.")


@pytest.mark.parametrize("text,spdx", [
    ("GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n\n... use the GNU Lesser General "
     "Public License instead ... GNU Affero General Public License ...", "GPL-3.0"),
    ("GNU GENERAL PUBLIC LICENSE\nVersion 2, June 1991\n... covered by the GNU Library "
     "General Public License instead.", "GPL-2.0"),
    ("GNU LESSER GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\nThis version of the GNU "
     "Lesser General Public License incorporates version 3 of the GNU General Public "
     "License", "LGPL-3.0"),
    ("GNU LESSER GENERAL PUBLIC LICENSE\n   Version 2.1, February 1999", "LGPL-2.1"),
    ("GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3, 19 November 2007", "AGPL-3.0"),
    (GPL_NOTICE.format(kind="", version="2"), "GPL-2.0"),
    (GPL_NOTICE.format(kind="Lesser ", version="3"), "LGPL-3.0"),
    (GPL_NOTICE.format(kind="Affero ", version="3"), "AGPL-3.0"),
])
def test_gnu_licenses_by_title_and_version(text, spdx):
    assert detect_license(text) == spdx


BSD_HEAD = ("Redistribution and use in source and binary forms, with or without modification, "
            "are permitted provided that the following conditions are met:\n"
            "1. Redistributions of source code must retain the above copyright notice.\n"
            "2. Redistributions in binary form must reproduce the above copyright notice.\n")
BSD_TAIL = "THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AS IS. Neither party..."


def test_bsd_clause_count_decides_the_variant():
    third = "3. Neither the name of the copyright holder nor the names of its contributors...\n"
    ads = "3. All advertising materials mentioning features or use of this software...\n"
    assert detect_license(BSD_HEAD + BSD_TAIL) == "BSD-2-Clause"
    assert detect_license(BSD_HEAD + third + BSD_TAIL) == "BSD-3-Clause"
    assert detect_license(BSD_HEAD + ads + third + BSD_TAIL) == "BSD-4-Clause"


@pytest.mark.parametrize("text,spdx", [
    ("This is free and unencumbered software released into the public domain.", "Unlicense"),
    ("Creative Commons Legal Code\n\nCC0 1.0 Universal", "CC0-1.0"),
    ("This software is provided 'as-is', without any express or implied warranty. ...\n"
     "2. Altered source versions must be plainly marked as such.", "Zlib"),
    ("Boost Software License - Version 1.0 - August 17th, 2003", "BSL-1.0"),
    ("Eclipse Public License - v 2.0\n\nTHE ACCOMPANYING PROGRAM IS PROVIDED", "EPL-2.0"),
    ("Mozilla Public License Version 2.0\n==================================", "MPL-2.0"),
    ("Licensed under the Apache License, Version 2.0 (the \"License\");", "Apache-2.0"),
    ("Permission to use, copy, modify, and/or distribute this software for any purpose with "
     "or without fee is hereby granted.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\"", "0BSD"),
    ("# MIT License\n\n> Permission is hereby granted, free of charge, to any person "
     "obtaining a\n> copy of this software ... The above copyright notice and this\n> "
     "permission notice shall be included in all copies.", "MIT"),
    ("This project is released under the MIT License.", "MIT"),
    ("           DO WHAT THE FUCK YOU WANT TO PUBLIC LICENSE", "WTFPL"),
])
def test_licenses_by_distinctive_phrases(text, spdx):
    assert detect_license(text) == spdx


def test_the_first_license_stated_is_the_files_license():
    mit = ("Permission is hereby granted, free of charge, to any person obtaining a copy. "
           "The above copyright notice and this permission notice shall be included.\n\n")
    assert detect_license(mit + "Bundled code:\n" + BSD_HEAD + BSD_TAIL) == "MIT"
    assert detect_license(BSD_HEAD + BSD_TAIL + "\nBundled code:\n" + mit) == "BSD-2-Clause"


def test_unrecognised_text_has_no_license():
    assert detect_license("") is None
    assert detect_license("All rights reserved. Do not copy.") is None


@pytest.mark.parametrize("path", [
    "LICENSE", "LICENCE", "COPYING", "COPYRIGHT", "UNLICENSE", "license", "License.txt",
    "LICENSE.md", "LICENSE.rst", "LICENSE-MIT", "LICENSE-APACHE", "LICENSE.APACHE",
    "LICENSE.BSD", "COPYING.LESSER", "LICENSE_MIT", "LICENCE.txt",
])
def test_root_license_file_names(path):
    assert is_license_file(path)


@pytest.mark.parametrize("path", [
    "docs/LICENSE", "vendor/x/LICENSE.txt", "license.py", "LICENSE.js", "licenses.txt",
    "README.md", "MY_LICENSE", "",
])
def test_other_files_are_not_license_files(path):
    assert not is_license_file(path)


def test_repo_license_reads_only_root_license_files():
    text = "This is free and unencumbered software released into the public domain."
    assert repo_license("UNLICENSE", text) == "Unlicense"
    assert repo_license("third_party/x/UNLICENSE", text) is None
    assert repo_license("notes.txt", text) is None


@pytest.mark.parametrize("expression", [
    "MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause", "ISC", "Unlicense", "CC0-1.0",
    "Zlib", "BSL-1.0", "PSF-2.0", "Python-2.0", "MIT-0", "0BSD", "WTFPL", "X11",
    "mit", " MIT ", "MIT License", "The MIT License (MIT)", "Apache 2.0", "Apache License 2.0",
    "Apache License, Version 2.0", "apache-2", "BSD", "BSD License", "New BSD License",
    "3-Clause BSD", "BSD 2-Clause", "Expat",
    "MIT OR Apache-2.0", "GPL-3.0 OR MIT", "MIT/Apache-2.0", "mit or apache-2.0",
    "MIT AND Apache-2.0", "MIT AND BSD-3-Clause AND ISC", "(MIT OR GPL-2.0) AND Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
])
def test_permissive_expressions(expression):
    assert is_permissive(expression)


@pytest.mark.parametrize("expression", [
    "", "  ", "GPL-3.0", "GPL-2.0-or-later", "GPL-2.0+", "LGPL-2.1", "AGPL-3.0-only",
    "MPL-2.0", "EPL-2.0", "MIT AND GPL-3.0", "GPL-2.0 WITH Classpath-exception-2.0",
    "LicenseRef-proprietary", "Proprietary", "unknown", "(MIT", "MIT)", "MIT AND",
    "OR MIT", "((((", "(GPL-3.0 OR LGPL-3.0) AND MIT",
])
def test_not_permissive_expressions(expression):
    assert not is_permissive(expression)


def test_common_spellings_normalise_to_spdx():
    assert normalize_license("Apache License, Version 2.0") == "Apache-2.0"
    assert normalize_license("The MIT License (MIT)") == "MIT"
    assert normalize_license("BSD 3-Clause") == "BSD-3-Clause"
    assert normalize_license("GPLv3") == "GPL-3.0"
    assert normalize_license("Klingon Public License") is None


def test_every_detected_permissive_license_is_in_the_permissive_set():
    for spdx in ("MIT", "MIT-0", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "0BSD",
                 "Unlicense", "CC0-1.0", "Zlib", "BSL-1.0", "PSF-2.0", "NCSA", "HPND"):
        assert spdx in PERMISSIVE and is_permissive(spdx)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_detection_never_raises(text):
    assert detect_license(text) is None or isinstance(detect_license(text), str)
    assert is_permissive(text) in (True, False)
    assert repo_license("LICENSE", text) == detect_license(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["MIT", "GPL-3.0", "(", ")", "AND", "OR", "WITH", "and",
                                 "Apache 2.0", "/", ";", "x"]), max_size=30))
def test_random_expressions_never_raise(tokens):
    assert is_permissive(" ".join(tokens)) in (True, False)


@pytest.mark.parametrize("expression, tier", [
    ("MIT", PERMISSIVE_TIER), ("BSD-2-Clause-Patent", PERMISSIVE_TIER),
    ("MIT OR GPL-3.0-only", PERMISSIVE_TIER), ("(MIT AND Zlib)", PERMISSIVE_TIER),
    ("GPL-2.0-only", OTHER_LICENSE_TIER), ("MIT AND GPL-3.0-only", OTHER_LICENSE_TIER),
    ("LicenseRef-custom", OTHER_LICENSE_TIER), ("", NO_LICENSE_TIER), ("  ", NO_LICENSE_TIER)])
def test_license_tier_orders_what_dedup_keeps(expression, tier):
    assert license_tier(expression) == tier
