// Each variant cell of the zoo computes its paper's equations: one step of the reified graph, run
// by the reference interpreter, against the same step written out by hand below in plain C++ on
// std::vector, from the equations each cell's entry prints (and its paper writes). The gradient
// and JIT tests prove that derivatives and machine code agree with the graph; this test proves the
// graph is the cell it claims to be: the gate order of each split, which state each gate reads,
// h vs c, the LSTMP projection, the layer-norm variant, JANET's shifted input gate, SRU's highway.
//
// Sizes X = 3, H = 4, P = 2 (all different), batch 2, random leaves; agreement to 1e-12.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "codegen/ir/interpreter.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/gradcheck.hpp"

using namespace cellforge;

namespace {

using V = std::vector<double>;

V zip(const V& a, const V& b, double (*op)(double, double)) {
  REQUIRE(a.size() == b.size());
  V out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = op(a[i], b[i]);
  return out;
}
V operator+(const V& a, const V& b) { return zip(a, b, [](double p, double q) { return p + q; }); }
V operator-(const V& a, const V& b) { return zip(a, b, [](double p, double q) { return p - q; }); }
V operator*(const V& a, const V& b) { return zip(a, b, [](double p, double q) { return p * q; }); }
V map(V a, const std::function<double(double)>& f) {
  for (double& v : a) v = f(v);
  return a;
}
V operator-(double s, const V& a) { return map(a, [s](double v) { return s - v; }); }
V sigmoid(const V& a) { return map(a, [](double v) { return 1 / (1 + std::exp(-v)); }); }
V tanh(const V& a) { return map(a, [](double v) { return std::tanh(v); }); }
V relu(const V& a) { return map(a, [](double v) { return v > 0 ? v : 0; }); }

// Block k of n features.
V part(const V& v, int64_t k, int64_t n) { return V(v.begin() + k * n, v.begin() + (k + 1) * n); }

struct Step {
  const ir::LeafValues& leaves;
  int64_t row;
  // Row `row` of a per-row leaf, or the shared vector parameter `name`.
  V operator[](const std::string& name) const {
    const ir::Array& a = leaves.at(name);
    const int64_t r = a.rows == 1 ? 0 : row;
    return V(a.data.begin() + r * a.cols, a.data.begin() + (r + 1) * a.cols);
  }
  // W v for the matrix parameter `name`.
  V mv(const std::string& name, const V& v) const {
    const ir::Array& W = leaves.at(name);
    REQUIRE(W.cols == static_cast<int64_t>(v.size()));
    V out(static_cast<size_t>(W.rows), 0.0);
    for (int64_t i = 0; i < W.rows; ++i)
      for (int64_t j = 0; j < W.cols; ++j) out[i] += W.at(i, j) * v[j];
    return out;
  }
};

double mean(const V& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
// Ba et al.'s layer norm with gain g and bias b, biased variance, eps 1e-5.
V layer_norm(const V& v, const V& g, const V& b) {
  const double mu = mean(v);
  const V centered = map(v, [mu](double x) { return x - mu; });
  const double sd = std::sqrt(mean(centered * centered) + 1e-5);
  return g * map(centered, [sd](double x) { return x / sd; }) + b;
}

constexpr int64_t kH = 4;

// The results of one step ("next h", "output y", ...) for one row, from the equations.
using Equations = std::function<std::map<std::string, V>(const Step&)>;

const std::map<std::string, Equations>& equations() {
  static const std::map<std::string, Equations> all{
      {"peephole_lstm",
       [](const Step& s) -> std::map<std::string, V> {
         const V z = s.mv("W_ih", s["x"]) + s["b_ih"] + s.mv("W_hh", s["h"]) + s["b_hh"];
         const V c = s["c"];
         const V i = sigmoid(part(z, 0, kH) + s["w_ci"] * c), f = sigmoid(part(z, 1, kH) + s["w_cf"] * c);
         const V c_next = f * c + i * tanh(part(z, 2, kH));
         const V h_next = sigmoid(part(z, 3, kH) + s["w_co"] * c_next) * tanh(c_next);
         return {{"next c", c_next}, {"next h", h_next}, {"output y", h_next}};
       }},
      {"cifg_lstm",
       [](const Step& s) -> std::map<std::string, V> {
         const V z = s.mv("W_ih", s["x"]) + s["b_ih"] + s.mv("W_hh", s["h"]) + s["b_hh"];
         const V c = s["c"];
         const V i = sigmoid(part(z, 0, kH) + s["w_ci"] * c);
         const V c_next = (1.0 - i) * c + i * tanh(part(z, 1, kH));
         const V h_next = sigmoid(part(z, 2, kH) + s["w_co"] * c_next) * tanh(c_next);
         return {{"next c", c_next}, {"next h", h_next}, {"output y", h_next}};
       }},
      {"lstmp",
       [](const Step& s) -> std::map<std::string, V> {
         const V z = s.mv("W_ih", s["x"]) + s["b_ih"] + s.mv("W_hh", s["h"]) + s["b_hh"];
         const V c_next = sigmoid(part(z, 1, kH)) * s["c"] + sigmoid(part(z, 0, kH)) * tanh(part(z, 2, kH));
         const V h_next = s.mv("W_hr", sigmoid(part(z, 3, kH)) * tanh(c_next));
         return {{"next c", c_next}, {"next h", h_next}, {"output y", h_next}};
       }},
      {"layernorm_lstm",
       [](const Step& s) -> std::map<std::string, V> {
         const V z = layer_norm(s.mv("W_ih", s["x"]), s["gamma_ih"], s["beta_ih"]) +
                     layer_norm(s.mv("W_hh", s["h"]), s["gamma_hh"], s["beta_hh"]);
         const V c_next = sigmoid(part(z, 1, kH)) * s["c"] + sigmoid(part(z, 0, kH)) * tanh(part(z, 2, kH));
         const V h_next = sigmoid(part(z, 3, kH)) * tanh(layer_norm(c_next, s["gamma_c"], s["beta_c"]));
         return {{"next c", c_next}, {"next h", h_next}, {"output y", h_next}};
       }},
      {"mlstm",
       [](const Step& s) -> std::map<std::string, V> {
         const V m = s.mv("W_mx", s["x"]) * s.mv("W_mh", s["h"]);
         const V z = s.mv("W_x", s["x"]) + s.mv("W_m", m) + s["b"];
         const V c_next = sigmoid(part(z, 1, kH)) * s["c"] + sigmoid(part(z, 0, kH)) * tanh(part(z, 2, kH));
         const V h_next = sigmoid(part(z, 3, kH)) * tanh(c_next);
         return {{"next c", c_next}, {"next h", h_next}, {"output y", h_next}};
       }},
      {"mgu",
       [](const Step& s) -> std::map<std::string, V> {
         const V xz = s.mv("W", s["x"]) + s["b"];
         const V h = s["h"];
         const V f = sigmoid(part(xz, 0, kH) + s.mv("U_f", h));
         const V h_tilde = tanh(part(xz, 1, kH) + s.mv("U_h", f * h));
         const V h_next = (1.0 - f) * h + f * h_tilde;
         return {{"next h", h_next}, {"output y", h_next}};
       }},
      {"janet",
       [](const Step& s) -> std::map<std::string, V> {
         const V z = s.mv("W", s["x"]) + s.mv("U", s["h"]) + s["b"];
         const V sf = part(z, 0, kH);
         const V shifted = map(sf, [](double v) { return v - 1.0; });  // beta = 1
         const V h_next = sigmoid(sf) * s["h"] + (1.0 - sigmoid(shifted)) * tanh(part(z, 1, kH));
         return {{"next h", h_next}, {"output y", h_next}};
       }},
      {"indrnn",
       [](const Step& s) -> std::map<std::string, V> {
         const V h_next = relu(s.mv("W", s["x"]) + s["u"] * s["h"] + s["b"]);
         return {{"next h", h_next}, {"output y", h_next}};
       }},
      {"sru",
       [](const Step& s) -> std::map<std::string, V> {
         const V u = s.mv("W", s["x"]);
         const V c = s["c"];
         const V f = sigmoid(part(u, 1, kH) + s["v_f"] * c + s["b_f"]);
         const V r = sigmoid(part(u, 2, kH) + s["v_r"] * c + s["b_r"]);
         const V c_next = f * c + (1.0 - f) * part(u, 0, kH);
         return {{"next c", c_next}, {"output y", r * c_next + (1.0 - r) * part(u, 3, kH)}};
       }},
  };
  return all;
}

}  // namespace

TEST_CASE("each zoo variant cell computes its paper's equations", "[unit][zoo]") {
  const ir::Bindings bindings{{"X", 3}, {"H", kH}, {"P", 2}};
  constexpr int64_t batch = 2;
  for (const auto& [name, expected_step] : equations()) {
    INFO(name);
    const ir::Graph cell = zoo::find(name).build();
    std::mt19937_64 rng(7);
    const ir::LeafValues leaves = testing::random_leaves(cell, bindings, batch,
                                                         {ir::Op::input, ir::Op::state, ir::Op::param},
                                                         {0.2, 1.5, true}, rng);
    const auto results = ir::evaluate_outputs(cell, bindings, batch, leaves);
    for (int64_t row = 0; row < batch; ++row) {
      const auto expected = expected_step(Step{leaves, row});
      CHECK(expected.size() == results.size());
      for (const auto& [key, value] : expected) {
        INFO(key << ", row " << row);
        REQUIRE(results.count(key) == 1);
        const ir::Array& got = results.at(key);
        REQUIRE(got.cols == static_cast<int64_t>(value.size()));
        for (size_t j = 0; j < value.size(); ++j)
          CHECK(std::fabs(got.at(row, static_cast<int64_t>(j)) - value[j]) <= 1e-12);
      }
    }
  }
}
