package rangeenc

import (
	"math/big"
	"math/bits"
)

// U128 is an unsigned 128-bit integer, Hi holding the upper 64 bits. Every
// encoded value and domain maximum of this package is a U128 whatever the BSON
// type: int32 encodings use the low 32 bits, int64 and double the low 64.
type U128 struct {
	Hi, Lo uint64
}

// u128From64 widens v.
func u128From64(v uint64) U128 { return U128{Lo: v} }

// Cmp compares x and y as unsigned integers: -1 if x < y, 0 if equal, +1 if x > y.
func (x U128) Cmp(y U128) int {
	switch {
	case x.Hi < y.Hi:
		return -1
	case x.Hi > y.Hi:
		return 1
	case x.Lo < y.Lo:
		return -1
	case x.Lo > y.Lo:
		return 1
	}
	return 0
}

// IsZero reports whether x is 0.
func (x U128) IsZero() bool { return x.Hi == 0 && x.Lo == 0 }

// add returns x + y modulo 2^128.
func (x U128) add(y U128) U128 {
	lo, c := bits.Add64(x.Lo, y.Lo, 0)
	hi, _ := bits.Add64(x.Hi, y.Hi, c)
	return U128{hi, lo}
}

// sub returns x - y modulo 2^128.
func (x U128) sub(y U128) U128 {
	lo, b := bits.Sub64(x.Lo, y.Lo, 0)
	hi, _ := bits.Sub64(x.Hi, y.Hi, b)
	return U128{hi, lo}
}

// mul64 returns x * y modulo 2^128.
func (x U128) mul64(y uint64) U128 {
	hi, lo := bits.Mul64(x.Lo, y)
	return U128{hi + x.Hi*y, lo}
}

// mul returns x * y modulo 2^128.
func (x U128) mul(y U128) U128 {
	hi, lo := bits.Mul64(x.Lo, y.Lo)
	return U128{hi + x.Hi*y.Lo + x.Lo*y.Hi, lo}
}

// neg returns -x modulo 2^128 (two's complement).
func (x U128) neg() U128 { return U128{}.sub(x) }

// or returns x | y.
func (x U128) or(y U128) U128 { return U128{x.Hi | y.Hi, x.Lo | y.Lo} }

// shl returns x << n; n >= 128 gives 0.
func (x U128) shl(n uint) U128 {
	switch {
	case n >= 128:
		return U128{}
	case n >= 64:
		return U128{x.Lo << (n - 64), 0}
	case n == 0:
		return x
	}
	return U128{x.Hi<<n | x.Lo>>(64-n), x.Lo << n}
}

// shr returns x >> n; n >= 128 gives 0.
func (x U128) shr(n uint) U128 {
	switch {
	case n >= 128:
		return U128{}
	case n >= 64:
		return U128{0, x.Hi >> (n - 64)}
	case n == 0:
		return x
	}
	return U128{x.Hi >> n, x.Lo>>n | x.Hi<<(64-n)}
}

// bit returns bit i (0 = least significant) of x.
func (x U128) bit(i uint) byte {
	if i >= 64 {
		return byte(x.Hi>>(i-64)) & 1
	}
	return byte(x.Lo>>i) & 1
}

// BitLen returns the number of bits needed to represent x (0 for 0).
func (x U128) BitLen() int {
	if x.Hi != 0 {
		return 64 + bits.Len64(x.Hi)
	}
	return bits.Len64(x.Lo)
}

// Big returns x as a big.Int.
func (x U128) Big() *big.Int {
	b := new(big.Int).SetUint64(x.Hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(x.Lo))
}

// String returns x in decimal.
func (x U128) String() string { return x.Big().String() }

// u128FromBig returns b modulo 2^128 (negative values in two's complement).
func u128FromBig(b *big.Int) U128 {
	m := new(big.Int).Lsh(big.NewInt(1), 128)
	r := new(big.Int).Mod(b, m) // Mod is Euclidean: result in [0, 2^128)
	lo := new(big.Int).And(r, new(big.Int).SetUint64(^uint64(0)))
	hi := new(big.Int).Rsh(r, 64)
	return U128{hi.Uint64(), lo.Uint64()}
}

// lowBits writes the n least significant bits of x, most significant first,
// as '0'/'1' characters.
func (x U128) lowBits(n int) string { return string(x.appendLowBits(make([]byte, 0, n), n)) }

// appendLowBits appends lowBits(n) to b.
func (x U128) appendLowBits(b []byte, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, '0'+x.bit(uint(i)))
	}
	return b
}

// maxU128 is 2^128 - 1.
var maxU128 = U128{^uint64(0), ^uint64(0)}
