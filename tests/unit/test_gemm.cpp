// The generated GEMM (codegen/llvm/gemm.cpp) against a naive double-precision reference: sizes
// that leave vector and tile tails (1, 3, 13, 17, 100), every stride/transpose form of A and B,
// prepacked and strided B, C = and C +=, several cache blocks, and column ranges split at arbitrary
// points, which must give bitwise the same C as one call over all columns.
//
// Tolerance. Each C element is float32 fma chains (one per K block) added to C, so by the standard
// summation bound |computed − exact| ≤ γ_n · Σ|terms|, γ_n = n·u/(1 − n·u), u = 2⁻²⁴, with n the
// number of rounded operations on the element's path: at most k fma + one add per K block + one
// add of the old C. We check |c − ref| ≤ 2·(k + 8)·u · (|C_old| + Σ_p |a_ip·b_pj|) (a factor 2 of
// slack, and k_blocks ≤ 8 here). This scales with the data, so it is tight: a single lost or doubled
// product changes an element by ~Σ/k, far above (k + 8)·u·Σ for every k tested (k·(k + 8)·u ≪ 1).
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "codegen/ir/error.hpp"
#include "codegen/jit/gemm_kernels.hpp"

namespace {

using cellforge::jit::CompileOptions;
using cellforge::jit::GemmKernel;
using cellforge::llvm_backend::dense_gemm;
using cellforge::llvm_backend::GemmB;
using cellforge::llvm_backend::GemmSpec;
using cellforge::llvm_backend::Transpose;

CompileOptions test_options() {
  CompileOptions options;
  options.use_disk_cache = false;  // tests must exercise the generator, not an old object file
  return options;
}

// Buffers for one spec, filled with random values in [-1, 1]; C holds a sentinel outside the m×n
// region (row padding) so stray writes are caught.
struct Problem {
  GemmSpec spec;
  std::vector<float> a, b, c_initial;
  static constexpr float sentinel = -12345.0f;

  Problem(const GemmSpec& s, uint32_t seed) : spec(s) {
    std::mt19937 random(seed);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    a.resize(static_cast<size_t>((s.m - 1) * s.a_row_stride + (s.k - 1) * s.a_col_stride + 1));
    b.resize(static_cast<size_t>((s.k - 1) * s.b_row_stride + (s.n - 1) * s.b_col_stride + 1));
    c_initial.assign(static_cast<size_t>(s.m * s.c_row_stride), sentinel);
    for (float& x : a) x = value(random);
    for (float& x : b) x = value(random);
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) c_initial[i * s.c_row_stride + j] = value(random);
  }
  float op_a(int64_t i, int64_t p) const { return a[i * spec.a_row_stride + p * spec.a_col_stride]; }
  float op_b(int64_t p, int64_t j) const { return b[p * spec.b_row_stride + j * spec.b_col_stride]; }
};

// B as the gemm reads it: the buffer itself, or packed by the kernel's own pack function (over a
// NaN-filled buffer, so an unwritten float shows up).
std::vector<float> b_operand(const GemmKernel& kernel, const Problem& problem) {
  if (problem.spec.b != GemmB::prepacked) return problem.b;
  std::vector<float> packed(static_cast<size_t>(kernel.packed_floats()), std::numeric_limits<float>::quiet_NaN());
  kernel.pack()(problem.b.data(), packed.data(), 0, problem.spec.n);
  return packed;
}

std::vector<float> run(const GemmKernel& kernel, const Problem& problem, const std::vector<float>& b,
                       const std::vector<int64_t>& splits) {
  std::vector<float> c = problem.c_initial;
  std::vector<float> scratch(static_cast<size_t>(kernel.scratch_floats()) + 1);
  for (size_t r = 0; r + 1 < splits.size(); ++r)
    kernel.gemm()(problem.a.data(), b.data(), c.data(), scratch.data(), splits[r], splits[r + 1]);
  return c;
}

void check_against_reference(const Problem& problem, const std::vector<float>& c) {
  const GemmSpec& s = problem.spec;
  const double u = std::ldexp(1.0, -24);
  int failures = 0;
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.c_row_stride; ++j) {
      const float got = c[i * s.c_row_stride + j];
      if (j >= s.n) {  // padding of the row: untouched
        if (got != Problem::sentinel && ++failures <= 5) FAIL_CHECK("padding C(" << i << "," << j << ") = " << got);
        continue;
      }
      const double old = s.accumulate ? problem.c_initial[i * s.c_row_stride + j] : 0.0;
      double exact = old, magnitude = std::abs(old);
      for (int64_t p = 0; p < s.k; ++p) {
        const double product = double(problem.op_a(i, p)) * double(problem.op_b(p, j));
        exact += product;
        magnitude += std::abs(product);
      }
      const double tolerance = 2.0 * double(s.k + 8) * u * magnitude;
      if (!(std::abs(got - exact) <= tolerance) && ++failures <= 5)
        FAIL_CHECK("C(" << i << "," << j << ") = " << got << ", reference " << exact << ", tolerance " << tolerance
                        << " (" << cellforge::llvm_backend::gemm_key(s) << ")");
    }
  }
  CHECK(failures == 0);
}

// Compiles, runs over all columns, checks against the reference; returns C.
std::vector<float> check_spec(const GemmSpec& spec, uint32_t seed) {
  INFO(cellforge::llvm_backend::gemm_key(spec) << " seed " << seed);
  auto kernel = GemmKernel::compile(spec, test_options());
  Problem problem(spec, seed);
  std::vector<float> c = run(*kernel, problem, b_operand(*kernel, problem), {0, spec.n});
  check_against_reference(problem, c);
  return c;
}

GemmSpec make(int64_t m, int64_t n, int64_t k, Transpose ta, Transpose tb, GemmB b, bool accumulate, int64_t pad) {
  const int64_t lda = (ta == Transpose::no ? k : m) + pad;
  const int64_t ldb = (tb == Transpose::no ? n : k) + pad;
  return dense_gemm(m, n, k, ta, lda, tb, ldb, n + pad, b, accumulate);
}

const int64_t sizes[] = {1, 3, 13, 16, 17, 64, 100, 256};

}  // namespace

TEST_CASE("gemm: every M and N of {1,3,13,16,17,64,100,256}, K cycling through the same set") {
  // 64 shapes; K and the operand forms rotate so that each form meets many edge combinations.
  int index = 0;
  for (int64_t m : sizes)
    for (int64_t n : sizes) {
      const int64_t k = sizes[(index * 3 + 1) % 8];
      const Transpose ta = index % 2 ? Transpose::yes : Transpose::no;
      const Transpose tb = (index / 2) % 2 ? Transpose::yes : Transpose::no;
      const GemmB b = (index / 4) % 2 ? GemmB::prepacked : GemmB::strided;
      check_spec(make(m, n, k, ta, tb, b, index % 3 == 0, index % 4), 1000u + index);
      ++index;
    }
}

// All 512 (M, N, K) of the set, forms rotating: ~25 s, so hidden from the default run and from
// CTest. Run it with: unit_tests "[exhaustive]"
TEST_CASE("gemm: every (M, N, K) of {1,3,13,16,17,64,100,256}", "[.][exhaustive]") {
  int index = 0;
  for (int64_t m : sizes)
    for (int64_t n : sizes)
      for (int64_t k : sizes) {
        check_spec(make(m, n, k, index % 2 ? Transpose::yes : Transpose::no,
                        (index / 2) % 2 ? Transpose::yes : Transpose::no,
                        (index / 4) % 2 ? GemmB::prepacked : GemmB::strided, index % 3 == 0, index % 5),
                   8000u + index);
        ++index;
      }
}

TEST_CASE("gemm: every K of {1,3,13,16,17,64,100,256} for edge-heavy M×N") {
  // M = 1..5 are the matrix-vector kernels (K split over accumulator sets), 13 and 17 leave 1 and 5
  // edge rows under full tiles.
  const int64_t shapes[][2] = {{1, 17}, {2, 50}, {3, 100}, {4, 33}, {5, 20}, {13, 13}, {17, 256}, {100, 3}, {64, 16}};
  int index = 0;
  for (const auto& shape : shapes)
    for (int64_t k : sizes) {
      const GemmB b = index % 2 ? GemmB::prepacked : GemmB::strided;
      check_spec(make(shape[0], shape[1], k, Transpose::no, Transpose::no, b, index % 3 == 1, 1), 2000u + index);
      ++index;
    }
}

TEST_CASE("gemm: all 16 forms (Aᵀ or not, Bᵀ or not, prepacked or not, = or +=)") {
  const int64_t shapes[][3] = {{13, 17, 100}, {1, 256, 17}, {100, 64, 3}, {17, 13, 256}};
  for (const auto& shape : shapes)
    for (int form = 0; form < 16; ++form)
      check_spec(make(shape[0], shape[1], shape[2], form & 1 ? Transpose::yes : Transpose::no,
                      form & 2 ? Transpose::yes : Transpose::no, form & 4 ? GemmB::prepacked : GemmB::strided,
                      (form & 8) != 0, form % 3),
                 3000u + form);
}

TEST_CASE("gemm: general strides (A with both strides > 1, B with column stride 2)") {
  GemmSpec spec;
  spec.m = 13, spec.n = 21, spec.k = 19;
  spec.a_row_stride = 3, spec.a_col_stride = 40;  // rows interleaved in a wider buffer
  spec.b_row_stride = 50, spec.b_col_stride = 2;  // every other column
  spec.c_row_stride = 24;
  check_spec(spec, 4000u);
  spec.b = GemmB::prepacked;
  spec.accumulate = true;
  check_spec(spec, 4001u);
}

TEST_CASE("gemm: several K, M and N blocks") {
  // plan_gemm gives K = 520 three balanced K blocks and M = 400 two blocks of rows; strided B with
  // N = 3100 needs two packed blocks of panels.
  for (int form = 0; form < 2; ++form) {
    GemmSpec spec = make(400, 300, 520, Transpose::no, form ? Transpose::yes : Transpose::no,
                         form ? GemmB::prepacked : GemmB::strided, form == 1, 8);
    const auto plan = cellforge::llvm_backend::plan_gemm(spec);
    CHECK(plan.k_blocks == 3);
    CHECK(plan.m_blocks == 2);
    check_spec(spec, 5000u + form);
  }
  GemmSpec wide = make(7, 3100, 520, Transpose::yes, Transpose::no, GemmB::strided, true, 4);
  const auto plan = cellforge::llvm_backend::plan_gemm(wide);
  CHECK(plan.nc_panels < plan.panels);
  check_spec(wide, 5002u);
}

TEST_CASE("gemm: other register tiles (4×24, 8×16 and 8×24 with 32 registers, 3×8)") {
  const cellforge::llvm_backend::GemmTile tiles[] = {{4, 3, 16}, {8, 2, 32}, {8, 3, 32}, {3, 1, 16}};
  uint32_t seed = 3500;
  for (const auto& tile : tiles)
    for (const auto& shape : {std::array<int64_t, 3>{13, 100, 17}, {2, 77, 40}, {50, 24, 300}}) {
      GemmSpec spec = make(shape[0], shape[1], shape[2], Transpose::no, seed % 2 ? Transpose::yes : Transpose::no,
                           seed % 3 ? GemmB::prepacked : GemmB::strided, seed % 4 == 0, 1);
      spec.tile = tile;
      check_spec(spec, seed++);
    }
}

TEST_CASE("gemm: N split into arbitrary column ranges gives bitwise the same C") {
  // Seeds are printed by INFO on failure; splits are random, unaligned and sometimes empty.
  const GemmSpec specs[] = {
      make(13, 100, 17, Transpose::no, Transpose::no, GemmB::prepacked, false, 3),
      make(1, 256, 100, Transpose::no, Transpose::yes, GemmB::prepacked, true, 0),
      make(3, 1000, 64, Transpose::yes, Transpose::no, GemmB::strided, false, 5),
      make(64, 300, 520, Transpose::no, Transpose::no, GemmB::strided, true, 1),
      make(100, 17, 256, Transpose::yes, Transpose::yes, GemmB::prepacked, false, 2),
  };
  uint32_t seed = 6000;
  for (const GemmSpec& spec : specs) {
    auto kernel = GemmKernel::compile(spec, test_options());
    Problem problem(spec, seed);
    const std::vector<float> b = b_operand(*kernel, problem);
    const std::vector<float> whole = run(*kernel, problem, b, {0, spec.n});
    check_against_reference(problem, whole);
    std::mt19937 random(seed);
    for (int trial = 0; trial < 12; ++trial) {
      INFO(cellforge::llvm_backend::gemm_key(spec) << " seed " << seed << " trial " << trial);
      std::vector<int64_t> splits = {0, spec.n};
      const int cuts = 1 + trial % 5;
      for (int i = 0; i < cuts; ++i) splits.push_back(std::uniform_int_distribution<int64_t>(0, spec.n)(random));
      std::sort(splits.begin(), splits.end());
      if (trial % 2) std::shuffle(splits.begin() + 1, splits.end() - 1, random);  // out-of-order calls too
      std::sort(splits.begin(), splits.end());
      std::vector<float> parts = run(*kernel, problem, b, splits);
      CHECK(std::memcmp(parts.data(), whole.data(), whole.size() * sizeof(float)) == 0);
      // One range alone writes only its columns.
      const int64_t lo = splits[1], hi = splits[splits.size() - 2];
      std::vector<float> one = run(*kernel, problem, b, {lo, hi});
      for (int64_t i = 0; i < spec.m; ++i)
        for (int64_t j = 0; j < spec.c_row_stride; ++j) {
          const size_t at = static_cast<size_t>(i * spec.c_row_stride + j);
          const float expected = j >= lo && j < hi ? whole[at] : problem.c_initial[at];
          if (std::memcmp(&one[at], &expected, sizeof(float)) != 0)
            FAIL("C(" << i << "," << j << ") range " << lo << ".." << hi);
        }
    }
    ++seed;
  }
}

TEST_CASE("gemm: threads on disjoint column ranges, each with its own scratch, match one call") {
  const GemmSpec specs[] = {make(50, 512, 128, Transpose::no, Transpose::yes, GemmB::prepacked, false, 16),
                            make(1, 1000, 300, Transpose::no, Transpose::no, GemmB::prepacked, true, 0),
                            make(70, 333, 600, Transpose::yes, Transpose::no, GemmB::strided, false, 3)};
  uint32_t seed = 6500;
  for (const GemmSpec& spec : specs) {
    INFO(cellforge::llvm_backend::gemm_key(spec));
    auto kernel = GemmKernel::compile(spec, test_options());
    Problem problem(spec, seed++);
    const std::vector<float> b = b_operand(*kernel, problem);
    const std::vector<float> whole = run(*kernel, problem, b, {0, spec.n});
    std::vector<float> c = problem.c_initial;
    const int64_t cuts[] = {0, spec.n / 3 + 1, spec.n / 2 + 5, spec.n};  // unaligned on purpose
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t)
      threads.emplace_back([&, t] {
        std::vector<float> scratch(static_cast<size_t>(kernel->scratch_floats()));
        kernel->gemm()(problem.a.data(), b.data(), c.data(), scratch.data(), cuts[t], cuts[t + 1]);
      });
    for (auto& thread : threads) thread.join();
    CHECK(std::memcmp(c.data(), whole.data(), whole.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("gemm: packing split into column ranges writes the same packed buffer") {
  const GemmSpec spec = make(5, 77, 9, Transpose::no, Transpose::yes, GemmB::prepacked, false, 2);
  auto kernel = GemmKernel::compile(spec, test_options());
  Problem problem(spec, 7000u);
  const std::vector<float> whole = b_operand(*kernel, problem);
  std::vector<float> parts(whole.size(), std::numeric_limits<float>::quiet_NaN());
  const int64_t cuts[] = {0, 5, 16, 17, 40, 77};
  for (int i = 0; i + 1 < 6; ++i) kernel->pack()(problem.b.data(), parts.data(), cuts[i], cuts[i + 1]);
  CHECK(std::memcmp(parts.data(), whole.data(), whole.size() * sizeof(float)) == 0);
}

TEST_CASE("gemm: random shapes and forms") {
  const uint32_t seed = std::random_device{}();
  INFO("random seed " << seed << " (a failure here becomes a fixed case above)");
  std::mt19937 random(seed);
  auto size = [&](int64_t max) { return std::uniform_int_distribution<int64_t>(1, max)(random); };
  for (int trial = 0; trial < 8; ++trial) {
    const int form = static_cast<int>(random() % 16);
    check_spec(make(size(70), size(90), size(300), form & 1 ? Transpose::yes : Transpose::no,
                    form & 2 ? Transpose::yes : Transpose::no, form & 4 ? GemmB::prepacked : GemmB::strided,
                    (form & 8) != 0, static_cast<int64_t>(random() % 4)),
               seed + trial);
  }
}

TEST_CASE("gemm: the IR reads like the algorithm and the kernel uses 8-wide fma") {
  const GemmSpec spec = make(13, 40, 20, Transpose::no, Transpose::no, GemmB::prepacked, false, 0);
  const std::string ir = cellforge::jit::emit_gemm(spec, cellforge::jit::Stage::ir);
  CHECK(ir.find("@llvm.fma.v8f32") != std::string::npos);
  CHECK(ir.find("%acc.r0.v0") != std::string::npos);
  CHECK(ir.find("%a_panel") != std::string::npos);
  CHECK(ir.find("%b_panel") != std::string::npos);
  CHECK(ir.find(".kernel_6x16") != std::string::npos);
  const std::string assembly = cellforge::jit::emit_gemm(spec, cellforge::jit::Stage::assembly);
  CHECK(assembly.find("vfmadd231ps") != std::string::npos);
}

TEST_CASE("gemm: an invalid spec is an internal error that names the problem") {
  GemmSpec spec = make(4, 8, 0, Transpose::no, Transpose::no, GemmB::strided, false, 0);
  CHECK_THROWS_WITH(GemmKernel::compile(spec, test_options()), Catch::Contains("m, n and k must be at least 1"));
  spec = make(4, 8, 2, Transpose::no, Transpose::no, GemmB::strided, false, 0);
  spec.c_row_stride = 7;
  CHECK_THROWS_WITH(GemmKernel::compile(spec, test_options()), Catch::Contains("C row stride"));
  spec = make(4, 8, 2, Transpose::no, Transpose::no, GemmB::strided, false, 0);
  spec.tile = {8, 2, 16};  // 16 accumulators + 2 B vectors + 1 broadcast do not fit in 16 registers
  CHECK_THROWS_WITH(GemmKernel::compile(spec, test_options()), Catch::Contains("more vector registers"));
}
