// What the lowering files share: the IR builder, the function being built, the call's slots, and
// small helpers for loops, addresses and the split of work among threads. Included only by the
// lowering's own .cpp files (it pulls in LLVM's IR headers).
#pragma once

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include <functional>
#include <string>
#include <vector>

#include "codegen/llvm/network_plan.hpp"

namespace cellforge::llvm_backend {

/// Options of the lowering that change the generated code (part of the cache key).
struct LowerOptions {
  int vector_width = 8;  // floats per vector in fused loops (8: AVX2 ymm, 16: AVX-512 zmm)
};

class Lowering {
 public:
  Lowering(llvm::Module& module, const NetworkPlan& plan, const LowerOptions& options);

  llvm::LLVMContext& context() { return module_.getContext(); }
  llvm::Module& module() { return module_; }
  llvm::IRBuilder<>& b() { return builder_; }
  const NetworkPlan& plan() const { return plan_; }
  const LowerOptions& options() const { return options_; }

  llvm::Type* f32() { return builder_.getFloatTy(); }
  llvm::Type* i64() { return builder_.getInt64Ty(); }
  llvm::Type* ptr() { return builder_.getPtrTy(); }
  llvm::Value* int64(int64_t v) { return builder_.getInt64(static_cast<uint64_t>(v)); }
  llvm::FixedVectorType* vector(int lanes) { return llvm::FixedVectorType::get(f32(), static_cast<unsigned>(lanes)); }

  /// Starts an entry function `void name(void** slots, i64 thread, i64 threads, void* barrier)`.
  void begin_function(const std::string& name);
  void end_function();
  llvm::Value* thread() const { return thread_; }
  llvm::Value* threads() const { return threads_; }

  /// The base pointer of a slot, loaded once per function.
  llvm::Value* slot(int index);
  /// The address of element (row, column) of `where` at step `step` (nullptr: a phase over all
  /// T*B rows, where `row` counts from the first step).
  llvm::Value* address(const Location& where, llvm::Value* step, llvm::Value* row, llvm::Value* column);

  /// for (i = begin; i < end; i += step) body(i)
  void emit_for(llvm::Value* begin, llvm::Value* end, int64_t step, const std::string& name,
                const std::function<void(llvm::Value*)>& body);
  /// This thread's part [begin, end) of `total` items, cut at multiples of `granule`.
  std::pair<llvm::Value*, llvm::Value*> thread_range(llvm::Value* total, int64_t granule = 1);
  /// This thread's rows [begin, end) of a scan's phase of `rows` rows: every loop, assembly and
  /// copy of the scan split by rows splits them so (at multiples of scan.row_granule).
  std::pair<llvm::Value*, llvm::Value*> row_range(const ScanPlan& scan, llvm::Value* rows) {
    return thread_range(rows, scan.row_granule);
  }
  /// This thread's features [f0, f1) of a time loop split by features (scan.feature_split > 0):
  /// every fused loop and product of the step takes these.
  std::pair<llvm::Value*, llvm::Value*> feature_range(const ScanPlan& scan) {
    return thread_range(int64(scan.feature_split), kFeatureGranule);
  }
  /// This thread's GEMM scratch in the workspace.
  llvm::Value* scratch();
  /// A stack slot in the function's entry block (an alloca inside a loop would grow the stack).
  llvm::Value* entry_alloca(llvm::Type* type, const std::string& name = "");
  /// Waits until every thread of the call has arrived (nothing when there is one thread).
  void barrier();
  /// Copies (or, with `add`, adds) `rows` rows of `width` floats at step `step` between two locations,
  /// threads taking rows at multiples of `row_granule` (a scan's, for its copies).
  void copy_rows(const Location& from, const Location& to, llvm::Value* step, llvm::Value* rows, int64_t width,
                 bool add = false, int64_t row_granule = 1);
  /// Clears `rows` rows of `width` floats at `where`.
  void zero_rows(const Location& where, int64_t rows, int64_t width);

 private:
  llvm::Module& module_;
  const NetworkPlan& plan_;
  LowerOptions options_;
  llvm::IRBuilder<> builder_;
  llvm::Function* function_ = nullptr;
  llvm::Value* slots_ = nullptr;
  llvm::Value* thread_ = nullptr;
  llvm::Value* threads_ = nullptr;
  llvm::Value* barrier_ = nullptr;
  std::vector<llvm::Value*> slot_cache_;
  llvm::BasicBlock* entry_ = nullptr;
};

/// Whether emit_group splits the group's work among threads by whole rows of its phase (as
/// row_range(scan, rows) does), so that each thread writes and reads only its own rows. Otherwise it
/// splits rows and blocks of features (few rows, no row reductions) or one thread does it (shared).
bool group_splits_by_rows(const Lowering& l, const ScanPlan& scan, const passes::FusionGroup& group, int64_t rows);

/// Whether emit_group splits the group's work by this thread's features (Lowering::feature_range):
/// a fused loop of a time loop split by features.
bool group_splits_by_features(const ScanPlan& scan, const passes::FusionGroup& group);

/// Whether the fused loop computing a result also writes it to its second place (`copy.to`), as
/// it writes its first: a per-row vector of a group that is not shared. Such a result needs no
/// copy after the loop (nor the barrier before one).
bool group_writes_copy(const ScanPlan& scan, const passes::ScanSchedule& s, const ResultCopy& copy);

/// The fused elementwise loop of one group, over rows [row_begin, row_end) of its phase at `step`.
void emit_group(Lowering& l, const ScanPlan& scan, const passes::FusionGroup& group, llvm::Value* step,
                llvm::Value* rows);

/// One product (matmul, matmul_t, outer) or batch sum of a scan, this thread's share of it.
void emit_product(Lowering& l, const ScanPlan& scan, ir::NodeId node, llvm::Value* step, llvm::Value* rows);

/// A product of a one-hot operand given as indices (IndexProduct): this thread's share of it.
void emit_index_product(Lowering& l, const ScanPlan& scan, const IndexProduct& product, llvm::Value* step,
                        llvm::Value* rows);

/// The tables of the scan's one-hot gathers of W x (W transposed), this thread's share; part of
/// emit_packing (and skipped with it when the parameters are those of the previous call).
void emit_index_tables(Lowering& l, const ScanPlan& scan);

/// Packs the parameters that the scan's products read prepacked (before the scan), unless the call
/// says the previous call's packs are still valid (slot kReusePacked not null).
void emit_packing(Lowering& l, const ScanPlan& scan);

/// One telemetry series, this thread's share of its steps (after the unit's scan).
void emit_telemetry(Lowering& l, const TelemetrySeries& series);

/// Assembles a concatenation or pad: copies the parts that were not computed in place.
void emit_assembly(Lowering& l, const ScanPlan& scan, ir::NodeId node, llvm::Value* step, llvm::Value* rows);

/// Whether part `part` of assembly `node`, at column `offset`, was computed in its place in it.
bool assembly_part_in_place(const ScanPlan& scan, ir::NodeId node, ir::NodeId part, int64_t offset);

}  // namespace cellforge::llvm_backend
