// cellforge's side of the benchmark: compiles a network of a zoo cell and times the RNN part of a
// training step (forward keeping what BPTT needs, then backward for every weight, the input and
// the initial states), printing one JSON line like the peers' harnesses (bench/peers/README.md).
//
//   cellforge_rnn --cell lstm --T 50 --B 32 --X 256 --H 256 --L 2 --threads 2 [--reps 20]
//                 [--warmup 3] [--telemetry] [--no-hoist] [--no-fuse] [--no-sink-slices] [--P 64]
//
// Times are per training step, median over the repetitions after the warm-up; the compile time of
// the network (cold, without the disk cache for the network itself) is reported too.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "codegen/jit/compiled_network.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

std::string list(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.3f", i ? "," : "", v[i]);
    s += buf;
  }
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  std::string cell = "lstm";
  int64_t T = 50, B = 32, X = 256, H = 256, L = 1, P = 0;
  int threads = 1, reps = 20, warmup = 3;
  NetworkOptions options;
  options.use_disk_cache = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "cellforge_rnn: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--cell") cell = next();
    else if (a == "--T") T = std::atoll(next());
    else if (a == "--B") B = std::atoll(next());
    else if (a == "--X") X = std::atoll(next());
    else if (a == "--H") H = std::atoll(next());
    else if (a == "--L") L = std::atoll(next());
    else if (a == "--P") P = std::atoll(next());
    else if (a == "--threads") threads = std::atoi(next());
    else if (a == "--reps") reps = std::atoi(next());
    else if (a == "--warmup") warmup = std::atoi(next());
    else if (a == "--telemetry") options.telemetry.enabled = true;
    else if (a == "--no-hoist") options.passes.hoist_time_parallel = false;
    else if (a == "--no-fuse") options.passes.fuse_elementwise = false;
    else if (a == "--no-sink-slices") options.passes.sink_slices = false;
    else {
      std::fprintf(stderr, "cellforge_rnn: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  options.threads = threads;
  ir::NetworkSizes sizes{X, H, B, T, L, {}};
  if (P > 0) sizes.extra["P"] = P;
  CompiledNetwork net = CompiledNetwork::compile(zoo::find(cell).build(), sizes, options);

  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-0.08f, 0.08f), v(-1.0f, 1.0f);
  std::vector<float> params(static_cast<size_t>(net.parameter_floats())), dparams(params.size());
  for (float& p : params) p = u(rng);
  std::vector<float> x(static_cast<size_t>(T * B * net.input_width())), dx(x.size());
  std::vector<float> y(static_cast<size_t>(T * B * net.output_width())), dy(y.size());
  for (float& e : x) e = v(rng);
  for (float& e : dy) e = v(rng);
  const size_t S = net.state_names().size();
  std::vector<std::vector<float>> s0(S), sT(S), dsT(S), ds0(S);
  for (size_t k = 0; k < S; ++k) {
    s0[k].assign(static_cast<size_t>(net.state_floats(k)), 0.0f);
    sT[k] = dsT[k] = ds0[k] = s0[k];
    for (float& e : dsT[k]) e = v(rng);
  }
  std::vector<std::span<const float>> s0c(s0.begin(), s0.end()), dsTc(dsT.begin(), dsT.end());
  std::vector<std::span<float>> sTs(sT.begin(), sT.end()), ds0s(ds0.begin(), ds0.end());
  std::vector<double> total, fwd, bwd;
  for (int r = 0; r < warmup + reps; ++r) {
    auto t0 = Clock::now();
    net.forward(params, x, s0c, y, sTs);
    auto t1 = Clock::now();
    net.backward(params, x, dy, dsTc, dparams, dx, ds0s);
    auto t2 = Clock::now();
    if (r < warmup) continue;
    fwd.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    bwd.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    total.push_back(fwd.back() + bwd.back());
  }
  for (float e : dparams)
    if (!std::isfinite(e)) {
      std::fprintf(stderr, "cellforge_rnn: non-finite gradient\n");
      return 1;
    }
  const jit::CompileStats& c = net.compile_stats();
  std::printf("{\"peer\":\"cellforge\",\"cell\":\"%s\",\"T\":%lld,\"B\":%lld,\"X\":%lld,\"H\":%lld,\"L\":%lld,"
              "\"threads\":%d,\"ms_median\":%.3f,\"ms_min\":%.3f,\"ms_all\":%s,\"fwd_ms_median\":%.3f,"
              "\"bwd_ms_median\":%.3f,\"compile_ms\":%.1f,\"telemetry\":%s,\"vector_floats\":%d}\n",
              cell.c_str(), (long long)T, (long long)B, (long long)X, (long long)H, (long long)L, threads,
              median(total), *std::min_element(total.begin(), total.end()), list(total).c_str(), median(fwd),
              median(bwd), c.total_ms, options.telemetry.enabled ? "true" : "false",
              jit::host_target().avx512f ? 16 : 8);
  return 0;
}
