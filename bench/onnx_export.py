#!/usr/bin/env python3
"""The ECG encoder against ONNX Runtime on the same weights.

Reads a mets model file (models/FORMAT.md) with numpy, builds the graph mets_ecgenc_encode runs
(models/ecgenc.c) in ONNX, checks that the C encoder and ONNX Runtime give the same embeddings for the
same real windows, and prints windows/s of both side by side at batch 1, 8, 32 and 128 on 1 and 2 threads.

The graph's input is the encoder's: x[n, 24, samples], the 12 standard leads (zeros where missing) and
12 constant channels, 1 where the lead is present, as ecg/preprocess.h builds them; bench_dump_embeddings
cuts real windows that way. Then, as the C code: stem conv k7/2 + bias, ReLU, max pool 3/2 pad 1; basic
residual blocks (conv, ReLU, conv, + shortcut or its 1x1 projection, ReLU); global average pool; the
linear ECG head; x / max(||x||, 1e-12). Batch norm is already folded into the convolutions in the file;
f16 tensors are widened to f32 exactly as the C loader does.

usage: onnx_export.py [--model M] [--onnx OUT] [--record R] [--build DIR] [--seconds S] [--rounds N] [--cpu]
"""
import argparse
import os
import struct
import subprocess
import sys
import threading
import time
import zlib

import numpy as np

DTYPES = {0: np.float32, 1: np.int32, 2: np.uint8, 3: np.float16}


def read_mets(path):
    """Returns (metadata dict, tensors dict of numpy arrays) of a mets model file, checked as the C reader does
    for the parts this script relies on: magic, version, size, trailer, checksum."""
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:8] != b"METSMDL\0":
        sys.exit(f"{path}: not a mets model file")
    version, meta_count, file_size, tensor_count, _ = struct.unpack_from("<IIQII", buf, 8)
    if version != 1 or file_size != len(buf) or buf[-8:] != b"METSEND\0":
        sys.exit(f"{path}: version {version}, {len(buf)} bytes (header says {file_size}), or no end marker")
    if struct.unpack_from("<I", buf, len(buf) - 12)[0] != zlib.crc32(buf[: len(buf) - 12]):
        sys.exit(f"{path}: corrupted: checksum mismatch")
    pos = 32

    def u32():
        nonlocal pos
        pos += 4
        return struct.unpack_from("<I", buf, pos - 4)[0]

    def name():
        nonlocal pos
        n = u32()
        s = buf[pos : pos + n].decode("utf-8", "replace")
        pos += n + 1
        return s

    meta = {}
    for _ in range(meta_count):
        key, kind = name(), u32()
        if kind in (0, 1):
            meta[key] = struct.unpack_from("<q" if kind == 0 else "<d", buf, pos)[0]
            pos += 8
        elif kind == 2:
            n = u32()
            meta[key] = buf[pos : pos + n]
            pos += n
        else:
            count = u32()
            ends = struct.unpack_from(f"<{count}I", buf, pos)
            pos += 4 * count
            blob = buf[pos : pos + (ends[-1] if count else 0)]
            pos += len(blob)
            meta[key] = [blob[a:b] for a, b in zip((0,) + ends[:-1], ends)]
    tensors = {}
    for _ in range(tensor_count):
        tname, dtype, ndim = name(), u32(), u32()
        dims = struct.unpack_from(f"<{ndim}q", buf, pos)
        pos += 8 * ndim
        offset, nbytes = struct.unpack_from("<QQ", buf, pos)
        pos += 16
        a = np.frombuffer(buf, DTYPES[dtype], count=nbytes // np.dtype(DTYPES[dtype]).itemsize, offset=offset)
        tensors[tname] = a.reshape(dims)
    return meta, tensors


def arch_of(meta):
    """mets_ecgenc_arch_read: the sizes of the network from the metadata."""
    if meta.get("model.arch") != b"mets-resnet1d":
        sys.exit(f"model.arch is {meta.get('model.arch')!r}, expected b'mets-resnet1d'")
    stages = meta["enc.stages"]
    return {
        "samples": meta["ecg.samples"],
        "rate_hz": meta["ecg.rate_hz"],
        "stem": meta["enc.stem_channels"],
        "kernel": meta["enc.kernel"],
        "channels": [meta[f"enc.stage{s}.channels"] for s in range(stages)],
        "blocks": [meta[f"enc.stage{s}.blocks"] for s in range(stages)],
        "embed_dim": meta["head.embed_dim"],
    }


def build_onnx(meta, tensors):
    """The graph of mets_ecgenc_encode, with the file's weights as f32 initializers."""
    from onnx import TensorProto, helper, numpy_helper

    a = arch_of(meta)
    nodes, inits = [], []

    def f32(name):
        t = tensors[name].astype(np.float32)  # f16 -> f32 is exact, as mets_f16_to_f32
        inits.append(numpy_helper.from_array(t, name))
        return name

    def conv(x, prefix, k, stride, out):
        nodes.append(helper.make_node("Conv", [x, f32(prefix + ".weight"), f32(prefix + ".bias")], [out],
                                      kernel_shape=[k], strides=[stride], pads=[k // 2, k // 2], name=prefix))
        return out

    def relu(x, out):
        nodes.append(helper.make_node("Relu", [x], [out]))
        return out

    h = relu(conv("x", "stem", 7, 2, "stem"), "stem_relu")
    nodes.append(helper.make_node("MaxPool", [h], ["pool"], kernel_shape=[3], strides=[2], pads=[1, 1]))
    h, cin = "pool", a["stem"]
    for s, (cout, blocks) in enumerate(zip(a["channels"], a["blocks"])):
        for b in range(blocks):
            p, stride = f"stage{s}.block{b}", 2 if (b == 0 and s > 0) else 1
            t = relu(conv(h, p + ".conv1", a["kernel"], stride, p + ".c1"), p + ".r1")
            y = conv(t, p + ".conv2", a["kernel"], 1, p + ".c2")
            shortcut = h
            if stride != 1 or cin != cout:
                shortcut = conv(h, p + ".down", 1, stride, p + ".sc")
            nodes.append(helper.make_node("Add", [y, shortcut], [p + ".add"]))
            h, cin = relu(p + ".add", p + ".out"), cout
    nodes.append(helper.make_node("GlobalAveragePool", [h], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["pooled"], axis=1))
    nodes.append(helper.make_node("Gemm", ["pooled", f32("head.ecg.weight"), f32("head.ecg.bias")], ["proj"],
                                  transB=1))
    inits.append(numpy_helper.from_array(np.array([1e-12], np.float32), "eps"))
    nodes.append(helper.make_node("ReduceL2", ["proj"], ["norm"], axes=[1], keepdims=1))
    nodes.append(helper.make_node("Max", ["norm", "eps"], ["norm_clamped"]))
    nodes.append(helper.make_node("Div", ["proj", "norm_clamped"], ["emb"]))
    graph = helper.make_graph(
        nodes, "mets-ecg-encoder",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 24, a["samples"]])],
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["n", a["embed_dim"]])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mets")
    model.ir_version = 8
    return model


def session(path, threads):
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.intra_op_num_threads, o.inter_op_num_threads = threads, 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def ort_rate(sessions, x, seconds, clock=time.perf_counter):
    """Windows/s of the sessions running batch x at the same time, one Python thread each (ORT releases
    the GIL while it runs), by `clock` (time.thread_time: CPU time of each thread, which with intra_op 1
    is where ORT runs)."""
    rates = [0.0] * len(sessions)
    barrier = threading.Barrier(len(sessions))

    def run(i):
        s = sessions[i]
        s.run(None, {"x": x})
        barrier.wait()
        calls, t0 = 0, clock()
        while True:
            s.run(None, {"x": x})
            calls += 1
            dt = clock() - t0
            if dt >= seconds:
                break
        rates[i] = calls * len(x) / dt

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sessions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(rates)


def ours_rate(bench, model, batch, threads, seconds, cpu=False):
    out = subprocess.run([bench, "--tsv", "--batch", str(batch), "--threads", str(threads), "--seconds",
                          str(seconds)] + (["--cpu"] if cpu else []) + [model], check=True, capture_output=True, text=True,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1")).stdout.split()
    return float(out[2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="models/mets-ecg.mets")
    ap.add_argument("--onnx", default="build/bench/mets-ecg.onnx")
    ap.add_argument("--record", default="demo/mitdb_201_demo")
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="measurements per point; the best one counts")
    ap.add_argument("--cpu", action="store_true",
                    help="1 thread only, timed in CPU time of the encoding thread (both sides), so that other jobs "
                         "on a shared machine do not count")
    args = ap.parse_args()
    import onnx
    import onnxruntime as ort

    meta, tensors = read_mets(args.model)
    model = build_onnx(meta, tensors)
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(args.onnx) or ".", exist_ok=True)
    onnx.save(model, args.onnx)
    print(f"ONNX: {args.onnx} (onnx {onnx.__version__}, onnxruntime {ort.__version__}, "
          f"{sum(t.size for t in tensors.values() if t.dtype != np.uint8):,} weights)")

    # Parity: the same real windows through both.
    prefix = os.path.join(os.path.dirname(args.onnx), "parity")
    n, samples, dim = map(int, subprocess.run(
        [os.path.join(args.build, "bench/bench_dump_embeddings"), args.model, args.record, "64", prefix],
        check=True, capture_output=True, text=True).stdout.split())
    x = np.fromfile(prefix + ".x.f32", np.float32).reshape(n, 24, samples)
    ours = np.fromfile(prefix + ".emb.f32", np.float32).reshape(n, dim)
    theirs = session(args.onnx, 1).run(None, {"x": x})[0]
    present = [i for i in range(12) if x[0, 12 + i, 0] == 1]
    print(f"parity on {n} windows of {args.record} (10 s every 2 s, leads present: {present}): "
          f"max |C - ORT| = {np.abs(ours - theirs).max():.2e}, min cosine "
          f"{(ours * theirs).sum(1).min():.7f}")

    # Speed: alternate ours and ORT at every point and keep each one's best round, so that other jobs on a
    # shared machine hit both alike and a round they slowed down does not count.
    bench = os.path.join(args.build, "bench/bench_encoder")
    xb = np.ascontiguousarray(np.resize(x, (128, 24, samples)))
    goals = {1: 2.0, 32: 1.2}
    clock = time.thread_time if args.cpu else time.perf_counter
    print(f"\nwindows/s, ours (C, OpenBLAS 1 thread per worker) vs ONNX Runtime (ORT_ENABLE_ALL, inter_op 1); "
          f"best of {args.rounds} x {args.seconds:g} s per point, alternating"
          + ("; in CPU time of the encoding thread" if args.cpu else ""))
    if not args.cpu:
        print("2 threads: ours = 2 workers, each its own batches; ORT = the better of intra_op 2 on one session and "
              "2 sessions x intra_op 1")
    print(f"{'threads':>7} {'batch':>6} {'ours':>9} {'ORT':>9} {'ORT 2x1':>9} {'ours/ORT':>9}  goal")
    for threads in (1,) if args.cpu else (1, 2):
        one = session(args.onnx, threads)
        pair = [session(args.onnx, 1), session(args.onnx, 1)] if threads == 2 else None
        for batch in (1, 8, 32, 128):
            xs = xb[:batch]
            ours_r = ort_r = ort2_r = 0.0
            for _ in range(args.rounds):
                ours_r = max(ours_r, ours_rate(bench, args.model, batch, threads, args.seconds, args.cpu))
                ort_r = max(ort_r, ort_rate([one], xs, args.seconds, clock))
                ort2_r = max(ort2_r, ort_rate(pair, xs, args.seconds, clock)) if pair else float("nan")
            best = max(ort_r, ort2_r) if pair else ort_r
            ratio = ours_r / best
            goal = goals.get(batch)
            note = f">= {goal:g}x: {'met' if ratio >= goal else 'MISSED'}" if goal else ""
            ort2 = f"{ort2_r:9.1f}" if pair else f"{'':>9}"
            print(f"{threads:>7} {batch:>6} {ours_r:9.1f} {ort_r:9.1f} {ort2} {ratio:8.2f}x  {note}", flush=True)


if __name__ == "__main__":
    main()
