"""What a definition is in each language: node-type tables for one shared walker.

The walker (``analysis``) starts at the root and visits the children of the root, of
class-like definitions and of ``containers`` (namespaces, modules, class bodies,
preprocessor blocks, ``export``, decorators); it records the ``functions``, ``classes`` and
``comments`` it meets there. It never enters a function body or an expression. That is
CodeSearchNet's scope (top-level functions and the methods of classes, nested classes and
namespaces included; not functions defined inside functions), it is all the syntax spans
need (top-level definitions), and it is what makes the stage cheap: a walk or a query over
every node of the tree costs 25-35% of the parse itself (measured on the standard library,
Go's sources and PHP), while this walk visits a few percent of the nodes.

Names come from the ``name`` field, else ``type`` (Rust ``impl``), else the innermost
``declarator`` (C, C++), else the first named child that has a name (Go ``type_spec``),
else the call in a ``signature`` (Julia). A variable or assignment whose value is a
function (``const f = () => ...``) is a function named by its left-hand side.

Adding a language means a grammar in ``grammars.GRAMMARS`` and a ``Spec`` here.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class Spec:
    """How to find definitions and their docs in one language.

    Attributes:
        functions: node types that are functions (methods and constructors included).
        classes: class-like node types (class, struct, interface, trait, impl, module...);
            their children are visited.
        containers: other node types whose children are visited.
        comments: comment node types (a doc comment is found among them by position).
        function_values: node type -> (name field, value field) of the assignments and
            declarators that define a function when their value is one of
            ``function_expressions``.
        function_expressions: node types of function values.
        needs_body: a function or class without a ``body`` field (an interface method,
            an abstract declaration, C's ``struct s *p``) is not a definition.
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

    functions: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    containers: frozenset[str] = frozenset()
    comments: frozenset[str] = frozenset({"comment"})
    function_values: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    function_expressions: frozenset[str] = frozenset()
    needs_body: bool = False
    wrappers: frozenset[str] = frozenset()
    decorations: frozenset[str] = frozenset()
    docs: str = ""
    constructors: frozenset[str] = frozenset()
    constructor_types: frozenset[str] = frozenset()


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PREPROC = "preproc_if preproc_ifdef preproc_else preproc_elif preproc_elifdef"
_C_CONTAINERS = _set(f"{_PREPROC} declaration type_definition linkage_specification "
                     "declaration_list")
_CPP_CONTAINERS = _C_CONTAINERS | _set(
    "namespace_definition template_declaration field_declaration_list field_declaration")
_JS_FUNCTION_VALUES = {"variable_declarator": ("name", "value"),
                       "assignment_expression": ("left", "right")}
_JS_FUNCTION_EXPRESSIONS = _set("arrow_function function_expression function "
                                "generator_function")
# Calls are entered for the functions passed to them: ``(function () { ... })()`` module
# wrappers and ``define([...], function (...) { ... })`` hold a whole file's functions.
_JS_CONTAINERS = _set("class_body export_statement lexical_declaration variable_declaration "
                      "expression_statement call_expression parenthesized_expression "
                      "arguments function_expression function statement_block")
_JS_WRAPPERS = _set("export_statement variable_declarator lexical_declaration "
                    "variable_declaration assignment_expression expression_statement")
_JS_FUNCTIONS = _set("function_declaration generator_function_declaration method_definition")

SPECS: dict[str, Spec] = {
    "python": Spec(
        functions=_set("function_definition"), classes=_set("class_definition"),
        # Compound statements at module and class level: ``try: import x`` / ``except:
        # def x(...)`` and ``if sys.platform == ...:`` blocks define functions.
        containers=_set("decorated_definition block if_statement elif_clause else_clause "
                        "try_statement except_clause finally_clause with_statement for_statement"),
        wrappers=_set("decorated_definition"), docs="python",
        constructors=_set("__init__ __new__")),
    "c": Spec(
        functions=_set("function_definition"), classes=_set("struct_specifier union_specifier"),
        containers=_C_CONTAINERS, needs_body=True, docs="doxygen"),
    "cpp": Spec(
        functions=_set("function_definition"),
        classes=_set("class_specifier struct_specifier union_specifier"),
        containers=_CPP_CONTAINERS, needs_body=True, wrappers=_set("template_declaration"),
        docs="doxygen"),
    "csharp": Spec(
        functions=_set("method_declaration constructor_declaration"),
        classes=_set("class_declaration struct_declaration interface_declaration "
                     "record_declaration enum_declaration"),
        containers=_set("namespace_declaration file_scoped_namespace_declaration "
                        "declaration_list"),
        needs_body=True, docs="xmldoc", constructor_types=_set("constructor_declaration")),
    "go": Spec(
        functions=_set("function_declaration method_declaration"),
        classes=_set("type_declaration"), docs="go"),
    "java": Spec(
        functions=_set("method_declaration constructor_declaration"),
        classes=_set("class_declaration interface_declaration enum_declaration "
                     "record_declaration annotation_type_declaration"),
        containers=_set("class_body interface_body enum_body enum_body_declarations"),
        comments=_set("block_comment line_comment"), needs_body=True, docs="javadoc",
        constructor_types=_set("constructor_declaration")),
    "javascript": Spec(
        functions=_JS_FUNCTIONS, classes=_set("class_declaration"), containers=_JS_CONTAINERS,
        function_values=_JS_FUNCTION_VALUES, function_expressions=_JS_FUNCTION_EXPRESSIONS,
        wrappers=_JS_WRAPPERS, decorations=_set("decorator"), docs="javadoc",
        constructors=_set("constructor")),
    "php": Spec(
        functions=_set("function_definition method_declaration"),
        classes=_set("class_declaration interface_declaration trait_declaration "
                     "enum_declaration"),
        containers=_set("namespace_definition compound_statement declaration_list"),
        needs_body=True, docs="javadoc", constructors=_set("__construct")),
    "ruby": Spec(
        functions=_set("method singleton_method"), classes=_set("class module"),
        containers=_set("body_statement"), docs="ruby", constructors=_set("initialize")),
    "rust": Spec(
        functions=_set("function_item"),
        classes=_set("struct_item enum_item union_item trait_item impl_item"),
        containers=_set("mod_item declaration_list"),
        comments=_set("line_comment block_comment"), decorations=_set("attribute_item"),
        docs="rust", constructors=_set("new")),
    "typescript": Spec(
        functions=_JS_FUNCTIONS,
        classes=_set("class_declaration abstract_class_declaration interface_declaration "
                     "enum_declaration"),
        containers=_JS_CONTAINERS | _set("internal_module module ambient_declaration"),
        function_values=_JS_FUNCTION_VALUES, function_expressions=_JS_FUNCTION_EXPRESSIONS,
        wrappers=_JS_WRAPPERS, decorations=_set("decorator"), docs="javadoc",
        constructors=_set("constructor")),
    "haskell": Spec(
        functions=_set("function"), classes=_set("data_type newtype class instance"),
        containers=_set("declarations class_declarations instance_declarations")),
    "julia": Spec(
        functions=_set("function_definition macro_definition"),
        classes=_set("module_definition struct_definition abstract_definition")),
    "kotlin": Spec(
        functions=_set("function_declaration"),
        classes=_set("class_declaration object_declaration"),
        containers=_set("class_body enum_class_body companion_object")),
    "lua": Spec(functions=_set("function_declaration")),
    "scala": Spec(
        functions=_set("function_definition"),
        classes=_set("class_definition object_definition trait_definition"),
        containers=_set("template_body")),
    "shell": Spec(functions=_set("function_definition")),
    "swift": Spec(
        functions=_set("function_declaration init_declaration"),
        classes=_set("class_declaration protocol_declaration"), containers=_set("class_body")),
    **dict.fromkeys(("css", "html", "json", "toml", "yaml"), Spec()),
}
SPECS["tsx"] = SPECS["typescript"]
