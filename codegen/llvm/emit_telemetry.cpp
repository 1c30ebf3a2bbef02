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
  llvm::Type* f64 = b.getDoubleTy();
  llvm::Value* sum = l.entry_alloca(f64, "telemetry.sum");
  auto [begin, end] = l.thread_range(l.int64(series.count));
  l.emit_for(begin, end, 1, "telemetry.step", [&](llvm::Value* i) {
    b.CreateStore(llvm::ConstantFP::get(f64, 0.0), sum);
    l.emit_for(l.int64(0), l.int64(rows), 1, "telemetry.row", [&](llvm::Value* r) {
      l.emit_for(l.int64(0), l.int64(width), 1, "telemetry.feature", [&](llvm::Value* j) {
        llvm::Value* v = b.CreateFPExt(b.CreateAlignedLoad(l.f32(), l.address(series.source, i, r, j), llvm::Align(4)), f64);
        llvm::Value* term;
        if (norm) {
          term = b.CreateFMul(v, v);
        } else {
          llvm::Value* saturated;
          if (series.gate == ir::Op::sigmoid)
            saturated = b.CreateOr(b.CreateFCmpOLT(v, llvm::ConstantFP::get(f64, options.sigmoid_low)),
                                   b.CreateFCmpOGT(v, llvm::ConstantFP::get(f64, options.sigmoid_high)));
          else
            saturated = b.CreateFCmpOGT(b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, v),
                                        llvm::ConstantFP::get(f64, options.tanh_abs));
          term = b.CreateUIToFP(saturated, f64);
        }
        b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, sum), term), sum);
      });
    });
    llvm::Value* total = b.CreateLoad(f64, sum);
    llvm::Value* value = norm ? b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, total)
                              : b.CreateFDiv(total, llvm::ConstantFP::get(f64, static_cast<double>(rows * width)));
    Location out{kTelemetry, series.offset, 0, 1, 0};
    b.CreateAlignedStore(b.CreateFPTrunc(value, l.f32()), l.address(out, i, nullptr, nullptr), llvm::Align(4));
  });
}

}  // namespace cellforge::llvm_backend
