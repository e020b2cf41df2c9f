"""Small, correct files in every language with a grammar, each with a syntax error version.

``VALID[lang]`` is (source, names of its top-level definitions in order); the programming
languages' samples hold at least one function and one class-like type. ``BROKEN[lang]`` is
the same kind of file with a real syntax error (a missing brace, an unclosed string, an
unfinished statement), as a truncated or mistyped file has.
"""

from __future__ import annotations

import textwrap


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


VALID: dict[str, tuple[str, list[str]]] = {
    "python": (_src('''
        import math


        class Circle:
            def __init__(self, r):
                self.r = r


        def area(c):
            return math.pi * c.r ** 2
        '''), ["Circle", "area"]),
    "c": (_src("""
        #include <stdio.h>
        struct point { int x; int y; };
        static int add(int a, int b) {
            return a + b;
        }
        """), ["point", "add"]),
    "cpp": (_src("""
        #include <vector>
        class Stack {
         public:
          void push(int v) { items.push_back(v); }
         private:
          std::vector<int> items;
        };
        int twice(int x) { return 2 * x; }
        """), ["Stack", "twice"]),
    "csharp": (_src("""
        using System;
        namespace Demo {
            public class Greeter {
                public string Greet(string name) { return "Hi " + name; }
            }
        }
        """), ["Greeter"]),
    "go": (_src("""
        package shapes

        type Rect struct {
            W, H float64
        }

        func (r Rect) Area() float64 {
            return r.W * r.H
        }
        """), ["Rect", "Area"]),
    "java": (_src("""
        package demo;
        public class Counter {
            private int n;
            public int next() { return ++n; }
        }
        """), ["Counter"]),
    "javascript": (_src("""
        class Queue {
          push(x) { this.items.push(x); }
        }
        function sum(xs) {
          return xs.reduce((a, b) => a + b, 0);
        }
        """), ["Queue", "sum"]),
    "typescript": (_src("""
        interface Shape { area(): number; }
        export class Square implements Shape {
          constructor(private side: number) {}
          area(): number { return this.side * this.side; }
        }
        function cast(x: unknown): string { return <string>x; }
        """), ["Shape", "Square", "cast"]),
    "tsx": (_src("""
        interface Props { name: string }
        export function Hello(props: Props) {
          return <div className="hello">Hello {props.name}</div>;
        }
        """), ["Props", "Hello"]),
    "rust": (_src("""
        use std::fmt;
        pub struct Meters(f64);
        impl Meters {
            pub fn double(&self) -> Meters { Meters(self.0 * 2.0) }
        }
        fn main() {
            println!("{}", 1);
        }
        """), ["Meters", "Meters", "main"]),
    "ruby": (_src("""
        require 'set'
        class Stack
          def push(x)
            @items << x
          end
        end
        def helper(a)
          a * 2
        end
        """), ["Stack", "helper"]),
    "php": (_src("""
        <?php
        namespace App;
        class User {
            public function name(): string { return $this->name; }
        }
        function greet($who) {
            return "Hello " . $who;
        }
        """), ["User", "greet"]),
    "scala": (_src("""
        object Main {
          def square(x: Int): Int = x * x
        }
        class Point(val x: Int, val y: Int)
        """), ["Main", "Point"]),
    "kotlin": (_src("""
        package demo

        class Greeter(val name: String) {
            fun greet(): String = "Hello, $name"
        }

        fun main() {
            println(Greeter("x").greet())
        }
        """), ["Greeter", "main"]),
    "swift": (_src("""
        import Foundation
        struct Point {
            var x: Double
            func norm() -> Double { return (x * x).squareRoot() }
        }
        func twice(_ v: Int) -> Int {
            return v * 2
        }
        """), ["Point", "twice"]),
    "lua": (_src("""
        local M = {}
        function M.add(a, b)
          return a + b
        end
        local function helper(x)
          return x * 2
        end
        return M
        """), ["M.add", "helper"]),
    "shell": (_src("""
        #!/bin/bash
        set -euo pipefail
        greet() {
          echo "hello $1"
        }
        for f in *.txt; do greet "$f"; done
        """), ["greet"]),
    "haskell": (_src("""
        module Shapes where

        data Shape = Circle Double | Square Double

        area :: Shape -> Double
        area (Circle r) = pi * r * r
        area (Square s) = s * s
        """), ["Shape", "area", "area"]),
    "julia": (_src("""
        module Geometry
        struct Point
            x::Float64
        end
        function norm(p::Point)
            return abs(p.x)
        end
        end
        """), ["Geometry"]),
    "json": ('{"name": "demo", "version": [1, 2, 3], "private": true}\n', []),
    "yaml": ("name: demo\nitems:\n  - a\n  - b\nnested:\n  key: value\n", []),
    "toml": ('[package]\nname = "demo"\nversion = "0.1.0"\n\n[deps]\nserde = "1"\n', []),
    "html": ("<!DOCTYPE html>\n<html><head><title>Demo</title></head>\n"
             "<body><p class=\"x\">Hello</p></body></html>\n", []),
    "css": ("body { margin: 0; }\n.title > a:hover { color: #333; }\n"
            "@media (max-width: 600px) { body { padding: 1em; } }\n", []),
}

BROKEN: dict[str, str] = {
    "python": "def area(c:\n    return math.pi * c.r ** 2\n",
    "c": "static int add(int a, int b {\n    return a + b\n",
    "cpp": "class Stack {\n public:\n  void push(int v) { items.push_back(v) \n",
    "csharp": "public class Greeter {\n    public string Greet(string name { return \"Hi\" + }\n",
    "go": "package shapes\n\nfunc (r Rect) Area( float64 {\n    return r.W *\n",
    "java": "public class Counter {\n    public int next( { return ++n }\n",
    "javascript": "function sum(xs {\n  return xs.reduce((a, b) => a + , 0);\n",
    "typescript": "function cast(x: ): string { return x as; }\nclass {\n",
    "tsx": "export function Hello(props) {\n  return <div>Hello {props.name</span>;\n",
    "rust": "fn main( {\n    let x = ;\n    println!(\"{}\", x\n",
    "ruby": "class Stack\n  def push(x\n    @items << \n",
    "php": "<?php\nfunction greet($who {\n    return \"Hello \" . ;\n",
    "scala": "object Main {\n  def square(x: Int: Int = x * \n",
    "kotlin": "class Greeter(val name: String {\n    fun greet(): String = \n",
    "swift": "func twice(_ v: Int -> Int {\n    return v *\n",
    "lua": "function M.add(a, b\n  return a + \n",
    "shell": "greet() {\n  if [ -n \"$1\" ; then\n    echo \"hello\n",
    "haskell": "module Shapes where\n\narea :: Shape ->\narea (Circle r = pi * \n",
    "julia": "function norm(p::Point\n    return abs(p.x\n",
    "json": '{"name": "demo", "version": [1, 2, \n',
    "yaml": "name: demo\nitems:\n  - a\n - b: [\n",
    "toml": '[package\nname = "demo\nversion = \n',
    "html": "<html><head><title>Demo</title></head>\n<body><p class=\"x>Hello</body>\n",
    "css": "body { margin: 0;\n.title > a:hover { color: ; \n@media (max-width: { \n",
}
