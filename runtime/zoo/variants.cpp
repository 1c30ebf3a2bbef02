// The zoo beyond torch.nn's cells, each written the way its paper writes it, so a reader can set
// the code beside the equations:
//   - the LSTM family: peepholes (Gers & Schmidhuber), coupled input and forget gates (Greff et
//     al.), a projected hidden state (LSTMP, PyTorch's proj_size), layer normalization (Ba et al.)
//     and the multiplicative LSTM (Krause et al.). Where a cell extends torch.nn.LSTM it keeps
//     PyTorch's parameter names and gate order (i, f, g, o), so the shared weights move unchanged;
//   - cells with fewer gates, each from the paper that argues its gates suffice: the minimal gated
//     unit (one gate), JANET (the forget gate alone), IndRNN (no gate, a diagonal recurrence) and
//     the SRU (gates that read the state only elementwise, so every matrix product depends on x
//     alone and can run for all steps at once).
// Where a paper leaves a choice open (which layer-norm variant, SRU's highway when X != H), the
// comment above the cell says which one is taken and why, and so do its equations in the listing.
#include "dsl/dsl.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::zoo {

using namespace cellforge::dsl;

namespace {

// --- the LSTM family -------------------------------------------------------------------------------

// Gers & Schmidhuber 2000: the gates look at the cell. i and f see c_{t-1}, o sees the new c_t;
// the peephole weights are diagonal (vectors), one per gate.
ir::Graph peephole_lstm() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto c = state("c"_s, H);
  auto W_ih = param("W_ih"_s, 4_c * H, X);
  auto W_hh = param("W_hh"_s, 4_c * H, H);
  auto b_ih = param("b_ih"_s, 4_c * H);
  auto b_hh = param("b_hh"_s, 4_c * H);
  auto w_ci = param("w_ci"_s, H);
  auto w_cf = param("w_cf"_s, H);
  auto w_co = param("w_co"_s, H);
  auto [zi, zf, zg, zo] = split<4>(W_ih * x + b_ih + W_hh * h + b_hh);
  auto i = named("i"_s, sigmoid(zi + w_ci * c));
  auto f = named("f"_s, sigmoid(zf + w_cf * c));
  auto g = named("g"_s, tanh(zg));
  auto c_next = named("c_next"_s, f * c + i * g);
  auto o = named("o"_s, sigmoid(zo + w_co * c_next));
  auto h_next = named("h_next"_s, o * tanh(c_next));
  return reify(cell("peephole_lstm"_s, next(h, h_next), next(c, c_next), output(h_next)));
}

// Greff et al. 2017, variant CIFG of their vanilla LSTM (which has peepholes): the forget gate is
// 1 - i, so the cell moves from c_{t-1} towards the candidate by i. Only i and o keep a peephole,
// since f has no weights of its own.
ir::Graph cifg_lstm() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto c = state("c"_s, H);
  auto W_ih = param("W_ih"_s, 3_c * H, X);
  auto W_hh = param("W_hh"_s, 3_c * H, H);
  auto b_ih = param("b_ih"_s, 3_c * H);
  auto b_hh = param("b_hh"_s, 3_c * H);
  auto w_ci = param("w_ci"_s, H);
  auto w_co = param("w_co"_s, H);
  auto [zi, zg, zo] = split<3>(W_ih * x + b_ih + W_hh * h + b_hh);
  auto i = named("i"_s, sigmoid(zi + w_ci * c));
  auto f = named("f"_s, 1 - i);
  auto g = named("g"_s, tanh(zg));
  auto c_next = named("c_next"_s, f * c + i * g);
  auto o = named("o"_s, sigmoid(zo + w_co * c_next));
  auto h_next = named("h_next"_s, o * tanh(c_next));
  return reify(cell("cifg_lstm"_s, next(h, h_next), next(c, c_next), output(h_next)));
}

// Sak et al. 2014 as torch.nn.LSTM(proj_size = P) computes it: the hidden state is projected to
// P < H features by W_hr, and the projection is both the output and the recurrent input, so W_hh
// is [4H, P]. The cell state keeps H features.
ir::Graph lstmp() {
  constexpr auto P = dim("P"_s);
  auto x = input("x"_s, X);
  auto h = state("h"_s, P);
  auto c = state("c"_s, H);
  auto W_ih = param("W_ih"_s, 4_c * H, X);
  auto W_hh = param("W_hh"_s, 4_c * H, P);
  auto b_ih = param("b_ih"_s, 4_c * H);
  auto b_hh = param("b_hh"_s, 4_c * H);
  auto W_hr = param("W_hr"_s, P, H);
  auto [zi, zf, zg, zo] = split<4>(W_ih * x + b_ih + W_hh * h + b_hh);
  auto i = named("i"_s, sigmoid(zi));
  auto f = named("f"_s, sigmoid(zf));
  auto g = named("g"_s, tanh(zg));
  auto o = named("o"_s, sigmoid(zo));
  auto c_next = named("c_next"_s, f * c + i * g);
  auto m = named("m"_s, o * tanh(c_next));
  auto h_next = named("h_next"_s, W_hr * m);
  return reify(cell("lstmp"_s, next(h, h_next), next(c, c_next), output(h_next)));
}

// LN(v; gamma, beta) = gamma * (v - mean(v)) / sqrt(var(v) + eps) + beta over all the features of
// v, with the biased variance mean((v - mean v)^2) and PyTorch's default eps. A C++ helper, not a
// DSL op: it is a handful of DSL operations, and autodiff sees through them.
template <class V, class Gain, class Bias>
auto layer_norm(V v, Gain gain, Bias bias) {
  auto centered = v - mean(v);
  return gain * (centered * rsqrt(mean(centered * centered) + 1e-5)) + bias;
}

// Ba, Kiros & Hinton 2016, their layer-normalized LSTM: the input and recurrent
// pre-activations are normalized separately (each over all 4H features), and c_t is normalized
// only where h_t reads it; the state c_t itself stays unnormalized (Haste's choice, not PyTorch's
// fastrnns template, which stores LN(c_t)). The bias b of Ba et al. is beta_ih + beta_hh.
ir::Graph layernorm_lstm() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto c = state("c"_s, H);
  auto W_ih = param("W_ih"_s, 4_c * H, X);
  auto W_hh = param("W_hh"_s, 4_c * H, H);
  auto gamma_ih = param("gamma_ih"_s, 4_c * H);
  auto beta_ih = param("beta_ih"_s, 4_c * H);
  auto gamma_hh = param("gamma_hh"_s, 4_c * H);
  auto beta_hh = param("beta_hh"_s, 4_c * H);
  auto gamma_c = param("gamma_c"_s, H);
  auto beta_c = param("beta_c"_s, H);
  auto [zi, zf, zg, zo] =
      split<4>(layer_norm(W_ih * x, gamma_ih, beta_ih) + layer_norm(W_hh * h, gamma_hh, beta_hh));
  auto i = named("i"_s, sigmoid(zi));
  auto f = named("f"_s, sigmoid(zf));
  auto g = named("g"_s, tanh(zg));
  auto o = named("o"_s, sigmoid(zo));
  auto c_next = named("c_next"_s, f * c + i * g);
  auto h_next = named("h_next"_s, o * tanh(layer_norm(c_next, gamma_c, beta_c)));
  return reify(cell("layernorm_lstm"_s, next(h, h_next), next(c, c_next), output(h_next)));
}

// Krause et al. 2016: the gates and the candidate read m_t = (W_mx x_t) * (W_mh h_{t-1}) where an
// LSTM reads h_{t-1}, so each input selects its own recurrent transition. W_x and W_m stack the
// gates in PyTorch's order i, f, g, o; g = tanh(h-hat) is the paper's input h-hat squashed as an
// LSTM's candidate is (so RecurrentLayers.jl's MultiplicativeLSTMCell has it). Biases in one b.
ir::Graph mlstm() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto c = state("c"_s, H);
  auto W_mx = param("W_mx"_s, H, X);
  auto W_mh = param("W_mh"_s, H, H);
  auto W_x = param("W_x"_s, 4_c * H, X);
  auto W_m = param("W_m"_s, 4_c * H, H);
  auto b = param("b"_s, 4_c * H);
  auto m = named("m"_s, (W_mx * x) * (W_mh * h));
  auto [zi, zf, zg, zo] = split<4>(W_x * x + W_m * m + b);
  auto i = named("i"_s, sigmoid(zi));
  auto f = named("f"_s, sigmoid(zf));
  auto g = named("g"_s, tanh(zg));
  auto o = named("o"_s, sigmoid(zo));
  auto c_next = named("c_next"_s, f * c + i * g);
  auto h_next = named("h_next"_s, o * tanh(c_next));
  return reify(cell("mlstm"_s, next(h, h_next), next(c, c_next), output(h_next)));
}

// --- fewer gates -----------------------------------------------------------------------------------

// Zhou et al. 2016: the GRU with its update and reset gates merged into one forget gate f, which
// both resets the state inside the candidate and interpolates towards it.
ir::Graph mgu() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W = param("W"_s, 2_c * H, X);
  auto U_f = param("U_f"_s, H, H);
  auto U_h = param("U_h"_s, H, H);
  auto b = param("b"_s, 2_c * H);
  auto [xf, xh] = split<2>(W * x + b);
  auto f = named("f"_s, sigmoid(xf + U_f * h));
  auto h_tilde = named("h_tilde"_s, tanh(xh + U_h * (f * h)));
  auto h_next = named("h_next"_s, (1 - f) * h + f * h_tilde);
  return reify(cell("mgu"_s, next(h, h_next), output(h_next)));
}

// van der Westhuizen & Lasenby 2018: an LSTM with only its forget gate. The input is scaled by
// 1 - sigmoid(s - beta) instead of 1 - sigmoid(s), with beta = 1, so that more information is
// accumulated than forgotten; the output is the cell itself (h_t = c_t, one state). The paper's
// chrono initialization of b_f is a matter of initial values, not of the graph.
ir::Graph janet() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W = param("W"_s, 2_c * H, X);
  auto U = param("U"_s, 2_c * H, H);
  auto b = param("b"_s, 2_c * H);
  constexpr double beta = 1.0;
  auto [s, zc] = split<2>(W * x + U * h + b);
  auto f = named("f"_s, sigmoid(s));
  auto f_shifted = named("f_shifted"_s, sigmoid(s - beta));
  auto c_tilde = named("c_tilde"_s, tanh(zc));
  auto h_next = named("h_next"_s, f * h + (1 - f_shifted) * c_tilde);
  return reify(cell("janet"_s, next(h, h_next), output(h_next)));
}

// Li et al. 2018: each unit sees only its own previous value, through the recurrent weight vector
// u, so its gradient over time is a product of scalars that u bounds directly.
ir::Graph indrnn() {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W = param("W"_s, H, X);
  auto u = param("u"_s, H);
  auto b = param("b"_s, H);
  auto h_next = named("h_next"_s, relu(W * x + u * h + b));
  return reify(cell("indrnn"_s, next(h, h_next), output(h_next)));
}

// Lei et al. 2018 (arXiv:1709.02755, the EMNLP version with the v * c_{t-1} terms): one state c,
// and the output h_t mixes c_t with the input by a highway gate r. The paper's highway reads x_t
// itself, which needs X = H; asappresearch/sru projects x by a fourth block of W when the sizes
// differ (k = 4). A network's layers differ in X (the first reads the data), and one graph serves
// them all, so this cell always takes the projected highway W_hw x.
ir::Graph sru() {
  auto x = input("x"_s, X);
  auto c = state("c"_s, H);
  auto W = param("W"_s, 4_c * H, X);
  auto v_f = param("v_f"_s, H);
  auto b_f = param("b_f"_s, H);
  auto v_r = param("v_r"_s, H);
  auto b_r = param("b_r"_s, H);
  auto [x_tilde, xf, xr, x_highway] = split<4>(W * x);
  auto f = named("f"_s, sigmoid(xf + v_f * c + b_f));
  auto r = named("r"_s, sigmoid(xr + v_r * c + b_r));
  auto c_next = named("c_next"_s, f * c + (1 - f) * x_tilde);
  auto h = named("h"_s, r * c_next + (1 - r) * x_highway);
  return reify(cell("sru"_s, next(c, c_next), output(h)));
}

}  // namespace

void add_variant_cells(std::vector<ZooCell>& cells) {
  cells.push_back({"peephole_lstm", "LSTM with diagonal peephole connections from the cell to i, f, o",
                   "[i f g o] = W_ih x + b_ih + W_hh h + b_hh\n"
                   "i = sigmoid(i + w_ci*c)  f = sigmoid(f + w_cf*c)  g = tanh(g)\n"
                   "c' = f*c + i*g\n"
                   "o = sigmoid(o + w_co*c')\n"
                   "h' = o*tanh(c')",
                   "Gers & Schmidhuber 2000, Recurrent nets that time and count; oneDNN peephole LSTM",
                   peephole_lstm});
  cells.push_back({"cifg_lstm", "LSTM with coupled input and forget gates (f = 1 - i), peepholes on i and o",
                   "[i g o] = W_ih x + b_ih + W_hh h + b_hh\n"
                   "i = sigmoid(i + w_ci*c)  f = 1 - i  g = tanh(g)\n"
                   "c' = f*c + i*g\n"
                   "o = sigmoid(o + w_co*c')\n"
                   "h' = o*tanh(c')",
                   "Greff et al. 2017, LSTM: A Search Space Odyssey, variant CIFG (of their peephole LSTM)",
                   cifg_lstm});
  cells.push_back({"lstmp", "LSTM with a projected recurrent state of size P (torch.nn.LSTM proj_size)",
                   "[i f g o] = W_ih x + b_ih + W_hh h + b_hh      (h has P features, c has H)\n"
                   "i = sigmoid(i)  f = sigmoid(f)  g = tanh(g)  o = sigmoid(o)\n"
                   "c' = f*c + i*g\n"
                   "h' = W_hr (o*tanh(c'))                        (W_hr is [P, H]; set P with sizes.extra)",
                   "Sak, Senior & Beaufays 2014; torch.nn.LSTM(proj_size=P)", lstmp});
  cells.push_back({"layernorm_lstm",
                   "LSTM with layer norm of the input and recurrent pre-activations and of c inside tanh",
                   "LN(v; g, b) = g*(v - mean(v))/sqrt(mean((v - mean(v))^2) + 1e-5) + b   (over all of v)\n"
                   "[i f g o] = LN(W_ih x; gamma_ih, beta_ih) + LN(W_hh h; gamma_hh, beta_hh)\n"
                   "i = sigmoid(i)  f = sigmoid(f)  g = tanh(g)  o = sigmoid(o)\n"
                   "c' = f*c + i*g                                (the state c is not normalized)\n"
                   "h' = o*tanh(LN(c'; gamma_c, beta_c))",
                   "Ba, Kiros & Hinton 2016, Layer Normalization, LN-LSTM (Haste's variant: LN of c_t only in h_t)",
                   layernorm_lstm});
  cells.push_back({"mlstm", "multiplicative LSTM: gates read m = (W_mx x)*(W_mh h) instead of h",
                   "m = (W_mx x) * (W_mh h)\n"
                   "[i f g o] = W_x x + W_m m + b\n"
                   "i = sigmoid(i)  f = sigmoid(f)  g = tanh(g)  o = sigmoid(o)\n"
                   "c' = f*c + i*g\n"
                   "h' = o*tanh(c')",
                   "Krause, Lu, Murray & Renals 2016, Multiplicative LSTM for sequence modelling", mlstm});
  cells.push_back({"mgu", "minimal gated unit: a GRU with one forget gate for both update and reset",
                   "[xf xh] = W x + b\n"
                   "f = sigmoid(xf + U_f h)\n"
                   "h~ = tanh(xh + U_h (f*h))\n"
                   "h' = (1-f)*h + f*h~",
                   "Zhou, Wu, Zhang & Zhou 2016, Minimal gated unit for recurrent neural networks", mgu});
  cells.push_back({"janet", "just another network: an LSTM with only a forget gate, h = c",
                   "[s zc] = W x + U h + b\n"
                   "f = sigmoid(s)  f_shifted = sigmoid(s - 1)     (beta = 1)\n"
                   "c~ = tanh(zc)\n"
                   "h' = f*h + (1 - f_shifted)*c~                  (h is the cell c)",
                   "van der Westhuizen & Lasenby 2018, The unreasonable effectiveness of the forget gate "
                   "(arXiv:1804.04849)",
                   janet});
  cells.push_back({"indrnn", "independently recurrent network: a diagonal (elementwise) recurrence with relu",
                   "h' = relu(W x + u*h + b)                       (u is a vector)",
                   "Li, Li, Cook, Zhu & Gao 2018, Independently recurrent neural network (IndRNN)", indrnn});
  cells.push_back({"sru", "simple recurrent unit: matrix products on x only, elementwise recurrence, highway output",
                   "[x~ xf xr xhw] = W x\n"
                   "f = sigmoid(xf + v_f*c + b_f)  r = sigmoid(xr + v_r*c + b_r)\n"
                   "c' = f*c + (1-f)*x~\n"
                   "h = r*c' + (1-r)*xhw     (xhw projects x for the highway, so X may differ from H;\n"
                   "                          the paper's (1-r)*x is the case W_hw = I, X = H)",
                   "Lei, Zhang, Wang, Dai & Artzi 2018, Simple recurrent units for highly parallelizable "
                   "recurrence; asappresearch/sru (k = 4 when X != H)",
                   sru});
}

}  // namespace cellforge::zoo
