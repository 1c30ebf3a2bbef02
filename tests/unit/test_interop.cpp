// The PyTorch interop in small facts: the state_dict names, order and shapes of every torch.nn
// recurrent module; each module is its zoo cell and back (also for a cell read from IR text);
// import then export is the identity (with a prefix, without biases); the module read back from a
// file's names and shapes; and safetensors files of any writer (F16, BF16, F64 converted). The
// numbers themselves are checked against PyTorch by the torch label (tests/torch/oracle.py).
#include <catch2/catch.hpp>

#include <bit>
#include <cstring>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/llvm/network_plan.hpp"
#include "runtime/interop/torch_rnn.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/interop_layout.hpp"

using namespace cellforge;
using namespace cellforge::interop;

namespace {

using testing::floats_of;
using testing::layout_of;

TorchRnn module(TorchMode mode, int64_t input, int64_t hidden, int64_t layers, bool bidirectional, int64_t proj = 0) {
  TorchRnn m;
  m.mode = mode, m.input_size = input, m.hidden_size = hidden, m.num_layers = layers, m.bidirectional = bidirectional;
  m.proj_size = proj;
  return m;
}

std::vector<TorchRnn> every_kind() {
  std::vector<TorchRnn> out;
  for (TorchMode mode : {TorchMode::rnn_tanh, TorchMode::rnn_relu, TorchMode::lstm, TorchMode::gru})
    for (bool bidirectional : {false, true}) {
      out.push_back(module(mode, 5, 4, 2, bidirectional));
      if (mode == TorchMode::lstm) out.push_back(module(mode, 5, 4, 2, bidirectional, 3));
    }
  return out;
}

// A plain safetensors file (no checksums), as Python's writers make it.
std::string plain_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

}  // namespace

TEST_CASE("interop: state_dict names, order and shapes are PyTorch's", "[unit][interop]") {
  // torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True, proj_size=3).state_dict()
  const ir::NetworkSpec spec = network_spec(module(TorchMode::lstm, 5, 4, 2, true, 3), 2, 3);
  const std::vector<StateDictEntry> layout = state_dict_layout(spec, layout_of(spec));
  std::vector<std::pair<std::string, std::vector<int64_t>>> got;
  for (const StateDictEntry& e : layout) got.push_back({e.name, e.shape});
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"weight_ih_l0", {16, 5}},         {"weight_hh_l0", {16, 3}},         {"bias_ih_l0", {16}},
      {"bias_hh_l0", {16}},              {"weight_hr_l0", {3, 4}},          {"weight_ih_l0_reverse", {16, 5}},
      {"weight_hh_l0_reverse", {16, 3}}, {"bias_ih_l0_reverse", {16}},      {"bias_hh_l0_reverse", {16}},
      {"weight_hr_l0_reverse", {3, 4}},  {"weight_ih_l1", {16, 6}},         {"weight_hh_l1", {16, 3}},
      {"bias_ih_l1", {16}},              {"bias_hh_l1", {16}},              {"weight_hr_l1", {3, 4}},
      {"weight_ih_l1_reverse", {16, 6}}, {"weight_hh_l1_reverse", {16, 3}}, {"bias_ih_l1_reverse", {16}},
      {"bias_hh_l1_reverse", {16}},      {"weight_hr_l1_reverse", {3, 4}}};
  CHECK(got == expected);
  CHECK(layout[5].parameter == "W_ih");
  CHECK(layout[5].layer == 0);
  CHECK(layout[5].direction == 1);

  // torch.nn.GRU(3, 2, bias=False): weights only; 3 gate blocks.
  const ir::NetworkSpec gru = network_spec(module(TorchMode::gru, 3, 2, 1, false), 1, 1);
  got.clear();
  for (const StateDictEntry& e : state_dict_layout(gru, layout_of(gru), false)) got.push_back({e.name, e.shape});
  CHECK(got == std::vector<std::pair<std::string, std::vector<int64_t>>>{{"weight_ih_l0", {6, 3}}, {"weight_hh_l0", {6, 2}}});
}

TEST_CASE("interop: every torch.nn module is its zoo cell, and back", "[unit][interop]") {
  for (const TorchRnn& m : every_kind()) {
    INFO(m.python());
    const ir::NetworkSpec spec = network_spec(m, 3, 4, true);
    CHECK(spec.layers[0].cell.name() == zoo_cell_name(m));
    CHECK(spec.variable_lengths);
    CHECK(torch_module(spec) == m);
    CHECK(TorchRnn::from_json(m.json(), "test") == m);
    // What a compiled network reports as its spec (its cells masked for the lengths, dropout
    // between layers) is still the module.
    TorchRnn with_dropout = m;
    with_dropout.dropout = 0.25;
    CHECK(torch_module(llvm_backend::plan_network(network_spec(with_dropout, 3, 4, true), {}).spec) == with_dropout);
  }
  CHECK(zoo_cell_name(module(TorchMode::lstm, 1, 4, 1, false, 2)) == "lstmp");
  CHECK(module(TorchMode::rnn_relu, 5, 4, 2, true).python() ==
        "torch.nn.RNN(input_size=5, hidden_size=4, num_layers=2, nonlinearity='relu', bidirectional=True)");
  CHECK(parse_mode("gru") == TorchMode::gru);

  // The cell is recognized by its structure: renamed, or read back from its IR text.
  ir::NetworkSpec spec = network_spec(module(TorchMode::gru, 5, 4, 1, false), 1, 1);
  spec.layers[0].cell.set_name("my_gru");
  CHECK(torch_module(spec).mode == TorchMode::gru);
  spec.layers[0].cell = ir::parse(ir::print(zoo::find("lstm").build()));
  CHECK(torch_module(spec).mode == TorchMode::lstm);
  // The classic GRU (reset before the product) is not torch.nn.GRU, whatever its name.
  spec.layers[0].cell = zoo::find("gru_classic").build();
  spec.layers[0].cell.set_name("gru");
  CHECK_THROWS_AS(torch_module(spec), UserError);
}

TEST_CASE("interop: import then export is the identity", "[unit][interop]") {
  for (const TorchRnn& m : every_kind()) {
    INFO(m.python());
    const ir::NetworkSpec spec = network_spec(m, 1, 1);
    const std::vector<ParameterInfo> layout = layout_of(spec);
    std::vector<float> params(static_cast<size_t>(floats_of(layout)));
    for (size_t i = 0; i < params.size(); ++i) params[i] = static_cast<float>(i) * 0.25f - 3.0f;
    ExportOptions prefixed;
    prefixed.prefix = "encoder.rnn.";
    std::vector<Tensor> tensors = export_state_dict(spec, layout, params, prefixed);
    tensors.push_back({"head.weight", {2, 2}, {1, 2, 3, 4}});  // another module's entry, ignored
    std::vector<float> back(params.size(), 0.0f);
    ImportOptions options;
    options.prefix = "encoder.rnn.";
    import_state_dict(spec, layout, tensors, back, options);
    for (const ParameterInfo& p : layout)
      for (int64_t i = 0; i < p.size(); ++i) REQUIRE(back[p.offset + i] == params[p.offset + i]);
  }
  // bias=False: the file has no biases, cellforge's are set to zero.
  const ir::NetworkSpec spec = network_spec(module(TorchMode::lstm, 2, 3, 1, false), 1, 1);
  const std::vector<ParameterInfo> layout = layout_of(spec);
  std::vector<float> params(static_cast<size_t>(floats_of(layout)), 0.0f);
  for (const ParameterInfo& p : layout)
    if (p.name[0] == 'W') std::fill_n(params.begin() + p.offset, p.size(), 0.5f);
  ExportOptions no_bias_export;
  no_bias_export.bias = false;
  const std::vector<Tensor> tensors = export_state_dict(spec, layout, params, no_bias_export);
  CHECK(tensors.size() == 2);
  std::vector<float> back(params.size(), 9.0f);
  ImportOptions no_bias;
  no_bias.bias = false;
  import_state_dict(spec, layout, tensors, back, no_bias);
  for (const ParameterInfo& p : layout)
    for (int64_t i = 0; i < p.size(); ++i) REQUIRE(back[p.offset + i] == (p.name[0] == 'W' ? 0.5f : 0.0f));
}

TEST_CASE("interop: the module a file holds, from its names and shapes", "[unit][interop]") {
  for (TorchRnn m : every_kind()) {
    INFO(m.python());
    const ir::NetworkSpec spec = network_spec(m, 1, 1);
    const std::vector<ParameterInfo> layout = layout_of(spec);
    const std::vector<float> params(static_cast<size_t>(floats_of(layout)), 0.5f);
    const std::string bare = encode_safetensors(export_state_dict(spec, layout, params));
    // The shapes of an nn.RNN do not tell its nonlinearity: the caller does.
    const bool rnn = m.mode == TorchMode::rnn_tanh || m.mode == TorchMode::rnn_relu;
    CHECK(infer_torch_module(decode_safetensors(bare, "f"), "f", "", rnn ? std::optional(m.mode) : std::nullopt) == m);
    // With the module in the metadata, as save_torch_weights and scripts/torch_safetensors.py write it.
    const std::string described = encode_safetensors(export_state_dict(spec, layout, params), {{kTorchModuleKey, m.json()}});
    CHECK(infer_torch_module(decode_safetensors(described, "f"), "f") == m);
  }
}

TEST_CASE("interop: safetensors files of any writer", "[unit][interop]") {
  // F32, F16 (1.5, -2, the smallest subnormal), BF16 (1.5, -2), F64 (0.1, rounded to nearest).
  std::string data;
  const float f32[] = {1.0f, -0.5f};
  data.append(reinterpret_cast<const char*>(f32), 8);
  const uint16_t f16[] = {0x3e00, 0xc000, 0x0001};
  data.append(reinterpret_cast<const char*>(f16), 6);
  const uint16_t bf16[] = {0x3fc0, 0xc000};
  data.append(reinterpret_cast<const char*>(bf16), 4);
  const double f64[] = {0.1};
  data.append(reinterpret_cast<const char*>(f64), 8);
  std::string header =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[8,14]},"
      "\"c\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[14,18]},"
      "\"d\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[18,26]}}";
  header.resize((header.size() + 7) / 8 * 8, ' ');  // as Python's safetensors pads it
  const SafetensorsFile file = decode_safetensors(plain_file(header, data), "f");
  CHECK(file.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  REQUIRE(file.tensors.size() == 4);
  CHECK(to_float32(file.tensors[0], "f").values == std::vector<float>{1.0f, -0.5f});
  CHECK(to_float32(file.tensors[1], "f").values == std::vector<float>{1.5f, -2.0f, std::ldexp(1.0f, -24)});
  CHECK(to_float32(file.tensors[2], "f").values == std::vector<float>{1.5f, -2.0f});
  CHECK(to_float32(file.tensors[2], "f").shape == std::vector<int64_t>{1, 2});
  CHECK(to_float32(file.tensors[3], "f").values == std::vector<float>{0.1f});
  CHECK(to_float32(file.tensors[3], "f").shape.empty());

  // cellforge's own files carry checksums and read back verified, in the order written.
  const std::vector<Tensor> tensors = {{"z", {2}, {3.0f, 4.0f}}, {"y", {1, 1}, {5.0f}}};
  const SafetensorsFile back = decode_safetensors(encode_safetensors(tensors, {{"note", "x"}}), "f");
  CHECK(back.metadata == std::map<std::string, std::string>{{"note", "x"}});
  REQUIRE(back.tensors.size() == 2);
  CHECK(back.tensors[0].name == "z");
  CHECK(to_float32(back.tensors[1], "f").values == std::vector<float>{5.0f});
  CHECK(to_int64(decode_safetensors(plain_file("{\"n\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
                                               std::string("\x07\0\0\0\0\0\0\0", 8)),
                                    "f")
                     .tensors[0],
                 "f") == std::vector<int64_t>{7});
}
