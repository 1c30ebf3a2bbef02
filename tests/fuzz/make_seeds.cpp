// Writes the seed corpus of the fuzz targets into a directory: small valid checkpoints, written by
// the same encoder as `cellforge train` (a 1-layer RNN with RMSprop; a 2-layer RNN with an
// embedding, dropout and Adam), a plain safetensors file of the kind PyTorch writes (F16, BF16, F64,
// I64, no checksums), and a few edge files (empty, a truncated checkpoint, a header length far past
// the 100 MB limit, an empty header). Built without LLVM, like the targets: the checkpoint is put
// together by hand, not trained.
//
//   make_seeds DIR
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "codegen/ir/text.hpp"
#include "runtime/train/checkpoint.hpp"

using namespace cellforge;
using namespace cellforge::train;

namespace {

constexpr const char* kRnn = R"(cell rnn {
  input %x : [X]
  state %h : [H]
  param %W_xh : [H, X]
  param %W_hh : [H, H]
  param %b : [H]
  %0 = matmul %W_hh, %h : [H]
  %1 = matmul %W_xh, %x : [H]
  %2 = add %0, %1 : [H]
  %3 = add %2, %b : [H]
  %h_next = tanh %3 : [H]
  next h = %h_next
  output y = %h_next
}
)";

std::vector<float> ramp(int64_t n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 7) - 3);
  return v;
}

int64_t elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Checkpoint checkpoint(const std::string& symbols, int64_t hidden, int64_t layers, InputEncoding encoding, OptimizerKind kind,
                      double dropout) {
  Checkpoint c;
  c.model.cell = ir::parse(kRnn);
  c.vocabulary = Vocabulary::from_symbols(symbols);
  c.model.vocabulary = c.vocabulary.size();
  c.model.hidden = hidden;
  c.model.layers = layers;
  c.model.encoding = encoding;
  c.model.embedding = encoding == InputEncoding::embedding ? 2 : 0;
  c.model.dropout = dropout;
  c.config.batch = 2;
  c.config.unroll = 4;
  c.config.optimizer.kind = kind;
  c.progress = {7, 1, 2, 6, 1, 1, 0.25};
  c.corpus = {"hello", 11, 0x1234abcd};
  c.rng = {1, 2, 3, 4};
  c.machine = "znver3 x86_64-pc-linux-gnu LLVM 19.1.7";
  const char* first = kind == OptimizerKind::sgd ? "momentum" : kind == OptimizerKind::adam ? "m" : "square_avg";
  for (const ParameterShape& p : parameter_shapes(c.model)) {
    c.parameters.push_back({p.name, p.shape, ramp(elements(p.shape), 0.125f)});
    if (kind != OptimizerKind::sgd) c.optimizer.push_back({p.name + "." + first, p.shape, ramp(elements(p.shape), 0.5f)});
    if (kind == OptimizerKind::adam) c.optimizer.push_back({p.name + ".v", p.shape, ramp(elements(p.shape), 0.25f)});
  }
  for (const auto& [name, size] : state_sizes(c.model, c.config.batch)) c.states.push_back({name, {size}, ramp(size, 0.0625f)});
  c.train_losses = {{1, 1.5}, {7, 1.25}};
  c.val_losses = {{7, 1.375}};
  return c;
}

// A safetensors file as PyTorch's writer makes it: no checksums, the header padded with spaces.
std::string plain_safetensors() {
  std::string header =
      R"({"__metadata__":{"format":"pt"},"w16":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
      R"("wbf":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]},"w64":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},)"
      R"("ids":{"dtype":"I64","shape":[2],"data_offsets":[16,32]},"mask":{"dtype":"BOOL","shape":[0],"data_offsets":[32,32]}})";
  header.resize((header.size() + 7) / 8 * 8, ' ');
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  out += header;
  const unsigned char data[32] = {0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0x40, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,
                                  5,    0,    0,    0,    0,    0,    0,    0,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  out.append(reinterpret_cast<const char*>(data), sizeof data);
  return out;
}

std::string length_field(uint64_t n) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out;
}

void write(const std::filesystem::path& dir, const std::string& name, const std::string& bytes) {
  std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  const std::string rnn = encode_checkpoint(checkpoint(" ehlo", 3, 1, InputEncoding::one_hot, OptimizerKind::rmsprop, 0));
  const std::string stacked = encode_checkpoint(checkpoint("\nab", 2, 2, InputEncoding::embedding, OptimizerKind::adam, 0.25));
  decode_checkpoint(rnn, "seed rnn.ckpt");  // the seeds must load, or the fuzzer starts from nothing
  decode_checkpoint(stacked, "seed stacked.ckpt");
  write(dir, "rnn.ckpt", rnn);
  write(dir, "stacked.ckpt", stacked);
  write(dir, "plain.safetensors", plain_safetensors());
  write(dir, "truncated.ckpt", rnn.substr(0, rnn.size() / 2));
  write(dir, "empty", "");
  write(dir, "huge_header_length", length_field(uint64_t{5} << 30) + "{}");
  write(dir, "empty_header", length_field(2) + "{}");
  std::printf("make_seeds: %zu- and %zu-byte checkpoints and 5 edge files in %s\n", rnn.size(), stacked.size(), dir.c_str());
  return 0;
}
