// The JIT-vs-interpreter comparison of the differential tests and the fuzzer is the library's
// (runtime/verify/differential.hpp), so that users check their own cells with the same code.
#pragma once

#include "runtime/verify/differential.hpp"

namespace cellforge::testing {

using verify::compare_with_reference;
using verify::Comparison;
using verify::Difference;
using verify::HarnessOptions;

}  // namespace cellforge::testing
