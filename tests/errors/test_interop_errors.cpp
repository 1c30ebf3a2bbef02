// Bad input to the PyTorch interop, each refused with a message whose whole text is checked: a
// state_dict with a missing tensor, a tensor of the wrong shape (and what the shape says about the
// file's module), unknown names (more layers, reverse directions, proj_size, a submodule's prefix,
// not a torch.nn name), a non-float dtype, a non-finite weight, a file that says it holds another
// module; networks that no torch.nn module equals; module arguments PyTorch refuses; and malformed
// safetensors files. An import that fails leaves the parameters as they were.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "codegen/ir/error.hpp"
#include "codegen/llvm/network_plan.hpp"
#include "runtime/interop/torch_rnn.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/interop_layout.hpp"

using namespace cellforge;
using namespace cellforge::interop;

namespace {

using testing::floats_of;
using testing::layout_of;

TorchRnn module(TorchMode mode, int64_t input, int64_t hidden, int64_t layers = 1, bool bidirectional = false,
                int64_t proj = 0) {
  TorchRnn m;
  m.mode = mode, m.input_size = input, m.hidden_size = hidden, m.num_layers = layers, m.bidirectional = bidirectional;
  m.proj_size = proj;
  return m;
}

// The state_dict PyTorch would give `m`, every value 0.25.
std::vector<Tensor> state_dict_of(const TorchRnn& m) {
  const ir::NetworkSpec spec = network_spec(m, 1, 1);
  const std::vector<ParameterInfo> layout = layout_of(spec);
  std::vector<float> params(static_cast<size_t>(floats_of(layout)), 0.25f);
  return export_state_dict(spec, layout, params);
}

std::vector<Tensor> without(std::vector<Tensor> tensors, const std::string& name) {
  std::erase_if(tensors, [&](const Tensor& t) { return t.name == name; });
  return tensors;
}

// The message of importing `tensors` into the network of `m`; checks that the parameters stayed.
std::string import_error(const TorchRnn& m, const std::vector<Tensor>& tensors, const ImportOptions& options = {}) {
  const ir::NetworkSpec spec = network_spec(m, 1, 1);
  const std::vector<ParameterInfo> layout = layout_of(spec);
  std::vector<float> params(static_cast<size_t>(floats_of(layout)), 7.0f);
  try {
    import_state_dict(spec, layout, tensors, params, options);
  } catch (const UserError& e) {
    for (float v : params)
      if (v != 7.0f) return "a failed import changed the parameters";
    return e.what();
  }
  return "accepted";
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "accepted";
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("cellforge-interop-errors-" + name)).string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A plain safetensors file (no checksums): header text + data.
std::string plain_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

std::string decode_error(const std::string& bytes) {
  return error_of([&] { decode_safetensors(bytes, "safetensors file 'w.safetensors'"); });
}

}  // namespace

TEST_CASE("interop errors: a state_dict that does not fit the network", "[errors][interop]") {
  const TorchRnn lstm = module(TorchMode::lstm, 4, 3, 2);
  const std::vector<Tensor> good = state_dict_of(lstm);
  CHECK(import_error(lstm, good) == "accepted");

  CHECK(import_error(lstm, without(good, "bias_hh_l1")) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  missing tensor 'bias_hh_l1' [12]: the file lacks it; save the whole module.state_dict()");
  CHECK(import_error(lstm, without(good, "weight_ih_l1")) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  its tensors are those of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=1)\n"
        "  missing tensor 'weight_ih_l1' [12, 3]: the file's module has no such parameters\n"
        "  fix: build the network as the file's module (interop::infer_torch_module, then interop::network_spec), "
        "or import the file of the module you meant");
  CHECK(import_error(lstm, state_dict_of(module(TorchMode::gru, 4, 3, 2))) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  its tensors are those of torch.nn.GRU(input_size=4, hidden_size=3, num_layers=2)\n"
        "  tensor 'weight_ih_l0' is [9, 4] but the network needs [12, 4] (W_ih of layer 0)\n"
        "  tensor 'weight_hh_l0' is [9, 3] but the network needs [12, 3] (W_hh of layer 0)\n"
        "  tensor 'bias_ih_l0' is [9] but the network needs [12] (b_ih of layer 0)\n"
        "  tensor 'bias_hh_l0' is [9] but the network needs [12] (b_hh of layer 0)\n"
        "  tensor 'weight_ih_l1' is [9, 3] but the network needs [12, 3] (W_ih of layer 1)\n"
        "  tensor 'weight_hh_l1' is [9, 3] but the network needs [12, 3] (W_hh of layer 1)\n"
        "  ... and 2 more tensors of the wrong shape\n"
        "  fix: build the network as the file's module (interop::infer_torch_module, then interop::network_spec), "
        "or import the file of the module you meant");
  CHECK(import_error(lstm, state_dict_of(module(TorchMode::lstm, 5, 3, 2))) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  its tensors are those of torch.nn.LSTM(input_size=5, hidden_size=3, num_layers=2)\n"
        "  tensor 'weight_ih_l0' is [12, 5] but the network needs [12, 4] (W_ih of layer 0)\n"
        "  fix: build the network as the file's module (interop::infer_torch_module, then interop::network_spec), "
        "or import the file of the module you meant");
  CHECK(import_error(lstm, state_dict_of(module(TorchMode::lstm, 4, 6, 2))) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  its tensors are those of torch.nn.LSTM(input_size=4, hidden_size=6, num_layers=2)\n"
        "  tensor 'weight_ih_l0' is [24, 4] but the network needs [12, 4] (W_ih of layer 0)\n"
        "  tensor 'weight_hh_l0' is [24, 6] but the network needs [12, 3] (W_hh of layer 0)\n"
        "  tensor 'bias_ih_l0' is [24] but the network needs [12] (b_ih of layer 0)\n"
        "  tensor 'bias_hh_l0' is [24] but the network needs [12] (b_hh of layer 0)\n"
        "  tensor 'weight_ih_l1' is [24, 6] but the network needs [12, 3] (W_ih of layer 1)\n"
        "  tensor 'weight_hh_l1' is [24, 6] but the network needs [12, 3] (W_hh of layer 1)\n"
        "  ... and 2 more tensors of the wrong shape\n"
        "  fix: build the network as the file's module (interop::infer_torch_module, then interop::network_spec), "
        "or import the file of the module you meant");
  CHECK(import_error(lstm, state_dict_of(module(TorchMode::lstm, 4, 3, 3))) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  its tensors are those of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=3)\n"
        "  unknown tensors 'weight_ih_l2', 'weight_hh_l2', 'bias_ih_l2', 'bias_hh_l2': the file's module has more "
        "layers than the network's 2\n"
        "  fix: build the network as the file's module (interop::infer_torch_module, then interop::network_spec), "
        "or import the file of the module you meant");
  CHECK(import_error(lstm, state_dict_of(module(TorchMode::lstm, 4, 3, 2, true))) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  its tensors are those of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2, bidirectional=True)\n"
        "  tensor 'weight_ih_l1' is [12, 6] but the network needs [12, 3] (W_ih of layer 1)\n"
        "  unknown tensors 'weight_ih_l0_reverse', 'weight_hh_l0_reverse', 'bias_ih_l0_reverse', "
        "'bias_hh_l0_reverse', 'weight_ih_l1_reverse', 'weight_hh_l1_reverse', 'bias_ih_l1_reverse', "
        "'bias_hh_l1_reverse': the file's module is bidirectional\n"
        "  fix: build the network as the file's module (interop::infer_torch_module, then interop::network_spec), "
        "or import the file of the module you meant");
  CHECK(import_error(module(TorchMode::lstm, 4, 3, 2, true), good) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2, "
        "bidirectional=True):\n"
        "  its tensors are those of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2)\n"
        "  tensor 'weight_ih_l1' is [12, 3] but the network needs [12, 6] (W_ih of layer 1)\n"
        "  missing tensors 'weight_ih_l0_reverse' [12, 4], 'weight_hh_l0_reverse' [12, 3], 'bias_ih_l0_reverse' "
        "[12], 'bias_hh_l0_reverse' [12], 'weight_ih_l1_reverse' [12, 6], 'weight_hh_l1_reverse' [12, 3], "
        "'bias_ih_l1_reverse' [12], 'bias_hh_l1_reverse' [12]: the file's module has no such parameters\n"
        "  fix: build the network as the file's module (interop::infer_torch_module, then interop::network_spec), "
        "or import the file of the module you meant");
  CHECK(import_error(lstm, state_dict_of(module(TorchMode::lstm, 4, 3, 2, false, 2))) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  its tensors are those of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2, proj_size=2)\n"
        "  tensor 'weight_hh_l0' is [12, 2] but the network needs [12, 3] (W_hh of layer 0)\n"
        "  tensor 'weight_ih_l1' is [12, 2] but the network needs [12, 3] (W_ih of layer 1)\n"
        "  tensor 'weight_hh_l1' is [12, 2] but the network needs [12, 3] (W_hh of layer 1)\n"
        "  unknown tensors 'weight_hr_l0', 'weight_hr_l1': the file's module is an LSTM with proj_size (the lstmp "
        "cell)\n"
        "  fix: build the network as the file's module (interop::infer_torch_module, then interop::network_spec), "
        "or import the file of the module you meant");
  CHECK(import_error(module(TorchMode::lstm, 4, 3, 2, false, 2), good) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2, "
        "proj_size=2):\n"
        "  its tensors are those of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2)\n"
        "  tensor 'weight_hh_l0' is [12, 3] but the network needs [12, 2] (W_hh of layer 0)\n"
        "  tensor 'weight_ih_l1' is [12, 3] but the network needs [12, 2] (W_ih of layer 1)\n"
        "  tensor 'weight_hh_l1' is [12, 3] but the network needs [12, 2] (W_hh of layer 1)\n"
        "  missing tensors 'weight_hr_l0' [2, 3], 'weight_hr_l1' [2, 3]: the file's module has no such parameters\n"
        "  fix: build the network as the file's module (interop::infer_torch_module, then interop::network_spec), "
        "or import the file of the module you meant");
  std::vector<Tensor> prefixed = good;
  for (Tensor& t : prefixed) t.name = "encoder.rnn." + t.name;
  CHECK(import_error(lstm, prefixed) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  unknown tensors 'encoder.rnn.weight_ih_l0', 'encoder.rnn.weight_hh_l0', 'encoder.rnn.bias_ih_l0', "
        "'encoder.rnn.bias_hh_l0', 'encoder.rnn.weight_ih_l1', 'encoder.rnn.weight_hh_l1', "
        "'encoder.rnn.bias_ih_l1', 'encoder.rnn.bias_hh_l1': a submodule's entries: import with the prefix "
        "'encoder.rnn.'");
  std::vector<Tensor> extra = good;
  extra.push_back({"head.weight", {2, 3}, std::vector<float>(6, 0.0f)});
  CHECK(import_error(lstm, extra) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  unknown tensor 'head.weight': not torch.nn.RNN/LSTM/GRU state_dict names (weight_ih_l0, ...); give a "
        "prefix to import a submodule's entries only");
  ImportOptions p;
  p.prefix = "encoder.rnn.";
  extra = prefixed;
  extra.push_back({"head.weight", {2, 3}, std::vector<float>(6, 0.0f)});
  CHECK(import_error(lstm, extra, p) == "accepted");
  std::vector<Tensor> nan = good;
  nan[1].values[5] = NAN;
  CHECK(import_error(lstm, nan) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  tensor 'weight_hh_l0' holds NaN at element 5; cellforge imports finite weights only");
  std::vector<Tensor> twice = good;
  twice.push_back(good[0]);
  CHECK(import_error(lstm, twice) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  tensor 'weight_ih_l0' appears twice");
  ImportOptions no_bias;
  no_bias.bias = false;
  CHECK(import_error(lstm, good, no_bias) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2, "
        "bias=False):\n"
        "  its tensors are those of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2)\n"
        "  unknown tensors 'bias_ih_l0', 'bias_hh_l0', 'bias_ih_l1', 'bias_hh_l1': the file has biases: import "
        "with bias = true\n"
        "  fix: build the network as the file's module (interop::infer_torch_module, then interop::network_spec), "
        "or import the file of the module you meant");
  std::vector<Tensor> vec = good;
  vec[0].shape = {36};
  CHECK(import_error(lstm, vec) ==
        "state_dict does not hold the weights of torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=2):\n"
        "  tensor 'weight_ih_l0' is [36] but the network needs [12, 4] (W_ih of layer 0); a weight is a matrix");
  CHECK(import_error(module(TorchMode::rnn_tanh, 4, 3, 1), state_dict_of(module(TorchMode::rnn_tanh, 4, 3, 2))) ==
        "state_dict does not hold the weights of torch.nn.RNN(input_size=4, hidden_size=3, num_layers=1):\n"
        "  its tensors are those of torch.nn.RNN(input_size=4, hidden_size=3, num_layers=2)\n"
        "  unknown tensors 'weight_ih_l1', 'weight_hh_l1', 'bias_ih_l1', 'bias_hh_l1': the file's module has more "
        "layers than the network's 1\n"
        "  fix: build the network as the file's module (interop::infer_torch_module, then interop::network_spec), "
        "or import the file of the module you meant");
}

TEST_CASE("interop errors: networks and modules with no counterpart", "[errors][interop]") {
  ir::NetworkSpec spec;
  spec.sizes = {4, 3, 1, 1, 1, {}};
  spec.layers.push_back({zoo::find("peephole_lstm").build(), false});
  CHECK(error_of([&] { torch_module(spec); }) ==
        "layer 0's cell 'peephole_lstm' is not one that torch.nn has; PyTorch's state_dict names fit only the zoo "
        "cells rnn, rnn_relu, lstm, lstmp (proj_size) and gru, which compute what torch.nn.RNN, LSTM and GRU "
        "compute");
  spec.sizes.layers = 2;
  spec.layers = {{zoo::find("lstm").build(), false}, {zoo::find("gru").build(), false}};
  CHECK(error_of([&] { torch_module(spec); }) ==
        "layer 1 is a 'gru' cell but layer 0 is a 'lstm' cell; a torch.nn module stacks one kind of cell, so "
        "export each part as its own module");
  spec.layers = {{zoo::find("lstm").build(), true}, {zoo::find("lstm").build(), false}};
  CHECK(error_of([&] { torch_module(spec); }) ==
        "layer 1 is unidirectional but layer 0 is bidirectional; a torch.nn module has the same directions in "
        "every layer");
  // Zoneout has no torch.nn counterpart (weight drop does not change evaluation, so it exports).
  spec.layers = {{zoo::find("lstm").build(), false}, {zoo::find("lstm").build(), false}};
  spec.zoneout = {{"c", 0.5}};
  CHECK(error_of([&] { torch_module(spec); }) ==
        "the network zones out state 'c' (zoneout 0.5), which torch.nn.RNN, LSTM and GRU do not have: even in "
        "evaluation a zoned network blends each state with its previous value, so the module would compute something "
        "else");
  spec.zoneout.clear();
  spec.weight_drop = {{"W_hh", 0.5}};
  CHECK(error_of([&] { torch_module(spec); }) == "accepted");
  spec.weight_drop.clear();
  CHECK(error_of([&] { network_spec(module(TorchMode::gru, 4, 3, 1, false, 2), 1, 1); }) ==
        "torch.nn.GRU(input_size=4, hidden_size=3, num_layers=1, proj_size=2): proj_size is an argument of "
        "torch.nn.LSTM only; set it to 0");
  CHECK(error_of([&] { network_spec(module(TorchMode::lstm, 4, 3, 1, false, 3), 1, 1); }) ==
        "torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=1, proj_size=3): proj_size must be smaller than "
        "hidden_size (PyTorch refuses 3 >= 3)");
  CHECK(error_of([&] { parse_mode("lstmp"); }) ==
        "unknown torch.nn mode 'lstmp'; known: RNN_TANH, RNN_RELU, LSTM, GRU");
  const TorchRnn m = module(TorchMode::lstm, 4, 3);
  const ir::NetworkSpec lstm = network_spec(m, 1, 1);
  const std::vector<ParameterInfo> layout = layout_of(lstm);
  std::vector<float> params(static_cast<size_t>(floats_of(layout)), 0.5f);
  ExportOptions no_bias;
  no_bias.bias = false;
  CHECK(error_of([&] { export_state_dict(lstm, layout, params, no_bias); }) ==
        "cannot export as a bias=False module: b_ih of layer 0 is 0.5 at element 0, not zero; export with bias = "
        "true");
}

TEST_CASE("interop errors: files", "[errors][interop]") {
  const TorchRnn lstm = module(TorchMode::lstm, 4, 3);
  const ir::NetworkSpec spec = network_spec(lstm, 1, 1);
  const std::vector<ParameterInfo> layout = layout_of(spec);
  std::vector<float> params(static_cast<size_t>(floats_of(layout)), 0.5f);
  const std::string gru_path = temp_path("gru.safetensors");
  {
    const TorchRnn gru = module(TorchMode::gru, 4, 3);
    const ir::NetworkSpec gru_spec = network_spec(gru, 1, 1);
    const std::vector<ParameterInfo> gru_layout = layout_of(gru_spec);
    save_torch_weights(gru_path, gru_spec, gru_layout, std::vector<float>(static_cast<size_t>(floats_of(gru_layout)), 0.5f));
  }
  CHECK(error_of([&] { load_torch_weights(gru_path, spec, layout, params); }) ==
        "safetensors file '" + gru_path +
            "' holds the weights of torch.nn.GRU(input_size=4, hidden_size=3, num_layers=1) but the network is "
            "torch.nn.LSTM(input_size=4, hidden_size=3, num_layers=1); build the network as the file's module "
            "(interop::infer_torch_module, then interop::network_spec), or import the file of the module you meant");
  CHECK(error_of([&] { load_torch_weights(temp_path("missing.safetensors"), spec, layout, params); }) ==
        "safetensors file '" + temp_path("missing.safetensors") + "': cannot open it for reading (No such file or directory)");
  const std::string int_path = temp_path("int.safetensors");
  write_bytes(int_path, plain_file("{\"weight_ih_l0\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
                                   std::string(8, '\0')));
  CHECK(error_of([&] { load_torch_weights(int_path, spec, layout, params); }) ==
        "safetensors file '" + int_path +
            "': tensor 'weight_ih_l0' is I64, not a floating-point tensor (F32, F64, F16 or BF16); save it with .float()");
  CHECK(error_of([&] { infer_torch_module(read_safetensors(int_path), "safetensors file 'int.safetensors'", "rnn."); }) ==
        "safetensors file 'int.safetensors': it has no matrices 'weight_ih_l0' and 'weight_hh_l0', so it is not "
        "the state_dict of a torch.nn.RNN, LSTM or GRU (under the prefix 'rnn.')");
  {
    const TorchRnn rnn = module(TorchMode::rnn_relu, 4, 3);
    const ir::NetworkSpec rnn_spec = network_spec(rnn, 1, 1);
    const std::vector<ParameterInfo> rnn_layout = layout_of(rnn_spec);
    const std::vector<float> params_of_rnn(static_cast<size_t>(floats_of(rnn_layout)), 0.5f);
    const std::vector<Tensor> t = export_state_dict(rnn_spec, rnn_layout, params_of_rnn);
    const SafetensorsFile f = decode_safetensors(encode_safetensors(t), "x");
    CHECK(error_of([&] { infer_torch_module(f, "safetensors file 'rnn.safetensors'"); }) ==
          "safetensors file 'rnn.safetensors': it holds a torch.nn.RNN, whose weights do not say its nonlinearity; "
          "give it (RNN_TANH or RNN_RELU)");
  }

  CHECK(decode_error("abc") ==
        "safetensors file 'w.safetensors': the file is 3 bytes, shorter than the 8-byte header length; it is "
        "truncated or not safetensors");
  CHECK(decode_error(plain_file("{}", "").substr(0, 8) + "{") ==
        "safetensors file 'w.safetensors': the header declares 2 bytes but only 1 follow the length field; the "
        "file is truncated");
  CHECK(decode_error(plain_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", std::string(8, '\0'))) ==
        "safetensors file 'w.safetensors': the header is not valid JSON (at byte 53: expected '}' but the text "
        "ends of the header)");
  CHECK(decode_error(plain_file("{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", std::string(8, '\0'))) ==
        "safetensors file 'w.safetensors': tensor 'a' has the unknown dtype 'Q7'; safetensors knows BOOL, U8, I8, "
        "I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64, F8_E4M3, F8_E5M2");
  CHECK(decode_error(plain_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", std::string(8, '\0'))) ==
        "safetensors file 'w.safetensors': tensor 'a' declares F32[3] (12 bytes) but its data range [0, 8) is 8 "
        "bytes");
  CHECK(decode_error(plain_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", std::string(4, '\0'))) ==
        "safetensors file 'w.safetensors': tensor 'a' data [0, 8) runs past the end of the file, whose data region "
        "is 4 bytes; the file is truncated");
  CHECK(decode_error(plain_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", std::string(12, '\0'))) ==
        "safetensors file 'w.safetensors': a hole of 4 bytes before tensor 'a' (data bytes [0, 4))");
  CHECK(decode_error(plain_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", std::string(12, '\0'))) ==
        "safetensors file 'w.safetensors': tensors 'a' [0, 8) and 'b' [4, 12) overlap");
  CHECK(decode_error(plain_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", std::string(12, '\0'))) ==
        "safetensors file 'w.safetensors': 4 bytes follow the last tensor; the file has data that no tensor "
        "describes");
  CHECK(decode_error(plain_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", std::string(8, '\0'))) ==
        "safetensors file 'w.safetensors': the header is not valid JSON (at byte 54: duplicate key \"a\" of the "
        "header)");
  // A cellforge-written file with a flipped data bit: its checksum catches it.
  std::string bytes = encode_safetensors({{"w", {2}, {1.0f, 2.0f}}});
  bytes.back() ^= 1;
  CHECK(decode_error(bytes) ==
        "safetensors file 'w.safetensors': tensor 'w' checksum mismatch: stored 0x28c0c9b1, computed 0xdaab4ab2 "
        "over file bytes [160, 168)");
  std::remove(gru_path.c_str());
  std::remove(int_path.c_str());
}
