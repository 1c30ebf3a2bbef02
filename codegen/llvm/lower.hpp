// Lowering: from a network plan to an LLVM module with two entry points,
//
//   void cf_forward(void** slots, int64_t thread, int64_t threads, void* barrier);
//   void cf_backward(void** slots, int64_t thread, int64_t threads, void* barrier);
//
// Each is called once by every thread of a pool with the same slots (see network_plan.hpp); the
// threads split every loop and meet at barriers (cellforge_barrier_wait, provided by the host).
#pragma once

#include <functional>
#include <memory>

#include "codegen/llvm/network_plan.hpp"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace cellforge::llvm_backend {

struct LowerOptions;

/// The module of a planned network.
std::unique_ptr<llvm::Module> lower_network(const NetworkPlan& plan, llvm::LLVMContext& context);

/// lower_network as a jit::ModuleBuilder (for code that cannot see llvm::Module's definition).
std::function<std::unique_ptr<llvm::Module>(llvm::LLVMContext&)> network_builder(const NetworkPlan& plan);

}  // namespace cellforge::llvm_backend
