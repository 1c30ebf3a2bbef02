// `cellforge demo`: the README's first command. It takes a cell from the zoo through the pipeline
// and shows each stage: the step graph, its derivative, a run of the reference interpreter and a
// gradient check of BPTT against finite differences.
#include <cmath>
#include <cstdio>
#include <random>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/reference_network.hpp"
#include "codegen/ir/text.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::cli {

namespace {

ir::Array random_array(int64_t rows, int64_t cols, std::mt19937& rng, double scale) {
  std::uniform_real_distribution<double> u(-scale, scale);
  ir::Array a(rows, cols);
  for (double& v : a.data) v = u(rng);
  return a;
}

}  // namespace

int run_demo(const Argv& argv) {
  Args args(argv, {"cell"});
  const zoo::ZooCell& entry = zoo::find(args.text("cell", "lstm"));
  ir::Graph cell = entry.build();
  std::printf("== the cell, as its equations ==\n%s\n\n", entry.equations.c_str());
  std::printf("== its step graph (cellforge inspect --cell %s --emit graph) ==\n%s\n", entry.name.c_str(),
              ir::print(cell).c_str());
  ir::Graph backward = autodiff::differentiate(cell);
  std::printf("== its backward step graph (--emit grad) ==\n%s\n", ir::print(backward).c_str());

  ir::NetworkSizes sizes;
  sizes.input = 3, sizes.hidden = 4, sizes.batch = 2, sizes.unroll = 5, sizes.layers = 2;
  ir::ReferenceNetwork net(cell, backward, sizes);
  std::mt19937 rng(7);
  ir::LayerValues params(2), states(2), d_final(2);
  for (int64_t l = 0; l < sizes.layers; ++l) {
    ir::Bindings b = ir::layer_bindings(cell, sizes, l);
    for (ir::NodeId p : cell.leaves(ir::Op::param)) {
      const ir::Type& t = cell.type(p);
      params[l][cell.node(p).name] =
          random_array(t.is_matrix() ? t.rows.bind(b) : 1, t.is_matrix() ? t.cols.bind(b) : t.rows.bind(b), rng, 0.5);
    }
    for (ir::NodeId s : cell.leaves(ir::Op::state)) {
      states[l][cell.node(s).name] = random_array(sizes.batch, cell.type(s).rows.bind(b), rng, 0.5);
      d_final[l][cell.node(s).name] = ir::Array(sizes.batch, cell.type(s).rows.bind(b));
    }
  }
  std::vector<ir::Array> x, dy;
  for (int64_t t = 0; t < sizes.unroll; ++t) {
    x.push_back(random_array(sizes.batch, sizes.input, rng, 1.0));
    dy.push_back(random_array(sizes.batch, sizes.hidden, rng, 1.0));
  }
  auto fwd = net.forward(params, x, states);
  std::printf("== the reference interpreter: %lld layers x %lld steps, batch %lld ==\n", (long long)sizes.layers,
              (long long)sizes.unroll, (long long)sizes.batch);
  for (int64_t t = 0; t < sizes.unroll; ++t) {
    std::printf("  y[t=%lld, row 0] =", (long long)t);
    for (int64_t j = 0; j < fwd.outputs[t].cols; ++j) std::printf(" %+.5f", fwd.outputs[t].at(0, j));
    std::printf("\n");
  }
  // BPTT against central differences of L = sum_t <dy_t, y_t> for one recurrent weight.
  auto grads = net.backward(params, x, states, dy, d_final);
  auto loss = [&](const ir::LayerValues& p) {
    auto f = net.forward(p, x, states);
    double s = 0;
    for (int64_t t = 0; t < sizes.unroll; ++t)
      for (size_t i = 0; i < f.outputs[t].data.size(); ++i) s += f.outputs[t].data[i] * dy[t].data[i];
    return s;
  };
  const std::string recurrent = cell.leaves(ir::Op::param).size() > 1 ? cell.node(cell.leaves(ir::Op::param)[1]).name
                                                                      : cell.node(cell.leaves(ir::Op::param)[0]).name;
  double worst = 0;
  for (size_t i = 0; i < params[0][recurrent].data.size(); ++i) {
    const double eps = 1e-6;
    ir::LayerValues plus = params, minus = params;
    plus[0][recurrent].data[i] += eps;
    minus[0][recurrent].data[i] -= eps;
    double numeric = (loss(plus) - loss(minus)) / (2 * eps);
    double analytic = grads.params[0][recurrent].data[i];
    worst = std::max(worst, std::fabs(numeric - analytic) / std::max(1e-7, std::fabs(numeric)));
  }
  std::printf("\n== BPTT vs central differences, dL/d%s of layer 0 (%zu entries): worst relative error %.2e ==\n",
              recurrent.c_str(), params[0][recurrent].data.size(), worst);
  return worst < 1e-5 ? 0 : 1;
}

}  // namespace cellforge::cli
