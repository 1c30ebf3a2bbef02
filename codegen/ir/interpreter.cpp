// The reference interpreter; see interpreter.hpp.
#include "codegen/ir/interpreter.hpp"

#include <cmath>

#include "codegen/ir/error.hpp"

namespace cellforge::ir {

namespace {

double apply_unary(Op op, double a) {
  switch (op) {
    case Op::neg: return -a;
    case Op::sigmoid: return 1.0 / (1.0 + std::exp(-a));
    case Op::tanh: return std::tanh(a);
    case Op::relu: return a > 0 ? a : 0.0;
    case Op::step: return a > 0 ? 1.0 : 0.0;
    case Op::exp: return std::exp(a);
    case Op::log: return std::log(a);
    case Op::sqrt: return std::sqrt(a);
    case Op::rsqrt: return 1.0 / std::sqrt(a);
    case Op::stop_gradient: return a;
    default: internal_error("apply_unary: ", op_name(op), " is not unary");
  }
}

double apply_binary(Op op, double a, double b) {
  switch (op) {
    case Op::add: return a + b;
    case Op::sub: return a - b;
    case Op::mul: return a * b;
    case Op::div: return a / b;
    default: internal_error("apply_binary: ", op_name(op), " is not binary");
  }
}

// Element (r, c) of a value, broadcasting a shared row or a length-1 column.
double element(const Array& a, int64_t r, int64_t c) {
  return a.at(a.rows == 1 ? 0 : r, a.cols == 1 ? 0 : c);
}

}  // namespace

std::string output_key(Role role, const std::string& name) { return std::string(role_name(role)) + " " + name; }

std::vector<Array> evaluate(const Graph& graph, const Bindings& bindings, int64_t batch, const LeafValues& leaves) {
  if (batch < 1) user_error("batch size must be >= 1, got ", batch);
  std::vector<Array> v(graph.size());
  for (NodeId id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    const int64_t width = n.type.is_matrix() ? n.type.cols.bind(bindings) : n.type.rows.bind(bindings);
    const int64_t height = n.type.is_matrix() ? n.type.rows.bind(bindings) : (n.type.shared ? 1 : batch);
    Array out(height, width);
    auto arg = [&](size_t i) -> const Array& { return v[n.args[i]]; };
    switch (op_family(n.op)) {
      case OpFamily::Leaf: {
        if (n.op == Op::constant) {
          out = Array(height, width, n.value);
          break;
        }
        auto it = leaves.find(n.name);
        if (it == leaves.end())
          user_error("no value given for ", op_name(n.op), " '", n.name, "' of cell '", graph.name(), "'");
        if (it->second.rows != height || it->second.cols != width)
          user_error(op_name(n.op), " '", n.name, "' has shape [", it->second.rows, ", ", it->second.cols,
                     "]; expected [", height, ", ", width, "]");
        out = it->second;
        break;
      }
      case OpFamily::Unary:
        for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = apply_unary(n.op, arg(0).data[i]);
        break;
      case OpFamily::Binary:
        for (int64_t r = 0; r < height; ++r)
          for (int64_t c = 0; c < width; ++c)
            out.at(r, c) = apply_binary(n.op, element(arg(0), r, c), element(arg(1), r, c));
        break;
      case OpFamily::Matmul: {
        const Array& a = arg(0);
        const Array& b = arg(1);
        if (n.op == Op::matmul) {  // out[r][i] = sum_j W[i][j] v[r][j]
          for (int64_t r = 0; r < height; ++r)
            for (int64_t i = 0; i < width; ++i) {
              double s = 0;
              for (int64_t j = 0; j < a.cols; ++j) s += a.at(i, j) * b.at(r, j);
              out.at(r, i) = s;
            }
        } else if (n.op == Op::matmul_t) {  // out[r][j] = sum_i W[i][j] v[r][i]
          for (int64_t r = 0; r < height; ++r)
            for (int64_t j = 0; j < width; ++j) {
              double s = 0;
              for (int64_t i = 0; i < a.rows; ++i) s += a.at(i, j) * b.at(r, i);
              out.at(r, j) = s;
            }
        } else {  // outer: out[i][j] = sum_r a[r][i] b[r][j]
          for (int64_t r = 0; r < a.rows; ++r)
            for (int64_t i = 0; i < height; ++i)
              for (int64_t j = 0; j < width; ++j) out.at(i, j) += a.at(r, i) * b.at(r, j);
        }
        break;
      }
      case OpFamily::Structural:
        if (n.op == Op::slice) {
          int64_t offset = n.offset.bind(bindings);
          for (int64_t r = 0; r < height; ++r)
            for (int64_t c = 0; c < width; ++c) out.at(r, c) = arg(0).at(r, offset + c);
        } else if (n.op == Op::pad) {
          int64_t offset = n.offset.bind(bindings);
          for (int64_t r = 0; r < height; ++r)
            for (int64_t c = 0; c < arg(0).cols; ++c) out.at(r, offset + c) = arg(0).at(r, c);
        } else if (n.op == Op::concat) {
          int64_t offset = 0;
          for (size_t i = 0; i < n.args.size(); ++i) {
            const Array& part = arg(i);
            for (int64_t r = 0; r < height; ++r)
              for (int64_t c = 0; c < part.cols; ++c) out.at(r, offset + c) = element(part, r, c);
            offset += part.cols;
          }
        } else if (n.op == Op::batch_broadcast) {
          for (int64_t r = 0; r < height; ++r)
            for (int64_t c = 0; c < width; ++c) out.at(r, c) = arg(0).at(0, c);
        } else {  // broadcast
          for (int64_t r = 0; r < height; ++r)
            for (int64_t c = 0; c < width; ++c) out.at(r, c) = arg(0).at(r, 0);
        }
        break;
      case OpFamily::Reduce:
        if (n.op == Op::batch_sum) {
          for (int64_t r = 0; r < arg(0).rows; ++r)
            for (int64_t c = 0; c < width; ++c) out.at(0, c) += arg(0).at(r, c);
        } else {
          for (int64_t r = 0; r < height; ++r) {
            double s = 0;
            for (int64_t c = 0; c < arg(0).cols; ++c) s += arg(0).at(r, c);
            out.at(r, 0) = n.op == Op::mean ? s / static_cast<double>(arg(0).cols) : s;
          }
        }
        break;
    }
    v[id] = std::move(out);
  }
  return v;
}

std::map<std::string, Array> evaluate_outputs(const Graph& graph, const Bindings& bindings, int64_t batch,
                                              const LeafValues& leaves) {
  std::vector<Array> values = evaluate(graph, bindings, batch, leaves);
  std::map<std::string, Array> out;
  for (const Output& o : graph.outputs()) out[output_key(o.role, o.name)] = values[o.node];
  return out;
}

}  // namespace cellforge::ir
