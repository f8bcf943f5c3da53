"""Malformed models through `edgecc compile`: each class of defect is exit 2, one line naming the node, tensor or
file, and no OUT; a bug inside edgecc is exit 70, one line, and no OUT either."""
from __future__ import annotations

import os
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgecc.cli import INTERNAL_ERROR, main
from models import float_mlp, qdq_mlp, qonnx_mlp
from models_cnn import elementwise_zoo, float_cnn


def compile_cli(model, tmp_path, capsys, backend="c"):
    """`edgecc compile` in this process on a ModelProto or raw bytes: (exit code, the lines on stderr)."""
    path = tmp_path / "m.onnx"
    path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    out = tmp_path / "OUT"
    code = main(["compile", str(path), "-b", backend, "-o", str(out)])
    err = capsys.readouterr().err
    if code != 0:
        assert not out.exists(), "a failed compile left OUT behind"
    assert [p for p in os.listdir(tmp_path) if p.startswith(".OUT.tmp")] == []
    return code, [l for l in err.splitlines() if l.strip()]


def refused(model, tmp_path, capsys, *fragments):
    code, lines = compile_cli(model, tmp_path, capsys)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("edgecc: error: ") and "Traceback" not in lines[0]
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def init(model, name) -> onnx.TensorProto:
    return next(t for t in model.graph.initializer if t.name == name)


def node(model, name) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.name == name)


def set_value(model, name, value, dtype=np.float32):
    init(model, name).CopyFrom(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
    return model


def mlp():
    """x -> q1 (Quant) -> fc4 (MatMul by q3(c2)) -> fc4_bias (Add q6(c5)) -> q7 (Quant)."""
    return qonnx_mlp(sizes=(4, 3))


# ---- files ----------------------------------------------------------------------------------------------------
def test_truncated_and_corrupt_files(tmp_path, capsys):
    data = mlp().SerializeToString()
    refused(data[:len(data) // 2], tmp_path, capsys, "cannot read", "m.onnx")
    refused(b"\xff" * 64, tmp_path, capsys, "cannot read", "m.onnx")
    refused(b"", tmp_path, capsys, "no standard ONNX opset")  # an empty protobuf is an empty model


# ---- inputs and outputs of nodes and graph ----------------------------------------------------------------------
def test_node_input_that_refers_to_nothing(tmp_path, capsys):
    m = mlp()
    node(m, "fc4").input[1] = "ghost"
    refused(m, tmp_path, capsys, "node 'fc4'", "'ghost'", "no graph input, initializer or node output")


def test_missing_and_extra_node_inputs(tmp_path, capsys):
    m = mlp()
    del node(m, "q3").input[3]
    refused(m, tmp_path, capsys, "node 'q3'", "Quant takes 4 inputs, has 3")
    m = mlp()
    node(m, "fc4").input.append("x")
    refused(m, tmp_path, capsys, "node 'fc4'", "MatMul takes 2 inputs, has 3")
    m = float_mlp(sizes=(4, 3))
    node(m, "gemm0").input[1] = ""
    refused(m, tmp_path, capsys, "node 'gemm0'", "input 1 is required")


def test_missing_and_extra_graph_inputs(tmp_path, capsys):
    m = mlp()
    del m.graph.input[:]
    refused(m, tmp_path, capsys, "node 'q1'", "'x'", "no graph input")
    m = mlp()
    m.graph.input.append(m.graph.input[0])
    refused(m, tmp_path, capsys, "graph input 'x' is listed twice")


def test_missing_graph_output(tmp_path, capsys):
    m = mlp()
    m.graph.output[0].name = "nowhere"
    refused(m, tmp_path, capsys, "graph output 'nowhere' is produced by no node")
    m = mlp()
    del m.graph.output[:]
    refused(m, tmp_path, capsys, "the model has no output")


def test_cycle(tmp_path, capsys):
    m = mlp()
    node(m, "q1").input[0] = "q7_out"    # the first quantizer reads the last one: a loop through the whole MLP
    refused(m, tmp_path, capsys, "cycle through nodes", "'q1'", "'fc4'")


def test_nodes_out_of_order_are_sorted(tmp_path, capsys):
    m = mlp()
    nodes = list(m.graph.node)[::-1]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    code, lines = compile_cli(m, tmp_path, capsys)
    assert code == 0 and (tmp_path / "OUT" / "report.json").is_file(), lines


def test_two_producers_of_one_tensor_and_duplicate_initializers(tmp_path, capsys):
    m = mlp()
    m.graph.node.append(helper.make_node("Relu", ["fc4_mm"], ["fc4_add"], name="again"))
    refused(m, tmp_path, capsys, "node 'again'", "'fc4_add' is produced twice", "'fc4_bias'")
    m = mlp()
    m.graph.initializer.append(init(m, "c2"))
    refused(m, tmp_path, capsys, "initializer 'c2' is defined twice")
    m = mlp()
    node(m, "fc4").output[0] = "c5"
    refused(m, tmp_path, capsys, "node 'fc4'", "output 'c5' is also a graph input or an initializer")


# ---- initializer data ---------------------------------------------------------------------------------------------
def test_raw_data_of_the_wrong_length(tmp_path, capsys):
    m = mlp()
    t = init(m, "c2")
    t.raw_data = t.raw_data[:-5]
    refused(m, tmp_path, capsys, "initializer 'c2'", "needs 48 bytes of raw_data, has 43")


def test_typed_field_of_the_wrong_count(tmp_path, capsys):
    m = mlp()
    t = init(m, "c2")
    t.CopyFrom(helper.make_tensor("c2", TensorProto.FLOAT, [11], np.zeros(11).tolist()))
    t.dims[:] = [4, 3]
    refused(m, tmp_path, capsys, "initializer 'c2'", "11 values in float_data, needs 12")


def test_dims_of_zero(tmp_path, capsys):
    m = mlp()
    init(m, "c2").CopyFrom(numpy_helper.from_array(np.zeros((4, 0), np.float32), "c2"))
    refused(m, tmp_path, capsys, "node 'q3'", "constant 'c2' is empty (shape [4, 0])")
    m = elementwise_zoo()
    resize = next(n for n in m.graph.node if n.op_type == "Resize")
    set_value(m, resize.input[2], [1, 1, 0, 2])
    refused(m, tmp_path, capsys, f"node {resize.name!r}", "would have shape [1, 4, 0, 12]")
    m = mlp()
    m.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 0
    refused(m, tmp_path, capsys, "input 'x' has dimension 0 at axis 1")


def test_absurd_dims_are_refused_before_anything_is_allocated(tmp_path, capsys):
    m = mlp()
    t = init(m, "c2")
    del t.dims[:]
    t.dims.extend([1 << 40, 1 << 40])
    start = time.perf_counter()
    refused(m, tmp_path, capsys, "initializer 'c2'", "elements, more than")
    m = mlp()
    m.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 1 << 40
    refused(m, tmp_path, capsys, "input 'x'", "elements, more than")
    m = float_cnn()   # global pooling makes it any size: an activation past the limit is refused in the frontend
    for d in m.graph.input[0].type.tensor_type.shape.dim[2:]:
        d.dim_value = 1000
    refused(m, tmp_path, capsys, "node 'conv1'", "would have shape [1, 4, 1000, 1000]")
    assert time.perf_counter() - start < 5


def test_nan_and_inf_weights_and_biases_name_node_and_tensor(tmp_path, capsys):
    m = mlp()
    w = numpy_helper.to_array(init(m, "c2")).copy()
    w[1, 2] = np.nan
    set_value(m, "c2", w)
    refused(m, tmp_path, capsys, "node 'q3'", "constant 'c2' holds NaN", "[1, 2]")
    m = float_mlp(sizes=(4, 3))
    set_value(m, "B0", [0, np.inf, 0])
    refused(m, tmp_path, capsys, "node 'gemm0'", "constant 'B0' holds inf")


def test_non_numeric_input_and_initializer_types(tmp_path, capsys):
    m = mlp()
    m.graph.input[0].type.tensor_type.elem_type = TensorProto.STRING
    refused(m, tmp_path, capsys, "input 'x' is of type STRING")
    m = mlp()
    init(m, "c2").CopyFrom(numpy_helper.from_array(np.ones((4, 3), np.complex64), "c2"))
    refused(m, tmp_path, capsys, "initializer 'c2' is of type COMPLEX64")
    m = mlp()
    init(m, "c2").data_type = TensorProto.BOOL
    refused(m, tmp_path, capsys, "initializer 'c2' is of type BOOL")


def test_external_data_is_refused(tmp_path, capsys):
    from edgecc.frontend.onnx_validate import check_tensor

    t = numpy_helper.from_array(np.ones(3, np.float32), "w")
    t.data_location = TensorProto.EXTERNAL
    with pytest.raises(Exception, match="keeps its data outside the model"):
        check_tensor(t, "initializer 'w'", "fc")


# ---- quantizer parameters -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [0, -1, 2.5, 65, 1e9, np.inf, np.nan])
def test_quant_bit_widths_of_zero_fractional_or_huge(bits, tmp_path, capsys):
    m = set_value(mlp(), "q3_b", bits)
    fragment = "q3_b' holds" if not np.isfinite(bits) else "bit width"
    refused(m, tmp_path, capsys, "node 'q3'", fragment)


@pytest.mark.parametrize("scale,fragment", [(0.0, "must be positive and finite"), (-0.25, "must be positive"),
                                            (np.nan, "constant 'q3_s' holds NaN"),
                                            (np.inf, "constant 'q3_s' holds inf")])
def test_quant_scales_zero_negative_nan_inf(scale, fragment, tmp_path, capsys):
    m = set_value(mlp(), "q3_s", scale)
    refused(m, tmp_path, capsys, "node 'q3'", fragment)


def test_qdq_zero_point_and_axis(tmp_path, capsys):
    m = qdq_mlp()
    set_value(m, "w0_zp", np.zeros(0), np.int8)
    refused(m, tmp_path, capsys, "node 'w0_DQ'", "constant 'w0_zp' is empty")
    m = qdq_mlp()
    set_value(m, "w0_zp", np.zeros(5), np.int8)
    refused(m, tmp_path, capsys, "node 'w0_DQ'", "sizes [5] do not match axis 1 of 'w0'")


# ---- opsets, domains, ops, attributes --------------------------------------------------------------------------------
def test_unknown_and_missing_opsets(tmp_path, capsys):
    m = mlp()
    m.opset_import[0].version = 99
    refused(m, tmp_path, capsys, "opset 99 is not supported")
    m = mlp()
    del m.opset_import[0]
    refused(m, tmp_path, capsys, "imports no standard ONNX opset")
    m = mlp()
    m.opset_import.append(helper.make_opsetid("ai.onnx", 17))
    refused(m, tmp_path, capsys, "imports opset domain 'ai.onnx' twice")


def test_unknown_domain(tmp_path, capsys):
    m = mlp()
    node(m, "fc4").domain = "com.microsoft"
    refused(m, tmp_path, capsys, "node 'fc4'", "MatMul in domain 'com.microsoft' is not supported")
    m = mlp()
    node(m, "q3").domain = "com.example"
    refused(m, tmp_path, capsys, "node 'q3'", "Quant in domain 'com.example'")


def test_unknown_op_and_op_missing_from_the_opset(tmp_path, capsys):
    m = mlp()
    node(m, "fc4").op_type = "Erf"
    refused(m, tmp_path, capsys, "node 'fc4'", "op Erf is not supported (supported: ")
    m = float_mlp(sizes=(4, 3), opset=11)   # HardSwish came with opset 14
    m.graph.node.append(helper.make_node("HardSwish", ["g0"], ["h"], name="hs"))
    m.graph.output[0].name = "h"
    refused(m, tmp_path, capsys, "node 'hs'", "HardSwish does not exist in ONNX opset 11")


def test_attributes_of_the_wrong_type_unknown_or_missing(tmp_path, capsys):
    m = float_mlp(sizes=(4, 3))
    a = next(a for a in node(m, "gemm0").attribute if a.name == "transB")
    a.CopyFrom(helper.make_attribute("transB", 1.0))
    refused(m, tmp_path, capsys, "node 'gemm0'", "attribute 'transB' is of type FLOAT, Gemm needs INT")
    m = float_mlp(sizes=(4, 3))
    node(m, "gemm0").attribute.append(helper.make_attribute("transC", 1))
    refused(m, tmp_path, capsys, "node 'gemm0'", "no attribute 'transC'")
    m = float_mlp(sizes=(4, 3))
    node(m, "gemm0").attribute.append(helper.make_attribute("alpha", float("nan")))
    refused(m, tmp_path, capsys, "node 'gemm0'", "attribute 'alpha' is nan")
    m = mlp()
    m.graph.node.append(helper.make_node("Concat", ["q7_out", "q7_out"], ["cat"], name="cat"))
    m.graph.output[0].name = "cat"
    refused(m, tmp_path, capsys, "node 'cat'", "Concat needs attribute 'axis'")


def test_names_that_are_not_text(tmp_path, capsys):
    data = mlp().SerializeToString().replace(b"fc4_bias", b"fc4\xff\xfeias")
    refused(data, tmp_path, capsys, "node name", "is not UTF-8 text")


# ---- the last line of defence ----------------------------------------------------------------------------------------
def test_a_bug_in_the_frontend_is_one_line_exit_70_and_no_out(tmp_path, capsys, monkeypatch):
    from edgecc.frontend.onnx import HANDLERS

    def broken(ctx, node):
        raise RuntimeError("a handler bug\nwith a second line")

    monkeypatch.setitem(HANDLERS, "MatMul", broken)
    code, lines = compile_cli(mlp(), tmp_path, capsys)
    assert code == INTERNAL_ERROR == 70 and len(lines) == 1, lines
    assert lines[0].startswith("edgecc: internal error: RuntimeError: a handler bug with a second line")
    assert "test_validation.py" not in lines[0] and "bug in edgecc" in lines[0]


def test_a_bug_while_writing_out_leaves_no_out(tmp_path, capsys, monkeypatch):
    from edgecc.backends import get_backend

    backend = get_backend("c")

    def emit_then_fail(g, sched, board, out_dir, version):
        with open(os.path.join(out_dir, "half.c"), "w") as f:
            f.write("int x;")
        raise KeyError("emitter bug")

    monkeypatch.setattr(backend, "emit", emit_then_fail)
    code, lines = compile_cli(mlp(), tmp_path, capsys)
    assert code == INTERNAL_ERROR and len(lines) == 1 and "KeyError" in lines[0], lines
    assert not (tmp_path / "OUT").exists()
