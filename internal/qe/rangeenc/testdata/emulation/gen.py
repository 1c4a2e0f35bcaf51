#!/usr/bin/env python3
"""Generates cross-check vectors for the precision encodings of rangeenc.

An independent emulation of libmongocrypt 1.20's precision-mode range
encoding (mc_canUsePrecisionMode{Double,Decimal} and mc_getTypeInfo{Double,
Decimal128}): Python floats are IEEE doubles, and Python's decimal module with
a 34-digit, half-even context clamped to decimal128's exponents stands for
the decimal128 operations (Intel BID). Run: python3 gen.py (deterministic).

Each line: value min max precision, then "ERR" or "<encoded value> <bits>".
Decimal128 values are written as decimal strings (exact), doubles as repr()
(round-trips exactly).
"""
import math
import random
from decimal import Decimal, Context, ROUND_HALF_EVEN, ROUND_DOWN

CTX = Context(prec=34, rounding=ROUND_HALF_EVEN, Emax=6144, Emin=-6143, clamp=1, traps=[])
I128 = CTX.plus(Decimal(2**127 - 1))
U128 = CTX.plus(Decimal(2**128 - 1))


def ceil_log2(i):
    n = i.bit_length()
    return n - 1 if i & (i - 1) == 0 else n


def trunc(d):
    return d.to_integral_value(rounding=ROUND_DOWN, context=CTX)


def encode_decimal(v, mn, mx, p):
    if not (mx.is_finite() and mn.is_finite()) or mn >= mx or not (mn <= v <= mx):
        return None
    smax, smin = CTX.scaleb(mx, p), CTX.scaleb(mn, p)
    if smax != trunc(smax) or smin != trunc(smin):
        return None
    if abs(smax) > I128 or abs(smin) > I128:
        return None
    t4 = CTX.subtract(U128, CTX.subtract(smax, smin))
    if t4 == 0 or int(trunc(CTX.log10(t4))) - 1 < p:
        return None
    if not smax < I128:
        return None
    bits = ceil_log2(int(smax) - int(smin) + 10**p)
    if bits >= 128:
        return None
    vp = CTX.scaleb(trunc(CTX.scaleb(v, p)), -p)
    d = trunc(CTX.scaleb(CTX.subtract(vp, mn), p))
    return int(d), bits


def finite(x):
    return not (math.isinf(x) or math.isnan(x))


def encode_double(v, mn, mx, p):
    if not finite(v) or mn >= mx or not (mn <= v <= mx):
        return None
    s = float("1e%d" % p)
    if math.isinf(s):
        return None
    smax, smin = mx * s, mn * s
    if (finite(smax) and smax != math.trunc(smax)) or math.isnan(smax):
        return None
    if (finite(smin) and smin != math.trunc(smin)) or math.isnan(smin):
        return None
    if abs(smax) >= 2.0**53 or abs(smin) >= 2.0**53:
        return None
    t4 = float(2**64 - 1) - (smax - smin)
    if p > math.floor(math.log10(t4)) - 1:
        return None
    i1, i2 = int(smax), int(smin)
    if i1 <= i2:
        return None
    rng, sp = i1 - i2, int(s)
    if sp > 2**64 - 1 - rng:
        return None
    bits = ceil_log2(rng + sp)
    if bits >= 53:
        return None
    d = int(math.trunc(v * s)) - int(mn * s)
    if d < 0 or d > 2**bits - 1:
        return None
    return d, bits


def rnd_decimal():
    digits = random.randint(1, 36)
    c = random.randint(0, 10**digits - 1)
    sign = "-" if random.random() < 0.4 else ""
    return CTX.plus(Decimal("%s%dE%d" % (sign, c, random.randint(-40, 10))))


def decimal_cases(n):
    for _ in range(n):
        if random.random() < 0.6:
            a = CTX.plus(Decimal(random.randint(-10**6, 10**6)).scaleb(-random.randint(0, 4)))
            b = CTX.plus(a + Decimal(random.randint(1, 10**8)).scaleb(-random.randint(0, 4)))
        else:
            a, b = rnd_decimal(), rnd_decimal()
        mn, mx = min(a, b), max(a, b)
        p = random.randint(0, 40)
        v = CTX.plus(mn + (mx - mn) * Decimal(random.random())) if random.random() < 0.8 else rnd_decimal()
        r = encode_decimal(v, mn, mx, p)
        yield "%s %s %s %d %s" % (v, mn, mx, p, "ERR" if r is None else "%d %d" % r)


def decimal_places(x, k):
    return round(x, k)


def double_cases(n):
    for _ in range(n):
        k = random.randint(0, 8)
        a = decimal_places(random.uniform(-1e6, 1e6) * 10 ** random.randint(-6, 3), k)
        b = decimal_places(a + random.uniform(0, 1e7) * 10 ** random.randint(-6, 3), k)
        mn, mx = min(a, b), max(a, b)
        p = random.randint(0, 20)
        v = mn + (mx - mn) * random.random() if random.random() < 0.85 else random.uniform(-1e9, 1e9)
        r = encode_double(v, mn, mx, p)
        yield "%r %r %r %d %s" % (v, mn, mx, p, "ERR" if r is None else "%d %d" % r)


if __name__ == "__main__":
    random.seed(20240710)
    with open("decimal_precision.txt", "w") as f:
        f.write("\n".join(decimal_cases(2500)) + "\n")
    with open("double_precision.txt", "w") as f:
        f.write("\n".join(double_cases(2500)) + "\n")
