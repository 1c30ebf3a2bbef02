// Cells the tests of a network's input share.
#pragma once

namespace cellforge::testing {

// n = tanh(W h + x * (V h)): x is read elementwise, not only by products. dL/dx = dp * (V h) needs
// V h saved, and nothing else does (dV = outer(dp * x, h), dW = outer(dp, h); tanh' reads n); a
// one-hot input cannot be gathered for it. x is as wide as h (X = H).
inline constexpr const char* kScaledInputCell = R"(cell scaled_input {
  input %x : [H]
  state %h : [H]
  param %V : [H, H]
  param %W : [H, H]
  %k = matmul %V, %h : [H]
  %z = mul %x, %k : [H]
  %m = matmul %W, %h : [H]
  %p = add %m, %z : [H]
  %n = tanh %p : [H]
  next h = %n
  output y = %n
}
)";

}  // namespace cellforge::testing
