// Checkpoints (reliability plan S1, S3, S4 and bad inputs #25-#27): a round trip keeps everything
// bit for bit for every zoo cell; every single-bit flip and every truncation of a small checkpoint
// is refused with a message naming the file and what is wrong (the tensor and its byte range for
// data, the header otherwise) and the file is left untouched; a failed or killed save never
// leaves a partial checkpoint; a checkpoint of another model, corpus or machine is refused with
// every difference listed.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <cstring>
#include <regex>

#include "runtime/train/crc32c.hpp"
#include "runtime/train/safetensors.hpp"
#include "train_support.hpp"

using namespace cellforge;
using namespace cellforge::train;

namespace {

// A small checkpoint: a 3-unit RNN on "hello" after a few steps (~4 KB).
Checkpoint small_checkpoint(int steps = 3) {
  const Corpus corpus = Corpus::from_text("hello hello", "hello");
  TrainConfig c;
  c.batch = 1;
  c.unroll = 4;
  c.val_fraction = 0;
  Trainer t(testing::small_model("rnn", 3, 1), corpus, c, testing::threads(1));
  for (int i = 0; i < steps; ++i) t.train_step();
  return t.checkpoint();
}

void check_equal(const Checkpoint& a, const Checkpoint& b) {
  CHECK(ir::print(a.model.cell) == ir::print(b.model.cell));
  CHECK(a.model.vocabulary == b.model.vocabulary);
  CHECK(a.model.hidden == b.model.hidden);
  CHECK(a.model.layers == b.model.layers);
  CHECK(a.model.encoding == b.model.encoding);
  CHECK(a.model.loss == b.model.loss);
  CHECK(a.model.dropout == b.model.dropout);
  CHECK(a.vocabulary.symbols() == b.vocabulary.symbols());
  const OptimizerConfig &x = a.config.optimizer, &y = b.config.optimizer;
  CHECK(x.kind == y.kind);
  CHECK(x.learning_rate == y.learning_rate);  // doubles written with 17 digits read back exactly
  CHECK(x.momentum == y.momentum);
  CHECK(x.nesterov == y.nesterov);
  CHECK(x.beta1 == y.beta1);
  CHECK(x.beta2 == y.beta2);
  CHECK(x.alpha == y.alpha);
  CHECK(x.epsilon == y.epsilon);
  CHECK(x.weight_decay == y.weight_decay);
  CHECK(a.config.batch == b.config.batch);
  CHECK(a.config.unroll == b.config.unroll);
  CHECK(a.config.val_fraction == b.config.val_fraction);
  CHECK(a.config.seed == b.config.seed);
  CHECK(a.config.clip.max_value == b.config.clip.max_value);
  CHECK(a.config.clip.max_norm == b.config.clip.max_norm);
  CHECK(a.config.schedule.decay == b.config.schedule.decay);
  CHECK(a.progress.iteration == b.progress.iteration);
  CHECK(a.progress.epoch == b.progress.epoch);
  CHECK(a.progress.batch_index == b.progress.batch_index);
  CHECK(a.progress.optimizer_steps == b.progress.optimizer_steps);
  CHECK(a.progress.clipped_steps == b.progress.clipped_steps);
  CHECK(a.progress.seconds == b.progress.seconds);
  CHECK(a.corpus.crc32c == b.corpus.crc32c);
  CHECK(a.corpus.bytes == b.corpus.bytes);
  CHECK(a.rng == b.rng);
  CHECK(a.machine == b.machine);
  auto same = [](const std::vector<FloatTensor>& x, const std::vector<FloatTensor>& y) {
    REQUIRE(x.size() == y.size());
    for (size_t k = 0; k < x.size(); ++k) {
      CHECK(x[k].name == y[k].name);
      CHECK(x[k].shape == y[k].shape);
      REQUIRE(x[k].values.size() == y[k].values.size());
      CHECK(std::memcmp(x[k].values.data(), y[k].values.data(), x[k].values.size() * 4) == 0);
    }
  };
  same(a.parameters, b.parameters);
  same(a.optimizer, b.optimizer);
  same(a.states, b.states);
  CHECK(a.train_losses == b.train_losses);
  CHECK(a.val_losses == b.val_losses);
}

// Where each tensor's data lies in the file: [begin, end) in file bytes.
struct Span {
  std::string name;
  size_t begin, end;
};
std::vector<Span> tensor_spans(const std::string& bytes) {
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  const std::string header = bytes.substr(8, n);
  std::vector<Span> spans;
  const std::regex entry("\"([^\"]+)\":\\{\"dtype\":\"[A-Z0-9]+\",\"shape\":\\[[0-9,]*\\],\"data_offsets\":\\[([0-9]+),([0-9]+)\\]\\}");
  for (std::sregex_iterator it(header.begin(), header.end(), entry), end; it != end; ++it)
    spans.push_back({(*it)[1], 8 + n + std::stoul((*it)[2]), 8 + n + std::stoul((*it)[3])});
  return spans;
}

std::string load_error(const std::string& bytes, const std::string& path) {
  try {
    decode_checkpoint(bytes, path);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("checkpoint: a round trip keeps everything, for every zoo cell, fresh and trained", "[train][checkpoint]") {
  testing::ScratchDir dir("roundtrip");
  const Corpus corpus = testing::small_corpus();
  for (const zoo::ZooCell& cell : zoo::cells()) {
    for (int steps : {0, 10}) {
      INFO(cell.name << " after " << steps << " steps");
      ModelSpec spec = testing::small_model(cell.name, 4, 2);
      for (const std::string& size : spec.cell.dim_names())
        if (size != "X" && size != "H") spec.extra[size] = 3;
      if (steps) spec.dropout = 1.0 / 3;  // not a short decimal either
      TrainConfig c = testing::small_config();
      c.optimizer.kind = steps ? OptimizerKind::adam : OptimizerKind::sgd;
      c.optimizer.momentum = 0.5;
      c.optimizer.learning_rate = 1.0 / 300;  // not a short decimal: must survive the text round trip exactly
      c.schedule = {0.97, 7, 3};
      Trainer t(spec, corpus, c, testing::threads(1));
      for (int i = 0; i < steps; ++i) t.train_step();
      if (steps) t.validate();
      t.save(dir.file("c.ckpt"));
      const Checkpoint loaded = load_checkpoint(dir.file("c.ckpt"));
      check_equal(t.checkpoint(), loaded);
      CHECK(encode_checkpoint(loaded) == testing::read_bytes(dir.file("c.ckpt")));  // re-encoding is byte-identical
    }
  }
}

TEST_CASE("checkpoint: the file is a safetensors file Python can read", "[train][checkpoint]") {
  const std::string bytes = encode_checkpoint(small_checkpoint());
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  const std::string header = bytes.substr(8, n);
  CHECK(header.rfind("{\"__metadata__\":{\"checksum.crc32c.__header__\":\"0x", 0) == 0);
  CHECK_THAT(header, Catch::Contains("\"layer0.W_hh\":{\"dtype\":\"F32\",\"shape\":[3,3],\"data_offsets\":["));
  CHECK_THAT(header, Catch::Contains("\"model.cell\":\"cell rnn {\\n  input %x : [X]"));
  const std::vector<Span> spans = tensor_spans(bytes);
  REQUIRE(!spans.empty());
  CHECK(spans.front().begin == 8 + n);
  CHECK(spans.back().end == bytes.size());
  for (size_t k = 1; k < spans.size(); ++k) CHECK(spans[k].begin == spans[k - 1].end);
}

TEST_CASE("checkpoint: every single-bit flip is refused, naming the tensor or the header", "[train][checkpoint][corruption]") {
  const std::string good = encode_checkpoint(small_checkpoint());
  INFO("checkpoint of " << good.size() << " bytes");
  REQUIRE(good.size() < 8192);
  REQUIRE(load_error(good, "run.ckpt").empty());
  uint64_t n;
  std::memcpy(&n, good.data(), 8);
  const std::vector<Span> spans = tensor_spans(good);
  const std::string prefix = "checkpoint 'run.ckpt': ";
  const std::regex data_message("checkpoint 'run.ckpt': tensor '([^']+)' checksum mismatch: stored 0x[0-9a-f]{8}, computed "
                                "0x[0-9a-f]{8} over file bytes \\[([0-9]+), ([0-9]+)\\)");
  int64_t refused = 0, by_header_checksum = 0, by_length = 0, by_tensor_checksum = 0;
  for (size_t byte = 0; byte < good.size(); ++byte)
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      const std::string message = load_error(bad, "run.ckpt");
      INFO("bit " << bit << " of byte " << byte << ": " << message);
      REQUIRE(message.rfind(prefix, 0) == 0);
      ++refused;
      if (byte < 8) {
        const bool ok = message.find("header declares") != std::string::npos ||
                        message.find("does not start with cellforge's header checksum") != std::string::npos ||
                        message.find("header checksum mismatch") != std::string::npos;
        CHECK(ok);
        by_length += ok;
      } else if (byte < 8 + n) {
        const bool ok = message.find("header checksum mismatch: stored 0x") != std::string::npos ||
                        message.find("does not start with cellforge's header checksum") != std::string::npos;
        CHECK(ok);
        by_header_checksum += ok;
      } else {
        std::smatch m;
        REQUIRE(std::regex_search(message, m, data_message));
        const size_t begin = std::stoul(m[2]), end = std::stoul(m[3]);
        CHECK(byte >= begin);
        CHECK(byte < end);
        bool named = false;
        for (const Span& s : spans) named = named || (s.name == m[1] && s.begin == begin && s.end == end);
        CHECK(named);
        ++by_tensor_checksum;
      }
    }
  CHECK(refused == static_cast<int64_t>(good.size()) * 8);
  CHECK(by_length == 64);
  CHECK(by_tensor_checksum == static_cast<int64_t>(good.size() - 8 - n) * 8);
  WARN("single-bit flips refused: " << refused << " (" << by_length << " in the length, " << by_header_checksum
                                    << " in the header, " << by_tensor_checksum << " in tensor data)");
}

TEST_CASE("checkpoint: every truncation is refused as truncated", "[train][checkpoint][corruption]") {
  const std::string good = encode_checkpoint(small_checkpoint());
  uint64_t n;
  std::memcpy(&n, good.data(), 8);
  for (size_t size = 0; size < good.size(); ++size) {
    const std::string message = load_error(good.substr(0, size), "run.ckpt");
    INFO("truncated to " << size << " bytes: " << message);
    if (size < 8) CHECK_THAT(message, Catch::StartsWith("checkpoint 'run.ckpt': the file is " + std::to_string(size) +
                                                        " bytes, shorter than the 8-byte header length"));
    else if (size < 8 + n) CHECK_THAT(message, Catch::Matches("checkpoint 'run.ckpt': the header declares [0-9]+ bytes but only [0-9]+ "
                                                              "follow the length field; the file is truncated"));
    else CHECK_THAT(message, Catch::Matches("checkpoint 'run.ckpt': tensor '[^']+' data \\[[0-9]+, [0-9]+\\) \\(file bytes "
                                            "\\[[0-9]+, [0-9]+\\)\\) runs past the end of the file, whose data region is "
                                            "[0-9]+ bytes; the file is truncated"));
  }
  CHECK_THAT(load_error(good + "x", "run.ckpt"),
             Catch::Contains("1 bytes follow the last tensor (file bytes [" + std::to_string(good.size()) + ", "));
}

TEST_CASE("checkpoint: a refused file is never modified", "[train][checkpoint][corruption]") {
  testing::ScratchDir dir("untouched");
  const std::string good = encode_checkpoint(small_checkpoint());
  const std::string path = dir.file("bad.ckpt");
  for (size_t byte = 0; byte < good.size(); byte += 37) {
    std::string bad = good;
    bad[byte] = static_cast<char>(bad[byte] ^ 0x10);
    testing::write_bytes(path, bad);
    const auto mtime = std::filesystem::last_write_time(path);
    CHECK_THROWS_AS(load_checkpoint(path), UserError);
    CHECK_THROWS_AS(Trainer::resume(path, Corpus::from_text("hello hello", "hello")), UserError);
    CHECK(testing::read_bytes(path) == bad);
    CHECK(std::filesystem::last_write_time(path) == mtime);
  }
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);  // nothing else written
}

TEST_CASE("checkpoint: a save that fails or is killed leaves the old checkpoint whole", "[train][checkpoint][atomic]") {
  testing::ScratchDir dir("atomic");
  const std::string path = dir.file("run.ckpt");
  const Checkpoint old_state = small_checkpoint(1), new_state = small_checkpoint(6);
  const std::string old_bytes = encode_checkpoint(old_state), new_bytes = encode_checkpoint(new_state);
  save_checkpoint(path, old_state);
  const std::string label = "checkpoint '" + path + "'";
  for (int64_t after : {int64_t{0}, int64_t{1}, int64_t{100}, static_cast<int64_t>(new_bytes.size()) - 1}) {
    WriteFaults faults;
    faults.fail_after_bytes = after;
    CHECK_THROWS_WITH(write_file_atomically(path, new_bytes, label, &faults),
                      label + ": writing the temporary file failed (Input/output error); '" + path + "' was left as it was");
  }
  WriteFaults fsync_fault;
  fsync_fault.fail_fsync = true;
  CHECK_THROWS_WITH(write_file_atomically(path, new_bytes, label, &fsync_fault), Catch::Contains("fsync of the temporary file failed"));
  WriteFaults rename_fault;
  rename_fault.fail_rename = true;
  CHECK_THROWS_WITH(write_file_atomically(path, new_bytes, label, &rename_fault), Catch::Contains("renaming the temporary file over it failed"));
  CHECK(testing::read_bytes(path) == old_bytes);
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);  // no temporary file left
  CHECK_THROWS_WITH(save_checkpoint(dir.file("no/such/dir/run.ckpt"), new_state),
                    Catch::StartsWith("checkpoint '" + dir.file("no/such/dir/run.ckpt") + "': cannot create a temporary file in"));

  // A writer killed at random moments: the checkpoint on disk is always the old or the new one.
  Rng rng(99);
  int saw_old = 0, saw_new = 0;
  for (int trial = 0; trial < 20; ++trial) {
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (int i = 0;; ++i) {
        try {
          write_file_atomically(path, i % 2 ? old_bytes : new_bytes, label);
        } catch (...) {
          _exit(3);
        }
      }
    }
    usleep(static_cast<useconds_t>(200 + rng.next() % 3000));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    const std::string bytes = testing::read_bytes(path);
    const bool whole = bytes == old_bytes || bytes == new_bytes;
    CHECK(whole);
    saw_old += bytes == old_bytes, saw_new += bytes == new_bytes;
    CHECK_NOTHROW(load_checkpoint(path));
  }
  INFO("old " << saw_old << ", new " << saw_new);
  // Temporary files of killed writers may remain (a crash cannot clean up); they never replace the checkpoint.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    if (entry.path().filename() != "run.ckpt") CHECK(entry.path().filename().string().rfind(".run.ckpt.tmp-", 0) == 0);
}

TEST_CASE("checkpoint: another model, corpus or machine is refused, listing every difference", "[train][checkpoint][mismatch]") {
  testing::ScratchDir dir("mismatch");
  const Corpus corpus = testing::small_corpus();
  Trainer t(testing::small_model("lstm", 4, 2), corpus, testing::small_config(), testing::threads(1));
  t.train_step();
  const std::string path = dir.file("lstm.ckpt");
  t.save(path);
  const std::string label = "checkpoint '" + path + "'";

  ModelSpec gru = testing::small_model("gru", 4, 2);
  gru.vocabulary = corpus.vocabulary.size();
  ResumeOptions wrong_cell;
  wrong_cell.expected = &gru;
  CHECK_THROWS_WITH(Trainer::resume(path, corpus, wrong_cell),
                    Catch::StartsWith(label + " does not match the model:\n  cell: the checkpoint has cell 'lstm', the model has cell 'gru'") &&
                        Catch::Contains("'layer0.W_hh' is [16, 4] in the checkpoint, the model expects [12, 4]"));

  ModelSpec bigger = testing::small_model("lstm", 5, 3);
  bigger.vocabulary = corpus.vocabulary.size();
  ResumeOptions wrong_sizes;
  wrong_sizes.expected = &bigger;
  CHECK_THROWS_WITH(Trainer::resume(path, corpus, wrong_sizes),
                    Catch::Contains("hidden size: the checkpoint has 4, the model has 5") &&
                        Catch::Contains("layers: the checkpoint has 2, the model has 3") &&
                        Catch::Contains("missing parameter 'layer2.W_ih' [20, 5]") &&
                        Catch::Contains("'layer1.W_hh' is [16, 4] in the checkpoint, the model expects [20, 5]"));

  ModelSpec dropped = testing::small_model("lstm", 4, 2);
  dropped.vocabulary = corpus.vocabulary.size();
  dropped.dropout = 0.5;
  ResumeOptions wrong_dropout;
  wrong_dropout.expected = &dropped;
  CHECK_THROWS_WITH(Trainer::resume(path, corpus, wrong_dropout),
                    label + " does not match the model:\n  dropout: the checkpoint has 0, the model has 0.5");

  ModelSpec zoned = testing::small_model("lstm", 4, 2);
  zoned.vocabulary = corpus.vocabulary.size();
  zoned.zoneout = {{"c", 0.5}, {"h", 0.05}};
  ResumeOptions wrong_zoneout;
  wrong_zoneout.expected = &zoned;
  CHECK_THROWS_WITH(Trainer::resume(path, corpus, wrong_zoneout),
                    label + " does not match the model:\n  zoneout: the checkpoint has '', the model has 'c=0.5 h=0.05'");

  ModelSpec same = testing::small_model("lstm", 4, 2);
  same.vocabulary = corpus.vocabulary.size();
  same.zoneout = {{"c", 0.0}};  // a rate of 0 is no rate: the same model
  ResumeOptions right;
  right.expected = &same;
  CHECK_NOTHROW(Trainer::resume(path, corpus, right));

  const Corpus other = Corpus::from_text(corpus.text + "x", "other text");
  CHECK_THROWS_WITH(Trainer::resume(path, other),
                    Catch::StartsWith("checkpoint '" + path + "' was trained on 'small corpus' (") &&
                        Catch::Contains("but the corpus given is 'other text'") && Catch::EndsWith("resume on the same text, or start a new run"));

  Checkpoint elsewhere = t.checkpoint();
  elsewhere.machine = "pentium4 i686-pc-linux-gnu LLVM 3.4";
  save_checkpoint(dir.file("elsewhere.ckpt"), elsewhere);
  CHECK_THROWS_WITH(Trainer::resume(dir.file("elsewhere.ckpt"), corpus),
                    Catch::Contains("was written on pentium4 i686-pc-linux-gnu LLVM 3.4, this is ") &&
                        Catch::EndsWith("exact resume needs the same CPU and LLVM. Pass --allow-inexact-resume to continue anyway"));
  ResumeOptions inexact;
  inexact.allow_inexact = true;
  CHECK_NOTHROW(Trainer::resume(dir.file("elsewhere.ckpt"), corpus, inexact));
}
