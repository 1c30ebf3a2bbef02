// Lowering of gradient telemetry (network_plan.hpp, TelemetrySeries): after a unit's scan, the
// norm ||dL/ds|| of each state at every step from the state-gradient history the backward pass
// keeps anyway, and the fraction of saturated units of each named gate at every step from the
// gate values the forward pass kept. Each value is one thread's sum, in a fixed order, in double:
// telemetry is the same for any number of threads.
#include "codegen/llvm/lowering_context.hpp"

namespace cellforge::llvm_backend {

void emit_telemetry(Lowering& l, const TelemetrySeries& series) {
  auto& b = l.b();
  const int64_t rows = l.plan().sizes.batch, width = series.width;
  const TelemetryOptions& options = l.plan().telemetry_options;
  const bool norm = series.kind == TelemetrySeries::Kind::state_gradient_norm;
  // Eight lanes of double accumulate eight features side by side (a vector loop over each row's
  // features, the rest one by one); the lanes are added in lane order at the end of the step. The
  // order depends only on the sizes, so the value is the same for any thread count.
  constexpr int64_t lanes = 8;
  const int64_t vector_width = width / lanes * lanes;
  llvm::Type* f64 = b.getDoubleTy();
  auto* v64 = llvm::FixedVectorType::get(f64, lanes);
  auto* v32 = llvm::FixedVectorType::get(l.f32(), lanes);
  llvm::Value* sum = l.entry_alloca(f64, "telemetry.sum");
  llvm::Value* lanes_sum = l.entry_alloca(v64, "telemetry.lanes");
  // The term of one value (a double, or eight of them): its square, or 1 where saturated.
  auto term = [&](llvm::Value* v, llvm::Type* type) -> llvm::Value* {
    if (norm) return b.CreateFMul(v, v);
    auto constant = [&](double c) { return llvm::ConstantFP::get(type, c); };
    llvm::Value* saturated =
        series.gate == ir::Op::sigmoid
            ? b.CreateOr(b.CreateFCmpOLT(v, constant(options.sigmoid_low)), b.CreateFCmpOGT(v, constant(options.sigmoid_high)))
            : b.CreateFCmpOGT(b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, v), constant(options.tanh_abs));
    return b.CreateSelect(saturated, constant(1.0), constant(0.0));
  };
  auto [begin, end] = l.thread_range(l.int64(series.count));
  l.emit_for(begin, end, 1, "telemetry.step", [&](llvm::Value* i) {
    b.CreateStore(llvm::ConstantFP::get(f64, 0.0), sum);
    b.CreateStore(llvm::ConstantFP::get(v64, 0.0), lanes_sum);
    l.emit_for(l.int64(0), l.int64(rows), 1, "telemetry.row", [&](llvm::Value* r) {
      if (vector_width > 0)
        l.emit_for(l.int64(0), l.int64(vector_width), lanes, "telemetry.features", [&](llvm::Value* j) {
          llvm::Value* v = b.CreateFPExt(b.CreateAlignedLoad(v32, l.address(series.source, i, r, j), llvm::Align(4)), v64);
          b.CreateStore(b.CreateFAdd(b.CreateLoad(v64, lanes_sum), term(v, v64)), lanes_sum);
        });
      if (vector_width < width)
        l.emit_for(l.int64(vector_width), l.int64(width), 1, "telemetry.feature", [&](llvm::Value* j) {
          llvm::Value* v = b.CreateFPExt(b.CreateAlignedLoad(l.f32(), l.address(series.source, i, r, j), llvm::Align(4)), f64);
          b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, sum), term(v, f64)), sum);
        });
    });
    llvm::Value* total = b.CreateLoad(f64, sum);
    llvm::Value* lane_values = b.CreateLoad(v64, lanes_sum);
    for (int64_t k = 0; k < lanes; ++k) total = b.CreateFAdd(total, b.CreateExtractElement(lane_values, k));
    llvm::Value* value = norm ? b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, total)
                              : b.CreateFDiv(total, llvm::ConstantFP::get(f64, static_cast<double>(rows * width)));
    Location out{kTelemetry, series.offset, 0, 1, 0};
    b.CreateAlignedStore(b.CreateFPTrunc(value, l.f32()), l.address(out, i, nullptr, nullptr), llvm::Align(4));
  });
}

}  // namespace cellforge::llvm_backend
