"""The guard: every op of DESIGN.md section 3 has differential cases, and every differentiable
one has gradient-checked cases. Adding an op to the contract without tests fails here.

The tensor ops' cases are the table of op_cases.py; the convolution and pooling functions of
``chainrule.functional`` have theirs in conv_cases.py (run by test_conv_ops.py)."""
import pathlib
import re

import pytest

import chainrule as cr
from chainrule import functional as F
from conv_cases import DIFFERENTIAL_OPS as CONV_POOL_DIFFERENTIAL
from conv_cases import GRADCHECKED_OPS as CONV_POOL_GRADCHECKED
from op_cases import CASES, METHODLESS, METHODS

# DESIGN.md section 3, "# ops:" block: operators, comparisons, and the op functions.
OPERATORS = ["+", "-", "*", "/", "**", "@", "unary -"]
COMPARISONS = ["==", "!=", "<", "<=", ">", ">="]
FUNCTIONS = [
    "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "maximum", "minimum", "clip", "where",
    "sum", "mean", "var", "std", "max", "min", "logsumexp", "argmax", "argmin",
    "reshape", "transpose", "swapaxes", "broadcast_to", "squeeze", "expand_dims", "flatten", "t[index]",
    "concatenate", "stack", "split", "pad", "matmul",
]
DESIGN_OPS = OPERATORS + COMPARISONS + FUNCTIONS
NOT_DIFFERENTIABLE = set(COMPARISONS) | {"argmax", "argmin"}

# Edge cases the differential table must hold, by op (case ids as in op_cases.py).
REQUIRED_EDGE_CASES = {
    "+": ["bcast_314_54", "bcast_4_234", "0d_0d", "strided", "transposed"],
    "*": ["bcast_314_54", "bcast_4_234", "0d_with_matrix"],
    "t[index]": ["int_array_repeated", "two_arrays_repeated", "bool_mask"],
    "max": ["ties_axis1", "ties_all", "neg_axis", "tuple", "all_keep", "0d"],
    "min": ["ties_axis1", "ties_all"],
    "relu": ["at_zero"],
    "abs": ["at_zero"],
    "maximum": ["ties", "ties_bcast"],
    "minimum": ["ties", "ties_bcast"],
    "clip": ["edges"],
    "matmul": ["1d_1d", "1d_2d", "2d_1d", "1d_3d", "3d_1d", "bcast_batch"],
    "sum": ["neg_axis_keep", "tuple_neg_keep", "0d", "strided", "empty_axis", "empty_other_axis"],
    "**": ["zero_power", "zero_power_at_zero", "tensor_zero_exponent_at_zero", "const_zero_exponent_at_zero",
           "int_int", "int_sqrt", "int_float_power"],
    "/": ["int_int", "int_python_int", "python_int_int"],
    "logsumexp": ["empty_axis", "empty_other_axis"],
    "mean": ["empty_axis", "empty_other_axis"],
    "where": ["transposed", "0d", "empty"],
    "@": ["transposed", "empty_inner"],
    "swapaxes": ["transposed", "0d"],
    "pad": ["transposed", "0d", "empty"],
    "split": ["transposed", "empty"],
    "squeeze": ["transposed"],
    "expand_dims": ["transposed"],
    "stack": ["transposed", "empty"],
    "<": ["transposed", "0d"],
}
REQUIRED_EDGE_CASES["max"] += ["empty_other_axis"]
REQUIRED_EDGE_CASES["clip"] += ["tensor_bounds", "tensor_bounds_edges", "int_float_bounds"]
REQUIRED_EDGE_CASES["maximum"] += ["nan"]
REQUIRED_EDGE_CASES["minimum"] += ["nan"]


def _design_block(header="# ops:"):
    here = pathlib.Path(__file__).resolve().parents[1]
    for p in (here / "DESIGN.md", here.parent / "shared" / "DESIGN.md", here / "docs" / "DESIGN.md"):
        if p.exists():
            text = p.read_text()
            m = re.search(re.escape(header) + r"(.*?)\n\s*\n", text, flags=re.S)
            return m.group(1) if m else None
    return None


# chainrule.functional's convolution and pooling: every function that F takes from ops/conv.py and ops/pool.py.
CONV_POOL_MODULES = ("chainrule.ops.conv", "chainrule.ops.pool")
CONV_POOL_FUNCTIONS = sorted(name for name, fn in vars(F).items()
                             if callable(fn) and getattr(fn, "__module__", None) in CONV_POOL_MODULES)


def test_every_design_op_has_differential_cases():
    covered = {c.op for c in CASES}
    missing = [op for op in DESIGN_OPS if op not in covered]
    assert not missing, f"ops of DESIGN.md section 3 without differential cases in op_cases.py: {missing}"


def test_every_differentiable_op_is_gradient_checked():
    checked = {c.op for c in CASES if c.differentiable and c.gradcheck}
    missing = [op for op in DESIGN_OPS if op not in NOT_DIFFERENTIABLE and op not in checked]
    assert not missing, f"differentiable ops without a gradcheck case: {missing}"


def test_every_differentiable_op_has_gradient_in_the_differential_test():
    diffed = {c.op for c in CASES if c.differentiable}
    missing = [op for op in DESIGN_OPS if op not in NOT_DIFFERENTIABLE and op not in diffed]
    assert not missing, f"ops whose gradients are never compared with PyTorch: {missing}"


def test_no_case_names_an_unknown_op():
    unknown = {c.op for c in CASES} - set(DESIGN_OPS)
    assert not unknown, f"cases for ops not in the list (add them to DESIGN_OPS): {unknown}"


def test_required_edge_cases_present():
    have = {(c.op, c.id) for c in CASES}
    missing = [(op, i) for op, idss in REQUIRED_EDGE_CASES.items() for i in idss if (op, i) not in have]
    assert not missing, f"edge cases missing from op_cases.py: {missing}"


def test_op_list_matches_design_md():
    """Every public chainrule function named in DESIGN.md's op block is in DESIGN_OPS (when DESIGN.md is found)."""
    block = _design_block()
    if block is None:
        import pytest

        pytest.skip("DESIGN.md not found next to the repository")
    names = set(re.findall(r"\b[a-z_]+\b", block))
    prose = {"grad", "backend", "tensor", "array"}  # words of the prose around the names ("no grad", "integer-array")
    public_ops = {n for n in names if callable(getattr(cr, n, None)) and n not in prose}
    missing = sorted(public_ops - set(DESIGN_OPS))
    assert not missing, f"DESIGN.md names ops that the test tables do not list: {missing}"
    for fn in FUNCTIONS:
        if fn != "t[index]":
            assert callable(getattr(cr, fn)), f"cr.{fn} is missing"


def test_every_design_op_has_its_method_form_tested():
    """DESIGN.md: the ops are available "as functions and methods"; each method form is checked
    against its function in test_ops_methods.py."""
    for fn in FUNCTIONS:
        if fn in METHODLESS:
            continue
        attr = "__getitem__" if fn == "t[index]" else fn
        assert callable(getattr(cr.Tensor, attr, None)), f"Tensor.{attr} is missing (cr.{fn} has no method form)"
    untested = [fn for fn in FUNCTIONS if fn not in METHODLESS and fn not in METHODS]
    assert not untested, f"method forms not compared with their functions (op_cases.METHODS): {untested}"
    unknown = [m for m in METHODS if not callable(getattr(cr, "getitem" if m == "t[index]" else m, None))]
    assert not unknown, f"op_cases.METHODS names functions chainrule does not have: {unknown}"


# ------------------------------------------------------------------------------------------ docstrings
# Public op functions that compute no gradient: their docstrings say what they return, not a derivative.
NO_DERIVATIVE = {
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "argmax", "argmin",
    "arange", "eye", "full", "ones", "ones_like", "rand", "randn", "zeros", "zeros_like",
}


def _public_op_functions():
    from chainrule import ops

    return sorted(n for n in ops.__all__ if callable(getattr(cr, n, None)))


def test_every_public_op_function_states_its_math():
    """Every op function of the ``cr`` namespace has a docstring; a differentiable one gives its
    forward formula and the derivative its backward uses (DESIGN.md section 2)."""
    names = _public_op_functions()
    assert {"max", "min", "maximum", "minimum", "add", "power", "logsumexp", "getitem"} <= set(names)
    undocumented = [n for n in names if not (getattr(cr, n).__doc__ or "").strip()]
    assert not undocumented, f"public op functions without a docstring: {undocumented}"
    no_math = []
    for n in names:
        if n in NO_DERIVATIVE:
            continue
        doc = getattr(cr, n).__doc__
        if "=" not in doc or not re.search(r"\bd\w*/d\w+", doc):
            no_math.append(n)
    assert not no_math, f"docstrings without a formula (y = ...) and a derivative (dy/dx, dL/dx): {no_math}"


@pytest.mark.parametrize("name", ["max", "min", "maximum", "minimum"])
def test_tie_rules_are_documented(name):
    import pydoc

    text = pydoc.render_doc(getattr(cr, name), renderer=pydoc.plaintext)   # what help() shows
    assert re.search(r"\bd\w*/d\w+", text) and "=" in text, text
    assert "tie" in text.lower(), f"cr.{name}'s docstring does not state its tie rule"
    assert ("evenly" in text) if name in ("max", "min") else ("1/2" in text and "0.5/0.5" in text)


def test_clip_documents_the_gradient_at_its_bounds():
    doc = cr.clip.__doc__
    assert "boundary" in doc and "dy/dx = 1 where min <= x <= max" in doc


# ------------------------------------------------------------------------------------------ conv and pooling (F)
def test_every_conv_and_pool_function_is_compared_with_pytorch_and_gradient_checked():
    assert {"conv", "conv_transpose", "max_pool", "avg_pool"} <= set(CONV_POOL_FUNCTIONS), CONV_POOL_FUNCTIONS
    no_diff = [f for f in CONV_POOL_FUNCTIONS if f not in CONV_POOL_DIFFERENTIAL]
    assert not no_diff, f"conv/pool functions without differential cases in conv_cases.py: {no_diff}"
    no_check = [f for f in CONV_POOL_FUNCTIONS if f not in CONV_POOL_GRADCHECKED]
    assert not no_check, f"conv/pool functions without gradcheck cases in conv_cases.py: {no_check}"
    unknown = (CONV_POOL_DIFFERENTIAL | CONV_POOL_GRADCHECKED) - set(CONV_POOL_FUNCTIONS)
    assert not unknown, f"conv_cases.py names functions that chainrule.functional does not export: {unknown}"


def test_design_md_conv_and_pool_functions_are_covered():
    """The conv/pool names of DESIGN.md's functional block are exported by F and covered above."""
    block = _design_block("# functional (F):")
    if block is None:
        import pytest

        pytest.skip("DESIGN.md (functional block) not found next to the repository")
    named = {n for n in re.findall(r"\b([a-z_]+)\(", block) if "conv" in n or "pool" in n}   # calls, not arguments
    assert {"conv", "conv_transpose", "max_pool", "avg_pool"} <= named
    missing = sorted(named - set(CONV_POOL_FUNCTIONS))
    assert not missing, f"DESIGN.md names conv/pool functions that F does not export from ops/conv, ops/pool: {missing}"
