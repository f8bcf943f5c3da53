// edgecc HLS layer library: every layer computes exactly what the edgecc IR defines, bit for bit.
//
// Two I/O styles share one library. io_parallel: every tensor is an array, the top is one pipelined function and
// every layer is inlined into it. io_stream (parameters.h defines EDGECC_IO_STREAM): every tensor is an
// hls::stream of pixels (all channels of one position per element, in C order), every layer is a DATAFLOW
// process. Layers that read their input in order (elementwise, Pad, Concat, Resize, Transpose, Softmax, ...) are
// written once over "ports" (an array or a stream, read and written a pixel at a time); windowed layers (Conv,
// MaxPool, AvgPool) gather their windows from the array directly, or from a line buffer in the stream style, and
// share the per-output arithmetic (the kernels below).
#ifndef EDGECC_LAYERS_H_
#define EDGECC_LAYERS_H_

#include "ap_fixed.h"
#include "ap_int.h"
#include "hls_stream.h"
#include <stdint.h>

#ifdef EDGECC_IO_STREAM
#define EDGECC_LAYER  // each layer is a process of the top's DATAFLOW region
#else
#define EDGECC_LAYER _Pragma("HLS INLINE")
#endif

// The io_parallel top's feature maps: static in C simulation (a large CNN's maps would not fit the stack; every
// element is written before it is read, so nothing carries over between calls), plain arrays in synthesis.
#ifdef __SYNTHESIS__
#define EDGECC_CSIM_STATIC
#else
#define EDGECC_CSIM_STATIC static
#endif

namespace edgecc {

enum Rounding { ROUND_AP = 0, ROUND_CEIL = 1, ROUND_UP = 2 };

// The IR's rounding modes on integers (AvgPool's division, Softmax's shifts).
enum IntRounding {
    INT_FLOOR, INT_CEIL, INT_DOWN, INT_UP, INT_HALF_EVEN, INT_HALF_UP, INT_HALF_DOWN, INT_HALF_POS_INF, INT_HALF_NEG_INF
};

// A fixed-point value from its integer code (its bits): constants are stored as plain integer codes, which
// compile fast and map to ROMs; setBits reinterprets them without arithmetic (and wraps wider codes).
template <class T, class C> T from_bits(C code) {
    T v;
    v.setBits((ap_ulong)(long long)code);
    return v;
}
// A value from a decimal integer code of any width (codes beyond 64 bits, e.g. a wide clamp bound).
template <class T> T from_decimal(const char *code) {
    ap_int<T::width> bits(code, 10);
    T v;
    v.range(T::width - 1, 0) = bits.range(T::width - 1, 0);
    return v;
}
template <class T> long long signed_code(const T &v) {
    ap_int<T::width> r = v.range(T::width - 1, 0);
    return r.to_int64();
}
template <class T> unsigned long long unsigned_code(const T &v) {
    ap_uint<T::width> r = v.range(T::width - 1, 0);
    return r.to_uint64();
}
// The integer code of a value of T (signed or not) as a signed integer one bit wider.
template <class T> ap_int<T::width + 1> code(const T &v) {
    ap_fixed<T::width + 1, T::iwidth + 1> wide = v;  // exact: the same fraction, one more integer bit
    ap_int<T::width + 1> c = wide.range(T::width, 0);
    return c;
}

// round(num / den) for den > 0, exactly as the IR's divide_round: floor division, then one step up where the
// rounding mode says so. T must hold 2 * den.
template <int MODE, class T> T divide_round(const T &num, const T &den) {
    T q = num / den;  // toward zero
    T r = num - q * den;
    if (r < 0) {  // floor: 0 <= r < den
        q = q - 1;
        r = r + den;
    }
    const T twice = r + r;
    bool up = false;
    if (MODE == INT_CEIL) up = r != 0;
    if (MODE == INT_DOWN) up = r != 0 && num < 0;
    if (MODE == INT_UP) up = r != 0 && !(num < 0);
    if (MODE == INT_HALF_EVEN) up = twice > den || (twice == den && q[0] == 1);
    if (MODE == INT_HALF_UP) up = twice > den || (twice == den && !(num < 0));
    if (MODE == INT_HALF_DOWN) up = twice > den || (twice == den && num < 0);
    if (MODE == INT_HALF_POS_INF) up = !(twice < den);
    if (MODE == INT_HALF_NEG_INF) up = twice > den;
    return up ? T(q + 1) : q;
}
// round(v * 2^-SHIFT) with an IR rounding mode (SHIFT <= 0: an exact left shift). T must hold v << -SHIFT.
template <int MODE, int SHIFT, class T> T shift_round(const T &v) {
    if (SHIFT <= 0) return v << (SHIFT < 0 ? -SHIFT : 0);
    T unit = 1;
    unit <<= (SHIFT > 0 ? SHIFT : 0);
    return divide_round<MODE>(v, unit);
}

// ---- pixels and ports ---------------------------------------------------------------------------------------
// A stream element: all C channels of one position.
template <class T, int C> struct pixel {
    typedef T value_type;
    static const int size = C;
    T data[C];
    T &operator[](int i) { return data[i]; }
    const T &operator[](int i) const { return data[i]; }
};

template <class T> struct is_stream {
    static const bool value = false;
};
template <class T> struct is_stream<hls::stream<T> > {
    static const bool value = true;
};

// A tensor read or written a pixel at a time, in C order: an array, or a stream of pixels.
template <class T, int C> struct ArrayReader {
    const T *a;
    int at;
    pixel<T, C> read() {
        pixel<T, C> v;
        for (int c = 0; c < C; c++) v[c] = a[at + c];
        at += C;
        return v;
    }
};
template <class T, int C> struct ArrayWriter {
    T *a;
    int at;
    void write(const pixel<T, C> &v) {
        for (int c = 0; c < C; c++) a[at + c] = v[c];
        at += C;
    }
};
template <class T, int C> struct StreamPort {
    hls::stream<pixel<T, C> > &s;
    pixel<T, C> read() { return s.read(); }
    void write(const pixel<T, C> &v) { s.write(v); }
};
template <class T, int C> ArrayReader<T, C> reader(const T *a) {
    ArrayReader<T, C> r = {a, 0};
    return r;
}
template <class T, int C> StreamPort<T, C> reader(hls::stream<pixel<T, C> > &s) {
    StreamPort<T, C> r = {s};
    return r;
}
template <class T, int C> ArrayWriter<T, C> writer(T *a) {
    ArrayWriter<T, C> w = {a, 0};
    return w;
}
template <class T, int C> StreamPort<T, C> writer(hls::stream<pixel<T, C> > &s) {
    StreamPort<T, C> w = {s};
    return w;
}

// Values written one at a time, sent on as pixels of C (a change of the pixel size keeps the C order).
template <class T, int C, class OUT> struct Packer {
    OUT &out;
    pixel<T, C> buf;
    int k;
    explicit Packer(OUT &o) : out(o), k(0) {}
    void put(const T &v) {
        buf[k++] = v;
        if (k == C) {
            out.write(buf);
            k = 0;
        }
    }
};

// ---- elementwise ops: one value in, one value out (i: the element's flat index, for broadcast constants) ---
template <class X, class Y, int N, int C, class XS, class YS, class F> void map(XS &x, YS &y, const F &f) {
    auto in = reader<X, C>(x);
    auto out = writer<Y, C>(y);
Pixels:
    for (int p = 0; p < N / C; p++) {
#pragma HLS PIPELINE II = 1
        const pixel<X, C> v = in.read();
        pixel<Y, C> r;
        for (int c = 0; c < C; c++) r[c] = f(v[c], p * C + c);
        out.write(r);
    }
}

template <class X, class Y> struct CastOp {
    Y operator()(const X &x, int) const { return (Y)x; }
};
template <class X, class Y> struct ReluOp {
    Y operator()(const X &x, int) const { return x < 0 ? (Y)0 : (Y)x; }
};
template <class X, class Y> struct ClipOp {
    X lo, hi;
    Y operator()(const X &x, int) const { return x < lo ? (Y)lo : (hi < x ? (Y)hi : (Y)x); }
};
// x >= 0: x; below: x * alpha (exact: Y has the product's fraction).
template <class X, class A, class Y> struct LeakyReluOp {
    A alpha;
    Y operator()(const X &x, int) const { return x < 0 ? (Y)(x * alpha) : (Y)x; }
};
// A constant operand of K codes broadcast against the trailing axes: element i pairs with c[i % K].
template <class X, class CT, class Y, int K, class CC> struct MulConstOp {
    const CC *c;
    Y operator()(const X &x, int i) const { return (Y)(x * from_bits<CT>(c[i % K])); }
};
template <class A, class B, class Y, int K, class BC> struct AddConstOp {
    const BC *b;
    Y operator()(const A &a, int i) const { return (Y)a + (Y)from_bits<B>(b[i % K]); }
};
// y = table[code(x) - LO]: a ROM over every code of X.
template <class X, class Y, int LO, class TC> struct TableOp {
    const TC *table;
    Y operator()(const X &x, int) const { return from_bits<Y>(table[(code(x) - LO).to_int()]); }
};
// Requantization that no ap_fixed mode expresses: CEIL and UP rounding, or a clamp range other than the
// type's own (QONNX narrow unsigned, ONNX zero points). R has Y's fractional bits and room for any rounded
// value; its own mode rounds (AP_TRN for CEIL/UP, which then add one step to inexact values).
template <class X, class R, class Y, int MODE, bool SATURATE> struct QuantizeOp {
    R lo, hi;
    Y operator()(const X &x, int) const {
        R step = 0;
        step[0] = 1;
        R r = x;
        const bool inexact = (r != x);
        if (MODE == ROUND_CEIL && inexact) r += step;
        if (MODE == ROUND_UP && inexact && !(x < 0)) r += step;  // below 0, floor is already away from 0
        if (SATURATE) {
            if (r < lo) r = lo;
            if (r > hi) r = hi;
        }
        return (Y)r;
    }
};

// The IR's Requantize (TFLite's integer requantization): for channel k = i % K, the code times M[k] = M0 * 2^left
// (exact in PW bits), divided by 2^31 rounding half toward +infinity (SaturatingRoundingDoublingHighMul), then by
// 2^R[k] rounding half away from zero (RoundingDivideByPOT), clamped to [lo, hi] (Y's codes).
template <class X, class Y, int K, int PW, class MC, class RC> struct RequantizeOp {
    const MC *m;
    const RC *r;
    long long lo, hi;
    Y operator()(const X &x, int i) const {
        const ap_int<PW> p = ap_int<PW>(code(x)) * ap_int<PW>((long long)m[i % K]);
        ap_int<PW> h = (p + (ap_int<PW>(1) << 30)) >> 31;
        const int right = (int)r[i % K];
        if (right > 0) h = (h + (ap_int<PW>(1) << (right - 1)) - ap_int<PW>(h < 0 ? 1 : 0)) >> right;
        if (h < lo) h = lo;
        if (h > hi) h = hi;
        return from_bits<Y>(h.to_int64());
    }
};

template <class X, class Y, int N, int C, class XS, class YS> void copy(XS &x, YS &y) {
    EDGECC_LAYER
    map<X, Y, N, C>(x, y, CastOp<X, Y>());
}
// Requantization where Y's own ap_fixed modes say it all (rounding and saturation): a cast.
template <class X, class Y, int N, int C, class XS, class YS> void quantize_cast(XS &x, YS &y) {
    EDGECC_LAYER
    map<X, Y, N, C>(x, y, CastOp<X, Y>());
}
template <class X, class R, class Y, int MODE, bool SATURATE, int N, int C, class XS, class YS>
void quantize_explicit(XS &x, YS &y, const R lo, const R hi) {
    EDGECC_LAYER
    const QuantizeOp<X, R, Y, MODE, SATURATE> op = {lo, hi};
    map<X, Y, N, C>(x, y, op);
}
template <class X, class Y, int N, int C, class XS, class YS> void relu(XS &x, YS &y) {
    EDGECC_LAYER
    map<X, Y, N, C>(x, y, ReluOp<X, Y>());
}
template <class X, class Y, int N, int C, class XS, class YS> void clip(XS &x, YS &y, const X lo, const X hi) {
    EDGECC_LAYER
    const ClipOp<X, Y> op = {lo, hi};
    map<X, Y, N, C>(x, y, op);
}
template <class X, class A, class Y, int N, int C, class XS, class YS> void leaky_relu(XS &x, YS &y, const A alpha) {
    EDGECC_LAYER
    const LeakyReluOp<X, A, Y> op = {alpha};
    map<X, Y, N, C>(x, y, op);
}
template <class X, class CT, class Y, int N, int C, int K, class XS, class YS, class CC>
void mul_const(XS &x, YS &y, const CC c[K]) {
    EDGECC_LAYER
    const MulConstOp<X, CT, Y, K, CC> op = {c};
    map<X, Y, N, C>(x, y, op);
}
template <class A, class B, class Y, int N, int C, int K, class AS, class YS, class BC>
void add_const(AS &a, YS &y, const BC b[K]) {
    EDGECC_LAYER
    const AddConstOp<A, B, Y, K, BC> op = {b};
    map<A, Y, N, C>(a, y, op);
}
template <class X, class Y, int N, int C, int K, int PW, class XS, class YS, class MC, class RC>
void requantize(XS &x, YS &y, const MC m[K], const RC r[K], const long long lo, const long long hi) {
    EDGECC_LAYER
    const RequantizeOp<X, Y, K, PW, MC, RC> op = {m, r, lo, hi};
    map<X, Y, N, C>(x, y, op);
}
template <class X, class Y, int N, int C, int LO, int SIZE, class XS, class YS, class TC>
void table(XS &x, YS &y, const TC t[SIZE]) {
    EDGECC_LAYER
    const TableOp<X, Y, LO, TC> op = {t};
    map<X, Y, N, C>(x, y, op);
}

// Elementwise sum of two tensors of one shape; Y holds every sum exactly.
template <class A, class B, class Y, int N, int C, class AS, class BS, class YS> void add(AS &a, BS &b, YS &y) {
    EDGECC_LAYER
    auto ina = reader<A, C>(a);
    auto inb = reader<B, C>(b);
    auto out = writer<Y, C>(y);
Pixels:
    for (int p = 0; p < N / C; p++) {
#pragma HLS PIPELINE II = 1
        const pixel<A, C> va = ina.read();
        const pixel<B, C> vb = inb.read();
        pixel<Y, C> r;
        for (int c = 0; c < C; c++) r[c] = (Y)va[c] + (Y)vb[c];
        out.write(r);
    }
}

// A stream read by several layers: every pixel goes to both outputs (chained for more readers).
template <class X, int N, int C>
void fork_stream(hls::stream<pixel<X, C> > &x, hls::stream<pixel<X, C> > &a, hls::stream<pixel<X, C> > &b) {
Pixels:
    for (int p = 0; p < N / C; p++) {
#pragma HLS PIPELINE II = 1
        const pixel<X, C> v = x.read();
        a.write(v);
        b.write(v);
    }
}

// ---- data movement ------------------------------------------------------------------------------------------
// The same values in C order, in pixels of CY (a Reshape; a cast to Y, which holds X exactly).
template <class X, class Y, int N, int CX, int CY, class XS, class YS> void reshape(XS &x, YS &y) {
    EDGECC_LAYER
    auto in = reader<X, CX>(x);
    auto out = writer<Y, CY>(y);
    Packer<Y, CY, decltype(out)> pack(out);
Pixels:
    for (int p = 0; p < N / CX; p++) {
#pragma HLS PIPELINE II = 1
        const pixel<X, CX> v = in.read();
        for (int c = 0; c < CX; c++) pack.put((Y)v[c]);
    }
}

// Two tensors joined along an axis: seen as [OUTER, block] each, the output takes per outer index B0 values of
// x0 then B1 of x1 (Y holds both types exactly: the finer fraction, the wider range).
template <class X0, class X1, class Y, int OUTER, int B0, int B1, int C0, int C1, int CY, class XS0, class XS1,
          class YS>
void concat(XS0 &x0, XS1 &x1, YS &y) {
    EDGECC_LAYER
    auto in0 = reader<X0, C0>(x0);
    auto in1 = reader<X1, C1>(x1);
    auto out = writer<Y, CY>(y);
    Packer<Y, CY, decltype(out)> pack(out);
Outer:
    for (int o = 0; o < OUTER; o++) {
    First:
        for (int p = 0; p < B0 / C0; p++) {
#pragma HLS PIPELINE II = 1
            const pixel<X0, C0> v = in0.read();
            for (int c = 0; c < C0; c++) pack.put((Y)v[c]);
        }
    Second:
        for (int p = 0; p < B1 / C1; p++) {
#pragma HLS PIPELINE II = 1
            const pixel<X1, C1> v = in1.read();
            for (int c = 0; c < C1; c++) pack.put((Y)v[c]);
        }
    }
}

// Constant padding of a [D0, D1, D2] tensor (every axis; lower ranks have leading 1s) to [O0, O1, O2], P0..P2
// before: positions outside the input hold `value`.
template <class X, class Y, int D0, int D1, int D2, int O0, int O1, int O2, int P0, int P1, int P2, class XS,
          class YS>
void pad(XS &x, YS &y, const Y value) {
    EDGECC_LAYER
    auto in = reader<X, D2>(x);
    auto out = writer<Y, O2>(y);
Rows:
    for (int i = 0; i < O0; i++) {
    Cols:
        for (int j = 0; j < O1; j++) {
#pragma HLS PIPELINE II = 1
            const bool inside = i >= P0 && i < P0 + D0 && j >= P1 && j < P1 + D1;
            pixel<X, D2> v;
            if (inside) v = in.read();
            pixel<Y, O2> r;
            for (int c = 0; c < O2; c++) {
                const bool real = inside && c >= P2 && c < P2 + D2;
                r[c] = real ? (Y)v[real ? c - P2 : 0] : value;
            }
            out.write(r);
        }
    }
}

// Nearest-neighbour resampling of a [H, W, C] tensor: output (i, j) reads input (rows[i], cols[j]). rows must not
// decrease (ONNX's nearest maps never do): one input row is buffered at a time.
template <class X, class Y, int H, int W, int C, int OH, int OW, class XS, class YS, class MC>
void resize(XS &x, YS &y, const MC rows[OH], const MC cols[OW]) {
    EDGECC_LAYER
    auto in = reader<X, C>(x);
    auto out = writer<Y, C>(y);
    pixel<Y, C> line[W];
    int loaded = -1;
Rows:
    for (int i = 0; i < OH; i++) {
    Load:
        for (; loaded < (int)rows[i];) {
            loaded++;
            for (int j = 0; j < W; j++) {
#pragma HLS PIPELINE II = 1
                const pixel<X, C> v = in.read();
                for (int c = 0; c < C; c++) line[j][c] = v[c];
            }
        }
    Cols:
        for (int j = 0; j < OW; j++) {
#pragma HLS PIPELINE II = 1
            out.write(line[cols[j]]);
        }
    }
Drain:  // rows no output reads
    for (int r = loaded + 1; r < H; r++) {
        for (int j = 0; j < W; j++) {
#pragma HLS PIPELINE II = 1
            in.read();
        }
    }
}

// Axes of a [D0, D1, D2] tensor permuted: output axis k is input axis Pk. The whole tensor is buffered.
template <class X, class Y, int D0, int D1, int D2, int P0, int P1, int P2, class XS, class YS>
void transpose(XS &x, YS &y) {
    EDGECC_LAYER
    const int dims[3] = {D0, D1, D2};
    const int strides[3] = {D1 * D2, D2, 1};
    const int O1 = dims[P1], O2 = dims[P2];
    const int CY = P2 == 0 ? D0 : (P2 == 1 ? D1 : D2);
    auto in = reader<X, D2>(x);
    auto out = writer<Y, CY>(y);
    Packer<Y, CY, decltype(out)> pack(out);
    Y frame[D0 * D1 * D2];
Load:
    for (int p = 0; p < D0 * D1; p++) {
#pragma HLS PIPELINE II = 1
        const pixel<X, D2> v = in.read();
        for (int c = 0; c < D2; c++) frame[p * D2 + c] = v[c];
    }
Emit:
    for (int i = 0; i < D0 * D1 * D2; i++) {
#pragma HLS PIPELINE II = 1
        const int o0 = i / (O1 * O2), o1 = (i / O2) % O1, o2 = i % O2;
        pack.put(frame[o0 * strides[P0] + o1 * strides[P1] + o2 * strides[P2]]);
    }
}

// ---- Softmax over the last axis, on integer codes (the IR's exact algorithm) ---------------------------------
// d = x - max (clamped to EXP_LO), e = EXP[d - EXP_LO], s = sum e, s' = floor(s * 2^-SUM_SHIFT) clamped to
// [INV_LO, INV_HI], r = INV[s' - INV_LO], y = round_half_even(e * r * 2^-OUT_SHIFT) saturated to [Y_LO, Y_HI].
// SW and PW: widths that hold the sum and the product exactly.
template <class X, class Y, int N, int ROWS, int EXP_LO, int INV_LO, int INV_HI, int SUM_SHIFT, int OUT_SHIFT, int SW,
          int PW, long long Y_LO, long long Y_HI, class XS, class YS, class EC, class IC>
void softmax(XS &x, YS &y, const EC exp_table[], const IC inv_table[]) {
    EDGECC_LAYER
    auto in = reader<X, N>(x);
    auto out = writer<Y, N>(y);
Rows:
    for (int row = 0; row < ROWS; row++) {
#pragma HLS PIPELINE II = 1
        const pixel<X, N> v = in.read();
        ap_int<X::width + 1> top = code(v[0]);
        for (int i = 1; i < N; i++) {
            if (code(v[i]) > top) top = code(v[i]);
        }
        ap_int<SW> e[N];
        ap_int<SW> sum = 0;
        for (int i = 0; i < N; i++) {
            ap_int<X::width + 2> d = code(v[i]) - top;
            if (d < EXP_LO) d = EXP_LO;
            e[i] = exp_table[(d - EXP_LO).to_int()];
            sum += e[i];
        }
        ap_int<SW> s = shift_round<INT_FLOOR, SUM_SHIFT>(sum);
        if (s < INV_LO) s = INV_LO;
        if (s > INV_HI) s = INV_HI;
        const ap_int<PW> r = inv_table[(s - INV_LO).to_int()];
        pixel<Y, N> o;
        for (int i = 0; i < N; i++) {
            ap_int<PW> q = shift_round<INT_HALF_EVEN, OUT_SHIFT>(ap_int<PW>(ap_int<PW>(e[i]) * r));
            if (q < Y_LO) q = Y_LO;
            if (q > Y_HI) q = Y_HI;
            o[i] = from_bits<Y>(q.to_int64());
        }
        out.write(o);
    }
}

// ---- Dense and Conv: products and bias aligned in ACC, which holds every partial sum exactly ---------------
template <class B, class ACC, int N, class BC> void init_bias(ACC acc[N], const BC b[N]) {
    for (int j = 0; j < N; j++) {
#pragma HLS UNROLL
        acc[j] = (ACC)from_bits<B>(b[j]);
    }
}
template <class ACC, class Y, int N, bool RELU> void finish(const ACC acc[N], Y y[N]) {
    for (int j = 0; j < N; j++) {
#pragma HLS UNROLL
        y[j] = (RELU && acc[j] < 0) ? (Y)0 : (Y)acc[j];
    }
}

// y = x @ w + b over the last axis, OUTER rows at a time. ACC holds every partial sum exactly
// (its width comes from the weights' real range), so the order of additions does not matter.
// W and B are the weight and bias types; w and b hold their integer codes (constants propagate into the logic).
// The caller pipelines with II = REUSE; the ALLOCATION limit makes ceil(N_IN * N_OUT / REUSE) multipliers
// serve all products, each one REUSE times per inference.
template <class X, class W, class B, class ACC, class Y, int OUTER, int N_IN, int N_OUT, int REUSE, bool RELU,
          class WC, class BC>
void dense(const X x[OUTER * N_IN], Y y[OUTER * N_OUT], const WC w[N_IN * N_OUT], const BC b[N_OUT]) {
#pragma HLS INLINE
    constexpr int N_MULT = (OUTER * N_IN * N_OUT + REUSE - 1) / REUSE;
    constexpr int BLOCK = (N_IN * N_OUT + REUSE - 1) / REUSE;
#pragma HLS ALLOCATION operation instances=mul limit=N_MULT
#pragma HLS ARRAY_RESHAPE variable=w block factor=BLOCK
#pragma HLS ARRAY_PARTITION variable=b complete
Rows:
    for (int o = 0; o < OUTER; o++) {
#pragma HLS UNROLL
        ACC acc[N_OUT];
#pragma HLS ARRAY_PARTITION variable=acc complete
        init_bias<B, ACC, N_OUT>(acc, b);
    Products:
        for (int k = 0; k < N_IN * N_OUT; k++) {
#pragma HLS UNROLL
            if (w[k] != 0) {  // a zero weight is no multiplier and no adder
                acc[k % N_OUT] += x[o * N_IN + k / N_OUT] * from_bits<W>(w[k]);
            }
        }
        finish<ACC, Y, N_OUT, RELU>(acc, &y[o * N_OUT]);
    }
}

// The same on a stream: each row arrives as N_IN / CX pixels (CX < N_IN: the pixels of a flattened feature map,
// read as they come), one pipeline beat of II = REUSE per pixel; one pixel of N_OUT per row leaves.
template <class X, class W, class B, class ACC, class Y, int OUTER, int N_IN, int N_OUT, int REUSE, bool RELU,
          int CX, class WC, class BC>
void dense(hls::stream<pixel<X, CX> > &x, hls::stream<pixel<Y, N_OUT> > &y, const WC w[N_IN * N_OUT],
           const BC b[N_OUT]) {
    constexpr int N_MULT = (CX * N_OUT + REUSE - 1) / REUSE;
#pragma HLS ALLOCATION operation instances=mul limit=N_MULT
#pragma HLS ARRAY_PARTITION variable=b complete
Rows:
    for (int o = 0; o < OUTER; o++) {
        ACC acc[N_OUT];
#pragma HLS ARRAY_PARTITION variable=acc complete
        init_bias<B, ACC, N_OUT>(acc, b);
    Pixels:
        for (int p = 0; p < N_IN / CX; p++) {
#pragma HLS PIPELINE II = REUSE
            const pixel<X, CX> v = x.read();
            for (int k = 0; k < CX * N_OUT; k++) {
                const WC wk = w[p * CX * N_OUT + k];
                if (wk != 0) acc[k % N_OUT] += v[k / N_OUT] * from_bits<W>(wk);
            }
        }
        pixel<Y, N_OUT> r;
        finish<ACC, Y, N_OUT, RELU>(acc, r.data);
        y.write(r);
    }
}

// ---- windows: Conv, MaxPool, AvgPool --------------------------------------------------------------------------
// The geometry of a sliding window over a [IN_H, IN_W, C_IN] input (1-D: IN_H = K_H = 1). Output (oh, ow), tap
// (kh, kw) reads input row oh * S_H + kh * D_H - PAD_T, column ow * S_W + kw * D_W - PAD_L; outside is padding.
template <int IN_H_, int IN_W_, int C_IN_, int OUT_H_, int OUT_W_, int K_H_, int K_W_, int S_H_, int S_W_, int D_H_,
          int D_W_, int PAD_T_, int PAD_L_>
struct Window {
    static const int IN_H = IN_H_, IN_W = IN_W_, C_IN = C_IN_, OUT_H = OUT_H_, OUT_W = OUT_W_;
    static const int K_H = K_H_, K_W = K_W_, S_H = S_H_, S_W = S_W_, D_H = D_H_, D_W = D_W_;
    static const int PAD_T = PAD_T_, PAD_L = PAD_L_;
    static const int TAPS = K_H_ * K_W_;
    static const int ROWS = (K_H_ - 1) * D_H_ + 1;  // input rows one window spans: the line buffer's height
    static int row(int oh, int kh) { return oh * S_H_ + kh * D_H_ - PAD_T_; }
    static int col(int ow, int kw) { return ow * S_W_ + kw * D_W_ - PAD_L_; }
    static int clamp(int v, int hi) { return v < 0 ? 0 : (v > hi ? hi : v); }
    // the raster index of the last input pixel the window of output (oh, ow) reads
    static int last_needed(int oh, int ow) {
        return clamp(row(oh, K_H_ - 1), IN_H_ - 1) * IN_W_ + clamp(col(ow, K_W_ - 1), IN_W_ - 1);
    }
};

// The window of output (oh, ow): TAPS x C_IN values (0 in the padding) and which taps are inside the input.
template <class G, class X, class SRC>
void gather(const SRC &src, int oh, int ow, X win[G::TAPS * G::C_IN], bool valid[G::TAPS]) {
    for (int kh = 0; kh < G::K_H; kh++) {
        for (int kw = 0; kw < G::K_W; kw++) {
            const int t = kh * G::K_W + kw, r = G::row(oh, kh), c = G::col(ow, kw);
            const bool ok = r >= 0 && r < G::IN_H && c >= 0 && c < G::IN_W;
            valid[t] = ok;
            for (int ci = 0; ci < G::C_IN; ci++) win[t * G::C_IN + ci] = ok ? src.at(r, c, ci) : (X)0;
        }
    }
}
template <class G, class X> struct ArrayWindowSource {
    const X *x;
    X at(int r, int c, int ci) const { return x[(r * G::IN_W + c) * G::C_IN + ci]; }
};
// The last G::ROWS input rows: pixel (r, c) lives in line r % ROWS, where it replaces row r - ROWS.
template <class G, class X> struct LineBuffer {
    X lines[G::ROWS][G::IN_W][G::C_IN];
    void push(int r, int c, const pixel<X, G::C_IN> &v) {
        for (int ci = 0; ci < G::C_IN; ci++) lines[r % G::ROWS][c][ci] = v[ci];
    }
    X at(int r, int c, int ci) const { return lines[r % G::ROWS][c][ci]; }
};

// Every output position's window through kernel(win, valid, out): from the input array directly ...
template <class G, int C_OUT, class X, class Y, class K> void slide(const X *x, Y *y, const K &kernel) {
#pragma HLS INLINE
    const ArrayWindowSource<G, X> src = {x};
Positions:
    for (int p = 0; p < G::OUT_H * G::OUT_W; p++) {
        X win[G::TAPS * G::C_IN];
        bool valid[G::TAPS];
        gather<G>(src, p / G::OUT_W, p % G::OUT_W, win, valid);
        kernel(win, valid, &y[p * C_OUT]);
    }
}
// ... or from a line buffer filled by the input stream. One step per input pixel read and per output written:
// an output leaves as soon as its window is complete (raster order), otherwise the next input pixel comes in.
template <class G, int C_OUT, class X, class Y, class K>
void slide(hls::stream<pixel<X, G::C_IN> > &x, hls::stream<pixel<Y, C_OUT> > &y, const K &kernel) {
    LineBuffer<G, X> lines;
    int read = 0, oh = 0, ow = 0;
Steps:
    for (int step = 0; step < G::IN_H * G::IN_W + G::OUT_H * G::OUT_W; step++) {
#pragma HLS PIPELINE II = K::II
        if (oh < G::OUT_H && G::last_needed(oh, ow) < read) {
            X win[G::TAPS * G::C_IN];
            bool valid[G::TAPS];
            gather<G>(lines, oh, ow, win, valid);
            pixel<Y, C_OUT> out;
            kernel(win, valid, out.data);
            y.write(out);
            if (++ow == G::OUT_W) {
                ow = 0;
                oh++;
            }
        } else {
            lines.push(read / G::IN_W, read % G::IN_W, x.read());
            read++;
        }
    }
}

// One output pixel of a Conv: groups of C_IN / GROUPS input channels make C_OUT / GROUPS outputs each.
// w holds [tap][channel in group][C_OUT] codes; padding taps make no product.
template <class X, class W, class B, class ACC, class Y, int TAPS, int C_IN, int C_OUT, int GROUPS, int REUSE,
          bool RELU, class WC, class BC>
struct ConvKernel {
    static const int II = REUSE;
    const WC *w;
    const BC *b;
    void operator()(const X win[TAPS * C_IN], const bool valid[TAPS], Y y[C_OUT]) const {
        const int cin_g = C_IN / GROUPS, cout_g = C_OUT / GROUPS;
        ACC acc[C_OUT];
        init_bias<B, ACC, C_OUT>(acc, b);
        for (int t = 0; t < TAPS; t++) {
            if (!valid[t]) continue;
            for (int ci = 0; ci < cin_g; ci++) {
                for (int co = 0; co < C_OUT; co++) {
                    const WC wk = w[(t * cin_g + ci) * C_OUT + co];
                    if (wk != 0) acc[co] += win[t * C_IN + (co / cout_g) * cin_g + ci] * from_bits<W>(wk);
                }
            }
        }
        finish<ACC, Y, C_OUT, RELU>(acc, y);
    }
};
template <class X, class W, class B, class ACC, class Y, class G, int C_OUT, int GROUPS, int REUSE, bool RELU,
          class XS, class YS, class WC, class BC>
void conv(XS &x, YS &y, const WC *w, const BC *b) {
    EDGECC_LAYER
    // REUSE uses of each multiplier per output pixel (stream) or per inference (parallel: every position at once)
    constexpr int AT_ONCE = is_stream<XS>::value ? 1 : G::OUT_H * G::OUT_W;
    constexpr int N_MULT = (AT_ONCE * G::TAPS * (G::C_IN / GROUPS) * C_OUT + REUSE - 1) / REUSE;
#pragma HLS ALLOCATION operation instances=mul limit=N_MULT
    const ConvKernel<X, W, B, ACC, Y, G::TAPS, G::C_IN, C_OUT, GROUPS, REUSE, RELU, WC, BC> kernel = {w, b};
    slide<G, C_OUT>(x, y, kernel);
}

// The largest value of each channel over the taps inside the input.
template <class X, class Y, int TAPS, int C> struct MaxKernel {
    static const int II = 1;
    void operator()(const X win[TAPS * C], const bool valid[TAPS], Y y[C]) const {
        for (int c = 0; c < C; c++) {
            X best = 0;
            bool any = false;
            for (int t = 0; t < TAPS; t++) {
                if (valid[t] && (!any || best < win[t * C + c])) {
                    best = win[t * C + c];
                    any = true;
                }
            }
            y[c] = best;
        }
    }
};
template <class X, class Y, class G, class XS, class YS> void maxpool(XS &x, YS &y) {
    EDGECC_LAYER
    slide<G, G::C_IN>(x, y, MaxKernel<X, Y, G::TAPS, G::C_IN>());
}

// round(sum * 2^SHIFT / count) of a sum of codes with an IR rounding mode, exactly (integer division), then clamped
// to [LO, HI] or wrapped into Y. NW holds sum * 2^SHIFT and twice count * 2^-SHIFT.
template <class Y, int SHIFT, int MODE, bool SATURATE, int NW, long long LO, long long HI>
Y average(ap_int<NW> num, int count) {
    ap_int<NW> den = count;
    den <<= (SHIFT < 0 ? -SHIFT : 0);
    num <<= (SHIFT > 0 ? SHIFT : 0);
    ap_int<NW> q = divide_round<MODE>(num, den);
    if (SATURATE) {
        if (q < LO) q = LO;
        if (q > HI) q = HI;
    }
    return from_bits<Y>(q.to_int64());  // setBits keeps Y's width: a wrap where Y wraps
}

// The average of each channel over the window: count is every tap, or the taps inside the input (COUNT_PAD false).
template <class X, class Y, int TAPS, int C, bool COUNT_PAD, int SHIFT, int MODE, bool SATURATE, int NW, long long LO,
          long long HI>
struct AvgKernel {
    static const int II = 1;
    void operator()(const X win[TAPS * C], const bool valid[TAPS], Y y[C]) const {
        int count = 0;
        for (int t = 0; t < TAPS; t++) count += valid[t] ? 1 : 0;
        for (int c = 0; c < C; c++) {
            ap_int<NW> sum = 0;
            for (int t = 0; t < TAPS; t++) {
                if (valid[t]) sum += code(win[t * C + c]);
            }
            y[c] = average<Y, SHIFT, MODE, SATURATE, NW, LO, HI>(sum, COUNT_PAD ? TAPS : count);
        }
    }
};
template <class X, class Y, class G, bool COUNT_PAD, int SHIFT, int MODE, bool SATURATE, int NW, long long LO,
          long long HI, class XS, class YS>
void avgpool(XS &x, YS &y) {
    EDGECC_LAYER
    slide<G, G::C_IN>(x, y, AvgKernel<X, Y, G::TAPS, G::C_IN, COUNT_PAD, SHIFT, MODE, SATURATE, NW, LO, HI>());
}

// Global pooling (one window: the whole input, no padding) as running per-channel results over the pixels as they
// come: no line buffer, one adder or comparator per channel.
template <class X, class Y, int PIXELS, int C, class XS, class YS> void maxpool_global(XS &x, YS &y) {
    EDGECC_LAYER
    auto in = reader<X, C>(x);
    auto out = writer<Y, C>(y);
    X best[C];
Pixels:
    for (int p = 0; p < PIXELS; p++) {
#pragma HLS PIPELINE II = 1
        const pixel<X, C> v = in.read();
        for (int c = 0; c < C; c++) {
            if (p == 0 || best[c] < v[c]) best[c] = v[c];
        }
    }
    pixel<Y, C> r;
    for (int c = 0; c < C; c++) r[c] = best[c];
    out.write(r);
}
template <class X, class Y, int PIXELS, int C, int SHIFT, int MODE, bool SATURATE, int NW, long long LO, long long HI,
          class XS, class YS>
void avgpool_global(XS &x, YS &y) {
    EDGECC_LAYER
    auto in = reader<X, C>(x);
    auto out = writer<Y, C>(y);
    ap_int<NW> sum[C];
    for (int c = 0; c < C; c++) sum[c] = 0;
Pixels:
    for (int p = 0; p < PIXELS; p++) {
#pragma HLS PIPELINE II = 1
        const pixel<X, C> v = in.read();
        for (int c = 0; c < C; c++) sum[c] += code(v[c]);
    }
    pixel<Y, C> r;
Divide:
    for (int c = 0; c < C; c++) {
#pragma HLS PIPELINE II = 1
        r[c] = average<Y, SHIFT, MODE, SATURATE, NW, LO, HI>(sum[c], PIXELS);
    }
    out.write(r);
}

}  // namespace edgecc

#endif
