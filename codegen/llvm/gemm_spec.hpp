// GemmSpec: the description of one matrix product the generated code performs, and GemmPlan, the
// blocking derived from it. Plain data, no LLVM: the network plan chooses tiles (GemmTarget) and
// the runtime, the tests and the benchmarks size their buffers with gemm_packed_floats() /
// gemm_scratch_floats().
//
//   C[m×n]  (= or +=)  op(A)[m×k] · op(B)[k×n]          float32, every size known when the plan is made
//
//   op(A)(i, p) = A[i·a_row_stride + p·a_col_stride]      A or Aᵀ of a row-major buffer
//   op(B)(p, j) = B[p·b_row_stride + j·b_col_stride]      B or Bᵀ of a row-major buffer
//   C(i, j)     = C[i·c_row_stride + j]
//
// B is read either in that strided form, or *prepacked*: the gemm then reads a buffer written
// earlier by the pack function of the same spec (constant weights are packed once per network
// call and reused by every time step).
//
// The packed layout of B. Columns are cut into panels of nr = tile.vector_floats · tile.vectors
// columns; panel q holds columns [q·nr, q·nr + nr). Panel q starts at float q·k·nr and stores, for
// p = 0..k-1, the nr values op(B)(p, q·nr .. q·nr+nr-1) contiguously (row p of the panel at
// q·k·nr + p·nr). Columns past n in the last panel are zero. Size: ceil(n / nr) · k · nr floats.
//
// Buffers need only float alignment, but give the packed buffer and scratch 64-byte alignment (a
// panel row of 16 floats is then one cache line: the matrix-vector product at batch 1 ran ~30%
// slower from a misaligned packed buffer) and pad leading dimensions of A and C that are multiples
// of 256 floats (research/perf-peers.md: power-of-two strides alias in the caches). In a time loop
// use prepacked B: strided B is packed into scratch on every call (~15% of a step at m = 32).
//
// Why nr-column panels: the micro-kernel reads one row of a panel (`vectors` vectors) per k step, so
// a panel is read front to back, contiguous and prefetch-friendly, and a panel of one K block stays
// in L1 while every row tile of A passes over it.
//
// The code that runs a spec is a kernel library compiled once per machine and tile (gemm.hpp): the
// spec only picks the tile and supplies its sizes, strides and plan to the library at run time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace cellforge::llvm_backend {

/// The register tile of the micro-kernel: `rows` rows of C by `vectors` vectors of `vector_floats`
/// floats (8: AVX2 ymm, 16: AVX-512 zmm), held in rows·vectors vector accumulators. `registers` is
/// the vector register count of the target (16 ymm with AVX2, 32 zmm with AVX-512). The tile must
/// fit: accumulators + B vectors + 1 broadcast ≤ registers (AVX2's 6×16 uses 12 + 2 + 1 = 15 of 16;
/// a kernel that does not fit spills in its k loop). The kernels of edge rows and of matrix-vector
/// products are sized from `registers` too, keeping one more spare. The tile is part of the spec: it
/// fixes nr (so the packed layout) and the K blocking (so the rounding of C).
struct GemmTile {
  int64_t rows = 6;
  int64_t vectors = 2;
  int64_t registers = 16;
  int64_t vector_floats = 8;
};

/// What the GEMM needs to know of a CPU: its widest float vector and how many of them it holds in
/// registers. Plain data, so the (LLVM-free) network plan can choose tiles.
struct GemmTarget {
  int64_t vector_floats = 8;
  int64_t registers = 16;
};

/// The target of an LLVM feature string ("+avx2,+fma,+avx512f,..."): AVX-512F gives 16-float
/// vectors in 32 registers, anything else 8-float vectors (AVX2 ymm; without AVX2 LLVM splits them)
/// in 16.
inline GemmTarget gemm_target_from_features(const std::string& features) {
  if (features.find("+avx512f") != std::string::npos) return {16, 32};
  return {8, 16};
}

/// The host's target, from LLVM's host CPU detection (the call that also gives the JIT its
/// features, so the disk cache keys, which hold the features, also determine the default tile).
const GemmTarget& host_gemm_target();

/// The default tile for a target, the fastest measured (bench/gemm_bench, Zen 5): AVX-512 8×32,
/// 16 zmm accumulators. At the per-step shape (M=32, N=1024, K=256) it took 66 µs against 69 for
/// 14×32, 12×32 and 6×64, 70 for 4×64, 73 for 10×32 and 8×48; on the pre-GEMM and the weight
/// gradient it was first or within 3% of the first. AVX2: 6×16.
inline GemmTile default_gemm_tile(const GemmTarget& target) {
  if (target.vector_floats >= 16) return {8, 2, target.registers, 16};
  return {6, 2, target.registers, 8};
}

/// The default tile of this machine: what a GemmSpec starts with.
inline GemmTile host_gemm_tile() { return default_gemm_tile(host_gemm_target()); }

/// How op(B) reaches the gemm.
enum class GemmB { strided, prepacked };

/// One GEMM. Build it with dense_gemm() (row-major buffers, optional transposes) or fill the
/// fields directly for other strides.
struct GemmSpec {
  int64_t m = 1, n = 1, k = 1;
  int64_t a_row_stride = 1, a_col_stride = 1;  // op(A)(i, p) = A[i·a_row_stride + p·a_col_stride]
  int64_t b_row_stride = 1, b_col_stride = 1;  // op(B)(p, j) = B[p·b_row_stride + j·b_col_stride]; what pack reads
  GemmB b = GemmB::strided;                    // prepacked: the gemm reads the output of the pack function
  int64_t c_row_stride = 1;                    // C(i, j) = C[i·c_row_stride + j]
  bool accumulate = false;                     // C += op(A)·op(B) instead of C = op(A)·op(B)
  GemmTile tile = host_gemm_tile();            // the tile of this machine unless set
  std::string name;                            // symbol of the gemm; "" = derived from the fields
};

/// Whether an operand is the row-major buffer itself or its transpose.
enum class Transpose { no, yes };

/// C[m×n] (+)= op(A)·op(B) for row-major buffers with leading dimensions lda, ldb, ldc (in floats):
/// A is m×k (or k×m when transposed), B is k×n (or n×k when transposed), C is m×n.
inline GemmSpec dense_gemm(int64_t m, int64_t n, int64_t k, Transpose a, int64_t lda, Transpose b, int64_t ldb,
                           int64_t ldc, GemmB b_form = GemmB::strided, bool accumulate = false) {
  GemmSpec spec;
  spec.m = m, spec.n = n, spec.k = k;
  spec.a_row_stride = a == Transpose::no ? lda : 1;
  spec.a_col_stride = a == Transpose::no ? 1 : lda;
  spec.b_row_stride = b == Transpose::no ? ldb : 1;
  spec.b_col_stride = b == Transpose::no ? 1 : ldb;
  spec.b = b_form;
  spec.c_row_stride = ldc;
  spec.accumulate = accumulate;
  return spec;
}

/// The blocking of a spec (Goto/BLIS): K in blocks of kc so that one B panel block (kc×nr) takes two
/// thirds of the core's L1 data cache (host_l1_data_bytes: kc = 256 for nr = 32 on a 48 KiB L1);
/// rows of A packed mc at a time so that the packed A block (mc×kc) stays in L2 (512 KiB); strided
/// B packed nc_panels panels at a time. Block sizes are balanced (with nr = 16, K = 1600 is 7
/// blocks of 229/226, not 6×256 + 64) so no block is much smaller than the rest.
/// (Half of a fixed 32 KiB, kc = 128, until a Sapphire-Rapids-class Xeon showed its large products
/// 8–11 points of the FMA peak faster at kc = 256, fewer passes over C; on Zen 5, also 48 KiB of L1,
/// kc for 48 and 64 KiB had measured within noise of 32 KiB's. docs/design.md, "K blocks from the
/// machine's L1".)
///
/// The plan fixes the order of the additions in each C element: C(i, j) is the sum of one fma chain
/// per K block (when m < mr: of edge_k_split chains over interleaved k, summed pairwise), started
/// from 0 and added to C block after block. It depends only on the spec, so results are bitwise
/// identical however the columns are split between calls.
struct GemmPlan {
  int64_t mr = 0, nr = 0;                // the register tile
  int64_t kc = 0, k_blocks = 0, kc_last = 0;
  int64_t mc = 0, m_blocks = 0, mc_last = 0;
  int64_t edge_rows = 0;                 // m % mr: the rows of the last block below the full tiles
  int64_t edge_panels = 1;               // panels one edge-kernel call covers (several when edge_rows is small)
  int64_t edge_k_split = 1;              // independent accumulator sets per edge kernel (interleaved over k)
  int64_t panels = 0;                    // ceil(n / nr)
  int64_t nc_panels = 0;                 // panels of strided B packed into scratch at a time
  int64_t scratch_a_floats = 0, scratch_b_floats = 0;
  bool a_in_place = false;               // full row tiles read rows of A where they are, edge rows packed
};

/// The L1 data cache of a core of this machine, from Linux's sysfs; 32 KiB where it cannot be read.
inline int64_t host_l1_data_bytes() {
  static const int64_t bytes = [] {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index0/size");
    int64_t value = 0;
    char unit = 0;
    if (!(in >> value) || value <= 0) return int64_t{32 * 1024};
    if (in >> unit) value *= unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1;
    return std::clamp<int64_t>(value, 16 * 1024, 1024 * 1024);
  }();
  return bytes;
}
constexpr int64_t gemm_l2_bytes = 512 * 1024;

inline int64_t gemm_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t gemm_round_up(int64_t a, int64_t b) { return gemm_ceil_div(a, b) * b; }

/// Edge rows (fewer than a tile) get more independent fma chains than rows·vectors, as registers
/// allow: below full tiles (B panels already in L1) by covering several panels per kernel call;
/// when m < mr (a matrix-vector product, bound by streaming B) by splitting K over 2 or 4
/// accumulator sets on one panel, which reads B as one sequential stream (measured: ~1.3× the
/// bandwidth of 6 streams). These depend only on the tile and the row count, so the kernel library
/// of a tile holds a kernel for every value they take.
inline int64_t gemm_edge_panels(const GemmTile& tile, int64_t rows) {
  const int64_t free = tile.registers - 2;  // minus a broadcast and a spare
  return std::clamp<int64_t>(free / ((rows + 1) * tile.vectors), 1, 8);
}
inline int64_t gemm_edge_k_split(const GemmTile& tile, int64_t rows) {
  const int64_t free = tile.registers - 2;
  const int64_t sets = (free - tile.vectors) / (rows * tile.vectors);  // accumulators + the B vectors
  return sets >= 4 ? 4 : sets >= 2 ? 2 : 1;
}

inline GemmPlan plan_gemm(const GemmSpec& spec) {
  GemmPlan plan;
  plan.mr = spec.tile.rows;
  plan.nr = spec.tile.vector_floats * spec.tile.vectors;
  // K: one B panel block (kc × nr floats) uses two thirds of L1. Fewer rows than a tile (matrix-
  // vector products) stream B once anyway: no K blocking then, so each C element is one fma chain.
  const int64_t kc_max = std::max<int64_t>(16, host_l1_data_bytes() * 2 / 3 / (plan.nr * 4) / 8 * 8);
  plan.k_blocks = spec.m < plan.mr ? 1 : gemm_ceil_div(spec.k, kc_max);
  plan.kc = gemm_ceil_div(spec.k, plan.k_blocks);
  plan.k_blocks = gemm_ceil_div(spec.k, plan.kc);
  plan.kc_last = spec.k - (plan.k_blocks - 1) * plan.kc;
  // M: the packed A block (mc × kc floats) uses half of L2.
  const int64_t mc_max = std::max(plan.mr, gemm_l2_bytes / 2 / (plan.kc * 4) / plan.mr * plan.mr);
  plan.m_blocks = gemm_ceil_div(spec.m, mc_max);
  plan.mc = gemm_round_up(gemm_ceil_div(spec.m, plan.m_blocks), plan.mr);
  plan.m_blocks = gemm_ceil_div(spec.m, plan.mc);
  plan.mc_last = spec.m - (plan.m_blocks - 1) * plan.mc;
  plan.edge_rows = spec.m % plan.mr;
  if (plan.edge_rows > 0) {
    if (spec.m < plan.mr) plan.edge_k_split = gemm_edge_k_split(spec.tile, plan.edge_rows);
    else plan.edge_panels = gemm_edge_panels(spec.tile, plan.edge_rows);
  }
  plan.panels = gemm_ceil_div(spec.n, plan.nr);
  // Strided B: a packed block of up to 2 MiB (it lives in L3; larger blocks mean fewer repacks of A).
  plan.nc_panels = std::clamp<int64_t>((2 << 20) / (plan.kc * plan.nr * 4), 1, plan.panels);
  plan.scratch_a_floats = gemm_round_up(std::min(plan.mc, spec.m) * plan.kc, 16);
  // Rows of A with a unit stride are read in place by the full tiles (only edge rows are packed):
  // the kernel broadcasts the same values, so C is bitwise the same, and the copy of A is gone.
  // Measured (bench/gemm_bench, % of the FMA peak, Zen 5): +3–6 points on products with N ≤ 512
  // (the per-step dh and the input gradient, whose packed A was read by few B panels). Aᵀ (the
  // weight gradients' dz^T) is packed: read in place, each k step takes half a line of a new row, so
  // a tile touches kc lines that the B panel pushes out of L1 before the next tile reads their other
  // half; on a Sapphire-Rapids-class Xeon packing it gained 8–19 points (docs/design.md).
  plan.a_in_place = spec.a_col_stride == 1 && spec.m >= plan.mr;
  plan.scratch_b_floats = spec.b == GemmB::prepacked ? 0 : plan.nc_panels * plan.kc * plan.nr;
  return plan;
}

/// Floats of the packed B buffer the pack function writes (and a prepacked gemm reads).
inline int64_t gemm_packed_floats(const GemmSpec& spec) {
  const GemmPlan plan = plan_gemm(spec);
  return plan.panels * spec.k * plan.nr;
}

/// Floats of scratch one gemm call needs (packed A block, and packed B block unless prepacked).
/// Calls that run at the same time need separate scratch. 64-byte alignment is best.
inline int64_t gemm_scratch_floats(const GemmSpec& spec) {
  const GemmPlan plan = plan_gemm(spec);
  return plan.scratch_a_floats + plan.scratch_b_floats;
}

/// Columns per B panel: splitting N between threads at multiples of this wastes no work.
inline int64_t gemm_column_granule(const GemmSpec& spec) { return spec.tile.vector_floats * spec.tile.vectors; }
/// Row ranges of a split at multiples of this (a register tile's rows) leave no partial tile inside.
inline int64_t gemm_row_granule(const GemmSpec& spec) { return spec.tile.rows; }

/// A tile as text, "8x32w16r32" (rows × columns, floats per vector, registers): names its library.
inline std::string gemm_tile_name(const GemmTile& tile) {
  char text[96];
  std::snprintf(text, sizeof text, "%lldx%lldw%lldr%lld", static_cast<long long>(tile.rows),
                static_cast<long long>(tile.vectors * tile.vector_floats), static_cast<long long>(tile.vector_floats),
                static_cast<long long>(tile.registers));
  return text;
}

/// Every field, as text: equal texts mean the same generated code (used in symbols and cache keys).
inline std::string gemm_key(const GemmSpec& spec) {
  char text[320];
  std::snprintf(text, sizeof text, "gemm m%lld n%lld k%lld a%lld,%lld b%lld,%lld%s c%lld%s tile ",
                static_cast<long long>(spec.m), static_cast<long long>(spec.n), static_cast<long long>(spec.k),
                static_cast<long long>(spec.a_row_stride), static_cast<long long>(spec.a_col_stride),
                static_cast<long long>(spec.b_row_stride), static_cast<long long>(spec.b_col_stride),
                spec.b == GemmB::prepacked ? " packed" : "", static_cast<long long>(spec.c_row_stride),
                spec.accumulate ? " +=" : "");
  return text + gemm_tile_name(spec.tile);
}

/// The symbol of the gemm function; the pack function is this + "_pack".
inline std::string gemm_symbol(const GemmSpec& spec) {
  if (!spec.name.empty()) return spec.name;
  uint64_t hash = 1469598103934665603ull;  // FNV-1a of the key
  for (unsigned char c : gemm_key(spec)) hash = (hash ^ c) * 1099511628211ull;
  char text[96];
  std::snprintf(text, sizeof text, "cf_gemm_%lldx%lldx%lld_%016llx", static_cast<long long>(spec.m),
                static_cast<long long>(spec.n), static_cast<long long>(spec.k), static_cast<unsigned long long>(hash));
  return text;
}

}  // namespace cellforge::llvm_backend
