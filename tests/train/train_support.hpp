// Helpers shared by the trainer tests: a scratch directory per test, small corpora and models that
// train in milliseconds, and a cell in IR text with a parameter that can make one step's gradient
// non-finite on purpose.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>

#include <cmath>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "codegen/ir/text.hpp"
#include "runtime/train/trainer.hpp"
#include "runtime/zoo/zoo.hpp"

namespace cellforge::train::testing {

/// A fresh directory under the system's temporary directory, removed when the object dies.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name) {
    path_ = std::filesystem::temp_directory_path() / ("cellforge-test-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

/// A few thousand characters of varied text with a small vocabulary.
inline Corpus small_corpus() {
  std::string text;
  const char* lines[] = {"the cat sat on the mat.\n", "a dog ran to the cat!\n", "to be or not to be, that is it.\n",
                         "the rain in spain falls on the plain.\n"};
  for (int i = 0; i < 60; ++i) text += lines[(i * 7 + i / 3) % 4];
  return Corpus::from_text(text, "small corpus");
}

/// h' = tanh(W x + U h + b), y = h' / s: with s set near zero, the forward pass stays finite (y is
/// huge but the loss is finite) while the gradient of s overflows to infinity.
inline ir::Graph scaled_rnn() {
  return ir::parse(R"(cell scaled_rnn {
  input %x : [X]
  state %h : [H]
  param %W : [H, X]
  param %U : [H, H]
  param %b : [H]
  param %s : [H]
  %0 = matmul %W, %x : [H]
  %1 = matmul %U, %h : [H]
  %2 = add %0, %1 : [H]
  %3 = add %2, %b : [H]
  %h_next = tanh %3 : [H]
  %y = div %h_next, %s : [H]
  next h = %h_next
  output y = %y
}
)");
}

inline ModelSpec small_model(const std::string& cell = "lstm", int64_t hidden = 8, int64_t layers = 2) {
  ModelSpec spec;
  spec.cell = cell == "scaled_rnn" ? scaled_rnn() : zoo::find(cell).build();
  spec.hidden = hidden;
  spec.layers = layers;
  return spec;
}

inline TrainConfig small_config() {
  TrainConfig c;
  c.batch = 4;
  c.unroll = 8;
  c.val_fraction = 0.1;
  c.optimizer.learning_rate = 1e-2;
  return c;
}

/// Network options with `n` threads.
inline NetworkOptions threads(int n) {
  NetworkOptions o;
  o.threads = n;
  return o;
}

/// The parameter called `name` of a network.
inline ParameterView parameter(Network& network, const std::string& name) {
  for (ParameterView& p : network.parameters())
    if (p.name == name) return p;
  throw std::runtime_error("no parameter " + name);
}

/// Checks `analytic` (each parameter's gradient, in network.parameters() order) against central
/// differences of `loss()` at about `per_parameter` evenly spaced elements of every parameter.
/// The step is 1e-2 on float parameters, hence the loose tolerance: 2e-3 + 2% of the numeric value.
/// Returns how many elements were checked.
template <class Loss>
int check_central_differences(Network& network, const std::vector<std::vector<float>>& analytic, Loss loss,
                              size_t per_parameter) {
  std::vector<ParameterView> params = network.parameters();
  int checked = 0;
  for (size_t k = 0; k < params.size(); ++k)
    for (size_t i = 0; i < params[k].value.size(); i += 1 + params[k].value.size() / per_parameter) {
      const float saved = params[k].value[i];
      const float h = 1e-2f;
      params[k].value[i] = saved + h;
      const double up = loss();
      params[k].value[i] = saved - h;
      const double down = loss();
      params[k].value[i] = saved;
      const double numeric = (up - down) / (2 * h);
      INFO(params[k].name << "[" << i << "]: analytic " << analytic[k][i] << ", numeric " << numeric);
      CHECK(std::fabs(analytic[k][i] - numeric) <= 2e-3 + 2e-2 * std::fabs(numeric));
      ++checked;
    }
  return checked;
}

}  // namespace cellforge::train::testing
