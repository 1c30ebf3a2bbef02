// Temporary activations for the lowering until math.hpp lands: exact formulas on llvm.exp/llvm.log
// (scalarized libm calls, slow but accurate). Replaced by the polynomial versions of math.hpp.
#pragma once

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>

#include <string>

namespace cellforge::llvm_backend::fallback {

inline llvm::Value* constant_like(llvm::Value* x, double v) { return llvm::ConstantFP::get(x->getType(), v); }
inline llvm::Value* exp(llvm::IRBuilder<>& b, llvm::Value* x, const std::string& name = "") {
  return b.CreateUnaryIntrinsic(llvm::Intrinsic::exp, x, nullptr, name);
}
inline llvm::Value* log(llvm::IRBuilder<>& b, llvm::Value* x, const std::string& name = "") {
  return b.CreateUnaryIntrinsic(llvm::Intrinsic::log, x, nullptr, name);
}
inline llvm::Value* sigmoid(llvm::IRBuilder<>& b, llvm::Value* x, const std::string& name = "") {
  llvm::Value* one = constant_like(x, 1.0);
  return b.CreateFDiv(one, b.CreateFAdd(one, exp(b, b.CreateFNeg(x))), name);
}
inline llvm::Value* tanh(llvm::IRBuilder<>& b, llvm::Value* x, const std::string& name = "") {
  llvm::Value* one = constant_like(x, 1.0);
  llvm::Value* e = exp(b, b.CreateFMul(x, constant_like(x, 2.0)));
  return b.CreateFSub(one, b.CreateFDiv(constant_like(x, 2.0), b.CreateFAdd(e, one)), name);
}
inline llvm::Value* sqrt(llvm::IRBuilder<>& b, llvm::Value* x, const std::string& name = "") {
  return b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x, nullptr, name);
}
inline llvm::Value* rsqrt(llvm::IRBuilder<>& b, llvm::Value* x, const std::string& name = "") {
  return b.CreateFDiv(constant_like(x, 1.0), sqrt(b, x), name);
}

}  // namespace cellforge::llvm_backend::fallback
