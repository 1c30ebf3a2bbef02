// Bad inputs to the trainer, each refused with a message that is checked (reliability plan (c)
// #13, #14, #25, #26): optimizer and clipping settings out of range, models and corpora that
// cannot train, and checkpoint files that are malformed in every way the loader checks - each
// crafted with valid checksums, so the check under test is the one that fires.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "codegen/ir/error.hpp"
#include "runtime/train/checkpoint.hpp"
#include "runtime/train/crc32c.hpp"
#include "runtime/train/safetensors.hpp"
#include "runtime/train/trainer.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;
using namespace cellforge::train;

namespace {

std::string hex(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

// A file whose header is `{"__metadata__":{"checksum.crc32c.__header__":"0x…"` + `rest`, with a
// correct header checksum, followed by `data`.
std::string craft(const std::string& rest, const std::string& data) {
  std::string header = "{\"__metadata__\":{\"checksum.crc32c.__header__\":\"0x00000000\"" + rest;
  header.resize((header.size() + 7) / 8 * 8, ' ');
  header.replace(49, 8, hex(crc32c(header)).substr(2));
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

// The metadata entry holding the checksum of `bytes` as tensor `name`.
std::string sum(const std::string& name, const std::string& bytes) {
  return ",\"checksum.crc32c." + name + "\":\"" + hex(crc32c(bytes)) + "\"";
}

std::string error_of(const std::string& bytes) {
  try {
    decode_tensor_file(bytes, "checkpoint 'x.ckpt'");
  } catch (const UserError& e) {
    return e.what();
  }
  return "accepted";
}

std::string checkpoint_error_of(const std::string& bytes) {
  try {
    decode_checkpoint(bytes, "x.ckpt");
  } catch (const UserError& e) {
    return e.what();
  }
  return "accepted";
}

Checkpoint tiny_checkpoint() {
  ModelSpec spec;
  spec.cell = zoo::find("rnn").build();
  spec.hidden = 2;
  spec.layers = 1;
  TrainConfig c;
  c.batch = 1;
  c.unroll = 2;
  c.val_fraction = 0;
  NetworkOptions one;
  one.threads = 1;
  Trainer t(spec, Corpus::from_text("abcab", "abc"), c, one);
  t.train_step();
  return t.checkpoint();
}

}  // namespace

TEST_CASE("train errors: optimizer and clipping settings out of range (#14)", "[errors][train]") {
  OptimizerConfig o;
  o.learning_rate = std::nan("");
  CHECK_THROWS_WITH(o.check(), "the learning rate (--lr) must be a finite number >= 0, got nan; for example --lr 0.002");
  o.learning_rate = -1;
  CHECK_THROWS_WITH(o.check(), "the learning rate (--lr) must be a finite number >= 0, got -1; for example --lr 0.002");
  o = {};
  o.alpha = 1;
  CHECK_THROWS_WITH(o.check(), "RMSprop's decay alpha (--decay) must be in [0, 1), got 1; for example --decay 0.95");
  o = {};
  o.nesterov = true;
  CHECK_THROWS_WITH(o.check(), "Nesterov momentum needs --optimizer sgd with --momentum > 0");
  o = {};
  o.epsilon = 0;
  CHECK_THROWS_WITH(o.check(), "epsilon (--eps) must be a positive finite number, got 0; for example --eps 1e-8");
  ClipConfig clip{0, -1};
  CHECK_THROWS_WITH(clip.check(), "the gradient norm limit (--clip-norm) must be a finite number > 0 (0 turns clipping by norm off), got -1; "
                                 "for example --clip-norm 5");
  clip = {std::nan(""), 0};
  CHECK_THROWS_WITH(clip.check(), "the gradient clip value (--clip) must be a finite number > 0 (0 turns clipping by value off), got nan; "
                                 "for example --clip 5");
  LearningRateSchedule s;
  s.decay = 1.5;
  CHECK_THROWS_WITH(s.check(), "the learning-rate decay (--lr-decay) must be in (0, 1], got 1.5; for example --lr-decay 0.97");
  CHECK_THROWS_WITH(optimizer_from_name("adagrad"), "unknown optimizer 'adagrad'; known: sgd, adam, rmsprop");
}

TEST_CASE("train errors: models and corpora that cannot train", "[errors][train]") {
  ModelSpec spec;
  spec.cell = zoo::find("lstm").build();
  spec.hidden = 0;
  spec.vocabulary = 5;
  CHECK_THROWS_WITH(spec.check(), "hidden size must be >= 1, got 0; pass --hidden N");
  spec.hidden = 4;
  spec.layers = 0;
  CHECK_THROWS_WITH(spec.check(), "number of layers must be >= 1, got 0; pass --layers N");
  spec.layers = 1;
  spec.encoding = InputEncoding::embedding;
  CHECK_THROWS_WITH(spec.check(), "embedding size must be >= 1, got 0; pass --embedding N, or 0 for one-hot input");
  spec.encoding = InputEncoding::one_hot;
  TrainConfig c;
  CHECK_THROWS_WITH(Trainer(spec, Corpus::from_text("short text", "tiny.txt"), c),
                    "the model has a vocabulary of 5 characters but the corpus 'tiny.txt' has 8");
  spec.vocabulary = 0;  // taken from the corpus
  CHECK_THROWS_WITH(Trainer(spec, Corpus::from_text("short text", "tiny.txt"), c),
                    "the training text has 10 characters, too few for one batch of 50 streams x 50 steps (needs 2501); "
                    "use a longer text, or a smaller --batch or --unroll");
  c.batch = 1;
  c.unroll = 3;
  c.val_fraction = 0;
  Trainer t(spec, Corpus::from_text("short text", "tiny.txt"), c);
  CHECK_THROWS_WITH(t.validate(), Catch::StartsWith("there is no validation text: the last 0% of the corpus is shorter than one batch"));
  c.val_fraction = 1;
  CHECK_THROWS_WITH(Trainer(spec, Corpus::from_text("short text", "tiny.txt"), c), "the validation fraction (--val-fraction) must be in [0, 1), got 1; for example --val-fraction 0.05 (0: no validation)");
  CHECK_THROWS_WITH(Corpus::from_file("/no/such/corpus.txt"),
                    "cannot read the corpus '/no/such/corpus.txt': no such file, or no permission to read it");
  spec.vocabulary = 5;
  Network net(spec, 1, 2);
  States s = net.zero_states();
  const std::vector<int32_t> inputs{0, 1}, bad_targets{0, 9};
  CHECK_THROWS_WITH(net.train_batch(inputs, bad_targets, s), "target token 9 at row 1 is outside the vocabulary [0, 5)");
  CHECK_THROWS_WITH(net.train_batch(std::vector<int32_t>{0, 1, 2}, bad_targets, s),
                    "the batch has 3 input tokens; the network takes 2 steps x 1 sequences = 2");
  States wrong(2, std::vector<float>(3));
  CHECK_THROWS_WITH(net.evaluate_batch(inputs, inputs, wrong), "state 'h' has 3 floats; expected 4 (layers x batch x width)");
}

TEST_CASE("train errors: malformed tensor files (#25)", "[errors][train][checkpoint]") {
  const std::string four(4, '\1'), eight(8, '\2');
  const std::string good = craft(sum("a", four) + "},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", four);
  CHECK(error_of(good) == "accepted");
  std::string huge = good;
  const uint64_t declared = 5'000'000'000;
  std::memcpy(huge.data(), &declared, 8);
  CHECK(error_of(huge) == "checkpoint 'x.ckpt': the header declares 5000000000 bytes, more than the 100 MB limit; the file is "
                          "corrupt or not a checkpoint");
  CHECK(error_of(std::string(8, '\0') + "{}") ==
        "checkpoint 'x.ckpt': the header (file bytes [8, 8)) does not start with cellforge's header checksum; the file is "
        "corrupt, or not a checkpoint written by cellforge");
  CHECK(error_of(craft(sum("a", four) + "},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", four)) ==
        "checkpoint 'x.ckpt': tensor 'a' declares [2] F32 (8 bytes) but its data range [0, 4) is 4 bytes");
  CHECK(error_of(craft(sum("a", four) + "},\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", four)) ==
        "checkpoint 'x.ckpt': tensor 'a' has the unknown dtype 'F16'; known: F32, F64, I32, I64, U8, U64");
  CHECK(error_of(craft(sum("a", four) + "},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"strides\":[1]}}", four)) ==
        "checkpoint 'x.ckpt': tensor 'a' has the unknown field 'strides'; a tensor has dtype, shape and data_offsets");
  CHECK(error_of(craft(sum("a", four) + "},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", four))
            .find("checkpoint 'x.ckpt': the header is not valid JSON (at byte") == 0);
  CHECK(error_of(craft(sum("a", four) + sum("b", four) + "},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                                         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", eight)) ==
        "checkpoint 'x.ckpt': tensors 'a' [0, 4) and 'b' [2, 6) overlap");
  CHECK(error_of(craft(sum("a", four) + "},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight)) ==
        "checkpoint 'x.ckpt': a hole of 4 bytes before tensor 'a' (data bytes [0, 4)); tensors must tile the data region");
  CHECK(error_of(craft(sum("a", four) + "},\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", four)) ==
        "checkpoint 'x.ckpt': tensor 'a' has the shape entry '4611686018427387904', not a size");
  CHECK(error_of(craft(sum("a", four) + "},\"a\":{\"dtype\":\"F64\",\"shape\":[100000000000,1000000000],\"data_offsets\":[0,4]}}", four)) ==
        "checkpoint 'x.ckpt': tensor 'a' declares [100000000000, 1000000000] F64, whose byte size overflows");
  CHECK(error_of(craft("},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", four)) ==
        "checkpoint 'x.ckpt': tensor 'a' has no checksum (metadata 'checksum.crc32c.a')");
  CHECK(error_of(craft(sum("a", four) + sum("ghost", four) + "},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", four)) ==
        "checkpoint 'x.ckpt': the metadata has a checksum for tensor 'ghost', which the file does not contain");
  CHECK(error_of(craft(sum("a", four) + ",\"n\":3},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", four)) ==
        "checkpoint 'x.ckpt': metadata 'n' is not a string");
  CHECK(error_of(craft(sum("a", four) + "},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", four + "!!")) ==
        "checkpoint 'x.ckpt': 2 bytes follow the last tensor (file bytes [" + std::to_string(good.size()) + ", " +
            std::to_string(good.size() + 2) + ")); the file has trailing data that no tensor describes");
  CHECK(error_of(craft(sum("a\xff", four) + "},\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", four))
            .find("the header is not valid JSON (at byte 77: invalid UTF-8 inside a string of the header)") != std::string::npos);
}

TEST_CASE("train errors: checkpoints whose content does not fit their model (#25, #26)", "[errors][train][checkpoint]") {
  const Checkpoint c = tiny_checkpoint();
  CHECK(checkpoint_error_of(encode_checkpoint(c)) == "accepted");
  auto edited = [&](auto edit) {
    TensorFile f = decode_tensor_file(encode_checkpoint(c), "x");
    edit(f);
    return checkpoint_error_of(encode_tensor_file(f));
  };
  CHECK(edited([](TensorFile& f) { f.metadata["format_version"] = "4"; }) ==
        "checkpoint 'x.ckpt': format version 4 is not one this cellforge reads (1 to 3); it was written by a newer cellforge");
  CHECK(edited([](TensorFile& f) { f.metadata["format_version"] = "0"; }) ==
        "checkpoint 'x.ckpt': format version 0 is not one this cellforge reads (1 to 3)");
  CHECK(edited([](TensorFile& f) { f.metadata.erase("model.dropout"); }) == "checkpoint 'x.ckpt': metadata 'model.dropout' is missing");
  CHECK(edited([](TensorFile& f) { f.metadata["model.dropout"] = "1"; }) ==
        "checkpoint 'x.ckpt': the model it describes is invalid: dropout must be a probability in [0, 1), got 1; pass --dropout P");
  CHECK(edited([](TensorFile& f) { f.metadata["model.dropout"] = "-0.5"; }) ==
        "checkpoint 'x.ckpt': the model it describes is invalid: dropout must be a probability in [0, 1), got -0.5; pass --dropout P");
  CHECK(edited([](TensorFile& f) { f.metadata["model.dropout"] = "nan"; }) ==
        "checkpoint 'x.ckpt': metadata 'model.dropout' is 'nan', not a finite number");
  // Version 1, written before dropout existed, has no "model.dropout": it loads as dropout 0.
  TensorFile version1 = decode_tensor_file(encode_checkpoint(c), "x");
  version1.metadata["format_version"] = "1";
  version1.metadata.erase("model.dropout");
  CHECK(decode_checkpoint(encode_tensor_file(version1), "x.ckpt").model.dropout == 0);
  CHECK(edited([](TensorFile& f) { f.metadata["model.extra"] = "P=0"; }) ==
        "checkpoint 'x.ckpt': metadata 'model.extra' has 'P=0', not NAME=SIZE");
  CHECK(edited([](TensorFile& f) { f.metadata["model.extra"] = "P=4 =2"; }) ==
        "checkpoint 'x.ckpt': metadata 'model.extra' has '=2', not NAME=SIZE");
  // Zoneout: version 3's "model.zoneout", NAME=RATE separated by spaces; version 2 has none.
  CHECK(edited([](TensorFile& f) { f.metadata.erase("model.zoneout"); }) == "checkpoint 'x.ckpt': metadata 'model.zoneout' is missing");
  CHECK(edited([](TensorFile& f) { f.metadata["model.zoneout"] = "h=0.1 c"; }) ==
        "checkpoint 'x.ckpt': metadata 'model.zoneout' has 'c', not NAME=RATE");
  CHECK(edited([](TensorFile& f) { f.metadata["model.zoneout"] = "h=nan"; }) ==
        "checkpoint 'x.ckpt': metadata 'model.zoneout' has 'h=nan', not NAME=RATE");
  CHECK(edited([](TensorFile& f) { f.metadata["model.dropout_per_sequence"] = "yes"; }) ==
        "checkpoint 'x.ckpt': metadata 'model.dropout_per_sequence' is 'yes', not true or false");
  CHECK(edited([](TensorFile& f) { f.metadata["model.dropout_per_sequence"] = "true"; }) ==
        "checkpoint 'x.ckpt': the model it describes is invalid: dropout per sequence (--variational-dropout) needs a "
        "dropout probability; pass --dropout P as well");
  CHECK(edited([](TensorFile& f) { f.metadata.erase("model.weight_drop"); }) ==
        "checkpoint 'x.ckpt': metadata 'model.weight_drop' is missing");
  CHECK(edited([](TensorFile& f) { f.metadata["model.weight_drop"] = "W_hh=x"; }) ==
        "checkpoint 'x.ckpt': metadata 'model.weight_drop' has 'W_hh=x', not NAME=RATE");
  CHECK(edited([](TensorFile& f) { f.metadata["model.zoneout"] = "h=1"; }) ==
        "checkpoint 'x.ckpt': the model it describes is invalid: zoneout of state 'h' must be a probability in [0, 1), got "
        "1; pass --zoneout h=Z");
  CHECK(edited([](TensorFile& f) { f.metadata["model.zoneout"] = "q=0.1"; })
            .find("checkpoint 'x.ckpt': the model it describes is invalid: zoneout names state 'q', but cell '") == 0);
  {
    TensorFile zoned = decode_tensor_file(encode_checkpoint(c), "x");
    zoned.metadata["model.zoneout"] = "h=0.15";
    CHECK(decode_checkpoint(encode_tensor_file(zoned), "x.ckpt").model.zoneout == std::map<std::string, double>{{"h", 0.15}});
    TensorFile version2 = decode_tensor_file(encode_checkpoint(c), "x");
    version2.metadata["format_version"] = "2";
    version2.metadata.erase("model.zoneout");
    CHECK(decode_checkpoint(encode_tensor_file(version2), "x.ckpt").model.zoneout.empty());
  }
  CHECK(edited([](TensorFile& f) { f.metadata["format"] = "pytorch"; }) ==
        "checkpoint 'x.ckpt': format is 'pytorch', not 'cellforge.char_lm'");
  CHECK(edited([](TensorFile& f) { f.metadata.erase("model.hidden"); }) == "checkpoint 'x.ckpt': metadata 'model.hidden' is missing");
  CHECK(edited([](TensorFile& f) { f.metadata["config.lr"] = "fast"; }) == "checkpoint 'x.ckpt': metadata 'config.lr' is 'fast', not a finite number");
  CHECK(edited([](TensorFile& f) { f.metadata["model.cell"] = "cell broken {"; })
            .find("checkpoint 'x.ckpt': metadata 'model.cell' is not a valid cell: ") == 0);
  CHECK(edited([](TensorFile& f) { f.metadata["progress.refused_steps"] = "5"; }) ==
        "checkpoint 'x.ckpt': progress is inconsistent: 1 applied + 5 refused updates != 1 iterations");
  CHECK(edited([](TensorFile& f) {
          f.tensors.erase(f.tensors.begin());
          f.tensors.push_back({"layer7.W", DType::F32, {1}, std::string(4, '\0')});
        }) == "checkpoint 'x.ckpt': its tensors do not fit the model it describes:\n  missing tensor 'layer0.W_ih'\n"
              "  unexpected tensor 'layer7.W' ([1] F32)");
  CHECK(edited([](TensorFile& f) {
          for (StoredTensor& t : f.tensors)
            if (t.name == "layer0.W_hh") t.shape = {4}, t.dtype = DType::F32;
        }) == "checkpoint 'x.ckpt': its tensors do not fit the model it describes:\n  tensor 'layer0.W_hh' is [4] F32; the model "
              "needs [2, 2] F32");
  Checkpoint poisoned = c;
  for (FloatTensor& t : poisoned.parameters)
    if (t.name == "layer0.b_ih") t.values[1] = std::nanf("");
  CHECK(checkpoint_error_of(encode_checkpoint(poisoned)) ==
        "checkpoint 'x.ckpt': its tensors do not fit the model it describes:\n  tensor 'layer0.b_ih' has the non-finite value nan at element 1");
  CHECK_THROWS_WITH(load_checkpoint("/no/such/run.ckpt"), Catch::StartsWith("checkpoint '/no/such/run.ckpt': cannot open it for reading ("));
}
