// A trained character language model to and from a PyTorch model file; see torch_char_model.hpp.
// The recurrent part goes through interop/torch_rnn.hpp (its names, its checks, its messages); this
// file adds the embedding, the head, the vocabulary and the trainer's bookkeeping around it.
#include "runtime/cli/torch_char_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "codegen/ir/error.hpp"
#include "runtime/train/rng.hpp"
#include "runtime/train/json.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::cli {

namespace {

std::string file_label(const std::string& path) { return "safetensors file '" + path + "'"; }

using train::json::number_text;

// The stacked cells of a model as an interop network: its spec, and one ParameterInfo per cell
// parameter whose offsets put the checkpoint's "layer<l>.<name>" tensors end to end in one flat
// buffer. The interop functions read and write that buffer, so nothing needs compiling.
struct CellLayout {
  ir::NetworkSpec network;
  std::vector<ParameterInfo> parameters;
  std::vector<std::string> names;  // "layer<l>.<name>", one per parameter
  int64_t floats = 0;
};

CellLayout cell_layout(const train::ModelSpec& model) {
  CellLayout out;
  ir::NetworkSizes sizes;
  sizes.input = model.encoding == train::InputEncoding::one_hot ? model.vocabulary : model.embedding;
  sizes.hidden = model.hidden;
  sizes.batch = 1;
  sizes.unroll = 1;
  sizes.layers = model.layers;
  sizes.extra = model.extra;
  out.network = ir::NetworkSpec::stack(model.cell, sizes);
  out.network.dropout = model.layers > 1 ? model.dropout : 0.0;  // between layers, as train::Network compiles it
  out.network.zoneout = model.zoneout;
  for (const train::ParameterShape& p : train::parameter_shapes(model)) {
    if (!p.name.starts_with("layer")) continue;  // "embedding", "head.W", "head.b"
    const size_t dot = p.name.find('.');
    const ParameterInfo info{std::stoll(p.name.substr(5, dot - 5)), 0, p.name.substr(dot + 1), p.shape[0],
                             p.shape.size() == 2 ? p.shape[1] : 0, out.floats};
    out.floats += info.size();
    out.parameters.push_back(info);
    out.names.push_back(p.name);
  }
  return out;
}

// The first non-finite value of a tensor, as a problem line, or "".
std::string non_finite(const interop::Tensor& t) {
  const auto bad = std::find_if(t.values.begin(), t.values.end(), [](float v) { return !std::isfinite(v); });
  if (bad == t.values.end()) return "";
  return "tensor '" + t.name + "' holds " + (std::isnan(*bad) ? "NaN" : "Inf") + " at element " +
         std::to_string(bad - t.values.begin()) + "; cellforge imports finite weights only";
}

// Where the recurrent module's entries seem to be when they are not under the prefix: the part of
// a name before "weight_ih_l0" ("lstm." for "lstm.weight_ih_l0"), if some tensor has one.
std::optional<std::string> prefix_in_file(const interop::SafetensorsFile& file) {
  for (const interop::RawTensor& t : file.tensors)
    if (t.name.ends_with("weight_ih_l0")) return t.name.substr(0, t.name.size() - std::string("weight_ih_l0").size());
  return std::nullopt;
}

}  // namespace

std::string escape_vocabulary(std::string_view symbols) {
  std::string out;
  for (const char ch : symbols) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c <= 0x7e) {
      out += ch;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

std::string unescape_vocabulary(std::string_view text, const std::string& label) {
  std::string out;
  auto hex_digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c != '\\') {
      if (c < 0x20 || c > 0x7e)
        user_error(label, ": metadata '", kVocabularyKey, "' has the byte ", train::Vocabulary::show(c), " at ", i,
                   "; it spells every byte outside printable ASCII as \\xHH");
      out += static_cast<char>(c);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '\\') {
      out += '\\';
      ++i;
    } else if (i + 3 < text.size() && text[i + 1] == 'x' && hex_digit(text[i + 2]) >= 0 && hex_digit(text[i + 3]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 2]) * 16 + hex_digit(text[i + 3]));
      i += 3;
    } else {
      user_error(label, ": metadata '", kVocabularyKey, "' has a backslash at ", i,
                 " that starts neither \\\\ nor \\xHH (two hex digits)");
    }
  }
  return out;
}

void check_prefix(const std::string& prefix, const std::string& what) {
  // A prefix that ends elsewhere ("rnn" gives "rnnweight_ih_l0") or overlaps the head's and the
  // embedding's names would make a file whose entries import-torch (or load_state_dict) cannot tell apart.
  if ((!prefix.empty() && !prefix.ends_with('.')) || prefix.starts_with("head.") || prefix.starts_with("embedding."))
    user_error(what, " is not a submodule's prefix for the recurrent module's entries: it must be empty or end with '.', "
               "and must not start with 'head.' or 'embedding.' (CharModel's other entries); e.g. --prefix rnn. (the "
               "default) or --prefix lstm. for a model whose nn.LSTM is self.lstm");
}

TorchCharModel export_char_model(const train::Checkpoint& c, const std::string& path, const std::string& prefix) {
  check_prefix(prefix, "--prefix '" + prefix + "'");
  const train::ModelSpec& model = c.model;
  const CellLayout cells = cell_layout(model);
  TorchCharModel out;
  try {
    out.module = interop::torch_module(cells.network);
  } catch (const UserError& e) {
    user_error("checkpoint '", path, "' cannot be exported to PyTorch: ", e.what(),
               "\n  fix: train the model with one of those cells, without --zoneout, to move it to PyTorch (cellforge train --cell lstm, gru, "
               "rnn, rnn_relu, or lstmp --sizes P=N with N below --hidden). This model still samples in cellforge, and its "
               "own tensors (layer0.W_ih, ..., head.W, head.b) load in Python with scripts/torch_safetensors.py's load_file, "
               "for a module you write yourself");
  }
  std::map<std::string, const train::FloatTensor*> stored;
  for (const train::FloatTensor& t : c.parameters) stored[t.name] = &t;
  auto parameter = [&](const std::string& name) -> const train::FloatTensor& {
    auto it = stored.find(name);
    if (it == stored.end()) internal_error("checkpoint parameter '", name, "' is missing after verification");
    return *it->second;
  };
  std::vector<float> flat(static_cast<size_t>(cells.floats));
  for (size_t k = 0; k < cells.names.size(); ++k) {
    const train::FloatTensor& t = parameter(cells.names[k]);
    if (static_cast<int64_t>(t.values.size()) != cells.parameters[k].size())
      internal_error("checkpoint parameter '", t.name, "' has ", t.values.size(), " floats, the cell ", cells.parameters[k].size());
    std::copy(t.values.begin(), t.values.end(), flat.begin() + cells.parameters[k].offset);
  }
  if (model.encoding == train::InputEncoding::embedding) {
    const train::FloatTensor& e = parameter("embedding");
    out.tensors.push_back({"embedding.weight", e.shape, e.values});
  }
  interop::ExportOptions options;
  options.prefix = prefix;
  for (interop::Tensor& t : interop::export_state_dict(cells.network, cells.parameters, flat, options))
    out.tensors.push_back(std::move(t));
  const train::FloatTensor& w = parameter("head.W");
  const train::FloatTensor& b = parameter("head.b");
  out.tensors.push_back({"head.weight", w.shape, w.values});
  out.tensors.push_back({"head.bias", b.shape, b.values});

  auto& m = out.metadata;
  m["format"] = "pt";
  m[interop::kTorchModuleKey] = out.module.json();
  m[kModulePythonKey] = out.module.python();
  m[kCharModelKey] = "1";
  m[kPrefixKey] = prefix;
  m[kVocabularyKey] = escape_vocabulary(c.vocabulary.symbols());
  m[kVocabularySizeKey] = std::to_string(c.vocabulary.size());
  m[kEncodingKey] = train::encoding_name(model.encoding);
  m[kDropoutKey] = number_text(model.dropout);
  m[kLossKey] = train::loss_mode_name(model.loss);
  m[kCellKey] = interop::zoo_cell_name(out.module);
  m[kIterationsKey] = std::to_string(c.progress.iteration);
  return out;
}

train::Checkpoint load_checkpoint_or_explain(const std::string& path, const std::string& option) {
  try {
    return train::load_checkpoint(path);
  } catch (const UserError& not_a_checkpoint) {
    std::optional<interop::SafetensorsFile> file;
    try {
      file = interop::read_safetensors(path);
    } catch (const UserError&) {
      throw not_a_checkpoint;  // not a safetensors file either: the checkpoint reader's message says why
    }
    const bool char_model = file->metadata.count(kCharModelKey) || file->find("head.weight");
    const bool rnn_weights = file->metadata.count(interop::kTorchModuleKey) || prefix_in_file(*file);
    const auto format = file->metadata.find("format");
    if ((format != file->metadata.end() && format->second == train::kCheckpointFormat) || (!char_model && !rnn_weights))
      throw;
    user_error(option, " '", path, "' is a PyTorch ", char_model ? "character model file" : "state_dict of a recurrent module",
               " (safetensors", format != file->metadata.end() ? ", format '" + format->second + "'" : std::string(),
               "), not a cellforge checkpoint; make a checkpoint of it first: cellforge import-torch --weights ", path,
               " --out MODEL.ckpt", file->metadata.count(kVocabularyKey) ? "" : " --vocabulary-from TRAINING_TEXT",
               ", then give ", option, " MODEL.ckpt");
  }
}

train::Checkpoint import_char_model(const interop::SafetensorsFile& file, const std::string& path, const ImportSettings& s) {
  const std::string label = file_label(path);
  auto meta = [&](const char* key) -> const std::string* {
    auto it = file.metadata.find(key);
    return it == file.metadata.end() ? nullptr : &it->second;
  };
  if (const std::string* format = meta("format"); format && *format == train::kCheckpointFormat)
    user_error(label, " is a cellforge checkpoint (format '", *format, "'), not a PyTorch model file; cellforge sample, "
               "score and train --resume take it as it is, and cellforge export-torch --checkpoint ", path,
               " --out MODEL.safetensors makes the PyTorch file of it");
  const std::string prefix = s.prefix ? *s.prefix : meta(kPrefixKey) ? *meta(kPrefixKey) : kDefaultPrefix;
  check_prefix(prefix, s.prefix ? "--prefix '" + prefix + "'"
                                : label + ": metadata '" + kPrefixKey + "' ('" + prefix + "')");

  // The tensors by role. The recurrent module's are found first, so that a wrong prefix is reported
  // as such rather than as a module without weights.
  const interop::RawTensor* raw_head_w = file.find("head.weight");
  const interop::RawTensor* raw_head_b = file.find("head.bias");
  const interop::RawTensor* raw_embedding = file.find("embedding.weight");
  std::vector<interop::Tensor> rnn_tensors;
  std::vector<std::string> unknown;
  for (const interop::RawTensor& t : file.tensors) {
    if (&t == raw_head_w || &t == raw_head_b || &t == raw_embedding) continue;
    if (t.name.starts_with(prefix)) rnn_tensors.push_back(interop::to_float32(t, label));
    else unknown.push_back("'" + t.name + "'");
  }
  if (rnn_tensors.empty()) {
    const std::optional<std::string> found = prefix_in_file(file);
    user_error(label, ": no tensor has the prefix '", prefix, "' under which the recurrent module's entries ('", prefix,
               "weight_ih_l0', ...) should be",
               found ? "; its entries seem to be under '" + *found + "': import with --prefix '" + *found + "'"
                     : "; a character model file holds a torch.nn.RNN, LSTM or GRU state_dict under a prefix, head.weight, "
                       "head.bias and, for embedding input, embedding.weight");
  }

  // The module: as the file says, else as its tensors' names and shapes say.
  interop::TorchRnn module;
  if (const std::string* json = meta(interop::kTorchModuleKey)) {
    module = interop::TorchRnn::from_json(*json, label);
  } else {
    // A square weight_hh is an nn.RNN's, whose nonlinearity no weight shows.
    const interop::RawTensor* hh = file.find(prefix + "weight_hh_l0");
    if (!s.rnn_mode && hh && hh->shape.size() == 2 && hh->shape[0] == hh->shape[1])
      user_error(label, " holds a torch.nn.RNN (its '", prefix, "weight_hh_l0' is ", interop::shape_string(hh->shape),
                 ") and does not say which module it holds (metadata '", interop::kTorchModuleKey,
                 "'), so its nonlinearity is unknown: give it with --nonlinearity tanh or --nonlinearity relu");
    module = interop::infer_torch_module(file, label, prefix, s.rnn_mode);
  }
  if (s.rnn_mode && *s.rnn_mode != module.mode)
    user_error(label, " holds ", module.python(), ", not a torch.nn.RNN with nonlinearity='",
               *s.rnn_mode == interop::TorchMode::rnn_relu ? "relu" : "tanh", "'; drop --nonlinearity");
  try {
    interop::network_spec(module, 1, 1);  // what PyTorch itself refuses (proj_size on a GRU, sizes of 0)
  } catch (const UserError& e) {
    user_error(label, " holds ", module.python(), ", which is not a valid module: ", e.what());
  }
  if (module.bidirectional)
    user_error(label, " holds ", module.python(), ": a character language model reads its text forward in time, so "
               "cellforge's (and CharModel's) has no bidirectional layers; export a module with bidirectional=False");
  if (module.dropout < 0 || module.dropout >= 1)
    user_error(label, ": the module's dropout ", module.dropout, " is not a probability in [0, 1)");

  std::vector<std::string> problems;  // every problem of the file, reported at once
  const int64_t Y = module.proj_size ? module.proj_size : module.hidden_size;
  const std::string linear = "nn.Linear(" + std::to_string(Y) + ", V), the output layer";
  int64_t V = 0;
  std::optional<interop::Tensor> head_w, head_b, embedding;
  auto take = [&](const interop::RawTensor* raw, const std::string& name, const std::string& what) -> std::optional<interop::Tensor> {
    if (!raw) {
      problems.push_back("missing tensor '" + name + "': " + what);
      return std::nullopt;
    }
    interop::Tensor t = interop::to_float32(*raw, label);
    if (const std::string bad = non_finite(t); !bad.empty()) problems.push_back(bad);
    return t;
  };
  head_w = take(raw_head_w, "head.weight", "the weight [V, " + std::to_string(Y) + "] of " + linear);
  head_b = take(raw_head_b, "head.bias", "the bias [V] of " + linear);
  if (head_w) {
    if (head_w->shape.size() != 2 || head_w->shape[1] != Y)
      problems.push_back("tensor 'head.weight' is " + interop::shape_string(head_w->shape) + " but " + module.python() +
                         " outputs " + std::to_string(Y) + " features, so it must be [V, " + std::to_string(Y) + "]");
    else V = head_w->shape[0];
  }
  if (head_b && V && head_b->shape != std::vector<int64_t>{V})
    problems.push_back("tensor 'head.bias' is " + interop::shape_string(head_b->shape) + " but head.weight has " +
                       std::to_string(V) + " rows, so it must be [" + std::to_string(V) + "]");
  if (raw_embedding) {
    embedding = take(raw_embedding, "embedding.weight", "");
    if (V && embedding->shape != std::vector<int64_t>{V, module.input_size})
      problems.push_back("tensor 'embedding.weight' is " + interop::shape_string(embedding->shape) + " but it must be [" +
                         std::to_string(V) + ", " + std::to_string(module.input_size) + "]: a row per character (head.weight's " +
                         std::to_string(V) + " rows) of the module's input_size");
  } else if (V && module.input_size != V) {
    problems.push_back(module.python() + " takes input_size=" + std::to_string(module.input_size) + " features but the "
                       "vocabulary has " + std::to_string(V) + " characters (head.weight's rows): a one-hot model's input_size "
                       "is the vocabulary size, and an embedding model has 'embedding.weight' [" + std::to_string(V) + ", " +
                       std::to_string(module.input_size) + "], which the file lacks");
  }
  if (const std::string* encoding = meta(kEncodingKey)) {
    if (*encoding != "one_hot" && *encoding != "embedding")
      problems.push_back("metadata '" + std::string(kEncodingKey) + "' is '" + *encoding + "', not one_hot or embedding");
    else if ((*encoding == "embedding") != (raw_embedding != nullptr))
      problems.push_back("metadata '" + std::string(kEncodingKey) + "' says " + *encoding + " input but the file " +
                         (raw_embedding ? "has" : "lacks") + " 'embedding.weight'");
  }
  if (!unknown.empty()) {
    std::string names;
    for (size_t i = 0; i < unknown.size() && i < 8; ++i) names += (i ? ", " : "") + unknown[i];
    if (unknown.size() > 8) names += ", ... (" + std::to_string(unknown.size()) + " in all)";
    problems.push_back("unknown tensor" + std::string(unknown.size() > 1 ? "s " : " ") + names + ": a character model file "
                       "holds the module's entries under '" + prefix + "', head.weight, head.bias and embedding.weight only");
  }

  // The vocabulary: the corpus's, or the file's; both, when given, must agree.
  std::optional<std::string> symbols;
  if (const std::string* escaped = meta(kVocabularyKey)) symbols = unescape_vocabulary(*escaped, label);
  if (s.corpus) {
    const std::string& of_corpus = s.corpus->vocabulary.symbols();
    if (symbols && *symbols != of_corpus)
      user_error(label, ": its vocabulary \"", escape_vocabulary(*symbols), "\" (", symbols->size(),
                 " characters) differs from the ", of_corpus.size(), " distinct characters of '", s.corpus->name, "': \"",
                 escape_vocabulary(of_corpus), "\"; the model's token k is the k-th of its own characters, so give the text "
                 "it was trained on (or one with exactly its characters), or drop --vocabulary-from to use the file's");
    symbols = of_corpus;
  }
  if (!symbols)
    user_error(label, " has no vocabulary (metadata '", kVocabularyKey, "'), so the characters of its ", V ? std::to_string(V) + " " : "",
               "tokens are unknown; give the text the model was trained on with --vocabulary-from FILE (its distinct bytes, "
               "in increasing order, are tokens 0, 1, ...)");
  train::Vocabulary vocabulary;
  try {
    vocabulary = train::Vocabulary::from_symbols(*symbols);
  } catch (const UserError& e) {
    user_error(label, ": metadata '", kVocabularyKey, "': ", e.what());
  }
  if (V && vocabulary.size() != V)
    problems.push_back("the vocabulary has " + std::to_string(vocabulary.size()) + " characters but head.weight has " +
                       std::to_string(V) + " rows, one per character" +
                       (s.corpus ? " ('" + s.corpus->name + "' is not the text the model was trained on?)" : ""));

  // The model cellforge builds, and the recurrent module's weights moved into it.
  train::ModelSpec model;
  model.cell = zoo::find(interop::zoo_cell_name(module)).build();
  model.vocabulary = V ? V : vocabulary.size();
  model.hidden = module.hidden_size;
  model.layers = module.num_layers;
  if (module.proj_size) model.extra["P"] = module.proj_size;
  model.encoding = raw_embedding ? train::InputEncoding::embedding : train::InputEncoding::one_hot;
  model.embedding = raw_embedding ? module.input_size : 0;
  model.dropout = module.num_layers > 1 ? module.dropout : 0.0;  // torch.nn ignores a 1-layer module's dropout
  if (const std::string* p = meta(kDropoutKey)) {
    char* end = nullptr;
    model.dropout = std::strtod(p->c_str(), &end);
    if (p->empty() || *end || !(model.dropout >= 0 && model.dropout < 1))
      user_error(label, ": metadata '", kDropoutKey, "' is '", *p, "', not a probability in [0, 1)");
    if (module.num_layers > 1 && module.dropout != model.dropout)
      problems.push_back("the module's dropout is " + number_text(module.dropout) + " but metadata '" + kDropoutKey + "' is " +
                         *p + "; cellforge drops the inputs of the upper layers and of the head with one probability");
  }
  if (const std::string* loss = meta(kLossKey)) {
    if (*loss != "every_step" && *loss != "last_step")
      problems.push_back("metadata '" + std::string(kLossKey) + "' is '" + *loss + "', not every_step or last_step");
    model.loss = *loss == "last_step" ? train::LossMode::last_step : train::LossMode::every_step;
  }
  if (!problems.empty()) {
    std::string text = label + " is not a character model cellforge can import:";
    for (const std::string& p : problems) text += "\n  " + p;
    user_error(text, "\n  fix: write the whole model with scripts/torch_char_model.py's save(model, path) (CharModel's "
               "state_dict and metadata) or with cellforge export-torch; a model of your own needs head.weight [V, ", Y,
               "], head.bias [V], the recurrent module under '", prefix, "' and, for embedding input, embedding.weight [V, ",
               module.input_size, "]");
  }
  const CellLayout cells = cell_layout(model);
  std::vector<float> flat(static_cast<size_t>(cells.floats));
  interop::ImportOptions options;
  options.prefix = prefix;
  options.bias = module.bias;
  options.label = label;
  interop::import_state_dict(cells.network, cells.parameters, rnn_tensors, flat, options);

  train::Checkpoint c;
  c.model = model;
  c.vocabulary = vocabulary;
  c.config = s.config;
  c.config.check();
  for (const train::ParameterShape& p : train::parameter_shapes(model)) {
    train::FloatTensor t{p.name, p.shape, {}};
    if (p.name == "embedding") t.values = embedding->values;
    else if (p.name == "head.W") t.values = head_w->values;
    else if (p.name == "head.b") t.values = head_b->values;
    for (size_t k = 0; k < cells.names.size(); ++k)
      if (cells.names[k] == p.name)
        t.values.assign(flat.begin() + cells.parameters[k].offset,
                        flat.begin() + cells.parameters[k].offset + cells.parameters[k].size());
    c.parameters.push_back(std::move(t));
  }
  // A fresh optimizer (zero moments, as train::Optimizer starts), a zero carried state, no history.
  const train::OptimizerConfig& o = c.config.optimizer;
  const bool has_first = o.kind != train::OptimizerKind::sgd || o.momentum > 0;
  const char* first = o.kind == train::OptimizerKind::sgd ? "momentum" : o.kind == train::OptimizerKind::adam ? "m" : "square_avg";
  for (const train::FloatTensor& p : c.parameters) {
    if (has_first) c.optimizer.push_back({p.name + "." + first, p.shape, std::vector<float>(p.values.size(), 0.0f)});
    if (o.kind == train::OptimizerKind::adam) c.optimizer.push_back({p.name + ".v", p.shape, std::vector<float>(p.values.size(), 0.0f)});
  }
  for (const auto& [name, floats] : train::state_sizes(model, c.config.batch))
    c.states.push_back({name, {floats}, std::vector<float>(static_cast<size_t>(floats), 0.0f)});
  c.rng = train::Rng(c.config.seed).state();
  c.machine = train::machine_signature();
  if (s.corpus) c.corpus = train::CorpusFingerprint::of(*s.corpus);
  else c.corpus = {"no corpus: imported by cellforge import-torch from '" + path +
                       "'; to fine-tune, import again with --vocabulary-from CORPUS", 0, 0};
  return c;
}

}  // namespace cellforge::cli
