// Checkpoint contents to and from a verified tensor file; see checkpoint.hpp.
#include "runtime/train/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/jit/engine.hpp"
#include "runtime/train/crc32c.hpp"
#include "runtime/train/json.hpp"
#include "runtime/train/safetensors.hpp"

namespace cellforge::train {

namespace {

std::string label_of(const std::string& path) { return "checkpoint '" + path + "'"; }

using json::number_text;

// A number as a person wrote it: "0.25", "0".
std::string short_number(double v) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

template <class T>
std::string raw_bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

StoredTensor history_tensor(const std::string& name, const std::vector<LossPoint>& points) {
  std::vector<double> flat;
  for (const LossPoint& p : points) flat.push_back(static_cast<double>(p.iteration)), flat.push_back(p.loss);
  return {name, DType::F64, {static_cast<int64_t>(points.size()), 2}, raw_bytes(flat)};
}

// Zoneout or weight-drop rates as "c=0.5 h=0.05" (each rate exactly, as number_text writes it),
// and back.
std::string rates_text(const std::map<std::string, double>& rates,
                       std::string (*number)(double) = [](double z) { return number_text(z); }) {
  std::string out;
  for (const auto& [name, z] : rates) out += (out.empty() ? "" : " ") + name + "=" + number(z);
  return out;
}

// The "NAME=VALUE NAME=VALUE" items of metadata `key`, each value read by `parse` (false: not a
// valid VALUE, which `what` names in the error).
template <class T, class Parse>
std::map<std::string, T> assignments(const std::string& text, const std::string& key, const std::string& label,
                                     const char* what, Parse parse) {
  std::map<std::string, T> out;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find(' ', at);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(at, end - at);
    const size_t eq = item.find('=');
    T value{};
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size() || !parse(item.c_str() + eq + 1, value))
      user_error(label, ": metadata '", key, "' has '", item, "', not NAME=", what);
    out[item.substr(0, eq)] = value;
    at = end + 1;
  }
  return out;
}

std::map<std::string, double> rates_from_text(const std::string& text, const std::string& key, const std::string& label) {
  return assignments<double>(text, key, label, "RATE", [](const char* number, double& z) {
    char* stop = nullptr;
    z = std::strtod(number, &stop);
    return !*stop && std::isfinite(z);
  });
}

std::string extra_text(const ir::Bindings& extra) {
  std::string s;
  for (const auto& [name, value] : extra) s += (s.empty() ? "" : " ") + name + "=" + std::to_string(value);
  return s;
}

// Typed, checked access to the metadata of a file being loaded.
class Metadata {
 public:
  Metadata(const std::map<std::string, std::string>& entries, std::string label) : entries_(entries), label_(std::move(label)) {}

  const std::string& text(const std::string& key) const {
    auto it = entries_.find(key);
    if (it == entries_.end()) user_error(label_, ": metadata '", key, "' is missing");
    return it->second;
  }
  int64_t count(const std::string& key) const {
    const std::string& t = text(key);
    int64_t v = 0;
    bool ok = !t.empty() && t.size() <= 18;
    for (char c : t) {
      ok = ok && c >= '0' && c <= '9';
      v = v * 10 + (c - '0');
    }
    if (!ok) user_error(label_, ": metadata '", key, "' is '", t, "', not a whole number >= 0");
    return v;
  }
  uint64_t unsigned64(const std::string& key) const {
    const std::string& t = text(key);
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(t.c_str(), &end, 10);
    if (t.empty() || t[0] < '0' || t[0] > '9' || *end || errno) user_error(label_, ": metadata '", key, "' is '", t, "', not an unsigned 64-bit number");
    return v;
  }
  double real(const std::string& key, bool allow_nan = false) const {
    const std::string& t = text(key);
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end || std::isinf(v) || (std::isnan(v) && !allow_nan))
      user_error(label_, ": metadata '", key, "' is '", t, "', not a finite number");
    return v;
  }
  bool boolean(const std::string& key) const {
    const std::string& t = text(key);
    if (t != "true" && t != "false") user_error(label_, ": metadata '", key, "' is '", t, "', not true or false");
    return t == "true";
  }

 private:
  const std::map<std::string, std::string>& entries_;
  std::string label_;
};

}  // namespace

CorpusFingerprint CorpusFingerprint::of(const Corpus& corpus) {
  return {corpus.name, static_cast<int64_t>(corpus.text.size()), train::crc32c(corpus.text)};
}

std::string machine_signature() {
  const jit::HostTarget& t = jit::host_target();
  return t.cpu + " " + t.triple + " LLVM " + t.llvm_version;
}

std::string encode_checkpoint(const Checkpoint& c) {
  TensorFile file;
  auto& m = file.metadata;
  m["format"] = kCheckpointFormat;
  m["format_version"] = std::to_string(kCheckpointVersion);
  m["machine"] = c.machine;
  m["model.cell"] = ir::print(c.model.cell);
  m["model.vocabulary"] = std::to_string(c.model.vocabulary);
  m["model.hidden"] = std::to_string(c.model.hidden);
  m["model.layers"] = std::to_string(c.model.layers);
  m["model.extra"] = extra_text(c.model.extra);
  m["model.encoding"] = encoding_name(c.model.encoding);
  m["model.embedding"] = std::to_string(c.model.embedding);
  m["model.loss"] = loss_mode_name(c.model.loss);
  m["model.dropout"] = number_text(c.model.dropout);
  m["model.dropout_per_sequence"] = c.model.dropout_per_sequence ? "true" : "false";
  m["model.zoneout"] = rates_text(c.model.zoneout);
  m["model.weight_drop"] = rates_text(c.model.weight_drop);
  const TrainConfig& k = c.config;
  m["config.batch"] = std::to_string(k.batch);
  m["config.unroll"] = std::to_string(k.unroll);
  m["config.val_fraction"] = number_text(k.val_fraction);
  m["config.val_batches"] = std::to_string(k.val_batches);
  m["config.seed"] = std::to_string(k.seed);
  m["config.optimizer"] = optimizer_name(k.optimizer.kind);
  m["config.lr"] = number_text(k.optimizer.learning_rate);
  m["config.momentum"] = number_text(k.optimizer.momentum);
  m["config.nesterov"] = k.optimizer.nesterov ? "true" : "false";
  m["config.beta1"] = number_text(k.optimizer.beta1);
  m["config.beta2"] = number_text(k.optimizer.beta2);
  m["config.alpha"] = number_text(k.optimizer.alpha);
  m["config.epsilon"] = number_text(k.optimizer.epsilon);
  m["config.weight_decay"] = number_text(k.optimizer.weight_decay);
  m["config.lr_decay"] = number_text(k.schedule.decay);
  m["config.lr_decay_every"] = std::to_string(k.schedule.every);
  m["config.lr_decay_after"] = std::to_string(k.schedule.after);
  m["config.clip_value"] = number_text(k.clip.max_value);
  m["config.clip_norm"] = number_text(k.clip.max_norm);
  m["config.init_scale"] = number_text(k.init.scale);
  m["config.forget_bias"] = number_text(k.init.forget_bias);
  const TrainingProgress& p = c.progress;
  m["progress.iteration"] = std::to_string(p.iteration);
  m["progress.epoch"] = std::to_string(p.epoch);
  m["progress.batch_index"] = std::to_string(p.batch_index);
  m["progress.optimizer_steps"] = std::to_string(p.optimizer_steps);
  m["progress.clipped_steps"] = std::to_string(p.clipped_steps);
  m["progress.refused_steps"] = std::to_string(p.refused_steps);
  m["progress.seconds"] = number_text(p.seconds);
  m["corpus.name"] = c.corpus.name;
  m["corpus.bytes"] = std::to_string(c.corpus.bytes);
  m["corpus.crc32c"] = std::to_string(c.corpus.crc32c);
  for (const FloatTensor& t : c.parameters) file.tensors.push_back({t.name, DType::F32, t.shape, raw_bytes(t.values)});
  for (const FloatTensor& t : c.optimizer)
    file.tensors.push_back({"optimizer." + t.name, DType::F32, t.shape, raw_bytes(t.values)});
  for (const FloatTensor& t : c.states) file.tensors.push_back({"state." + t.name, DType::F32, t.shape, raw_bytes(t.values)});
  file.tensors.push_back({"vocabulary", DType::U8, {c.vocabulary.size()}, c.vocabulary.symbols()});
  std::vector<uint64_t> rng(c.rng.begin(), c.rng.end());
  file.tensors.push_back({"rng.state", DType::U64, {4}, raw_bytes(rng)});
  file.tensors.push_back(history_tensor("history.train", c.train_losses));
  file.tensors.push_back(history_tensor("history.val", c.val_losses));
  return encode_tensor_file(file);
}

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  write_file_atomically(path, encode_checkpoint(checkpoint), label_of(path));
}

Checkpoint load_checkpoint(const std::string& path) {
  return decode_checkpoint(read_file_bytes(path, label_of(path)), path);
}

Checkpoint decode_checkpoint(const std::string& bytes, const std::string& path) {
  const std::string label = label_of(path);
  const TensorFile file = decode_tensor_file(bytes, label);
  const Metadata m(file.metadata, label);
  if (m.text("format") != kCheckpointFormat)
    user_error(label, ": format is '", m.text("format"), "', not '", kCheckpointFormat, "'");
  const int64_t version = m.count("format_version");
  if (version < kOldestCheckpointVersion || version > kCheckpointVersion)
    user_error(label, ": format version ", m.text("format_version"), " is not one this cellforge reads (", kOldestCheckpointVersion,
               " to ", kCheckpointVersion, ")", version > kCheckpointVersion ? "; it was written by a newer cellforge" : "");
  Checkpoint c;
  c.machine = m.text("machine");
  try {
    c.model.cell = ir::parse(m.text("model.cell"));
  } catch (const UserError& e) {
    user_error(label, ": metadata 'model.cell' is not a valid cell: ", e.what());
  }
  c.model.vocabulary = m.count("model.vocabulary");
  c.model.hidden = m.count("model.hidden");
  c.model.layers = m.count("model.layers");
  c.model.extra = assignments<int64_t>(m.text("model.extra"), "model.extra", label, "SIZE", [](const char* number, int64_t& v) {
    char* stop = nullptr;
    v = std::strtoll(number, &stop, 10);
    return !*stop && v >= 1;
  });
  const std::string encoding = m.text("model.encoding"), loss = m.text("model.loss");
  if (encoding != "one_hot" && encoding != "embedding") user_error(label, ": metadata 'model.encoding' is '", encoding, "'");
  if (loss != "every_step" && loss != "last_step") user_error(label, ": metadata 'model.loss' is '", loss, "'");
  c.model.encoding = encoding == "one_hot" ? InputEncoding::one_hot : InputEncoding::embedding;
  c.model.embedding = m.count("model.embedding");
  c.model.loss = loss == "every_step" ? LossMode::every_step : LossMode::last_step;
  c.model.dropout = version >= 2 ? m.real("model.dropout") : 0.0;  // version 1 predates dropout
  if (version >= 3) {  // version 2 predates variational dropout, zoneout and weight drop
    c.model.dropout_per_sequence = m.boolean("model.dropout_per_sequence");
    c.model.zoneout = rates_from_text(m.text("model.zoneout"), "model.zoneout", label);
    c.model.weight_drop = rates_from_text(m.text("model.weight_drop"), "model.weight_drop", label);
  }
  try {
    c.model.check();
  } catch (const UserError& e) {
    user_error(label, ": the model it describes is invalid: ", e.what());
  }
  TrainConfig& k = c.config;
  k.batch = m.count("config.batch");
  k.unroll = m.count("config.unroll");
  k.val_fraction = m.real("config.val_fraction");
  k.val_batches = m.count("config.val_batches");
  k.seed = m.unsigned64("config.seed");
  try {
    k.optimizer.kind = optimizer_from_name(m.text("config.optimizer"));
  } catch (const UserError& e) {
    user_error(label, ": ", e.what());
  }
  k.optimizer.learning_rate = m.real("config.lr");
  k.optimizer.momentum = m.real("config.momentum");
  k.optimizer.nesterov = m.boolean("config.nesterov");
  k.optimizer.beta1 = m.real("config.beta1");
  k.optimizer.beta2 = m.real("config.beta2");
  k.optimizer.alpha = m.real("config.alpha");
  k.optimizer.epsilon = m.real("config.epsilon");
  k.optimizer.weight_decay = m.real("config.weight_decay");
  k.schedule.decay = m.real("config.lr_decay");
  k.schedule.every = m.count("config.lr_decay_every");
  k.schedule.after = m.count("config.lr_decay_after");
  k.clip.max_value = m.real("config.clip_value");
  k.clip.max_norm = m.real("config.clip_norm");
  k.init.scale = m.real("config.init_scale");
  k.init.forget_bias = m.real("config.forget_bias", true);
  try {
    k.check();
  } catch (const UserError& e) {
    user_error(label, ": its training settings are invalid: ", e.what());
  }
  TrainingProgress& p = c.progress;
  p.iteration = m.count("progress.iteration");
  p.epoch = m.count("progress.epoch");
  p.batch_index = m.count("progress.batch_index");
  p.optimizer_steps = m.count("progress.optimizer_steps");
  p.clipped_steps = m.count("progress.clipped_steps");
  p.refused_steps = m.count("progress.refused_steps");
  p.seconds = m.real("progress.seconds");
  if (p.optimizer_steps + p.refused_steps != p.iteration)
    user_error(label, ": progress is inconsistent: ", p.optimizer_steps, " applied + ", p.refused_steps,
               " refused updates != ", p.iteration, " iterations");
  c.corpus.name = m.text("corpus.name");
  c.corpus.bytes = m.count("corpus.bytes");
  const uint64_t crc = m.unsigned64("corpus.crc32c");
  if (crc > 0xFFFFFFFFu) user_error(label, ": metadata 'corpus.crc32c' is larger than 32 bits");
  c.corpus.crc32c = static_cast<uint32_t>(crc);

  // The tensors: exactly the expected set, each with the expected dtype and shape.
  std::set<std::string> seen;
  std::string problems;
  auto take = [&](const std::string& name, DType dtype, const std::vector<int64_t>& shape) -> const StoredTensor* {
    seen.insert(name);
    const StoredTensor* t = file.find(name);
    if (!t) {
      problems += "\n  missing tensor '" + name + "'";
      return nullptr;
    }
    if (t->dtype != dtype || t->shape != shape) {
      problems += "\n  tensor '" + name + "' is " + shape_text(t->shape) + " " + dtype_name(t->dtype) + "; the model needs " +
                  shape_text(shape) + " " + dtype_name(dtype);
      return nullptr;
    }
    return t;
  };
  auto floats = [&](const std::string& stored_name, const std::string& name, const std::vector<int64_t>& shape,
                    std::vector<FloatTensor>& into) {
    if (const StoredTensor* t = take(stored_name, DType::F32, shape)) {
      FloatTensor f{name, shape, std::vector<float>(t->bytes.size() / 4)};
      if (!f.values.empty()) std::memcpy(f.values.data(), t->bytes.data(), t->bytes.size());  // data() of an empty vector may be null
      for (size_t i = 0; i < f.values.size(); ++i)
        if (!std::isfinite(f.values[i])) {
          problems += "\n  tensor '" + stored_name + "' has the non-finite value " + std::to_string(f.values[i]) +
                      " at element " + std::to_string(i);
          break;
        }
      into.push_back(std::move(f));
    }
  };
  // The layer count comes from the file too: bound it by what the file holds before anything
  // loops or allocates over the layers (a few bytes claiming 10^12 layers must not hang the load).
  // Every layer stores each parameter of the cell as a tensor, and adds at least one float per
  // sequence to each state tensor.
  const size_t per_layer = c.model.cell.leaves(ir::Op::param).size();
  int64_t most_layers = per_layer ? static_cast<int64_t>(file.tensors.size() / per_layer) : 0;
  if (!per_layer)
    for (ir::NodeId s : c.model.cell.leaves(ir::Op::state)) {
      const StoredTensor* t = file.find("state." + c.model.cell.node(s).name);
      if (t && t->shape.size() == 1) most_layers = std::max(most_layers, t->shape[0] / k.batch);
    }
  if (c.model.layers > most_layers)
    user_error(label, ": metadata 'model.layers' is ", c.model.layers, " but its ", file.tensors.size(),
               " tensors hold at most ", most_layers, " layers of cell '", c.model.cell.name(), "'; the file is corrupt");
  std::vector<ParameterShape> shapes;
  try {
    shapes = parameter_shapes(c.model);
  } catch (const UserError& e) {
    user_error(label, ": the model it describes is invalid: ", e.what());
  }
  for (const ParameterShape& s : shapes) floats(s.name, s.name, s.shape, c.parameters);
  const OptimizerKind kind = k.optimizer.kind;
  const bool has_first = kind != OptimizerKind::sgd || k.optimizer.momentum > 0;
  const char* first = kind == OptimizerKind::sgd ? "momentum" : kind == OptimizerKind::adam ? "m" : "square_avg";
  for (const ParameterShape& s : shapes) {
    if (has_first) floats("optimizer." + s.name + "." + first, s.name + "." + first, s.shape, c.optimizer);
    if (kind == OptimizerKind::adam) floats("optimizer." + s.name + ".v", s.name + ".v", s.shape, c.optimizer);
  }
  for (const auto& [name, size] : state_sizes(c.model, k.batch)) floats("state." + name, name, {size}, c.states);
  if (const StoredTensor* t = take("vocabulary", DType::U8, {c.model.vocabulary})) {
    try {
      c.vocabulary = Vocabulary::from_symbols(t->bytes);
    } catch (const UserError& e) {
      problems += std::string("\n  tensor 'vocabulary': ") + e.what();
    }
  }
  if (const StoredTensor* t = take("rng.state", DType::U64, {4})) std::memcpy(c.rng.data(), t->bytes.data(), 32);
  for (const char* name : {"history.train", "history.val"}) {
    const StoredTensor* stored = file.find(name);
    const int64_t rows = stored && stored->shape.size() == 2 ? stored->shape[0] : 0;
    if (const StoredTensor* t = take(name, DType::F64, {rows, 2})) {
      std::vector<double> flat(static_cast<size_t>(rows * 2));
      if (rows > 0) std::memcpy(flat.data(), t->bytes.data(), t->bytes.size());  // an empty history has no buffer: memcpy(nullptr) is UB
      auto& into = std::string(name) == "history.train" ? c.train_losses : c.val_losses;
      for (int64_t r = 0; r < rows; ++r) {
        // The iteration is a whole number stored as a double; casting anything else (NaN, a
        // fraction, a value past 2^53) to an integer would be undefined behaviour (found by fuzzing).
        const double iteration = flat[2 * r];
        if (!(iteration >= 0 && iteration <= 9007199254740992.0 && iteration == std::floor(iteration))) {
          problems += "\n  tensor '" + std::string(name) + "' row " + std::to_string(r) + " has the iteration " +
                      number_text(iteration) + ", not a whole number >= 0";
          break;
        }
        into.push_back({static_cast<int64_t>(iteration), flat[2 * r + 1]});
      }
    }
  }
  for (const StoredTensor& t : file.tensors)
    if (!seen.count(t.name)) problems += "\n  unexpected tensor '" + t.name + "' (" + shape_text(t.shape) + " " + dtype_name(t.dtype) + ")";
  if (!problems.empty()) user_error(label, ": its tensors do not fit the model it describes:", problems);
  if (p.batch_index < 0) user_error(label, ": progress.batch_index is negative");
  return c;
}

void check_model_matches(const Checkpoint& c, const std::string& path, const ModelSpec& expected) {
  std::string problems;
  auto differ = [&](const std::string& what, const std::string& stored, const std::string& wanted) {
    if (stored != wanted) problems += "\n  " + what + ": the checkpoint has " + stored + ", the model has " + wanted;
  };
  const std::string stored_cell = ir::print(c.model.cell), wanted_cell = ir::print(expected.cell);
  if (stored_cell != wanted_cell)
    problems += "\n  cell: the checkpoint has cell '" + c.model.cell.name() + "', the model has cell '" + expected.cell.name() +
                "'" + (c.model.cell.name() == expected.cell.name() ? " (same name, different graph)" : "");
  differ("vocabulary size", std::to_string(c.model.vocabulary), std::to_string(expected.vocabulary));
  differ("hidden size", std::to_string(c.model.hidden), std::to_string(expected.hidden));
  differ("layers", std::to_string(c.model.layers), std::to_string(expected.layers));
  differ("extra sizes", "'" + extra_text(c.model.extra) + "'", "'" + extra_text(expected.extra) + "'");
  differ("input encoding", encoding_name(c.model.encoding), encoding_name(expected.encoding));
  if (expected.encoding == InputEncoding::embedding)
    differ("embedding size", std::to_string(c.model.embedding), std::to_string(expected.embedding));
  differ("loss", loss_mode_name(c.model.loss), loss_mode_name(expected.loss));
  if (c.model.dropout != expected.dropout) {
    const bool look_alike = short_number(c.model.dropout) == short_number(expected.dropout);
    const auto show = [&](double p) { return look_alike ? number_text(p) : short_number(p); };
    differ("dropout", show(c.model.dropout), show(expected.dropout));
  }
  // Rates in short form, unless they would look alike.
  auto differ_rates = [&](const char* what, std::map<std::string, double> stored_rates,
                          std::map<std::string, double> wanted) {
    for (auto* rates : {&stored_rates, &wanted}) std::erase_if(*rates, [](const auto& r) { return r.second == 0; });
    if (stored_rates == wanted) return;  // a rate of 0 is no rate
    auto shown = [](const std::map<std::string, double>& z) { return "'" + rates_text(z, short_number) + "'"; };
    const bool look_alike = shown(stored_rates) == shown(wanted);
    differ(what, look_alike ? "'" + rates_text(stored_rates) + "'" : shown(stored_rates),
           look_alike ? "'" + rates_text(wanted) + "'" : shown(wanted));
  };
  differ("dropout masks", c.model.dropout_per_sequence ? "one per sequence" : "one per step",
         expected.dropout_per_sequence ? "one per sequence" : "one per step");
  differ_rates("zoneout", c.model.zoneout, expected.zoneout);
  differ_rates("weight drop", c.model.weight_drop, expected.weight_drop);
  std::map<std::string, const FloatTensor*> stored;
  for (const FloatTensor& t : c.parameters) stored[t.name] = &t;
  for (const ParameterShape& p : parameter_shapes(expected)) {
    auto it = stored.find(p.name);
    if (it == stored.end()) {
      problems += "\n  missing parameter '" + p.name + "' " + shape_text(p.shape);
      continue;
    }
    if (it->second->shape != p.shape)
      problems += "\n  '" + p.name + "' is " + shape_text(it->second->shape) + " in the checkpoint, the model expects " +
                  shape_text(p.shape);
    stored.erase(it);
  }
  for (const auto& [name, t] : stored) problems += "\n  unexpected parameter '" + name + "' " + shape_text(t->shape);
  if (!problems.empty()) user_error(label_of(path), " does not match the model:", problems);
}

}  // namespace cellforge::train
