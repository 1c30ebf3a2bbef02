// PyTorch interop: the weights of torch.nn.RNN (tanh, relu), torch.nn.LSTM (with and without
// proj_size) and torch.nn.GRU, in their state_dict names and layouts, moved in and out of a
// cellforge network's flat parameter buffer.
//
// Each module is a stack of one zoo cell whose parameters already have PyTorch's names, shapes and
// gate orders (runtime/zoo/basic.cpp, variants.cpp), so the mapping is a renaming and a copy:
//
//   torch.nn module                       zoo cell   state_dict entry (layer k)   cell parameter
//   RNN(nonlinearity='tanh' | 'relu')     rnn | rnn_relu
//   LSTM (gates i, f, g, o)               lstm       weight_ih_l{k}[_reverse]     W_ih  [G*H, X_k]
//   LSTM(proj_size = P)                   lstmp      weight_hh_l{k}[_reverse]     W_hh  [G*H, H]  ([4H, P] for lstmp)
//   GRU (gates r, z, n; reset applied     gru        bias_ih_l{k}[_reverse]       b_ih  [G*H]
//        after the recurrent product)                bias_hh_l{k}[_reverse]       b_hh  [G*H]
//                                                    weight_hr_l{k}[_reverse]     W_hr  [P, H]    (lstmp only)
//
// with G = 1 (RNN), 4 (LSTM), 3 (GRU); X_0 = input_size and X_k = D * (P or H) above (D = 2 when
// bidirectional: the layer below's outputs, forward direction first). The two biases stay apart:
// for the GRU they are not interchangeable (b_hn is multiplied by the reset gate), and keeping both
// everywhere makes export the exact inverse of import. Inputs [T][B][X], outputs [T][B][D*H] and
// states [L*D][B][H] (h0/h_n, c0/c_n) have PyTorch's (seq-first) layouts in both libraries, so they
// move unchanged too; see docs/interop.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "codegen/ir/network_spec.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "runtime/interop/safetensors_file.hpp"

namespace cellforge::interop {

/// torch.nn.RNN's two modes, torch.nn.LSTM and torch.nn.GRU (PyTorch's own mode strings).
enum class TorchMode { rnn_tanh, rnn_relu, lstm, gru };
const char* mode_name(TorchMode mode);  // "RNN_TANH", "RNN_RELU", "LSTM", "GRU"
/// Parses a mode name (as mode_name() writes it, any case); throws UserError listing the four.
TorchMode parse_mode(const std::string& name);

/// The constructor arguments of a torch.nn recurrent module that decide its weights. dropout and
/// batch_first do not change the weights; dropout is carried so that network_spec() can set it.
struct TorchRnn {
  TorchMode mode = TorchMode::lstm;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  bool bias = true;
  bool bidirectional = false;
  int64_t proj_size = 0;  // LSTM only; 0 = no projection
  double dropout = 0;

  bool operator==(const TorchRnn&) const = default;
  int64_t directions() const { return bidirectional ? 2 : 1; }
  /// The Python expression that builds the module: "torch.nn.LSTM(input_size=5, hidden_size=4, ...)".
  std::string python() const;
  /// As JSON (the "cellforge.torch_module" metadata of exported files) and back.
  std::string json() const;
  static TorchRnn from_json(const std::string& text, const std::string& label);
};

/// The metadata key under which exported files carry TorchRnn::json().
inline constexpr const char* kTorchModuleKey = "cellforge.torch_module";

/// The zoo cell that computes what the module computes: rnn, rnn_relu, lstm, lstmp or gru.
std::string zoo_cell_name(const TorchRnn& module);

/// The cellforge network equal to `module` for `batch` sequences of `unroll` steps; with
/// variable_lengths each call gives every sequence's length (what pack_padded_sequence does).
/// Throws UserError for arguments PyTorch refuses (proj_size on a non-LSTM, proj_size >= hidden).
ir::NetworkSpec network_spec(const TorchRnn& module, int64_t batch, int64_t unroll, bool variable_lengths = false);

/// The torch.nn module equal to a network; throws UserError when there is none (a cell that
/// torch.nn lacks, different cells per layer, bidirectional in some layers only, zoneout) saying why.
/// bias is true; dropout is the spec's.
TorchRnn torch_module(const ir::NetworkSpec& spec);

/// Where one state_dict entry lives in the flat parameter buffer.
struct StateDictEntry {
  std::string name;            // "weight_ih_l1_reverse"
  std::vector<int64_t> shape;  // [rows, cols] or [rows]: PyTorch's and cellforge's (identical)
  int64_t layer = 0;
  int64_t direction = 0;
  std::string parameter;       // the cell's parameter: "W_ih"
  int64_t offset = 0;          // in floats, into the flat parameter buffer
  int64_t size() const { return shape.size() == 2 ? shape[0] * shape[1] : shape[0]; }
};

/// Every state_dict entry of the network's module, in the order module.state_dict() lists them
/// (layer by layer, forward then reverse; weight_ih, weight_hh, bias_ih, bias_hh, weight_hr).
/// `parameters` is CompiledNetwork::parameters(). With bias = false the biases are left out.
std::vector<StateDictEntry> state_dict_layout(const ir::NetworkSpec& spec, const std::vector<ParameterInfo>& parameters,
                                              bool bias = true);

struct ImportOptions {
  /// Only entries whose names start with this are the module's ("rnn." for the submodule `rnn` of
  /// a bigger model's state_dict); the prefix is removed before matching and every other tensor is
  /// ignored. Without a prefix, every tensor must be one of the module's.
  std::string prefix;
  /// The module was built with bias=False: the file has no biases and cellforge's are set to zero.
  bool bias = true;
  /// Names the source in messages: "safetensors file 'model.safetensors'".
  std::string label = "state_dict";
};

/// Copies the module's state_dict into `params` (parameter_floats() floats); every parameter of
/// the network is written. Checks everything first and changes nothing on error: the UserError
/// lists each missing tensor, unknown name, wrong shape (expected and actual, and the module the
/// shape suggests), non-float dtype and non-finite value, with the fix.
void import_state_dict(const ir::NetworkSpec& spec, const std::vector<ParameterInfo>& parameters,
                       const std::vector<Tensor>& state_dict, std::span<float> params, const ImportOptions& options = {});
void import_state_dict(const CompiledNetwork& network, const std::vector<Tensor>& state_dict, std::span<float> params,
                       const ImportOptions& options = {});

struct ExportOptions {
  std::string prefix;  // put before every name ("rnn.")
  /// Leave the biases out (a bias=False module); they must be zero.
  bool bias = true;
};

/// The state_dict of the module equal to the network, with the values of `params` (or of the
/// gradient buffer `dparams`: the same layout gives the gradients under the weights' names).
std::vector<Tensor> export_state_dict(const ir::NetworkSpec& spec, const std::vector<ParameterInfo>& parameters,
                                      std::span<const float> params, const ExportOptions& options = {});
std::vector<Tensor> export_state_dict(const CompiledNetwork& network, std::span<const float> params,
                                      const ExportOptions& options = {});

/// Files. load_torch_weights() reads a safetensors file (from PyTorch: scripts/torch_safetensors.py
/// or the safetensors package) into `params`; if the file says which module wrote it
/// (kTorchModuleKey), a module different from the network's is reported before any tensor.
/// save_torch_weights() writes the state_dict with kTorchModuleKey, which
/// scripts/torch_safetensors.py's load_module() uses to build the module.
void load_torch_weights(const std::string& path, const ir::NetworkSpec& spec, const std::vector<ParameterInfo>& parameters,
                        std::span<float> params, const ImportOptions& options = {});
void load_torch_weights(const std::string& path, const CompiledNetwork& network, std::span<float> params,
                        const ImportOptions& options = {});
void save_torch_weights(const std::string& path, const ir::NetworkSpec& spec, const std::vector<ParameterInfo>& parameters,
                        std::span<const float> params, const ExportOptions& options = {});
void save_torch_weights(const std::string& path, const CompiledNetwork& network, std::span<const float> params,
                        const ExportOptions& options = {});

/// The module a state_dict file holds: from its kTorchModuleKey metadata if present, else from
/// the tensors' names and shapes (layers, directions, sizes, proj_size, bias). The shapes cannot
/// tell torch.nn.RNN's nonlinearity apart: `rnn_mode` gives it (RNN_TANH or RNN_RELU), and a file
/// of an RNN without metadata and without `rnn_mode` is a UserError that asks for it.
TorchRnn infer_torch_module(const SafetensorsFile& file, const std::string& label, const std::string& prefix = "",
                            std::optional<TorchMode> rnn_mode = std::nullopt);

}  // namespace cellforge::interop
