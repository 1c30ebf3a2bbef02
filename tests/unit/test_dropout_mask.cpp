// Dropout masks (codegen/jit/dropout_mask.hpp): the same mask bit for bit on 1, 2 and 3 threads and
// element by element as dropout_drops() says; the share dropped is p; the two elements drawn from
// one hash, and neighbouring pairs, are independent; streams and seeds give different masks.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "codegen/jit/dropout_mask.hpp"
#include "codegen/jit/thread_pool.hpp"

namespace {

using cellforge::jit::draw_dropout_mask;
using cellforge::jit::dropout_drops;
using cellforge::jit::ThreadPool;

std::vector<float> draw(size_t n, uint64_t seed, uint64_t stream, double p, int threads) {
  ThreadPool pool(threads);
  std::vector<float> mask(n, -1.0f);
  draw_dropout_mask(mask, seed, stream, p, pool);
  return mask;
}

}  // namespace

TEST_CASE("dropout mask: the same on any number of threads, each element as dropout_drops says") {
  const double p = 0.3;
  const float keep = static_cast<float>(1.0 / (1.0 - p));
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{17}, size_t{31}, size_t{1001}, size_t{100003}}) {
    INFO("n = " << n);
    const std::vector<float> one = draw(n, 42, 1, p, 1);
    CHECK(draw(n, 42, 1, p, 2) == one);
    CHECK(draw(n, 42, 1, p, 3) == one);
    size_t wrong = 0;
    for (size_t i = 0; i < n; ++i) wrong += one[i] != (dropout_drops(42, 1, i, p) ? 0.0f : keep);
    CHECK(wrong == 0);
  }
}

TEST_CASE("dropout mask: the share dropped is p, and the draws are independent") {
  constexpr size_t n = 1 << 20;
  for (double p : {0.1, 0.5, 0.8}) {
    INFO("p = " << p);
    const std::vector<float> mask = draw(n, 7, 2, p, 2);
    const float keep = static_cast<float>(1.0 / (1.0 - p));
    size_t dropped = 0, other = 0, both_in_pair = 0, both_across_pairs = 0;
    for (size_t i = 0; i < n; ++i) {
      dropped += mask[i] == 0.0f;
      other += mask[i] != 0.0f && mask[i] != keep;
    }
    for (size_t i = 0; i + 1 < n; i += 2) both_in_pair += mask[i] == 0.0f && mask[i + 1] == 0.0f;
    for (size_t i = 1; i + 1 < n; i += 2) both_across_pairs += mask[i] == 0.0f && mask[i + 1] == 0.0f;
    CHECK(other == 0);
    // Binomial counts: 6 standard deviations either side.
    const auto near = [](double count, double trials, double q) {
      return std::fabs(count - trials * q) <= 6 * std::sqrt(trials * q * (1 - q));
    };
    CHECK(near(static_cast<double>(dropped), n, p));
    CHECK(near(static_cast<double>(both_in_pair), n / 2, p * p));       // the two halves of one hash
    CHECK(near(static_cast<double>(both_across_pairs), n / 2 - 1, p * p));  // the last of a pair, the first of the next
  }
}

TEST_CASE("dropout mask: p = 0 keeps everything; streams and seeds differ") {
  const std::vector<float> none = draw(1000, 5, 0, 0.0, 2);
  CHECK(none == std::vector<float>(1000, 1.0f));
  const std::vector<float> a = draw(4096, 5, 1, 0.5, 2);
  const auto agree = [&](const std::vector<float>& b) {
    size_t same = 0;
    for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
    return static_cast<double>(same) / static_cast<double>(a.size());
  };
  // Two independent masks at p = 0.5 agree on half their elements.
  CHECK(std::fabs(agree(draw(4096, 5, 2, 0.5, 2)) - 0.5) < 0.05);  // another stream (layer)
  CHECK(std::fabs(agree(draw(4096, 6, 1, 0.5, 2)) - 0.5) < 0.05);  // another seed
  CHECK(agree(draw(4096, 5, 1, 0.5, 1)) == 1.0);
}

TEST_CASE("zoneout mask: 1 exactly where dropout_drops says, the same on any number of threads") {
  const double z = 0.15;
  for (size_t n : {size_t{1}, size_t{2}, size_t{33}, size_t{100003}}) {
    INFO("n = " << n);
    std::vector<std::vector<float>> masks;
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      masks.emplace_back(n, -1.0f);
      cellforge::jit::draw_zoneout_mask(masks.back(), 7, 5, z, pool);
    }
    CHECK(masks[1] == masks[0]);
    CHECK(masks[2] == masks[0]);
    size_t wrong = 0, kept = 0;
    for (size_t i = 0; i < n; ++i) {
      wrong += masks[0][i] != (dropout_drops(7, 5, i, z) ? 1.0f : 0.0f);
      kept += masks[0][i] == 1.0f;
    }
    CHECK(wrong == 0);
    if (n == 100003) {  // the share kept is z, within 6 standard deviations
      const double share = static_cast<double>(kept) / static_cast<double>(n);
      CHECK(std::fabs(share - z) < 6 * std::sqrt(z * (1 - z) / static_cast<double>(n)));
    }
  }
}

TEST_CASE("sequence dropout mask: one step's mask, drawn as draw_dropout_mask draws it, repeated at every step") {
  const double p = 0.4;
  const size_t per_step = 3 * 37;  // B = 3 sequences of 37 features
  std::vector<float> first(per_step);
  {
    ThreadPool pool(1);
    draw_dropout_mask(first, 9, 2, p, pool);
  }
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<float> mask(per_step * 5, -1.0f);
    cellforge::jit::draw_sequence_dropout_mask(mask, 5, 9, 2, p, pool);
    for (size_t t = 0; t < 5; ++t) {
      INFO(threads << " threads, step " << t);
      CHECK(std::vector<float>(mask.begin() + static_cast<std::ptrdiff_t>(t * per_step),
                               mask.begin() + static_cast<std::ptrdiff_t>((t + 1) * per_step)) == first);
    }
  }
}
