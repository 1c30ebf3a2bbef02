// What fuzzing the checkpoint loader found (tests/fuzz, issue 8), each kept as a fixed case: a file
// with valid checksums whose contents the loader trusted too far. Each must now be refused with a
// UserError that names the entry, quickly and without undefined behaviour (this group also runs in
// the ASan + UBSan tree).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "codegen/ir/error.hpp"
#include "runtime/train/checkpoint.hpp"
#include "runtime/train/safetensors.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;
using namespace cellforge::train;

namespace {

// A 1-layer RNN checkpoint, put together by hand (nothing is compiled or trained).
Checkpoint tiny_checkpoint() {
  Checkpoint c;
  c.model.cell = zoo::find("rnn").build();
  c.vocabulary = Vocabulary::from_symbols(" ehlo");
  c.model.vocabulary = c.vocabulary.size();
  c.model.hidden = 3;
  c.config.batch = 2;
  c.config.unroll = 4;
  c.progress = {2, 0, 2, 2, 0, 0, 0.5};
  for (const ParameterShape& p : parameter_shapes(c.model)) {
    size_t n = 1;
    for (int64_t d : p.shape) n *= static_cast<size_t>(d);
    c.parameters.push_back({p.name, p.shape, std::vector<float>(n, 0.25f)});
    c.optimizer.push_back({p.name + ".square_avg", p.shape, std::vector<float>(n, 0.0f)});
  }
  for (const auto& [name, size] : state_sizes(c.model, c.config.batch))
    c.states.push_back({name, {size}, std::vector<float>(static_cast<size_t>(size), 0.0f)});
  c.train_losses = {{1, 1.5}, {2, 1.25}};
  return c;
}

// The checkpoint's bytes with the first iteration of its training history replaced (checksums
// recomputed by the encoder).
std::string with_first_history_iteration(double iteration) {
  TensorFile file = decode_tensor_file(encode_checkpoint(tiny_checkpoint()), "test");
  for (StoredTensor& t : file.tensors)
    if (t.name == "history.train") std::memcpy(t.bytes.data(), &iteration, sizeof iteration);
  return encode_tensor_file(file);
}

}  // namespace

TEST_CASE("errors: fuzz finding, a history iteration that is not a whole number", "[errors][checkpoint][fuzz]") {
  // Found by fuzz_checkpoint: one flipped bit made the stored iteration 9.4e154, and casting it to
  // int64 was undefined behaviour (UBSan: "outside the range of representable values").
  REQUIRE_NOTHROW(decode_checkpoint(with_first_history_iteration(1), "run.ckpt"));
  for (double value : {9.38547e+154, std::numeric_limits<double>::quiet_NaN(), -1.0, 2.5, std::ldexp(1.0, 63)}) {
    CAPTURE(value);
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", value);
    CHECK_THROWS_WITH(decode_checkpoint(with_first_history_iteration(value), "run.ckpt"),
                      Catch::Contains("checkpoint 'run.ckpt': its tensors do not fit the model it describes:") &&
                          Catch::Contains("tensor 'history.train' row 0 has the iteration " + std::string(text) +
                                          ", not a whole number >= 0"));
  }
}

TEST_CASE("errors: fuzz finding, a layer count far beyond the tensors of the file", "[errors][checkpoint][fuzz]") {
  // A 4 KB file claiming 10^12 layers made the loader work out the shapes of every layer before it
  // looked at a single tensor: hours of work and gigabytes of names. The count is now bounded by
  // the tensors the file holds (every layer stores the cell's 4 parameters) before anything runs.
  for (int64_t layers : {int64_t{6}, int64_t{1'000'000'000'000}, std::numeric_limits<int64_t>::max() / 10}) {
    CAPTURE(layers);
    Checkpoint c = tiny_checkpoint();
    c.model.layers = layers;
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(decode_checkpoint(encode_checkpoint(c), "run.ckpt"),
                      "checkpoint 'run.ckpt': metadata 'model.layers' is " + std::to_string(layers) +
                          " but its 17 tensors hold at most 4 layers of cell 'rnn'; the file is corrupt");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  }
  // A count the tensors could hold goes on to the tensor checks, which name what is missing.
  Checkpoint c = tiny_checkpoint();
  c.model.layers = 2;
  CHECK_THROWS_WITH(decode_checkpoint(encode_checkpoint(c), "run.ckpt"), Catch::Contains("missing tensor 'layer1.W_ih'"));
}
