// The cellforge half of the PyTorch oracle (tests/torch/oracle.py drives it): runs cases that the
// Python side wrote and writes what cellforge computes, for the Python side to compare with
// torch.nn.RNN / LSTM / GRU.
//
//   torch_oracle CASE...
//
// CASE is a path prefix. CASE.case.safetensors holds the module (metadata
// "cellforge.torch_module", as interop::TorchRnn::json() writes it), the call (metadata "case":
// JSON with "batch", "unroll", "variable_lengths", "weights", "seed", "threads") and the data in PyTorch's
// layouts: input [T, B, X], h0 and c0 [L*D, B, S], grad_output [T, B, D*S'], grad_h_n, grad_c_n,
// and lengths [B] (I64) when the lengths vary.
//   "weights": "import"  CASE.weights.safetensors is a state_dict written by PyTorch; it is read
//                        through interop::load_torch_weights, and exporting it again must give
//                        the same tensors bit for bit.
//   "weights": "export"  cellforge draws the weights (uniform in +-1/sqrt(H), from "seed") and
//                        writes them with interop::save_torch_weights, for PyTorch to load.
// A module with bias=False has no biases in its state_dict; cellforge's are zero.
// CASE.result.safetensors gets output, h_n, c_n (the final states), grad_input, grad_h0, grad_c0,
// and the weights' gradients as "grad.<state_dict name>" (export_state_dict of the gradient
// buffer), for L = <grad_output, output> + <grad_h_n, h_n> + <grad_c_n, c_n>.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "codegen/ir/error.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "runtime/interop/torch_rnn.hpp"
#include "runtime/train/json.hpp"

using namespace cellforge;

namespace {

struct Case {
  interop::TorchRnn module;
  int64_t batch = 0, unroll = 0, seed = 0, threads = 1;
  bool variable_lengths = false;
  bool import_weights = true;
};

Case parse_case(const interop::SafetensorsFile& file, const std::string& label) {
  auto it = file.metadata.find("case");
  if (it == file.metadata.end()) user_error(label, ": no metadata 'case'");
  const train::json::Value root = train::json::parse(it->second);
  auto member = [&](const char* key) -> const train::json::Value& {
    const train::json::Value* v = root.find(key);
    if (!v) user_error(label, ": the case lacks '", key, "'");
    return *v;
  };
  auto count = [&](const char* key) {
    int64_t n;
    if (!member(key).as_count(&n)) user_error(label, ": '", key, "' is not a count");
    return n;
  };
  Case c;
  auto module = file.metadata.find(interop::kTorchModuleKey);
  if (module == file.metadata.end()) user_error(label, ": no metadata '", interop::kTorchModuleKey, "'");
  c.module = interop::TorchRnn::from_json(module->second, label);
  c.batch = count("batch");
  c.unroll = count("unroll");
  c.seed = count("seed");
  c.threads = count("threads");
  c.variable_lengths = member("variable_lengths").boolean;
  c.import_weights = member("weights").text == "import";
  return c;
}

std::vector<float> tensor(const interop::SafetensorsFile& file, const std::string& name, const std::string& label,
                          int64_t expected_floats) {
  const interop::RawTensor* raw = file.find(name);
  if (!raw) user_error(label, ": no tensor '", name, "'");
  std::vector<float> v = interop::to_float32(*raw, label).values;
  if (static_cast<int64_t>(v.size()) != expected_floats)
    user_error(label, ": tensor '", name, "' has ", v.size(), " floats, the network needs ", expected_floats);
  return v;
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void run_case(const std::string& prefix) {
  const std::string label = prefix + ".case.safetensors";
  const interop::SafetensorsFile file = interop::read_safetensors(label);
  const Case c = parse_case(file, label);
  const ir::NetworkSpec spec = interop::network_spec(c.module, c.batch, c.unroll, c.variable_lengths);
  NetworkOptions options;
  options.threads = static_cast<int>(c.threads);
  const auto compile_start = std::chrono::steady_clock::now();
  CompiledNetwork net = CompiledNetwork::compile(spec, options);
  const double compile_ms = milliseconds_since(compile_start);

  std::vector<float> params(static_cast<size_t>(net.parameter_floats()));
  const std::string weights_path = prefix + ".weights.safetensors";
  interop::ImportOptions import_options;
  interop::ExportOptions export_options;
  import_options.bias = export_options.bias = c.module.bias;
  if (c.import_weights) {
    interop::load_torch_weights(weights_path, net, params, import_options);
    // Export is the inverse of import: the same names, shapes and bits, in state_dict order.
    const interop::SafetensorsFile original = interop::read_safetensors(weights_path);
    const std::vector<interop::Tensor> again = interop::export_state_dict(net, params, export_options);
    if (again.size() != original.tensors.size()) user_error(prefix, ": export gives ", again.size(), " tensors, the file has ",
                                                            original.tensors.size());
    for (const interop::Tensor& t : again) {
      const interop::RawTensor* raw = original.find(t.name);
      if (!raw || raw->shape != t.shape || raw->bytes.size() != t.values.size() * 4 ||
          std::memcmp(raw->bytes.data(), t.values.data(), raw->bytes.size()) != 0)
        user_error(prefix, ": exporting the imported weights changes '", t.name, "'");
    }
  } else {
    std::mt19937_64 rng(static_cast<uint64_t>(c.seed));
    const float k = 1.0f / std::sqrt(static_cast<float>(c.module.hidden_size));
    std::uniform_real_distribution<float> u(-k, k);
    for (float& v : params) v = u(rng);
    if (!c.module.bias)  // a bias=False module: cellforge's biases stay zero
      for (const ParameterInfo& p : net.parameters())
        if (p.name == "b_ih" || p.name == "b_hh") std::fill_n(params.begin() + p.offset, p.size(), 0.0f);
    interop::save_torch_weights(weights_path, net, params, export_options);
  }

  const int64_t T = c.unroll, B = c.batch;
  const std::vector<float> x = tensor(file, "input", label, T * B * net.input_width());
  const std::vector<float> dy = tensor(file, "grad_output", label, T * B * net.output_width());
  std::vector<int64_t> lengths;
  if (c.variable_lengths) {
    const interop::RawTensor* raw = file.find("lengths");
    if (!raw) user_error(label, ": no tensor 'lengths'");
    lengths = interop::to_int64(*raw, label);
  }
  // The states by PyTorch's names: h0/h_n and c0/c_n.
  const std::vector<std::string> states = net.state_names();
  std::vector<std::vector<float>> s0, dsT, sT, ds0;
  for (size_t k = 0; k < states.size(); ++k) {
    const int64_t n = net.state_floats(k);
    s0.push_back(tensor(file, states[k] + "0", label, n));
    dsT.push_back(tensor(file, "grad_" + states[k] + "_n", label, n));
    sT.emplace_back(static_cast<size_t>(n));
    ds0.emplace_back(static_cast<size_t>(n));
  }
  std::vector<float> y(dy.size()), dx(x.size()), dparams(params.size());
  std::vector<std::span<const float>> s0_spans(s0.begin(), s0.end()), dsT_spans(dsT.begin(), dsT.end());
  std::vector<std::span<float>> sT_spans(sT.begin(), sT.end()), ds0_spans(ds0.begin(), ds0.end());
  CallOptions call;
  call.lengths = lengths;
  const auto run_start = std::chrono::steady_clock::now();
  net.forward(params, x, s0_spans, y, sT_spans, call);
  net.backward(params, x, dy, dsT_spans, dparams, dx, ds0_spans);
  const double run_ms = milliseconds_since(run_start);

  const int64_t D = c.module.directions(), L = c.module.num_layers;
  std::vector<interop::Tensor> results{{"output", {T, B, net.output_width()}, y}, {"grad_input", {T, B, net.input_width()}, dx}};
  for (size_t k = 0; k < states.size(); ++k) {
    const int64_t width = net.state_floats(k) / (L * D * B);
    results.push_back({states[k] + "_n", {L * D, B, width}, sT[k]});
    results.push_back({"grad_" + states[k] + "0", {L * D, B, width}, ds0[k]});
  }
  interop::ExportOptions grads;
  grads.prefix = "grad.";
  for (interop::Tensor& t : interop::export_state_dict(net, dparams, grads))
    if (c.module.bias || !t.name.starts_with("grad.bias_")) results.push_back(std::move(t));  // bias=False: none
  interop::write_safetensors(prefix + ".result.safetensors", results);
  std::printf("%s: %s, compile %.0f ms, forward+backward %.2f ms\n", prefix.c_str(), c.module.python().c_str(), compile_ms,
              run_ms);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> cases(argv + 1, argv + argc);
  if (cases.empty()) {
    std::cerr << "usage: torch_oracle CASE...\n";
    return 2;
  }
  int failures = 0;
  for (const std::string& prefix : cases) {
    try {
      run_case(prefix);
    } catch (const std::exception& e) {
      std::cerr << prefix << ": error: " << e.what() << "\n";
      ++failures;
    }
  }
  return failures ? 1 : 0;
}
