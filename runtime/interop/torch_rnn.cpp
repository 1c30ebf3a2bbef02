// The state_dict mapping between torch.nn's recurrent modules and cellforge networks; see
// torch_rnn.hpp. Import checks every tensor before it writes one, and reports every problem of a
// file in one message: a user fixing a mismatched model should see the whole picture at once.
#include "runtime/interop/torch_rnn.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <functional>
#include <sstream>

#include "codegen/ir/error.hpp"
#include "runtime/train/json.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::interop {

namespace {

// The cell parameter behind each state_dict stem, in state_dict order.
struct Stem {
  const char* torch;
  const char* cell;
  bool is_bias;
};
constexpr Stem kStems[] = {{"weight_ih", "W_ih", false},
                           {"weight_hh", "W_hh", false},
                           {"bias_ih", "b_ih", true},
                           {"bias_hh", "b_hh", true},
                           {"weight_hr", "W_hr", false}};

int64_t gate_blocks(TorchMode mode) {
  switch (mode) {
    case TorchMode::rnn_tanh: case TorchMode::rnn_relu: return 1;
    case TorchMode::lstm: return 4;
    case TorchMode::gru: return 3;
  }
  return 0;
}

std::string entry_name(const char* stem, int64_t layer, int64_t direction) {
  return std::string(stem) + "_l" + std::to_string(layer) + (direction ? "_reverse" : "");
}

// Parses "<stem>_l<k>[_reverse]"; false when `name` is not of that form.
bool parse_entry_name(const std::string& name, std::string* stem, int64_t* layer, int64_t* direction) {
  const size_t at = name.rfind("_l");
  if (at == std::string::npos || at == 0) return false;
  std::string rest = name.substr(at + 2);
  *direction = 0;
  if (rest.size() > 8 && rest.ends_with("_reverse")) rest.resize(rest.size() - 8), *direction = 1;
  if (rest.empty() || rest.size() > 6 || !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  *stem = name.substr(0, at);
  *layer = std::stoll(rest);
  return true;
}

// The zoo cells torch.nn has, and the module each one is.
struct KnownCell {
  const char* zoo;
  TorchMode mode;
  bool projected;
};
constexpr KnownCell kKnownCells[] = {{"rnn", TorchMode::rnn_tanh, false},
                                     {"rnn_relu", TorchMode::rnn_relu, false},
                                     {"lstm", TorchMode::lstm, false},
                                     {"lstmp", TorchMode::lstm, true},
                                     {"gru", TorchMode::gru, false}};

// The known cell with the same structure as `cell` (its name aside), if any.
const KnownCell* recognize(const ir::Graph& cell) {
  for (const KnownCell& known : kKnownCells) {
    const ir::Graph zoo_cell = zoo::find(known.zoo).build();
    ir::Graph renamed = cell;
    renamed.set_name(zoo_cell.name());
    if (renamed.structural_hash() == zoo_cell.structural_hash()) return &known;
  }
  return nullptr;
}

std::string joined(const std::vector<std::string>& items, size_t limit = 12) {
  std::string s;
  for (size_t i = 0; i < items.size() && i < limit; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > limit) s += ", ... (" + std::to_string(items.size()) + " in all)";
  return s;
}

// What a state_dict tensor of the wrong shape suggests about the module that wrote it.
std::string shape_hint(const TorchRnn& module, const std::string& stem, int64_t layer, const std::vector<int64_t>& expected,
                       const std::vector<int64_t>& actual) {
  if (actual.size() != expected.size())
    return expected.size() == 2 ? "a weight is a matrix" : "a bias is a vector";
  const int64_t G = gate_blocks(module.mode);
  const int64_t H = module.hidden_size;
  if (stem == "weight_hr") {
    if (actual[1] != H) return "the file's hidden_size is " + std::to_string(actual[1]);
    return "the file's proj_size is " + std::to_string(actual[0]);
  }
  if (actual[0] != expected[0]) {
    const char* kinds[] = {"", "an RNN", "", "a GRU", "an LSTM"};
    for (int64_t g : {4, 3, 1})
      if (g != G && actual[0] == g * H) return std::string("the file holds ") + kinds[g] + "'s weights (" + std::to_string(g) +
                                               " gate blocks of hidden_size " + std::to_string(H) + ")";
    if (actual[0] % G == 0)
      return "the file's hidden_size is " + std::to_string(actual[0] / G) + " (" + std::to_string(actual[0]) + " rows = " +
             std::to_string(G) + " gate blocks)";
    return "its rows are not a multiple of the " + std::to_string(G) + " gate blocks of " + mode_name(module.mode);
  }
  // Columns: the input of layer 0, the layer below's output above it, the recurrent state in weight_hh.
  const int64_t out = module.proj_size ? module.proj_size : H;
  if (stem == "weight_ih" && layer == 0) return "the file's input_size is " + std::to_string(actual[1]);
  if (stem == "weight_ih" && actual[1] == 2 * out && !module.bidirectional) return "the file's module is bidirectional";
  if (stem == "weight_ih" && actual[1] == out && module.bidirectional) return "the file's module is not bidirectional";
  if (stem == "weight_hh" && module.proj_size == 0 && actual[1] < H)
    return "the file's module has proj_size " + std::to_string(actual[1]);
  if (stem == "weight_hh" && module.proj_size != 0 && actual[1] == H) return "the file's module has no proj_size";
  return "";
}

// Why a name is not one of the network's entries, as a fix where there is one.
std::string unknown_reason(const TorchRnn& module, const ImportOptions& options, const std::string& name) {
  std::string stem;
  int64_t layer, direction;
  const bool entry = parse_entry_name(name, &stem, &layer, &direction) &&
                     std::any_of(std::begin(kStems), std::end(kStems), [&](const Stem& s) { return stem == s.torch; });
  if (!entry) {
    const size_t dot = name.rfind('.');
    if (dot != std::string::npos && parse_entry_name(name.substr(dot + 1), &stem, &layer, &direction))
      return "a submodule's entries: import with the prefix '" + options.prefix + name.substr(0, dot + 1) + "'";
    return "not torch.nn.RNN/LSTM/GRU state_dict names (weight_ih_l0, ...); give a prefix to import a submodule's "
           "entries only";
  }
  if (layer >= module.num_layers)
    return "the file's module has more layers than the network's " + std::to_string(module.num_layers);
  if (direction == 1 && !module.bidirectional) return "the file's module is bidirectional";
  if (stem == "weight_hr") return "the file's module is an LSTM with proj_size (the lstmp cell)";
  if (!options.bias && (stem == "bias_ih" || stem == "bias_hh")) return "the file has biases: import with bias = true";
  return "the network has no such parameter";
}

// The module whose state_dict has these shapes (`shape_of` gives a name's shape or nullptr), or
// nothing when they are not a torch.nn module's. `why` (if given) says what is missing or wrong.
std::optional<TorchRnn> module_from_shapes(const std::function<const std::vector<int64_t>*(const std::string&)>& shape_of,
                                           std::optional<TorchMode> rnn_mode, std::string* why = nullptr) {
  auto fail = [&](const std::string& reason) -> std::optional<TorchRnn> {
    if (why) *why = reason;
    return std::nullopt;
  };
  const auto* ih = shape_of("weight_ih_l0");
  const auto* hh = shape_of("weight_hh_l0");
  if (!ih || !hh || ih->size() != 2 || hh->size() != 2)
    return fail("it has no matrices 'weight_ih_l0' and 'weight_hh_l0', so it is not the state_dict of a torch.nn.RNN, "
                "LSTM or GRU");
  TorchRnn m;
  if (const auto* hr = shape_of("weight_hr_l0")) {
    if (hr->size() != 2) return fail("'weight_hr_l0' is not a matrix");
    m.mode = TorchMode::lstm;
    m.hidden_size = (*hr)[1];
    m.proj_size = (*hr)[0];
  } else {
    if ((*hh)[1] == 0 || (*hh)[0] % (*hh)[1] != 0)
      return fail("'weight_hh_l0' is " + shape_string(*hh) + ", not [G*H, H] with G = 1, 3 or 4 gate blocks");
    m.hidden_size = (*hh)[1];
    const int64_t g = (*hh)[0] / (*hh)[1];
    if (g == 4) m.mode = TorchMode::lstm;
    else if (g == 3) m.mode = TorchMode::gru;
    else if (g == 1 && rnn_mode) m.mode = *rnn_mode;
    else if (g == 1)
      return fail("it holds a torch.nn.RNN, whose weights do not say its nonlinearity; give it (RNN_TANH or RNN_RELU)");
    else
      return fail("'weight_hh_l0' is " + shape_string(*hh) + ": " + std::to_string(g) +
                  " gate blocks, but torch.nn.RNN has 1, GRU 3, LSTM 4");
  }
  m.input_size = (*ih)[1];
  m.bidirectional = shape_of("weight_ih_l0_reverse") != nullptr;
  m.bias = shape_of("bias_ih_l0") != nullptr;
  while (shape_of("weight_ih_l" + std::to_string(m.num_layers))) ++m.num_layers;
  return m;
}

}  // namespace

const char* mode_name(TorchMode mode) {
  switch (mode) {
    case TorchMode::rnn_tanh: return "RNN_TANH";
    case TorchMode::rnn_relu: return "RNN_RELU";
    case TorchMode::lstm: return "LSTM";
    case TorchMode::gru: return "GRU";
  }
  return "?";
}

TorchMode parse_mode(const std::string& name) {
  std::string upper = name;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (TorchMode m : {TorchMode::rnn_tanh, TorchMode::rnn_relu, TorchMode::lstm, TorchMode::gru})
    if (upper == mode_name(m)) return m;
  user_error("unknown torch.nn mode '", name, "'; known: RNN_TANH, RNN_RELU, LSTM, GRU");
}

std::string TorchRnn::python() const {
  std::ostringstream s;
  s << "torch.nn." << (mode == TorchMode::lstm ? "LSTM" : mode == TorchMode::gru ? "GRU" : "RNN") << "(input_size=" << input_size
    << ", hidden_size=" << hidden_size << ", num_layers=" << num_layers;
  if (mode == TorchMode::rnn_relu) s << ", nonlinearity='relu'";
  if (!bias) s << ", bias=False";
  if (dropout != 0) s << ", dropout=" << dropout;
  if (bidirectional) s << ", bidirectional=True";
  if (proj_size) s << ", proj_size=" << proj_size;
  s << ")";
  return s.str();
}

std::string TorchRnn::json() const {
  std::ostringstream s;
  s.precision(17);
  s << "{\"mode\":\"" << mode_name(mode) << "\",\"input_size\":" << input_size << ",\"hidden_size\":" << hidden_size
    << ",\"num_layers\":" << num_layers << ",\"bias\":" << (bias ? "true" : "false")
    << ",\"bidirectional\":" << (bidirectional ? "true" : "false") << ",\"proj_size\":" << proj_size << ",\"dropout\":" << dropout
    << "}";
  return s.str();
}

TorchRnn TorchRnn::from_json(const std::string& text, const std::string& label) {
  auto fail = [&](const auto&... parts) { user_error(label, ": metadata '", kTorchModuleKey, "' ", parts...); };
  train::json::Value root;
  try {
    root = train::json::parse(text);
  } catch (const train::json::ParseError& e) {
    fail("is not valid JSON (", e.what(), ")");
  }
  if (root.kind != train::json::Value::Kind::object) fail("is not a JSON object");
  TorchRnn m;
  auto count = [&](const char* key, int64_t* out, bool required) {
    const train::json::Value* v = root.find(key);
    if (!v) {
      if (required) fail("lacks '", key, "'");
      return;
    }
    if (!v->as_count(out)) fail("has '", key, "' = ", v->text, ", not a non-negative integer");
  };
  auto flag = [&](const char* key, bool* out) {
    const train::json::Value* v = root.find(key);
    if (!v) return;
    if (v->kind != train::json::Value::Kind::boolean) fail("has '", key, "' that is not true or false");
    *out = v->boolean;
  };
  const train::json::Value* mode = root.find("mode");
  if (!mode || mode->kind != train::json::Value::Kind::string) fail("lacks the string 'mode'");
  m.mode = parse_mode(mode->text);
  count("input_size", &m.input_size, true);
  count("hidden_size", &m.hidden_size, true);
  count("num_layers", &m.num_layers, false);
  count("proj_size", &m.proj_size, false);
  flag("bias", &m.bias);
  flag("bidirectional", &m.bidirectional);
  if (const train::json::Value* d = root.find("dropout")) {
    if (d->kind != train::json::Value::Kind::number) fail("has a 'dropout' that is not a number");
    m.dropout = std::stod(d->text);
  }
  return m;
}

std::string zoo_cell_name(const TorchRnn& module) {
  switch (module.mode) {
    case TorchMode::rnn_tanh: return "rnn";
    case TorchMode::rnn_relu: return "rnn_relu";
    case TorchMode::lstm: return module.proj_size ? "lstmp" : "lstm";
    case TorchMode::gru: return "gru";
  }
  return "";
}

ir::NetworkSpec network_spec(const TorchRnn& module, int64_t batch, int64_t unroll, bool variable_lengths) {
  if (module.proj_size != 0 && module.mode != TorchMode::lstm)
    user_error(module.python(), ": proj_size is an argument of torch.nn.LSTM only; set it to 0");
  if (module.proj_size != 0 && module.proj_size >= module.hidden_size)
    user_error(module.python(), ": proj_size must be smaller than hidden_size (PyTorch refuses ", module.proj_size,
               " >= ", module.hidden_size, ")");
  ir::NetworkSpec spec;
  spec.sizes.input = module.input_size;
  spec.sizes.hidden = module.hidden_size;
  spec.sizes.batch = batch;
  spec.sizes.unroll = unroll;
  spec.sizes.layers = module.num_layers;
  if (module.proj_size) spec.sizes.extra["P"] = module.proj_size;
  const ir::Graph cell = zoo::find(zoo_cell_name(module)).build();
  for (int64_t l = 0; l < module.num_layers; ++l) spec.layers.push_back({cell, module.bidirectional});
  spec.variable_lengths = variable_lengths;
  spec.dropout = module.dropout;
  ir::check_spec(spec);
  return spec;
}

TorchRnn torch_module(const ir::NetworkSpec& spec) {
  if (spec.layers.empty()) user_error("the network has no layers, so no torch.nn module equals it");
  TorchRnn m;
  std::vector<std::string> cell_names;
  const KnownCell* first = nullptr;
  for (size_t l = 0; l < spec.layers.size(); ++l) {
    const ir::Graph& cell = spec.layers[l].cell;
    const KnownCell* known = recognize(cell);
    if (!known)
      user_error("layer ", l, "'s cell '", cell.name(), "' is not one that torch.nn has; PyTorch's state_dict names fit "
                 "only the zoo cells rnn, rnn_relu, lstm, lstmp (proj_size) and gru, which compute what torch.nn.RNN, "
                 "LSTM and GRU compute");
    if (!first) first = known;
    if (known != first)
      user_error("layer ", l, " is a '", known->zoo, "' cell but layer 0 is a '", first->zoo,
                 "' cell; a torch.nn module stacks one kind of cell, so export each part as its own module");
    if (spec.layers[l].bidirectional != spec.layers[0].bidirectional)
      user_error("layer ", l, " is ", spec.layers[l].bidirectional ? "bidirectional" : "unidirectional", " but layer 0 is ",
                 spec.layers[0].bidirectional ? "bidirectional" : "unidirectional",
                 "; a torch.nn module has the same directions in every layer");
  }
  for (int64_t l = 0; l < static_cast<int64_t>(spec.layers.size()); ++l)
    if (const auto zoned = spec.zoned_states(l); !zoned.empty())
      user_error("the network zones out state '", zoned[0], "' (zoneout ", spec.zoneout.at(zoned[0]),
                 "), which torch.nn.RNN, LSTM and GRU do not have: even in evaluation a zoned network blends each state "
                 "with its previous value, so the module would compute something else");
  m.mode = first->mode;
  m.input_size = spec.sizes.input;
  m.hidden_size = spec.sizes.hidden;
  m.num_layers = static_cast<int64_t>(spec.layers.size());
  m.bidirectional = spec.layers[0].bidirectional;
  m.dropout = spec.dropout;
  if (first->projected) {
    auto p = spec.sizes.extra.find("P");
    m.proj_size = p == spec.sizes.extra.end() ? 0 : p->second;
    if (m.proj_size >= m.hidden_size)
      user_error("the lstmp network has P = ", m.proj_size, " >= H = ", m.hidden_size,
                 ", which torch.nn.LSTM refuses (proj_size must be smaller than hidden_size)");
  }
  return m;
}

std::vector<StateDictEntry> state_dict_layout(const ir::NetworkSpec& spec, const std::vector<ParameterInfo>& parameters,
                                              bool bias) {
  const TorchRnn module = torch_module(spec);
  std::vector<StateDictEntry> out;
  for (int64_t l = 0; l < module.num_layers; ++l)
    for (int64_t d = 0; d < module.directions(); ++d)
      for (const Stem& stem : kStems) {
        if (stem.is_bias && !bias) continue;
        const ParameterInfo* info = nullptr;
        for (const ParameterInfo& p : parameters)
          if (p.layer == l && p.direction == d && p.name == stem.cell) info = &p;
        if (!info) {
          if (std::string(stem.cell) == "W_hr" && !module.proj_size) continue;
          internal_error("the network's parameters lack ", stem.cell, " of layer ", l, " direction ", d);
        }
        StateDictEntry e;
        e.name = entry_name(stem.torch, l, d);
        e.shape = info->cols ? std::vector<int64_t>{info->rows, info->cols} : std::vector<int64_t>{info->rows};
        e.layer = l, e.direction = d, e.parameter = stem.cell, e.offset = info->offset;
        out.push_back(std::move(e));
      }
  // Every parameter of the cell must have an entry, or import would leave it unset.
  const size_t expected = std::count_if(parameters.begin(), parameters.end(), [&](const ParameterInfo& p) {
    return bias || (p.name != "b_ih" && p.name != "b_hh");
  });
  if (out.size() != expected)
    internal_error("the state_dict layout has ", out.size(), " entries for ", expected, " parameters");
  return out;
}

void import_state_dict(const ir::NetworkSpec& spec, const std::vector<ParameterInfo>& parameters,
                       const std::vector<Tensor>& state_dict, std::span<float> params, const ImportOptions& options) {
  const TorchRnn module = torch_module(spec);
  TorchRnn expected = module;
  expected.bias = options.bias;
  const std::vector<StateDictEntry> layout = state_dict_layout(spec, parameters, options.bias);
  int64_t floats = 0;
  for (const ParameterInfo& p : parameters) floats = std::max(floats, p.offset + p.size());
  if (static_cast<int64_t>(params.size()) < floats)
    user_error("the parameter buffer has ", params.size(), " floats but the network has ", floats);

  // Match every tensor of the module (the prefix removed) to the layout, collecting the problems.
  std::vector<const Tensor*> source(layout.size(), nullptr);
  std::map<std::string, const Tensor*> by_name;
  std::vector<std::string> problems;  // one line each
  std::vector<std::pair<std::string, std::string>> wrong_shapes;  // line, hint
  std::map<std::string, std::vector<std::string>> unknown;        // reason -> names
  for (const Tensor& t : state_dict) {
    if (!t.name.starts_with(options.prefix)) continue;
    const std::string name = t.name.substr(options.prefix.size());
    if (!by_name.emplace(name, &t).second) {
      problems.push_back("tensor '" + t.name + "' appears twice");
      continue;
    }
    auto at = std::find_if(layout.begin(), layout.end(), [&](const StateDictEntry& e) { return e.name == name; });
    if (at == layout.end()) {
      unknown[unknown_reason(module, options, name)].push_back("'" + t.name + "'");
      continue;
    }
    if (t.shape != at->shape) {
      wrong_shapes.push_back({"tensor '" + t.name + "' is " + shape_string(t.shape) + " but the network needs " +
                                  shape_string(at->shape) + " (" + at->parameter + " of layer " + std::to_string(at->layer) +
                                  (at->direction ? ", reverse direction" : "") + ")",
                              shape_hint(module, name.substr(0, name.rfind("_l")), at->layer, at->shape, t.shape)});
      continue;
    }
    const auto bad = std::find_if(t.values.begin(), t.values.end(), [](float v) { return !std::isfinite(v); });
    if (bad != t.values.end()) {
      problems.push_back("tensor '" + t.name + "' holds " + (std::isnan(*bad) ? "NaN" : "Inf") + " at element " +
                         std::to_string(bad - t.values.begin()) + "; cellforge imports finite weights only");
      continue;
    }
    source[static_cast<size_t>(at - layout.begin())] = &t;
  }
  const bool file_has_biases = std::any_of(by_name.begin(), by_name.end(), [](const auto& kv) {
    return kv.first.starts_with("bias_ih_l") || kv.first.starts_with("bias_hh_l");
  });
  std::map<std::string, std::vector<std::string>> missing;  // reason -> names
  for (const StateDictEntry& e : layout) {
    if (by_name.count(e.name)) continue;
    const bool bias = e.parameter == "b_ih" || e.parameter == "b_hh";
    const char* reason =
        bias && !file_has_biases ? "if the module was built with bias=False, import with bias = false (the biases are then zero)" : "";
    missing[reason].push_back("'" + options.prefix + e.name + "' " + shape_string(e.shape));
  }
  if (problems.empty() && wrong_shapes.empty() && unknown.empty() && missing.empty()) {
    for (size_t k = 0; k < layout.size(); ++k)
      std::copy(source[k]->values.begin(), source[k]->values.end(), params.begin() + layout[k].offset);
    if (!options.bias)
      for (const ParameterInfo& p : parameters)
        if (p.name == "b_ih" || p.name == "b_hh") std::fill_n(params.begin() + p.offset, p.size(), 0.0f);
    return;
  }

  // The module the tensors' names and shapes describe, if they describe one other than the network's,
  // explains every wrong shape at once.
  std::optional<TorchRnn> theirs = module_from_shapes(
      [&](const std::string& name) -> const std::vector<int64_t>* {
        auto it = by_name.find(name);
        return it == by_name.end() ? nullptr : &it->second->shape;
      },
      module.mode == TorchMode::rnn_tanh || module.mode == TorchMode::rnn_relu ? std::optional(module.mode) : std::nullopt);
  if (theirs) theirs->dropout = expected.dropout;
  const bool diagnosed = theirs && !(*theirs == expected);
  std::string text = options.label + " does not hold the weights of " + expected.python() + ":";
  if (diagnosed) text += "\n  its tensors are those of " + theirs->python();
  for (const std::string& line : problems) text += "\n  " + line;
  constexpr size_t kShapeLines = 6;
  for (size_t i = 0; i < wrong_shapes.size() && i < kShapeLines; ++i)
    text += "\n  " + wrong_shapes[i].first + (diagnosed || wrong_shapes[i].second.empty() ? "" : "; " + wrong_shapes[i].second);
  if (wrong_shapes.size() > kShapeLines)
    text += "\n  ... and " + std::to_string(wrong_shapes.size() - kShapeLines) + " more tensors of the wrong shape";
  for (const auto& [reason, names] : unknown)
    text += "\n  unknown tensor" + std::string(names.size() > 1 ? "s " : " ") + joined(names, 8) + ": " + reason;
  // A file of a submodule's entries only misses everything; the prefix line above says why.
  const bool matched_none =
      std::none_of(layout.begin(), layout.end(), [&](const StateDictEntry& e) { return by_name.count(e.name); });
  const bool prefix_hint =
      std::any_of(unknown.begin(), unknown.end(), [](const auto& kv) { return kv.first.starts_with("a submodule's"); });
  if (!(matched_none && prefix_hint))
    for (const auto& [reason, names] : missing)
      text += "\n  missing tensor" + std::string(names.size() > 1 ? "s " : " ") + joined(names, 8) + ": " +
              (!reason.empty() ? reason
               : diagnosed     ? "the file's module has no such parameters"
                               : "the file lacks " + std::string(names.size() > 1 ? "them" : "it") +
                                     "; save the whole module.state_dict()");
  if (diagnosed)
    text += "\n  fix: build the network as the file's module (interop::infer_torch_module, then interop::network_spec), or "
            "import the file of the module you meant";
  user_error(text);
}

void import_state_dict(const CompiledNetwork& network, const std::vector<Tensor>& state_dict, std::span<float> params,
                       const ImportOptions& options) {
  if (static_cast<int64_t>(params.size()) != network.parameter_floats())
    user_error("the parameter buffer has ", params.size(), " floats but the network has ", network.parameter_floats());
  import_state_dict(network.spec(), network.parameters(), state_dict, params, options);
}

std::vector<Tensor> export_state_dict(const ir::NetworkSpec& spec, const std::vector<ParameterInfo>& parameters,
                                      std::span<const float> params, const ExportOptions& options) {
  if (!options.bias)
    for (const ParameterInfo& p : parameters)
      if (p.name == "b_ih" || p.name == "b_hh")
        for (int64_t i = 0; i < p.size(); ++i)
          if (params[static_cast<size_t>(p.offset + i)] != 0.0f)
            user_error("cannot export as a bias=False module: ", p.name, " of layer ", p.layer,
                       p.direction ? " (reverse direction)" : "", " is ", params[static_cast<size_t>(p.offset + i)],
                       " at element ", i, ", not zero; export with bias = true");
  std::vector<Tensor> out;
  for (const StateDictEntry& e : state_dict_layout(spec, parameters, options.bias)) {
    if (e.offset + e.size() > static_cast<int64_t>(params.size()))
      user_error("the parameter buffer has ", params.size(), " floats, too few for ", e.name);
    out.push_back({options.prefix + e.name, e.shape,
                   std::vector<float>(params.begin() + e.offset, params.begin() + e.offset + e.size())});
  }
  return out;
}

std::vector<Tensor> export_state_dict(const CompiledNetwork& network, std::span<const float> params,
                                      const ExportOptions& options) {
  if (static_cast<int64_t>(params.size()) != network.parameter_floats())
    user_error("the parameter buffer has ", params.size(), " floats but the network has ", network.parameter_floats());
  return export_state_dict(network.spec(), network.parameters(), params, options);
}

void load_torch_weights(const std::string& path, const ir::NetworkSpec& spec, const std::vector<ParameterInfo>& parameters,
                        std::span<float> params, const ImportOptions& options) {
  const std::string label = "safetensors file '" + path + "'";
  const SafetensorsFile file = read_safetensors(path);
  // The module the file says it holds, if it says, against the network's: one clear line first.
  if (auto it = file.metadata.find(kTorchModuleKey); it != file.metadata.end() && options.prefix.empty()) {
    TorchRnn from_file = TorchRnn::from_json(it->second, label);
    TorchRnn expected = torch_module(spec);
    expected.bias = options.bias;
    from_file.dropout = expected.dropout;  // not part of the weights
    if (!(from_file == expected))
      user_error(label, " holds the weights of ", from_file.python(), " but the network is ", expected.python(),
                 "; build the network as the file's module (interop::infer_torch_module, then interop::network_spec), "
                 "or import the file of the module you meant");
  }
  std::vector<Tensor> tensors;
  for (const RawTensor& raw : file.tensors)
    if (raw.name.starts_with(options.prefix)) tensors.push_back(to_float32(raw, label));
  ImportOptions labelled = options;
  labelled.label = label;
  import_state_dict(spec, parameters, tensors, params, labelled);
}

void load_torch_weights(const std::string& path, const CompiledNetwork& network, std::span<float> params,
                        const ImportOptions& options) {
  if (static_cast<int64_t>(params.size()) != network.parameter_floats())
    user_error("the parameter buffer has ", params.size(), " floats but the network has ", network.parameter_floats());
  load_torch_weights(path, network.spec(), network.parameters(), params, options);
}

void save_torch_weights(const std::string& path, const ir::NetworkSpec& spec, const std::vector<ParameterInfo>& parameters,
                        std::span<const float> params, const ExportOptions& options) {
  TorchRnn module = torch_module(spec);
  module.bias = options.bias;
  const std::map<std::string, std::string> metadata{{kTorchModuleKey, module.json()}, {"format", "pt"}};
  write_safetensors(path, export_state_dict(spec, parameters, params, options), metadata);
}

void save_torch_weights(const std::string& path, const CompiledNetwork& network, std::span<const float> params,
                        const ExportOptions& options) {
  if (static_cast<int64_t>(params.size()) != network.parameter_floats())
    user_error("the parameter buffer has ", params.size(), " floats but the network has ", network.parameter_floats());
  save_torch_weights(path, network.spec(), network.parameters(), params, options);
}

TorchRnn infer_torch_module(const SafetensorsFile& file, const std::string& label, const std::string& prefix,
                            std::optional<TorchMode> rnn_mode) {
  if (auto it = file.metadata.find(kTorchModuleKey); it != file.metadata.end() && prefix.empty())
    return TorchRnn::from_json(it->second, label);
  std::string why;
  std::optional<TorchRnn> m = module_from_shapes(
      [&](const std::string& name) -> const std::vector<int64_t>* {
        const RawTensor* t = file.find(prefix + name);
        return t ? &t->shape : nullptr;
      },
      rnn_mode, &why);
  if (!m) user_error(label, ": ", why, prefix.empty() ? "" : " (under the prefix '" + prefix + "')");
  return *m;
}

}  // namespace cellforge::interop
