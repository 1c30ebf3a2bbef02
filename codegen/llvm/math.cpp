// Inline transcendentals as straight-line LLVM IR; see math.hpp for the contract and
// docs/numerics.md for the error analysis and the measured table.
//
// Each function is a range reduction, a polynomial evaluated with llvm.fma (Horner), and a
// reconstruction; the special values are patched in by selects at the end, so a vector of eight
// lanes runs one instruction stream. The coefficients are minimax fits of the relative error
// (Remez exchange in 60-digit arithmetic, docs/numerics.md has the script), rounded to float; with
// float coefficients each polynomial is within 0.11·2^-24 of its function, so the roundings of
// the evaluation dominate the error. Over all 2^32 inputs every function is within 1 ULP of the
// correctly rounded result (bench/ulp_sweep.cpp); the figures below are the largest distance to
// the exact value, in fractional ULPs.
//
// The evaluation order is chosen for monotonicity as well as accuracy: with floats, a Horner
// scheme ending in `fma(q, r, 1)` for e^r is not monotone for r < 0 (q jumps by one ulp while
// r·q shrinks), so exp is evaluated as 1 + (r + r²·q(r)), whose rounding steps are far smaller
// than the growth of r. All four functions are monotone over all adjacent float pairs
// (bench/ulp_sweep.cpp checks it exhaustively).
#include "codegen/llvm/math.hpp"

#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/Intrinsics.h>

#include <cstdint>
#include <initializer_list>
#include <utility>

#include "codegen/ir/error.hpp"

namespace cellforge::llvm_backend {

namespace {

// The IR vocabulary of this file: float arithmetic on one type (float or <N x float>), the i32
// view of the same bits, and value names `<prefix>.<part>`. Clears the builder's fast-math flags
// for its lifetime (see math.hpp).
class MathEmitter {
 public:
  MathEmitter(llvm::IRBuilder<>& builder, llvm::Value* x, std::string prefix)
      : b_(builder), flags_guard_(builder), prefix_(std::move(prefix)) {
    type_ = x->getType();
    if (!type_->getScalarType()->isFloatTy())
      internal_error("inline math takes float or <N x float>, not ", type_name(type_), " (for '", prefix_, "')");
    int_type_ = type_->getWithNewType(b_.getInt32Ty());
    b_.clearFastMathFlags();
  }

  std::string part(const char* name) const { return prefix_ + "." + name; }
  llvm::Type* type() const { return type_; }

  llvm::Value* constant(float value) const { return llvm::ConstantFP::get(type_, static_cast<double>(value)); }
  llvm::Value* infinity(bool negative = false) const { return llvm::ConstantFP::getInfinity(type_, negative); }
  llvm::Value* nan() const { return llvm::ConstantFP::getNaN(type_); }
  llvm::Value* int_constant(int32_t value) const {
    return llvm::ConstantInt::get(int_type_, static_cast<uint64_t>(static_cast<int64_t>(value)), true);
  }

  llvm::Value* add(llvm::Value* a, llvm::Value* c, const std::string& name) { return b_.CreateFAdd(a, c, name); }
  llvm::Value* sub(llvm::Value* a, llvm::Value* c, const std::string& name) { return b_.CreateFSub(a, c, name); }
  llvm::Value* mul(llvm::Value* a, llvm::Value* c, const std::string& name) { return b_.CreateFMul(a, c, name); }
  llvm::Value* div(llvm::Value* a, llvm::Value* c, const std::string& name) { return b_.CreateFDiv(a, c, name); }
  llvm::Value* neg(llvm::Value* a, const std::string& name) { return b_.CreateFNeg(a, name); }
  // a·c + d with one rounding.
  llvm::Value* fma(llvm::Value* a, llvm::Value* c, llvm::Value* d, const std::string& name) {
    return b_.CreateIntrinsic(llvm::Intrinsic::fma, {type_}, {a, c, d}, nullptr, name);
  }
  llvm::Value* abs(llvm::Value* a, const std::string& name) {
    return b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, a, nullptr, name);
  }
  llvm::Value* copysign(llvm::Value* magnitude, llvm::Value* sign, const std::string& name) {
    return b_.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, magnitude, sign, nullptr, name);
  }
  llvm::Value* sqrt(llvm::Value* a, const std::string& name) {
    return b_.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, a, nullptr, name);
  }

  // Ordered comparisons are false for NaN; `unordered_or_less` is true for NaN.
  llvm::Value* less(llvm::Value* a, llvm::Value* c, const std::string& name) { return b_.CreateFCmpOLT(a, c, name); }
  llvm::Value* greater(llvm::Value* a, llvm::Value* c, const std::string& name) { return b_.CreateFCmpOGT(a, c, name); }
  llvm::Value* equal(llvm::Value* a, llvm::Value* c, const std::string& name) { return b_.CreateFCmpOEQ(a, c, name); }
  llvm::Value* unordered_or_less(llvm::Value* a, llvm::Value* c, const std::string& name) {
    return b_.CreateFCmpULT(a, c, name);
  }
  llvm::Value* select(llvm::Value* condition, llvm::Value* a, llvm::Value* c, const std::string& name) {
    return b_.CreateSelect(condition, a, c, name);
  }

  llvm::Value* to_bits(llvm::Value* a, const std::string& name) { return b_.CreateBitCast(a, int_type_, name); }
  llvm::Value* from_bits(llvm::Value* a, const std::string& name) { return b_.CreateBitCast(a, type_, name); }
  llvm::Value* int_add(llvm::Value* a, llvm::Value* c, const std::string& name) { return b_.CreateAdd(a, c, name); }
  llvm::Value* int_sub(llvm::Value* a, llvm::Value* c, const std::string& name) { return b_.CreateSub(a, c, name); }
  llvm::Value* int_and(llvm::Value* a, llvm::Value* c, const std::string& name) { return b_.CreateAnd(a, c, name); }
  llvm::Value* shift_left(llvm::Value* a, unsigned bits, const std::string& name) { return b_.CreateShl(a, bits, name); }
  llvm::Value* shift_right(llvm::Value* a, unsigned bits, const std::string& name) {
    return b_.CreateAShr(a, bits, name);
  }
  llvm::Value* int_to_float(llvm::Value* a, const std::string& name) { return b_.CreateSIToFP(a, type_, name); }

  // c[0] + x·(c[1] + x·(c[2] + ...)), one fma per coefficient after the first.
  llvm::Value* horner(llvm::Value* x, std::initializer_list<float> coefficients, const std::string& name) {
    const float* c = coefficients.begin();
    size_t k = coefficients.size() - 1;
    llvm::Value* sum = constant(c[k]);
    while (k-- > 0) sum = fma(sum, x, constant(c[k]), name);
    return sum;
  }

  // 2^n for an i32 n in [-126, 127], built in the exponent field.
  llvm::Value* power_of_two(llvm::Value* n, const std::string& name) {
    return from_bits(shift_left(int_add(n, int_constant(127), name + "_biased"), 23, name + "_bits"), name);
  }

 private:
  static std::string type_name(llvm::Type* type) {
    std::string text;
    llvm::raw_string_ostream os(text);
    type->print(os);
    return text;
  }

  llvm::IRBuilder<>& b_;
  llvm::IRBuilderBase::FastMathFlagGuard flags_guard_;
  std::string prefix_;
  llvm::Type* type_ = nullptr;
  llvm::Type* int_type_ = nullptr;
};

// ---- exp ---------------------------------------------------------------------------------------
//
// e^x = 2^n · e^r with n = round(x / ln 2) and r = x - n·ln 2 in [-ln2/2, ln2/2]:
//  - n comes from one fma against the shifter 1.5·2^23, whose ulp is 1, so the sum rounds x·log2(e)
//    to the nearest integer and its low mantissa bits hold n as an integer (no float→int
//    conversion, which would be poison for NaN);
//  - ln 2 = ln2_hi + ln2_lo with ln2_hi = float(ln 2): with an fma, x - n·ln2_hi is exact (both are
//    multiples of 2^-25 and the difference is below 0.35), so r carries one rounding only;
//  - e^r = 1 + t, t = r + r²·q(r), q a degree-4 minimax fit (relative error 0.07·2^-24 after
//    rounding the coefficients to float, greedily from the low degree up with the rest refitted;
//    the first two coefficients come out exactly 1 and 1/2).
// Error budget: 0.5 ULP for rounding 1 + t, up to 0.25 for rounding t, 0.2 for rounding r;
// measured 1.02.

constexpr float log2_e = 0x1.715476p+0f;
constexpr float round_shifter = 0x1.8p23f;  // 1.5·2^23: x + shifter rounds x to an integer
constexpr int32_t round_shifter_bits = 0x4b400000;
constexpr float ln2_hi = 0x1.62e430p-1f;     // float(ln 2), slightly above ln 2
constexpr float ln2_lo = -0x1.05c610p-29f;   // ln 2 - ln2_hi
constexpr float exp_overflow = 0x1.62e42ep+6f;  // 88.7228317: largest x with a finite float e^x
constexpr float exp_underflow = -104.0f;        // e^-104 < 2^-150: rounds to 0 below (and at) this

struct ExpReduced {
  llvm::Value* t;  // e^r - 1, in [-0.30, 0.42]
  llvm::Value* p;  // fl(1 + t) ≈ e^r, in [0.70, 1.42]
  llvm::Value* n;  // i32 n
};

ExpReduced emit_exp_reduced(MathEmitter& m, llvm::Value* x) {
  llvm::Value* shifted = m.fma(x, m.constant(log2_e), m.constant(round_shifter), m.part("shifted"));
  llvm::Value* n = m.sub(shifted, m.constant(round_shifter), m.part("n"));
  llvm::Value* r_hi = m.fma(n, m.constant(-ln2_hi), x, m.part("r_hi"));
  llvm::Value* r = m.fma(n, m.constant(-ln2_lo), r_hi, m.part("r"));
  llvm::Value* q = m.horner(r, {0.5f, 0x1.555466p-3f, 0x1.5552fep-5f, 0x1.1257d4p-7f, 0x1.6ff25ap-10f}, m.part("poly"));
  llvm::Value* r2 = m.mul(r, r, m.part("r2"));
  llvm::Value* t = m.fma(r2, q, r, m.part("t"));
  llvm::Value* p = m.add(m.constant(1.0f), t, m.part("p"));
  llvm::Value* n_int = m.int_sub(m.to_bits(shifted, m.part("shifted_bits")), m.int_constant(round_shifter_bits),
                                 m.part("n_int"));
  return {t, p, n_int};
}

// 2^n as two factors 2^(n - n/2) · 2^(n/2), each a normal float for n in [-252, 254]: results
// between 2^-149 and 2^-126 then get one rounding, in the last multiplication.
std::pair<llvm::Value*, llvm::Value*> emit_split_scale(MathEmitter& m, llvm::Value* n_int) {
  llvm::Value* n_half = m.shift_right(n_int, 1, m.part("n_half"));
  llvm::Value* n_rest = m.int_sub(n_int, n_half, m.part("n_rest"));
  return {m.power_of_two(n_half, m.part("scale_half")), m.power_of_two(n_rest, m.part("scale_rest"))};
}

// ---- log ---------------------------------------------------------------------------------------
//
// x = 2^e · m with m in [sqrt(1/2), sqrt(2)), taken from the bits: subtracting the bits of
// sqrt(1/2) moves the split point of the exponent field there. With f = m - 1 (exact) in
// [-0.293, 0.414], log(x) = e·ln 2 + log1p(f), log1p(f) = f + f²·(-1/2 + f·P(f)), P a degree-7
// minimax fit of the relative error of log1p (0.11·2^-24). Subnormal x are scaled by 2^23
// first. Error budget: two roundings (log1p(f), then the sum with e·ln2_hi); measured 0.94.

constexpr int32_t sqrt_half_bits = 0x3f3504f3;  // float(sqrt(1/2))
constexpr int32_t exponent_mask = static_cast<int32_t>(0xff800000u);
constexpr float smallest_normal = 0x1p-126f;

// ---- tanh --------------------------------------------------------------------------------------
//
// On a = |x|, sign restored with copysign (so tanh is odd bit for bit):
//  - a < 1: tanh(a) = a + a³·P(a²), P a degree-6 minimax fit (relative error 0.09·2^-24); no
//    cancellation, and a stays exact for tiny and subnormal a;
//  - a ≥ 1: tanh(a) = 1 - 2 / (e^2a + 1); the subtracted term is ≤ 0.24, so the errors of e^2a
//    and the division shrink by that factor. a is clamped to 10 first: 2/(e^20 + 1) < 2^-26,
//    so the result is exactly 1 from a = 9.0109 on, and e^2a needs one scale factor only.
// Measured 0.95, in the a ≥ 1 branch near a = 1; 1 - 2/(e^2a + 1) beats (1 - e^-2a)/(1 + e^-2a)
// (1.5) and a switch at 0.625 with a shorter polynomial (1.3).

constexpr float tanh_switch = 1.0f;
constexpr float tanh_clamp = 10.0f;

// ---- sigmoid -----------------------------------------------------------------------------------
//
// With q = e^-|x| = 2^n·(1 + t): σ(|x|) = 1 / (1 + q) and σ(-|x|) = q / (1 + q). A plain division
// is 2.3 ULP (q's rounding error doubles when q / (1 + q) falls into the binade below q), so
// numerator and denominator are carried as unevaluated sums hi + lo (p_lo = the rounding error of
// 1 + t by Fast2Sum, D_lo = the rounding error of 1 + q by an fma) and the quotient gets one
// Newton correction: y = N_hi/D_hi, y += (N - y·D) / D_hi. |x| is clamped to 104, below which
// σ(-|x|) < 2^-150 rounds to 0. Measured 1.02, at x = -38.4, where the error of q itself shows.

constexpr float sigmoid_clamp = 104.0f;

}  // namespace

llvm::Value* emit_exp(llvm::IRBuilder<>& builder, llvm::Value* x, const std::string& name) {
  MathEmitter m(builder, x, name);
  ExpReduced reduced = emit_exp_reduced(m, x);
  auto [scale_half, scale_rest] = emit_split_scale(m, reduced.n);
  llvm::Value* y = m.mul(m.mul(reduced.p, scale_half, m.part("half_scaled")), scale_rest, m.part("scaled"));
  // NaN needs no select: it propagates through r and p.
  y = m.select(m.greater(x, m.constant(exp_overflow), m.part("overflows")), m.infinity(), y, m.part("finite_or_inf"));
  return m.select(m.less(x, m.constant(exp_underflow), m.part("underflows")), m.constant(0.0f), y, name);
}

llvm::Value* emit_log(llvm::IRBuilder<>& builder, llvm::Value* x, const std::string& name) {
  MathEmitter m(builder, x, name);
  llvm::Value* subnormal = m.less(x, m.constant(smallest_normal), m.part("subnormal"));
  llvm::Value* normal_x = m.select(subnormal, m.mul(x, m.constant(0x1p23f), m.part("x_scaled")), x, m.part("x_normal"));
  llvm::Value* bits = m.to_bits(normal_x, m.part("bits"));
  llvm::Value* offset = m.int_sub(bits, m.int_constant(sqrt_half_bits), m.part("offset"));
  llvm::Value* e_int = m.shift_right(offset, 23, m.part("e_int"));
  llvm::Value* mantissa = m.from_bits(m.int_sub(bits, m.int_and(offset, m.int_constant(exponent_mask), m.part("e_field")),
                                                m.part("m_bits")),
                                      m.part("m"));
  llvm::Value* e = m.sub(m.int_to_float(e_int, m.part("e_raw")),
                         m.select(subnormal, m.constant(23.0f), m.constant(0.0f), m.part("e_adjust")), m.part("e"));
  llvm::Value* f = m.sub(mantissa, m.constant(1.0f), m.part("f"));
  llvm::Value* poly = m.horner(f,
                               {0x1.555554p-2f, -0x1.000226p-2f, 0x1.99a008p-3f, -0x1.547244p-3f, 0x1.22da1ep-3f,
                                -0x1.0d8542p-3f, 0x1.055b68p-3f, -0x1.38b57cp-4f},
                               m.part("poly"));
  llvm::Value* q = m.fma(poly, f, m.constant(-0.5f), m.part("q"));
  llvm::Value* f_plus_e_lo = m.fma(e, m.constant(ln2_lo), f, m.part("f_plus_e_lo"));
  llvm::Value* log1p_f = m.fma(m.mul(f, f, m.part("f2")), q, f_plus_e_lo, m.part("log1p_f"));
  llvm::Value* y = m.fma(e, m.constant(ln2_hi), log1p_f, m.part("finite"));
  y = m.select(m.equal(x, m.infinity(), m.part("is_inf")), m.infinity(), y, m.part("with_inf"));
  y = m.select(m.equal(x, m.constant(0.0f), m.part("is_zero")), m.infinity(true), y, m.part("with_zero"));
  return m.select(m.unordered_or_less(x, m.constant(0.0f), m.part("is_nan_or_negative")), m.nan(), y, name);
}

llvm::Value* emit_tanh(llvm::IRBuilder<>& builder, llvm::Value* x, const std::string& name) {
  MathEmitter m(builder, x, name);
  llvm::Value* a = m.abs(x, m.part("abs"));
  // a < 1
  llvm::Value* a2 = m.mul(a, a, m.part("a2"));
  llvm::Value* poly = m.horner(a2,
                               {-0x1.55553cp-2f, 0x1.110be2p-3f, -0x1.b96222p-5f, 0x1.600994p-6f, -0x1.0460c8p-7f,
                                0x1.2da504p-9f, -0x1.77dd4ep-12f},
                               m.part("poly"));
  llvm::Value* small = m.fma(m.mul(a, a2, m.part("a3")), poly, a, m.part("small"));
  // a ≥ 1 (NaN stays NaN through the clamp)
  llvm::Value* clamped = m.select(m.greater(a, m.constant(tanh_clamp), m.part("saturated")), m.constant(tanh_clamp), a,
                                  m.part("clamped"));
  ExpReduced reduced = emit_exp_reduced(m, m.add(clamped, clamped, m.part("two_a")));
  llvm::Value* exp_2a = m.mul(reduced.p, m.power_of_two(reduced.n, m.part("scale")), m.part("exp_2a"));
  llvm::Value* tail = m.div(m.constant(2.0f), m.add(exp_2a, m.constant(1.0f), m.part("exp_2a_plus_1")), m.part("tail"));
  llvm::Value* large = m.sub(m.constant(1.0f), tail, m.part("large"));
  llvm::Value* magnitude = m.select(m.less(a, m.constant(tanh_switch), m.part("is_small")), small, large, m.part("magnitude"));
  return m.copysign(magnitude, x, name);
}

llvm::Value* emit_sigmoid(llvm::IRBuilder<>& builder, llvm::Value* x, const std::string& name) {
  MathEmitter m(builder, x, name);
  llvm::Value* a = m.abs(x, m.part("abs"));
  llvm::Value* clamped = m.select(m.greater(a, m.constant(sigmoid_clamp), m.part("saturated")),
                                  m.constant(sigmoid_clamp), a, m.part("clamped"));
  // q = e^-a = 2^n · (p_hi + p_lo) = s_half · s_rest · (p_hi + p_lo)
  ExpReduced reduced = emit_exp_reduced(m, m.neg(clamped, m.part("minus_a")));
  llvm::Value* one = m.constant(1.0f);
  llvm::Value* p_hi = reduced.p;
  llvm::Value* p_lo = m.sub(reduced.t, m.sub(p_hi, one, m.part("p_hi_minus_1")), m.part("p_lo"));
  auto [scale_half, scale_rest] = emit_split_scale(m, reduced.n);
  llvm::Value* scale = m.mul(scale_half, scale_rest, m.part("scale"));
  // D = 1 + q = d_hi + d_lo
  llvm::Value* d_hi = m.fma(scale, p_hi, one, m.part("d_hi"));
  llvm::Value* d_hi_error = m.fma(scale, p_hi, m.sub(one, d_hi, m.part("one_minus_d_hi")), m.part("d_hi_error"));
  llvm::Value* d_lo = m.fma(scale, p_lo, d_hi_error, m.part("d_lo"));
  // N = 1 for x ≥ 0, q for x < 0 (and NaN, which propagates through D)
  llvm::Value* negative = m.less(x, m.constant(0.0f), m.part("negative"));
  llvm::Value* q_hi = m.mul(m.mul(p_hi, scale_half, m.part("q_hi_half")), scale_rest, m.part("q_hi"));
  // (q_lo is below 2^-24·q: where `scale` is subnormal or 0, q_lo underflows anyway)
  llvm::Value* q_lo = m.mul(p_lo, scale, m.part("q_lo"));
  llvm::Value* n_hi = m.select(negative, q_hi, one, m.part("n_hi"));
  llvm::Value* n_lo = m.select(negative, q_lo, m.constant(0.0f), m.part("n_lo"));
  // y = N / D with one Newton correction
  llvm::Value* reciprocal = m.div(one, d_hi, m.part("reciprocal"));
  llvm::Value* y0 = m.mul(n_hi, reciprocal, m.part("y0"));
  llvm::Value* minus_y0 = m.neg(y0, m.part("minus_y0"));
  llvm::Value* residual = m.add(m.fma(minus_y0, d_hi, n_hi, m.part("residual_hi")),
                                m.fma(minus_y0, d_lo, n_lo, m.part("residual_lo")), m.part("residual"));
  return m.fma(residual, reciprocal, y0, name);
}

llvm::Value* emit_sqrt(llvm::IRBuilder<>& builder, llvm::Value* x, const std::string& name) {
  MathEmitter m(builder, x, name);
  return m.sqrt(x, name);
}

llvm::Value* emit_rsqrt(llvm::IRBuilder<>& builder, llvm::Value* x, const std::string& name) {
  MathEmitter m(builder, x, name);
  return m.div(m.constant(1.0f), m.sqrt(x, m.part("sqrt")), name);
}

}  // namespace cellforge::llvm_backend
