// edgecc HLS layer library: every layer computes exactly what the edgecc IR defines, bit for bit.
#ifndef EDGECC_LAYERS_H_
#define EDGECC_LAYERS_H_

#include "ap_fixed.h"
#include "ap_int.h"
#include <stdint.h>

namespace edgecc {

enum Rounding { ROUND_AP = 0, ROUND_CEIL = 1, ROUND_UP = 2 };

// A fixed-point value from its integer code (its bits): constants are stored as plain integer codes, which
// compile fast and map to ROMs; setBits reinterprets them without arithmetic.
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
    Bias:
        for (int j = 0; j < N_OUT; j++) {
#pragma HLS UNROLL
            acc[j] = (ACC)from_bits<B>(b[j]);
        }
    Products:
        for (int k = 0; k < N_IN * N_OUT; k++) {
#pragma HLS UNROLL
            if (w[k] != 0) {  // a zero weight is no multiplier and no adder
                acc[k % N_OUT] += x[o * N_IN + k / N_OUT] * from_bits<W>(w[k]);
            }
        }
    Out:
        for (int j = 0; j < N_OUT; j++) {
#pragma HLS UNROLL
            if (RELU && acc[j] < 0) {
                y[o * N_OUT + j] = 0;
            } else {
                y[o * N_OUT + j] = (Y)acc[j];
            }
        }
    }
}

template <class X, class Y, int N> void relu(const X x[N], Y y[N]) {
#pragma HLS INLINE
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        y[i] = x[i] < 0 ? (Y)0 : (Y)x[i];
    }
}

// Elementwise sum; Y holds every sum exactly.
template <class A, class B, class Y, int N> void add(const A a[N], const B b[N], Y y[N]) {
#pragma HLS INLINE
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        y[i] = (Y)a[i] + (Y)b[i];
    }
}

// Elementwise sum with a constant operand of type B, given as integer codes.
template <class A, class B, class Y, int N, class BC> void add_const(const A a[N], const BC b[N], Y y[N]) {
#pragma HLS INLINE
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        y[i] = (Y)a[i] + (Y)from_bits<B>(b[i]);
    }
}

template <class X, class Y, int N> void copy(const X x[N], Y y[N]) {
#pragma HLS INLINE
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        y[i] = x[i];
    }
}

// Requantization where Y's own ap_fixed modes say it all (rounding and saturation): a cast.
template <class X, class Y, int N> void quantize_cast(const X x[N], Y y[N]) {
#pragma HLS INLINE
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        y[i] = x[i];
    }
}

// Requantization that no ap_fixed mode expresses: CEIL and UP rounding, or a clamp range other than the
// type's own (QONNX narrow unsigned, ONNX zero points). R has Y's fractional bits and room for any rounded
// value; its own mode rounds (AP_TRN for CEIL/UP, which then add one step to inexact values).
template <class X, class R, class Y, int MODE, bool SATURATE, int N>
void quantize_explicit(const X x[N], Y y[N], const R lo, const R hi) {
#pragma HLS INLINE
    R step = 0;
    step[0] = 1;
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        R r = x[i];
        const bool inexact = (r != x[i]);
        if (MODE == ROUND_CEIL && inexact) r += step;
        if (MODE == ROUND_UP && inexact && !(x[i] < 0)) r += step;  // below 0, floor is already away from 0
        if (SATURATE) {
            if (r < lo) r = lo;
            if (r > hi) r = hi;
        }
        y[i] = r;
    }
}

}  // namespace edgecc

#endif
