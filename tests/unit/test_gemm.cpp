// The generated GEMM (codegen/llvm/gemm.hpp: thin spec functions calling a tile's kernel library)
// against a naive double-precision reference: sizes that leave vector and tile tails (1, 3, 13,
// 17, 100), every stride/transpose form of A and B, prepacked and strided B, C = and C +=, several
// cache blocks, every edge kernel of the AVX2 and AVX-512 tiles, and column ranges split at
// arbitrary points, which must give bitwise the same C as one call over all columns. Most cases run
// the host's default tile (AVX-512 8×32 on a CPU with AVX-512F, else AVX2 6×16); the tile cases
// run both families where the host has them. Also: the library is compiled once per process and
// shared, and a spec's own code is only a call into it.
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
#include "codegen/llvm/gemm.hpp"

namespace {

using cellforge::jit::CompileOptions;
using cellforge::jit::GemmKernel;
using cellforge::llvm_backend::dense_gemm;
using cellforge::llvm_backend::GemmB;
using cellforge::llvm_backend::GemmSpec;
using cellforge::llvm_backend::GemmTile;
using cellforge::llvm_backend::Transpose;

bool host_has_avx512() { return cellforge::llvm_backend::host_gemm_target().vector_floats >= 16; }

const GemmTile avx2_tile{6, 2, 16, 8};
const GemmTile avx512_tile{8, 2, 32, 16};

// The default AVX2 tile, and the AVX-512 one where the host runs it.
std::vector<GemmTile> tile_families() {
  std::vector<GemmTile> tiles = {avx2_tile};
  if (host_has_avx512()) tiles.push_back(avx512_tile);
  return tiles;
}

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

// Which dimension a test splits between calls.
enum class Split { columns, rows };

// C from calls over the ranges [splits[r], splits[r + 1]) of columns (all rows each) or of rows
// (all columns each).
std::vector<float> run(const GemmKernel& kernel, const Problem& problem, const std::vector<float>& b,
                       const std::vector<int64_t>& splits, Split split = Split::columns) {
  std::vector<float> c = problem.c_initial;
  std::vector<float> scratch(static_cast<size_t>(kernel.scratch_floats()) + 1);
  const int64_t m = problem.spec.m, n = problem.spec.n;
  for (size_t r = 0; r + 1 < splits.size(); ++r) {
    if (split == Split::columns)
      kernel.gemm()(problem.a.data(), b.data(), c.data(), scratch.data(), splits[r], splits[r + 1], 0, m);
    else
      kernel.gemm()(problem.a.data(), b.data(), c.data(), scratch.data(), 0, n, splits[r], splits[r + 1]);
  }
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

TEST_CASE("gemm: A read in place (rows of A) gives bitwise what packed A gives; Aᵀ is packed") {
  using cellforge::llvm_backend::plan_gemm;
  for (const Transpose ta : {Transpose::no, Transpose::yes}) {
    for (const int64_t m : {int64_t{8}, int64_t{29}, int64_t{100}}) {
      // Rows of A (unit stride along k) are read in place by the full tiles; Aᵀ (unit stride along
      // the rows) is packed.
      const GemmSpec unit_stride = make(m, 70, 300, ta, Transpose::no, GemmB::prepacked, true, 16);
      INFO(cellforge::llvm_backend::gemm_key(unit_stride));
      CHECK(plan_gemm(unit_stride).a_in_place == (ta == Transpose::no));
      // The same A with its unit stride doubled (every other float): packed, the general path.
      GemmSpec packed = unit_stride;
      (ta == Transpose::no ? packed.a_col_stride : packed.a_row_stride) = 2;
      (ta == Transpose::no ? packed.a_row_stride : packed.a_col_stride) *= 2;
      CHECK_FALSE(plan_gemm(packed).a_in_place);
      auto unit_stride_kernel = GemmKernel::compile(unit_stride, test_options());
      auto packed_kernel = GemmKernel::compile(packed, test_options());
      Problem unit_stride_problem(unit_stride, 4100u), packed_problem(packed, 4100u);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t p = 0; p < unit_stride.k; ++p)
          packed_problem.a[static_cast<size_t>(i * packed.a_row_stride + p * packed.a_col_stride)] =
              unit_stride_problem.op_a(i, p);
      packed_problem.b = unit_stride_problem.b;
      packed_problem.c_initial = unit_stride_problem.c_initial;
      const std::vector<float> c = run(*unit_stride_kernel, unit_stride_problem, b_operand(*unit_stride_kernel, unit_stride_problem),
                                       {0, unit_stride.n});
      check_against_reference(unit_stride_problem, c);
      CHECK(c == run(*packed_kernel, packed_problem, b_operand(*packed_kernel, packed_problem), {0, packed.n}));
    }
  }
  // Fewer rows than a tile (a matrix-vector product): packed, K-split kernels.
  CHECK_FALSE(plan_gemm(make(3, 70, 300, Transpose::no, Transpose::no, GemmB::prepacked, false, 0)).a_in_place);
}

TEST_CASE("gemm: several K, M and N blocks") {
  // K = 520 is several balanced K blocks (how many follows the machine's L1: 2 or 3 on a 48 KiB L1)
  // and M = 400 (700) at least two blocks of rows; strided B with N = 3100 needs two packed blocks
  // of panels.
  for (const GemmTile& tile : tile_families()) {
    const bool wide = tile.vector_floats == 16;
    for (int form = 0; form < 2; ++form) {
      GemmSpec spec = make(wide ? 700 : 400, 300, 520, Transpose::no, form ? Transpose::yes : Transpose::no,
                           form ? GemmB::prepacked : GemmB::strided, form == 1, 8);
      spec.tile = tile;
      const auto plan = cellforge::llvm_backend::plan_gemm(spec);
      CHECK(plan.k_blocks >= 2);
      CHECK(plan.kc * (plan.k_blocks - 1) + plan.kc_last == 520);
      CHECK(plan.kc - plan.kc_last < plan.k_blocks);  // balanced
      CHECK(plan.m_blocks >= 2);
      check_spec(spec, 5000u + form);
    }
    GemmSpec wide_n = make(7, 3100, 520, Transpose::yes, Transpose::no, GemmB::strided, true, 4);
    wide_n.tile = tile;
    const auto plan = cellforge::llvm_backend::plan_gemm(wide_n);
    CHECK(plan.nc_panels < plan.panels);
    check_spec(wide_n, 5002u);
  }
}

TEST_CASE("gemm: other register tiles (4×24, 8×16 and 8×24 with 32 registers, 3×8; AVX-512 14×32, 6×64, 3×16)") {
  std::vector<GemmTile> tiles = {{4, 3, 16, 8}, {8, 2, 32, 8}, {8, 3, 32, 8}, {3, 1, 16, 8}};
  if (host_has_avx512()) tiles.insert(tiles.end(), {{14, 2, 32, 16}, {6, 4, 32, 16}, {3, 1, 32, 16}});
  uint32_t seed = 3500;
  for (const auto& tile : tiles)
    for (const auto& shape : {std::array<int64_t, 3>{13, 100, 17}, {2, 77, 40}, {50, 24, 300}}) {
      GemmSpec spec = make(shape[0], shape[1], shape[2], Transpose::no, seed % 2 ? Transpose::yes : Transpose::no,
                           seed % 3 ? GemmB::prepacked : GemmB::strided, seed % 4 == 0, 1);
      spec.tile = tile;
      check_spec(spec, seed++);
    }
}

TEST_CASE("gemm: every edge kernel of the AVX2 and AVX-512 tiles, whole and cut into column ranges") {
  // For each row count r below a tile: m = mr + r runs the edge kernels over every panel group size
  // (n = 9 panels + 5 columns leaves a short group and a partial panel), m = r the K-split kernels
  // of matrix-vector products. Each is checked against the reference, then split into column
  // ranges that cut groups and panels, which must give bitwise the same C.
  uint32_t seed = 3700;
  for (const GemmTile& tile : tile_families()) {
    const int64_t nr = tile.vectors * tile.vector_floats;
    for (int64_t rows = 1; rows < tile.rows; ++rows)
      for (const int64_t m : {tile.rows + rows, rows}) {
        GemmSpec spec = make(m, 9 * nr + 5, 37, seed % 2 ? Transpose::yes : Transpose::no, Transpose::no,
                             seed % 3 ? GemmB::prepacked : GemmB::strided, seed % 4 == 0, 3);
        spec.tile = tile;
        INFO(cellforge::llvm_backend::gemm_key(spec) << " seed " << seed);
        auto kernel = GemmKernel::compile(spec, test_options());
        Problem problem(spec, seed++);
        const std::vector<float> b = b_operand(*kernel, problem);
        const std::vector<float> whole = run(*kernel, problem, b, {0, spec.n});
        check_against_reference(problem, whole);
        const std::vector<float> parts = run(*kernel, problem, b, {0, nr / 2, 3 * nr + 1, 4 * nr, 7 * nr - 3, spec.n});
        CHECK(std::memcmp(parts.data(), whole.data(), whole.size() * sizeof(float)) == 0);
      }
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

TEST_CASE("gemm: blocks of columns in one call give bitwise what a call per block gives") {
  // A thread's columns of every gate (blocks of the same range, H apart, listed from the first or
  // from the last): matrix-vector and tile shapes, prepacked and strided B, = and +=, ranges cut
  // in the middle of a panel.
  const GemmSpec specs[] = {
      make(1, 1024, 256, Transpose::no, Transpose::yes, GemmB::prepacked, false, 0),
      make(3, 768, 96, Transpose::no, Transpose::no, GemmB::prepacked, true, 0),
      make(13, 300, 17, Transpose::no, Transpose::no, GemmB::strided, false, 3),
      make(4, 400, 64, Transpose::yes, Transpose::no, GemmB::prepacked, true, 1),
  };
  uint32_t seed = 7000;
  for (const GemmSpec& spec : specs) {
    auto kernel = GemmKernel::compile(spec, test_options());
    Problem problem(spec, seed);
    const std::vector<float> b = b_operand(*kernel, problem);
    std::vector<float> scratch(static_cast<size_t>(kernel->scratch_floats()) + 1);
    std::mt19937 random(seed);
    for (int trial = 0; trial < 8; ++trial) {
      const int64_t blocks = 1 + trial % 4, stride = spec.n / blocks;
      const int64_t lo = std::uniform_int_distribution<int64_t>(0, stride)(random);
      const int64_t hi = std::uniform_int_distribution<int64_t>(lo, stride)(random);
      INFO(cellforge::llvm_backend::gemm_key(spec) << " blocks " << blocks << " of [" << lo << ", " << hi << ") "
                                                   << stride << " apart");
      std::vector<float> one_call = problem.c_initial, per_block = problem.c_initial;
      if (trial % 2 == 0)
        kernel->gemm_blocks()(problem.a.data(), b.data(), one_call.data(), scratch.data(), lo, hi, blocks, stride, 0,
                              spec.m);
      else  // the same blocks listed from the last (a negative stride)
        kernel->gemm_blocks()(problem.a.data(), b.data(), one_call.data(), scratch.data(), lo + (blocks - 1) * stride,
                              hi + (blocks - 1) * stride, blocks, -stride, 0, spec.m);
      for (int64_t j = 0; j < blocks; ++j)
        kernel->gemm()(problem.a.data(), b.data(), per_block.data(), scratch.data(), lo + j * stride, hi + j * stride,
                       0, spec.m);
      CHECK(std::memcmp(one_call.data(), per_block.data(), one_call.size() * sizeof(float)) == 0);
      // Nothing outside the blocks is written.
      for (int64_t i = 0; i < spec.m; ++i)
        for (int64_t c = 0; c < spec.n; ++c) {
          const int64_t in_block = c % stride;
          if (c < blocks * stride && in_block >= lo && in_block < hi) continue;
          const size_t at = static_cast<size_t>(i * spec.c_row_stride + c);
          if (std::memcmp(&one_call[at], &problem.c_initial[at], sizeof(float)) != 0)
            FAIL("C(" << i << "," << c << ") outside the blocks was written");
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
        kernel->gemm()(problem.a.data(), b.data(), c.data(), scratch.data(), cuts[t], cuts[t + 1], 0, spec.m);
      });
    for (auto& thread : threads) thread.join();
    CHECK(std::memcmp(c.data(), whole.data(), whole.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("gemm: ranges of rows, aligned to the tile or not, give bitwise what one call gives") {
  // Tall products with few columns (a weight gradient dW = dz^T x) split their rows among threads:
  // each call then packs only its rows of A. Random cuts, unaligned on purpose, edge rows and
  // several M blocks (1100 rows at kc = 100: two blocks of 552 and 548) included.
  const GemmSpec specs[] = {make(1100, 40, 300, Transpose::yes, Transpose::no, GemmB::strided, false, 3),
                            make(70, 333, 600, Transpose::no, Transpose::yes, GemmB::prepacked, true, 0),
                            make(9, 64, 17, Transpose::no, Transpose::no, GemmB::strided, false, 1)};
  uint32_t seed = 8100;
  for (const GemmSpec& spec : specs) {
    INFO(cellforge::llvm_backend::gemm_key(spec));
    auto kernel = GemmKernel::compile(spec, test_options());
    Problem problem(spec, seed);
    const std::vector<float> b = b_operand(*kernel, problem);
    const std::vector<float> whole = run(*kernel, problem, b, {0, spec.n});
    check_against_reference(problem, whole);
    std::mt19937 random(seed++);
    for (int trial = 0; trial < 6; ++trial) {
      std::vector<int64_t> splits = {0, spec.m};
      for (int i = 0; i < 1 + trial % 4; ++i) splits.push_back(std::uniform_int_distribution<int64_t>(0, spec.m)(random));
      std::sort(splits.begin(), splits.end());
      CHECK(std::memcmp(run(*kernel, problem, b, splits, Split::rows).data(), whole.data(), whole.size() * sizeof(float)) == 0);
      // One range alone writes only its rows.
      const int64_t lo = splits[1], hi = splits[splits.size() - 2];
      const std::vector<float> one = run(*kernel, problem, b, {lo, hi}, Split::rows);
      for (int64_t i = 0; i < spec.m; ++i)
        for (int64_t j = 0; j < spec.c_row_stride; ++j) {
          const size_t at = static_cast<size_t>(i * spec.c_row_stride + j);
          const float expected = i >= lo && i < hi ? whole[at] : problem.c_initial[at];
          if (std::memcmp(&one[at], &expected, sizeof(float)) != 0)
            FAIL("C(" << i << "," << j << ") rows " << lo << ".." << hi);
        }
    }
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

TEST_CASE("gemm: a spec's own code is one call into its tile's library") {
  const GemmSpec spec = make(13, 40, 20, Transpose::no, Transpose::no, GemmB::prepacked, false, 0);
  const std::string ir = cellforge::jit::emit_gemm(spec, cellforge::jit::Stage::optimized_ir);
  const std::string entry = cellforge::llvm_backend::gemm_library_symbol(spec.tile, "gemm");
  CHECK(ir.find("call void @" + entry + "(ptr") != std::string::npos);
  CHECK(ir.find("@" + cellforge::llvm_backend::gemm_symbol(spec) + ".shape") != std::string::npos);
  CHECK(ir.find("@" + cellforge::llvm_backend::gemm_library_symbol(spec.tile, "pack")) != std::string::npos);
  CHECK(ir.find("fma") == std::string::npos);
  CHECK(ir.find("br ") == std::string::npos);  // no loops of its own
}

TEST_CASE("gemm: the library's IR reads like the algorithm, and its kernels use vector fma without spills") {
  for (const GemmTile& tile : tile_families()) {
    INFO(cellforge::llvm_backend::gemm_tile_name(tile));
    const std::string ir = cellforge::jit::emit_gemm_library(tile, cellforge::jit::Stage::ir);
    const std::string vector = tile.vector_floats == 16 ? "v16f32" : "v8f32";
    CHECK(ir.find("@llvm.fma." + vector) != std::string::npos);
    CHECK(ir.find("%acc.r0.v0") != std::string::npos);
    CHECK(ir.find("%a_panel") != std::string::npos);
    CHECK(ir.find("%b_panel") != std::string::npos);
    CHECK(ir.find("%edge_kernel") != std::string::npos);
    const std::string tile_kernel = "gemm_" + cellforge::llvm_backend::gemm_tile_name(tile) + ".kernel_" +
                                    std::to_string(tile.rows) + "x" + std::to_string(tile.vectors * tile.vector_floats);
    CHECK(ir.find("@" + tile_kernel + "(") != std::string::npos);
    // The assembly of the full-tile kernels (A packed, or read in place from rows of A): fma on ymm
    // or zmm registers, no spill in them.
    const std::string assembly = cellforge::jit::emit_gemm_library(tile, cellforge::jit::Stage::assembly);
    CHECK(assembly.find("_at_in_place") == std::string::npos);
    for (const std::string& name : {tile_kernel, tile_kernel + "_a_in_place"}) {
      INFO(name);
      const size_t begin = assembly.find("\n" + name + ":");
      REQUIRE(begin != std::string::npos);
      const std::string kernel = assembly.substr(begin, assembly.find(".Lfunc_end", begin) - begin);
      CHECK(kernel.find(tile.vector_floats == 16 ? "vfmadd231ps\t%zmm" : "vfmadd231ps\t%ymm") != std::string::npos);
      CHECK(kernel.find("Spill") == std::string::npos);
      CHECK(kernel.find("Reload") == std::string::npos);
    }
  }
}

TEST_CASE("gemm: the library is compiled once per process and shared") {
  const cellforge::jit::Library library = cellforge::jit::gemm_library(avx2_tile);
  const auto first = cellforge::jit::library_object(library);
  cellforge::jit::CompileStats stats;
  const auto second = cellforge::jit::library_object(library, "", &stats);
  CHECK(first.get() == second.get());
  CHECK(stats.build_ms == 0);
  CHECK(stats.codegen_ms == 0);
  CHECK(!stats.from_disk_cache);
  // Two compilations with the same tile link the same object.
  const GemmSpec spec = make(5, 17, 9, Transpose::no, Transpose::no, GemmB::strided, false, 0);
  auto one = GemmKernel::compile(spec, test_options());
  auto two = GemmKernel::compile(make(7, 33, 3, Transpose::yes, Transpose::no, GemmB::prepacked, true, 1), test_options());
  CHECK(one->stats().library_ms < 50);  // from memory: never compiled twice
  CHECK(two->stats().library_ms < 50);
  check_spec(spec, 7100u);
}

TEST_CASE("gemm: the default tile comes from the host's features") {
  using cellforge::llvm_backend::gemm_target_from_features;
  CHECK(gemm_target_from_features("+avx,+avx2,+fma").vector_floats == 8);
  CHECK(gemm_target_from_features("+avx,+avx2,+fma").registers == 16);
  CHECK(gemm_target_from_features("+avx2,+avx512f,+avx512vl").vector_floats == 16);
  CHECK(gemm_target_from_features("+avx2,+avx512f,+avx512vl").registers == 32);
  const auto host = gemm_target_from_features(cellforge::jit::host_target().features);
  const GemmTile expected = cellforge::llvm_backend::default_gemm_tile(host);
  const GemmSpec spec;
  CHECK(spec.tile.vector_floats == expected.vector_floats);
  CHECK(spec.tile.rows == expected.rows);
  CHECK(spec.tile.vectors == expected.vectors);
  CHECK(spec.tile.registers == expected.registers);
  CHECK(cellforge::llvm_backend::gemm_column_granule(spec) == expected.vectors * expected.vector_floats);
}

TEST_CASE("gemm: an invalid spec is an internal error that names the problem") {
  GemmSpec spec = make(4, 8, 0, Transpose::no, Transpose::no, GemmB::strided, false, 0);
  CHECK_THROWS_WITH(GemmKernel::compile(spec, test_options()), Catch::Contains("m, n and k must be at least 1"));
  spec = make(4, 8, 2, Transpose::no, Transpose::no, GemmB::strided, false, 0);
  spec.c_row_stride = 7;
  CHECK_THROWS_WITH(GemmKernel::compile(spec, test_options()), Catch::Contains("C row stride"));
  spec = make(4, 8, 2, Transpose::no, Transpose::no, GemmB::strided, false, 0);
  spec.tile = {8, 2, 16, 8};  // 16 accumulators + 2 B vectors + 1 broadcast do not fit in 16 registers
  CHECK_THROWS_WITH(GemmKernel::compile(spec, test_options()), Catch::Contains("more vector registers"));
  spec.tile = {17, 1, 32, 8};
  CHECK_THROWS_WITH(GemmKernel::compile(spec, test_options()), Catch::Contains("tile.rows must be 1..16"));
  spec.tile = {4, 1, 16, 4};
  CHECK_THROWS_WITH(GemmKernel::compile(spec, test_options()), Catch::Contains("vector_floats must be 8 or 16"));
  if (!host_has_avx512()) {
    spec.tile = avx512_tile;
    CHECK_THROWS_WITH(GemmKernel::compile(spec, test_options()), Catch::Contains("no AVX-512F"));
  }
}
