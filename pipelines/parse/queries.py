"""What to look for in each language's tree: per-language query text, one shared walker.

Captures: ``@function`` / ``@class`` mark a definition, ``@name`` its name (optional: a
definition can match several patterns, the lowest-numbered pattern's name wins), ``@doc`` a
docstring inside the body (Python), ``@comment`` every comment (the walker finds a
definition's doc comment among them by position). A language with an empty query (JSON,
YAML, TOML, HTML, CSS) is checked for syntax health only: it has no definitions.

Adding a language means a grammar in ``grammars.GRAMMARS`` and a ``Spec`` here.
"""

from __future__ import annotations

import dataclasses

_PYTHON = """
(function_definition
  name: (identifier) @name
  body: (block . (expression_statement . (string) @doc .))) @function
(function_definition name: (identifier) @name) @function
(class_definition name: (identifier) @name) @class
"""

_C_FUNCTIONS = """
(function_definition
  declarator: (function_declarator declarator: (_) @name)) @function
(function_definition
  declarator: (_ (function_declarator declarator: (_) @name))) @function
(function_definition
  declarator: (_ (_ (function_declarator declarator: (_) @name)))) @function
(function_definition) @function
(comment) @comment
"""

_C = _C_FUNCTIONS + """
(struct_specifier name: (type_identifier) @name body: (field_declaration_list)) @class
(struct_specifier body: (field_declaration_list)) @class
"""

_CPP = _C_FUNCTIONS + """
(class_specifier name: (_) @name body: (field_declaration_list)) @class
(class_specifier body: (field_declaration_list)) @class
(struct_specifier name: (_) @name body: (field_declaration_list)) @class
(struct_specifier body: (field_declaration_list)) @class
"""

_JAVA = """
(method_declaration name: (identifier) @name body: (block)) @function
(constructor_declaration name: (identifier) @name) @function
(class_declaration name: (identifier) @name) @class
(interface_declaration name: (identifier) @name) @class
(enum_declaration name: (identifier) @name) @class
(record_declaration name: (identifier) @name) @class
[(block_comment) (line_comment)] @comment
"""

_JS_FUNCTIONS = """
(function_declaration name: (identifier) @name) @function
(generator_function_declaration name: (identifier) @name) @function
(method_definition name: (_) @name) @function
(variable_declarator
  name: (identifier) @name
  value: [(arrow_function) (function_expression)] @function)
(assignment_expression
  left: [(identifier) (member_expression)] @name
  right: [(arrow_function) (function_expression)] @function)
(comment) @comment
"""

_JAVASCRIPT = _JS_FUNCTIONS + """
(class_declaration name: (identifier) @name) @class
"""

_TYPESCRIPT = _JS_FUNCTIONS + """
(class_declaration name: (type_identifier) @name) @class
(abstract_class_declaration name: (type_identifier) @name) @class
(interface_declaration name: (type_identifier) @name) @class
(enum_declaration name: (identifier) @name) @class
"""

_GO = """
(function_declaration name: (identifier) @name) @function
(method_declaration name: (field_identifier) @name) @function
(type_declaration
  (type_spec name: (type_identifier) @name type: [(struct_type) (interface_type)])) @class
(comment) @comment
"""

_RUST = """
(function_item name: (identifier) @name) @function
(struct_item name: (type_identifier) @name) @class
(enum_item name: (type_identifier) @name) @class
(union_item name: (type_identifier) @name) @class
(trait_item name: (type_identifier) @name) @class
(impl_item type: (_) @name) @class
[(line_comment) (block_comment)] @comment
"""

_CSHARP = """
(method_declaration name: (identifier) @name) @function
(constructor_declaration name: (identifier) @name) @function
(local_function_statement name: (identifier) @name) @function
(class_declaration name: (identifier) @name) @class
(struct_declaration name: (identifier) @name) @class
(interface_declaration name: (identifier) @name) @class
(record_declaration name: (identifier) @name) @class
(enum_declaration name: (identifier) @name) @class
(comment) @comment
"""

_RUBY = """
(method name: (_) @name) @function
(singleton_method name: (_) @name) @function
(class name: (_) @name) @class
(module name: (_) @name) @class
(comment) @comment
"""

_PHP = """
(function_definition name: (name) @name) @function
(method_declaration name: (name) @name) @function
(class_declaration name: (name) @name) @class
(interface_declaration name: (name) @name) @class
(trait_declaration name: (name) @name) @class
(enum_declaration name: (name) @name) @class
(comment) @comment
"""

_SCALA = """
(function_definition name: (identifier) @name) @function
(class_definition name: (identifier) @name) @class
(object_definition name: (identifier) @name) @class
(trait_definition name: (identifier) @name) @class
"""

_KOTLIN = """
(function_declaration name: (identifier) @name) @function
(class_declaration name: (identifier) @name) @class
(object_declaration name: (identifier) @name) @class
"""

_SWIFT = """
(function_declaration name: (simple_identifier) @name) @function
(init_declaration) @function
(class_declaration name: (_) @name) @class
(protocol_declaration name: (type_identifier) @name) @class
"""

_LUA = """
(function_declaration name: (_) @name) @function
(assignment_statement
  (variable_list . (_) @name)
  (expression_list . (function_definition) @function))
"""

_SHELL = """
(function_definition name: (word) @name) @function
"""

_HASKELL = """
(function name: (variable) @name) @function
(data_type name: (name) @name) @class
(newtype name: (name) @name) @class
(class name: (name) @name) @class
(instance name: (name) @name) @class
"""

_JULIA = """
(function_definition (signature (call_expression . (_) @name))) @function
(function_definition) @function
(macro_definition (signature (call_expression . (_) @name))) @function
(struct_definition (type_head (_) @name)) @class
(abstract_definition (type_head (_) @name)) @class
(module_definition name: (identifier) @name) @class
"""

_JS_WRAPPERS = frozenset({"export_statement", "variable_declarator", "lexical_declaration",
                          "variable_declaration", "assignment_expression",
                          "expression_statement"})


@dataclasses.dataclass(frozen=True, slots=True)
class Spec:
    """How to find definitions and their docs in one language.

    Attributes:
        query: query text, see the captures above; empty for health-only languages.
        wrappers: node types that, as a definition's parent, belong to the definition
            (decorators, ``export``, ``template <...>``, ``const f = ...``): boundaries,
            code and the doc search start from the outermost one.
        decorations: node types that sit as siblings between a doc comment and its
            definition (Rust attributes, TypeScript decorators in a class body); they belong
            to the definition's code.
        docs: the doc form, a key of ``docs.DOC_FORMS``; empty when this language gives no
            pairs.
        constructors: function names that make a definition a constructor.
        constructor_types: node types that are constructors.
    """

    query: str = ""
    wrappers: frozenset[str] = frozenset()
    decorations: frozenset[str] = frozenset()
    docs: str = ""
    constructors: frozenset[str] = frozenset()
    constructor_types: frozenset[str] = frozenset()


SPECS: dict[str, Spec] = {
    "python": Spec(query=_PYTHON, wrappers=frozenset({"decorated_definition"}), docs="python",
                   constructors=frozenset({"__init__", "__new__"})),
    "c": Spec(query=_C, docs="doxygen"),
    "cpp": Spec(query=_CPP, wrappers=frozenset({"template_declaration"}), docs="doxygen"),
    "csharp": Spec(query=_CSHARP, docs="xmldoc",
                   constructor_types=frozenset({"constructor_declaration"})),
    "go": Spec(query=_GO, docs="go"),
    "java": Spec(query=_JAVA, docs="javadoc",
                 constructor_types=frozenset({"constructor_declaration"})),
    "javascript": Spec(query=_JAVASCRIPT, wrappers=_JS_WRAPPERS,
                       decorations=frozenset({"decorator"}), docs="javadoc",
                       constructors=frozenset({"constructor"})),
    "php": Spec(query=_PHP, docs="javadoc", constructors=frozenset({"__construct"})),
    "ruby": Spec(query=_RUBY, docs="ruby", constructors=frozenset({"initialize"})),
    "rust": Spec(query=_RUST, decorations=frozenset({"attribute_item"}), docs="rust",
                 constructors=frozenset({"new"})),
    "typescript": Spec(query=_TYPESCRIPT, wrappers=_JS_WRAPPERS,
                       decorations=frozenset({"decorator"}), docs="javadoc",
                       constructors=frozenset({"constructor"})),
    "haskell": Spec(query=_HASKELL),
    "julia": Spec(query=_JULIA),
    "kotlin": Spec(query=_KOTLIN),
    "lua": Spec(query=_LUA),
    "scala": Spec(query=_SCALA),
    "shell": Spec(query=_SHELL),
    "swift": Spec(query=_SWIFT),
    **dict.fromkeys(("css", "html", "json", "toml", "yaml"), Spec()),
}
SPECS["tsx"] = SPECS["typescript"]
