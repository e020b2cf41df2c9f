"""Code for the parse benchmark, in many languages, from what every machine has.

Python comes from the standard library, C from the Python headers and the C sources and
headers in site-packages, JavaScript from the (unminified) ``.js`` files that wheels ship.
The other languages have no code on a plain Python machine, so it is generated: files of
functions and classes with loops, branches and calls, varied by a seed, in each language's
own syntax and doc-comment form. A quarter of the functions carry a doc comment, which puts
the pairs per MB near real code's (measured here: Python's standard library 268, Go's
sources 308, PHP 153; all-documented generated code would have 2,400).
"""

from __future__ import annotations

import pathlib
import random
import sysconfig

_WORDS = ("total", "count", "value", "index", "buffer", "offset", "limit", "result", "item",
          "node", "width", "height", "cache", "entry", "weight", "score", "token", "path")


def _files(roots: list[pathlib.Path], patterns: tuple[str, ...], budget: int,
           max_line: int = 1000) -> list[tuple[str, str]]:
    """(path, text) of files matching ``patterns`` under ``roots``, in sorted order, up to
    ``budget`` UTF-8 bytes; files with lines over ``max_line`` (minified) are left out."""
    out, size = [], 0
    for root in roots:
        for pattern in patterns:
            for path in sorted(root.rglob(pattern)):
                if size >= budget or not path.is_file():
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
                if not text.strip() or max(map(len, text.splitlines()), default=0) > max_line:
                    continue
                out.append((str(path), text))
                size += len(text.encode())
    return out


def real_code(budget: int) -> dict[str, list[tuple[str, str]]]:
    """Python, C and JavaScript found on this machine, up to ``budget`` bytes each."""
    paths = sysconfig.get_paths()
    site = pathlib.Path(paths["purelib"])
    return {
        "python": _files([pathlib.Path(paths["stdlib"])], ("*.py",), budget),
        "c": _files([pathlib.Path(paths["include"]), site], ("*.h", "*.c"), budget),
        "javascript": _files([site], ("*.js",), budget),
    }


_TEMPLATES = {
    "java": ("""
/**
 * Returns the {w1} of the {w2} list, scaled by the given factor.
 *
 * @param items the {w2} values
 * @param factor the scale
 * @return the scaled {w1}
 */
@SuppressWarnings("unchecked")
public static double {f}(java.util.List<Double> items, double factor) {{
    double {w1} = 0;
    for (int i = 0; i < items.size(); i++) {{
        if (items.get(i) > {n}) {{
            {w1} += items.get(i) * factor;
        }} else {{
            {w1} -= {n};
        }}
    }}
{extra}    return {w1};
}}
""", "public class {C} {{\n", "}}\n"),
    "go": ("""
// {F} returns the {w1} of the {w2} slice, scaled by factor.
//
// It returns zero for an empty slice.
func {F}(items []float64, factor float64) float64 {{
	{w1} := 0.0
	for i, v := range items {{
		if v > {n} {{
			{w1} += v * factor
		}} else if i%2 == 0 {{
			{w1} -= {n}
		}}
	}}
{extra}	return {w1}
}}

// {C} holds a {w2} and its {w1}.
type {C} struct {{
	{W1} float64
	{W2} []int
}}
""", "package bench\n", ""),
    "rust": ("""
/// Returns the {w1} of the {w2} slice, scaled by `factor`.
///
/// # Examples
/// ```
/// let x = {f}(&[1.0], 2.0);
/// ```
#[inline]
pub fn {f}(items: &[f64], factor: f64) -> f64 {{
    let mut {w1} = 0.0;
    for (i, v) in items.iter().enumerate() {{
        if *v > {n}.0 {{
            {w1} += v * factor;
        }} else if i % 2 == 0 {{
            {w1} -= {n}.0;
        }}
    }}
{extra}    {w1}
}}

pub struct {C} {{
    pub {w1}: f64,
    {w2}: Vec<u32>,
}}
""", "use std::collections::HashMap;\n", ""),
    "typescript": ("""
/**
 * Returns the {w1} of the {w2} list, scaled by the given factor.
 * @param items the {w2} values
 */
export function {f}(items: number[], factor: number): number {{
  let {w1} = 0;
  for (const [i, v] of items.entries()) {{
    if (v > {n}) {{
      {w1} += v * factor;
    }} else if (i % 2 === 0) {{
      {w1} -= {n};
    }}
  }}
{extra}  return {w1};
}}

export class {C}<T> {{
  private {w2}: Map<string, T> = new Map();
  /** Stores one {w2} under its key and returns it. */
  put(key: string, item: T): T {{
    this.{w2}.set(key, item);
    return item;
  }}
}}
""", "", ""),
    "ruby": ("""
  # Returns the {w1} of the {w2} list, scaled by +factor+.
  #
  # @param items [Array<Float>]
  def {f}(items, factor)
    {w1} = 0
    items.each_with_index do |v, i|
      if v > {n}
        {w1} += v * factor
      elsif i.even?
        {w1} -= {n}
      end
    end
{extra}    {w1}
  end
""", "module {C}\n", "end\n"),
    "php": ("""
    /**
     * Returns the {w1} of the {w2} list, scaled by the given factor.
     *
     * @param array $items the {w2} values
     */
    public function {f}(array $items, float $factor): float {{
        ${w1} = 0;
        foreach ($items as $i => $v) {{
            if ($v > {n}) {{
                ${w1} += $v * $factor;
            }} elseif ($i % 2 === 0) {{
                ${w1} -= {n};
            }}
        }}
{extra}        return ${w1};
    }}
""", "<?php\nnamespace Bench;\n\nclass {C} {{\n", "}}\n"),
    "csharp": ("""
    /// <summary>
    /// Returns the {w1} of the {w2} list, scaled by <paramref name="factor"/>.
    /// </summary>
    /// <param name="items">The {w2} values.</param>
    [Pure]
    public static double {F}(IList<double> items, double factor) {{
        double {w1} = 0;
        for (int i = 0; i < items.Count; i++) {{
            if (items[i] > {n}) {{
                {w1} += items[i] * factor;
            }} else {{
                {w1} -= {n};
            }}
        }}
{extra}        return {w1};
    }}
""", "using System;\nnamespace Bench {{\npublic class {C} {{\n", "}}\n}}\n"),
}

_EXTRA = {
    "java": """    int {w2}Count = 0;
    while ({w2}Count < items.size() && {w1} < {n} * 100) {{
        {w2}Count += 1;
        if ({w2}Count % 3 == 0) {{
            {w1} = {w1} / 2 + {n};
        }}
    }}
""",
    "csharp": """        int {w2}Count = 0;
        while ({w2}Count < items.Count && {w1} < {n} * 100) {{
            {w2}Count += 1;
            if ({w2}Count % 3 == 0) {{
                {w1} = {w1} / 2 + {n};
            }}
        }}
""",
    "typescript": """  let {w2}Count = 0;
  while ({w2}Count < items.length && {w1} < {n} * 100) {{
    {w2}Count += 1;
    if ({w2}Count % 3 === 0) {{
      {w1} = {w1} / 2 + {n};
    }}
  }}
""",
    "php": """        ${w2}Count = 0;
        while (${w2}Count < count($items) && ${w1} < {n} * 100) {{
            ${w2}Count += 1;
            if (${w2}Count % 3 === 0) {{
                ${w1} = intdiv(${w1}, 2) + {n};
            }}
        }}
""",
    "go": """	{w2}Count := 0
	for {w2}Count < len(items) && {w1} < {n}*100 {{
		{w2}Count++
		if {w2}Count%3 == 0 {{
			{w1} = {w1}/2 + {n}
		}}
	}}
""",
    "rust": """    let mut {w2}_count = 0;
    while {w2}_count < items.len() && {w1} < ({n} * 100) as f64 {{
        {w2}_count += 1;
        if {w2}_count % 3 == 0 {{
            {w1} = {w1} / 2.0 + {n}.0;
        }}
    }}
""",
    "ruby": """    {w2}_count = 0
    while {w2}_count < items.size && {w1} < {n} * 100
      {w2}_count += 1
      {w1} = {w1} / 2 + {n} if ({w2}_count % 3).zero?
    end
""",
}
"""A second loop per function body, so that functions are as long as real code's
(about 20 lines) rather than a third of that."""

GENERATED = tuple(sorted(_TEMPLATES))
"""Languages whose benchmark code is generated."""


_DOC_LINE = ("/**", "*", "///", "//", "# ")


def _undocumented(function: str) -> str:
    """``function`` without the doc comment lines above it."""
    return "\n".join(line for line in function.split("\n")
                     if not (line.strip().startswith(_DOC_LINE) or line.strip() == "#"))


def generated_code(lang: str, budget: int, seed: int = 0, functions_per_file: int = 40,
                   documented: float = 0.25) -> list[tuple[str, str]]:
    """(path, text) files of generated ``lang`` code, up to ``budget`` UTF-8 bytes, with a
    ``documented`` share of the functions carrying a doc comment."""
    rng = random.Random(f"{lang}:{seed}")
    body, head, tail = _TEMPLATES[lang]
    out, size, k = [], 0, 0
    while size < budget:
        cls = f"Unit{len(out)}"
        parts = [head.format(C=cls)]
        for _ in range(functions_per_file):
            w1, w2 = rng.sample(_WORDS, 2)
            k += 1
            names = dict(f=f"{w1}_{w2}_{k}", F=f"{w1.title()}{w2.title()}{k}",
                         C=f"{w2.title()}{k}", w1=w1, w2=w2, W1=w1.title(), W2=w2.title(),
                         n=rng.randrange(1, 100))
            function = body.format(extra=_EXTRA[lang].format(**names), **names)
            parts.append(function if rng.random() < documented else _undocumented(function))
        parts.append(tail.format())
        text = "".join(parts)
        out.append((f"gen/{cls}.{lang}", text))
        size += len(text.encode())
    return out
