// The constants of grid_error's |d|^norm = 2^(norm · log2|d|), shared by its
// builds (kernels/grid_error.h):
//
//   log2 x: x = m · 2^e with m in [√½, √2), t = (m − 1) / (m + 1), |t| < 0.172,
//           log2 m = t · (c1 + c3 t² + c5 t⁴ + c7 t⁶)   (the atanh series of
//           ln m = 2 atanh t, divided by ln 2; first omitted term < 5e-8)
//   2^y:    y = k + f, k = round(y), |f| ≤ ½,
//           2^f = Σ_{i≤6} (f ln 2)^i / i!                (remainder < 2e-7)
#pragma once

namespace nibble::kernels::grid_error_poly {

constexpr float kLog2C1 = 2.88539008f;  // 2 / ln 2
constexpr float kLog2C3 = 0.961796694f;  // 2 / (3 ln 2)
constexpr float kLog2C5 = 0.577078016f;  // 2 / (5 ln 2)
constexpr float kLog2C7 = 0.412198583f;  // 2 / (7 ln 2)

constexpr float kExp2C0 = 1.0f;  // (ln 2)^i / i!
constexpr float kExp2C1 = 0.693147181f;
constexpr float kExp2C2 = 0.240226507f;
constexpr float kExp2C3 = 0.0555041087f;
constexpr float kExp2C4 = 0.00961812911f;
constexpr float kExp2C5 = 0.00133335581f;
constexpr float kExp2C6 = 0.000154035304f;

constexpr float kSqrt2 = 1.41421356f;
constexpr float kMinTerm = 7.88860905e-31f;  // 2^-100: smaller |d| count as 0
constexpr float kMinExponent = -126.0f;      // 2^y below the normal floats: the term is 0
constexpr float kMaxExponent = 127.0f;       // at or above: the term is +inf
constexpr int kLanes = 16;                   // element j sums in lane j mod 16

}  // namespace nibble::kernels::grid_error_poly
