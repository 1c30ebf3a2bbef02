// The step Jacobian as compiled products, and spectral norms; see jacobian.hpp.
#include "runtime/gradflow/jacobian.hpp"

#include <cmath>
#include <random>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/error.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::gradflow {

namespace {

std::vector<std::string> states_of(const ir::Graph& cell) {
  std::vector<std::string> names;
  for (ir::NodeId s : cell.leaves(ir::Op::state)) names.push_back(cell.node(s).name);
  return names;
}

ir::Bindings bindings_of(const ir::Graph& cell, int64_t input_width, int64_t hidden, const ir::Bindings& extra) {
  ir::Bindings b = extra;
  b["X"] = input_width;
  b["H"] = hidden;
  (void)cell;
  return b;
}

// A product of the step Jacobian as a stateless network over [x; s; v] -> J v (or J^T u).
CompiledNetwork compile_product(const ir::Graph& cell, bool transpose, int64_t input_width, int64_t hidden,
                                const ir::Bindings& extra, int64_t rows, int64_t steps, const NetworkOptions& options) {
  const std::vector<std::string> states = states_of(cell);
  std::vector<std::string> leaves = {ir::input_name(cell)};
  std::vector<std::pair<ir::Role, std::string>> results;
  for (const std::string& s : states) leaves.push_back(s);
  ir::Graph product;
  if (!transpose) {
    product = autodiff::linearize(cell);
    for (const std::string& s : states) {
      // linearize names the tangent of state s "d<s>" (or that with '_' added if taken).
      std::string tangent = "d" + s;
      while (product.find_leaf(ir::Op::input, tangent) < 0 || cell.find_leaf(ir::Op::input, tangent) >= 0) tangent += "_";
      leaves.push_back(tangent);
      results.push_back({ir::Role::output, "d" + s + "_next"});
    }
  } else {
    product = autodiff::state_vjp(cell);
    for (const std::string& s : states) {
      leaves.push_back(autodiff::seed_name(ir::Role::next, s));
      results.push_back({ir::Role::grad, s});
    }
  }
  ir::Graph packed = passes::pack_step_inputs(product, leaves, results);
  ir::Bindings b = bindings_of(cell, input_width, hidden, extra);
  ir::NetworkSizes sizes;
  sizes.hidden = hidden;
  sizes.batch = rows;
  sizes.unroll = steps;
  sizes.layers = 1;
  sizes.extra = extra;
  sizes.extra["X_step"] = input_width;
  ir::Bindings packed_bindings = b;
  packed_bindings["X_step"] = input_width;
  sizes.input = packed.type(static_cast<ir::NodeId>(packed.find_leaf(ir::Op::input, "z"))).rows.bind(packed_bindings);
  return CompiledNetwork::compile(packed, sizes, options);
}

// The packed network's parameters from the cell's, by name.
std::vector<float> params_for(const CompiledNetwork& net, const std::map<std::string, std::vector<float>>& params) {
  std::vector<float> out(static_cast<size_t>(net.parameter_floats()), 0.0f);
  for (const ParameterInfo& p : net.parameters()) {
    auto it = params.find(p.name);
    if (it == params.end()) user_error("no value given for parameter '", p.name, "' of the step Jacobian");
    if (static_cast<int64_t>(it->second.size()) != p.size())
      user_error("parameter '", p.name, "' has ", it->second.size(), " floats; expected ", p.size());
    std::copy(it->second.begin(), it->second.end(), out.begin() + p.offset);
  }
  return out;
}

}  // namespace

StepJacobian::StepJacobian(const ir::Graph& cell, int64_t input_width, int64_t hidden, const ir::Bindings& extra,
                           int64_t rows, int64_t steps, const std::map<std::string, std::vector<float>>& params,
                           const NetworkOptions& options)
    : input_width_(input_width),
      rows_(rows),
      steps_(steps),
      state_names_(states_of(cell)),
      jvp_(compile_product(cell, false, input_width, hidden, extra, rows, steps, options)),
      vjp_(compile_product(cell, true, input_width, hidden, extra, rows, steps, options)) {
  const ir::Bindings b = bindings_of(cell, input_width, hidden, extra);
  for (ir::NodeId s : cell.leaves(ir::Op::state)) state_width_ += cell.type(s).rows.bind(b);
  jvp_params_ = params_for(jvp_, params);
  vjp_params_ = params_for(vjp_, params);
}

void StepJacobian::run(CompiledNetwork& net, std::span<const float> x, std::span<const float> s,
                       std::span<const float> v, std::span<float> out) {
  const int64_t n = steps_ * rows_, S = state_width_, X = input_width_;
  if (static_cast<int64_t>(x.size()) != n * X || static_cast<int64_t>(s.size()) != n * S ||
      static_cast<int64_t>(v.size()) != n * S || static_cast<int64_t>(out.size()) != n * S)
    user_error("step Jacobian: buffers must be [T][B][X] and [T][B][S] with T=", steps_, ", B=", rows_, ", X=", X,
               ", S=", S);
  packed_.resize(static_cast<size_t>(n * (X + 2 * S)));
  for (int64_t r = 0; r < n; ++r) {
    float* row = packed_.data() + r * (X + 2 * S);
    std::copy(x.begin() + r * X, x.begin() + (r + 1) * X, row);
    std::copy(s.begin() + r * S, s.begin() + (r + 1) * S, row + X);
    std::copy(v.begin() + r * S, v.begin() + (r + 1) * S, row + X + S);
  }
  net.forward(&net == &jvp_ ? jvp_params_ : vjp_params_, packed_, {}, out, {});
}

void StepJacobian::jvp(std::span<const float> x, std::span<const float> s, std::span<const float> v, std::span<float> out) {
  run(jvp_, x, s, v, out);
}

void StepJacobian::vjp(std::span<const float> x, std::span<const float> s, std::span<const float> u, std::span<float> out) {
  run(vjp_, x, s, u, out);
}

namespace {

// The largest eigenvalue of a symmetric tridiagonal matrix (diagonal a, off-diagonal b), by
// cyclic Jacobi rotations on its dense form (m is small).
double largest_tridiagonal_eigenvalue(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t m = a.size();
  std::vector<double> t(m * m, 0.0);
  for (size_t i = 0; i < m; ++i) {
    t[i * m + i] = a[i];
    if (i + 1 < m) t[i * m + i + 1] = t[(i + 1) * m + i] = b[i];
  }
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (size_t p = 0; p < m; ++p)
      for (size_t q = p + 1; q < m; ++q) off += t[p * m + q] * t[p * m + q];
    if (off < 1e-28) break;
    for (size_t p = 0; p < m; ++p)
      for (size_t q = p + 1; q < m; ++q) {
        if (t[p * m + q] == 0) continue;
        const double theta = (t[q * m + q] - t[p * m + p]) / (2 * t[p * m + q]);
        const double tan = (theta >= 0 ? 1 : -1) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(tan * tan + 1), sn = tan * c;
        for (size_t k = 0; k < m; ++k) {
          const double kp = t[k * m + p], kq = t[k * m + q];
          t[k * m + p] = c * kp - sn * kq;
          t[k * m + q] = sn * kp + c * kq;
        }
        for (size_t k = 0; k < m; ++k) {
          const double pk = t[p * m + k], qk = t[q * m + k];
          t[p * m + k] = c * pk - sn * qk;
          t[q * m + k] = sn * pk + c * qk;
        }
      }
  }
  double largest = 0;
  for (size_t i = 0; i < m; ++i) largest = std::max(largest, t[i * m + i]);
  return largest;
}

}  // namespace

std::vector<double> StepJacobian::largest_singular_values(std::span<const float> x, std::span<const float> s,
                                                          int iterations, uint64_t seed) {
  // Lanczos on J^T J, for every (step, row) at once: each iteration is one JVP and one VJP call.
  // Full reorthogonalization (in double) keeps the basis orthogonal; the largest Ritz value of the
  // tridiagonal matrix converges to sigma_max^2 much faster than plain power iteration does when
  // the top singular values are close.
  const int64_t n = steps_ * rows_, S = state_width_;
  const int m = static_cast<int>(std::min<int64_t>(iterations, S));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<std::vector<double>> basis;  // m vectors of n*S values
  std::vector<double> v(static_cast<size_t>(n * S));
  for (double& e : v) e = normal(rng);
  std::vector<std::vector<double>> alpha(static_cast<size_t>(n)), beta(static_cast<size_t>(n));
  std::vector<bool> finished(static_cast<size_t>(n), false);
  auto normalize_rows = [&](std::vector<double>& a, std::vector<double>* norms) {
    for (int64_t r = 0; r < n; ++r) {
      double sum = 0;
      for (int64_t j = 0; j < S; ++j) sum += a[r * S + j] * a[r * S + j];
      const double norm = std::sqrt(sum);
      if (norms) (*norms)[static_cast<size_t>(r)] = norm;
      for (int64_t j = 0; j < S; ++j) a[r * S + j] = norm > 0 ? a[r * S + j] / norm : 0.0;
    }
  };
  normalize_rows(v, nullptr);
  std::vector<float> vf(v.size()), w1(v.size()), w2(v.size());
  std::vector<double> norms(static_cast<size_t>(n));
  for (int j = 0; j < m; ++j) {
    basis.push_back(v);
    for (size_t i = 0; i < v.size(); ++i) vf[i] = static_cast<float>(v[i]);
    jvp(x, s, vf, w1);
    vjp(x, s, w1, w2);
    std::vector<double> w(w2.begin(), w2.end());
    for (int64_t r = 0; r < n; ++r) {
      if (finished[static_cast<size_t>(r)]) continue;
      double a = 0;
      for (int64_t k = 0; k < S; ++k) a += v[r * S + k] * w[r * S + k];
      alpha[r].push_back(a);
    }
    // w -= sum_i <w, q_i> q_i, twice (full reorthogonalization).
    for (int pass = 0; pass < 2; ++pass)
      for (const auto& q : basis)
        for (int64_t r = 0; r < n; ++r) {
          double dot = 0;
          for (int64_t k = 0; k < S; ++k) dot += w[r * S + k] * q[r * S + k];
          for (int64_t k = 0; k < S; ++k) w[r * S + k] -= dot * q[r * S + k];
        }
    normalize_rows(w, &norms);
    for (int64_t r = 0; r < n; ++r) {
      if (finished[static_cast<size_t>(r)]) continue;
      if (norms[static_cast<size_t>(r)] < 1e-12) finished[static_cast<size_t>(r)] = true;  // invariant subspace found
      else if (j + 1 < m) beta[r].push_back(norms[static_cast<size_t>(r)]);
    }
    v.swap(w);
  }
  std::vector<double> sigma(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    std::vector<double>& b = beta[static_cast<size_t>(r)];
    b.resize(alpha[r].empty() ? 0 : alpha[r].size() - 1);
    sigma[static_cast<size_t>(r)] =
        alpha[r].empty() ? 0.0 : std::sqrt(std::max(0.0, largest_tridiagonal_eigenvalue(alpha[r], b)));
  }
  return sigma;
}

double largest_singular_value(std::span<const float> matrix, int64_t rows, int64_t cols) {
  std::vector<double> v(static_cast<size_t>(cols), 1.0 / std::sqrt(static_cast<double>(cols))), w(static_cast<size_t>(rows));
  double sigma = 0;
  for (int it = 0; it < 500; ++it) {
    for (int64_t i = 0; i < rows; ++i) {
      double acc = 0;
      for (int64_t j = 0; j < cols; ++j) acc += matrix[static_cast<size_t>(i * cols + j)] * v[static_cast<size_t>(j)];
      w[static_cast<size_t>(i)] = acc;
    }
    double norm_w = 0;
    for (double e : w) norm_w += e * e;
    norm_w = std::sqrt(norm_w);
    for (int64_t j = 0; j < cols; ++j) {
      double acc = 0;
      for (int64_t i = 0; i < rows; ++i) acc += matrix[static_cast<size_t>(i * cols + j)] * w[static_cast<size_t>(i)];
      v[static_cast<size_t>(j)] = acc;
    }
    double norm_v = 0;
    for (double e : v) norm_v += e * e;
    norm_v = std::sqrt(norm_v);
    if (norm_v == 0) return 0;
    for (double& e : v) e /= norm_v;
    const double previous = sigma;
    sigma = norm_w;
    if (it > 10 && std::fabs(sigma - previous) <= 1e-10 * sigma) break;
  }
  return sigma;
}

std::vector<std::string> recurrent_weights(const ir::Graph& cell) {
  std::vector<bool> depends(cell.size(), false);
  for (ir::NodeId id = 0; id < cell.size(); ++id) {
    const ir::Node& n = cell.node(id);
    depends[id] = n.op == ir::Op::state;
    for (ir::NodeId a : n.args) depends[id] = depends[id] || depends[a];
  }
  std::vector<std::string> names;
  for (ir::NodeId id = 0; id < cell.size(); ++id) {
    const ir::Node& n = cell.node(id);
    if ((n.op == ir::Op::matmul || n.op == ir::Op::matmul_t) && depends[n.args[1]] &&
        cell.node(n.args[0]).op == ir::Op::param) {
      const std::string& name = cell.node(n.args[0]).name;
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  return names;
}

}  // namespace cellforge::gradflow
