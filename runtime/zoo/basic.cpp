// The cells every RNN library has: the vanilla RNN (tanh and relu), the LSTM and the GRU, in
// PyTorch's parameter names and gate orders.
#include "dsl/dsl.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::zoo {

using namespace cellforge::dsl;

namespace {

// h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (Elman 1990; torch.nn.RNN)
template <class Activation>
ir::Graph vanilla_rnn(const char* name, Activation activation) {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W_ih = param("W_ih"_s, H, X);
  auto W_hh = param("W_hh"_s, H, H);
  auto b_ih = param("b_ih"_s, H);
  auto b_hh = param("b_hh"_s, H);
  auto h_next = named("h_next"_s, activation(W_ih * x + b_ih + W_hh * h + b_hh));
  ir::Graph g = reify(cell("rnn"_s, next(h, h_next), output(h_next)));
  g.set_name(name);
  return g;
}

ir::Graph lstm() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto c = state("c"_s, H);
  auto W_ih = param("W_ih"_s, 4_c * H, X);
  auto W_hh = param("W_hh"_s, 4_c * H, H);
  auto b_ih = param("b_ih"_s, 4_c * H);
  auto b_hh = param("b_hh"_s, 4_c * H);
  auto [zi, zf, zg, zo] = split<4>(W_ih * x + b_ih + W_hh * h + b_hh);
  auto i = named("i"_s, sigmoid(zi));
  auto f = named("f"_s, sigmoid(zf));
  auto g = named("g"_s, tanh(zg));
  auto o = named("o"_s, sigmoid(zo));
  auto c_next = named("c_next"_s, f * c + i * g);
  auto h_next = named("h_next"_s, o * tanh(c_next));
  return reify(cell("lstm"_s, next(h, h_next), next(c, c_next), output(h_next)));
}

// The reset gate multiplies the recurrent product (cuDNN's and PyTorch's form).
ir::Graph gru() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W_ih = param("W_ih"_s, 3_c * H, X);
  auto W_hh = param("W_hh"_s, 3_c * H, H);
  auto b_ih = param("b_ih"_s, 3_c * H);
  auto b_hh = param("b_hh"_s, 3_c * H);
  auto [xr, xz, xn] = split<3>(W_ih * x + b_ih);
  auto [hr, hz, hn] = split<3>(W_hh * h + b_hh);
  auto r = named("r"_s, sigmoid(xr + hr));
  auto z = named("z"_s, sigmoid(xz + hz));
  auto n = named("n"_s, tanh(xn + r * hn));
  auto h_next = named("h_next"_s, (1 - z) * n + z * h);
  return reify(cell("gru"_s, next(h, h_next), output(h_next)));
}

// The reset gate multiplies the state before the recurrent product (Cho et al. 2014).
ir::Graph gru_classic() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W = param("W"_s, 3_c * H, X);
  auto U_rz = param("U_rz"_s, 2_c * H, H);
  auto U_n = param("U_n"_s, H, H);
  auto b = param("b"_s, 3_c * H);
  auto [xr, xz, xn] = split<3>(W * x + b);
  auto [hr, hz] = split<2>(U_rz * h);
  auto r = named("r"_s, sigmoid(xr + hr));
  auto z = named("z"_s, sigmoid(xz + hz));
  auto n = named("n"_s, tanh(xn + U_n * (r * h)));
  auto h_next = named("h_next"_s, (1 - z) * n + z * h);
  return reify(cell("gru_classic"_s, next(h, h_next), output(h_next)));
}

}  // namespace

void add_basic_cells(std::vector<ZooCell>& cells) {
  cells.push_back({"rnn", "vanilla RNN with tanh (Elman; torch.nn.RNN)",
                   "h' = tanh(W_ih x + b_ih + W_hh h + b_hh)", "Elman 1990; torch.nn.RNN(nonlinearity='tanh')",
                   [] { return vanilla_rnn("rnn", [](auto v) { return tanh(v); }); }});
  cells.push_back({"rnn_relu", "vanilla RNN with relu", "h' = relu(W_ih x + b_ih + W_hh h + b_hh)",
                   "torch.nn.RNN(nonlinearity='relu')",
                   [] { return vanilla_rnn("rnn_relu", [](auto v) { return relu(v); }); }});
  cells.push_back({"lstm", "long short-term memory (gates i, f, g, o; torch.nn.LSTM)",
                   "[i f g o] = W_ih x + b_ih + W_hh h + b_hh\n"
                   "i = sigmoid(i)  f = sigmoid(f)  g = tanh(g)  o = sigmoid(o)\n"
                   "c' = f*c + i*g\n"
                   "h' = o*tanh(c')",
                   "Hochreiter & Schmidhuber 1997, Gers et al. 2000 (forget gate); torch.nn.LSTM", lstm});
  cells.push_back({"gru", "gated recurrent unit, reset after the recurrent product (cuDNN, torch.nn.GRU)",
                   "[xr xz xn] = W_ih x + b_ih;  [hr hz hn] = W_hh h + b_hh\n"
                   "r = sigmoid(xr + hr)  z = sigmoid(xz + hz)\n"
                   "n = tanh(xn + r*hn)\n"
                   "h' = (1-z)*n + z*h",
                   "Cho et al. 2014 as implemented by cuDNN; torch.nn.GRU", gru});
  cells.push_back({"gru_classic", "gated recurrent unit, reset before the recurrent product (Cho et al.)",
                   "[xr xz xn] = W x + b;  [hr hz] = U_rz h\n"
                   "r = sigmoid(xr + hr)  z = sigmoid(xz + hz)\n"
                   "n = tanh(xn + U_n (r*h))\n"
                   "h' = (1-z)*n + z*h",
                   "Cho et al. 2014, eq. 5-8", gru_classic});
}

}  // namespace cellforge::zoo
