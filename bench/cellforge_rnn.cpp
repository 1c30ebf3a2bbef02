// cellforge's side of the benchmark: compiles a network of a zoo cell and times the RNN part of a
// training step (forward keeping what BPTT needs, then backward for every weight, the input and
// the initial states), printing one JSON line like the peers' harnesses (bench/peers/README.md).
//
//   cellforge_rnn --cell lstm --T 50 --B 32 --X 256 --H 256 --L 2 --threads 2 [--reps 20]
//                 [--warmup 3] [--telemetry | --telemetry-ab] [--compile-times] [--use-cache]
//                 [--no-simplify] [--no-hoist] [--no-fuse] [--no-remat] [--no-sink-slices] [--vector-width 8] [--P 64]
//                 [--dropout P] [--variational-dropout] [--zoneout STATE=Z,...] [--weight-drop PARAM=P,...]
//                 [--regularizers-ab] [--one-hot-ab]
//
// Times are per training step, median over the repetitions after the warm-up.
//
//   --telemetry      compile the network with gradient telemetry on (state-gradient norms and gate
//                    saturation computed by the generated code).
//   --telemetry-ab   compile it twice, telemetry off and on, and time both in one process, in
//                    alternating blocks (one untimed call to re-warm the caches, then --block timed
//                    calls), --reps timed calls each. Measured in one process, side by side, the
//                    cost of telemetry is not drowned by the noise between processes. The main
//                    fields are the telemetry-off network's; "telemetry_on" has the other's, and
//                    "telemetry_cost" = median(on) / median(off) - 1.
//   --compile-times  before anything else, compile the network three times and report wall times
//                    (planning + IR + optimization + codegen + linking): "cold" with an empty cache
//                    directory (the GEMM kernel libraries are compiled too: the first network on a
//                    machine), "network" without the disk cache but with the libraries already in
//                    the process (a new network on a machine that has compiled one before), and
//                    "cached" loading the network's object from the disk cache.
//   --use-cache      let the timed network come from (and go to) the disk cache; by default it is
//                    compiled (only the GEMM libraries come from the cache, as always).
//   --dropout, --variational-dropout, --zoneout, --weight-drop
//                    train the network with these regularizers (NetworkSpec's dropout between layers,
//                    dropout_per_sequence, zoneout, weight_drop): every call draws its masks.
//   --regularizers-ab  as --telemetry-ab, the network without the regularizers ("off", the main
//                    fields) against the one with them ("regularized"); "regularizer_cost" =
//                    median(with) / median(without) - 1.
//   --one-hot-ab     as --telemetry-ab, a character model's cells given their one-hot input as X
//                    floats ("off", the main fields; no input gradient, as the trainer compiled them)
//                    against the same network given the indices (NetworkSpec::one_hot_input: layer
//                    0's input products become gathers and scatter-adds); "one_hot_speedup" =
//                    median(floats) / median(indices). Use X = the vocabulary (char-rnn: 65).
// "compile_ms" is the timed network's own compile time (CompileStats::total_ms).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
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

// Wall times of three compiles of the same network (see the header comment), in milliseconds.
struct CompileTimes {
  double cold_ms = 0, cold_library_ms = 0, network_ms = 0, cached_ms = 0;
  jit::CompileStats network;  // the stages of the "network" compile
};

CompileTimes measure_compile_times(const ir::Graph& cell, const ir::NetworkSizes& sizes, NetworkOptions options) {
  namespace fs = std::filesystem;
  std::string pattern = (fs::temp_directory_path() / "cellforge_rnn.XXXXXX").string();
  if (!mkdtemp(pattern.data())) {
    std::perror("cellforge_rnn: mkdtemp");
    std::exit(1);
  }
  options.cache_dir = pattern;
  CompileTimes times;
  options.use_disk_cache = true;
  auto start = Clock::now();
  {
    CompiledNetwork net = CompiledNetwork::compile(cell, sizes, options);
    times.cold_ms = ms_since(start);
    times.cold_library_ms = net.compile_stats().library_ms;
  }
  options.use_disk_cache = false;
  start = Clock::now();
  {
    CompiledNetwork net = CompiledNetwork::compile(cell, sizes, options);
    times.network_ms = ms_since(start);
    times.network = net.compile_stats();
  }
  options.use_disk_cache = true;
  start = Clock::now();
  {
    CompiledNetwork net = CompiledNetwork::compile(cell, sizes, options);
    times.cached_ms = ms_since(start);
    if (!net.compile_stats().from_disk_cache) std::fprintf(stderr, "cellforge_rnn: expected a disk-cache hit\n");
  }
  std::error_code ignored;
  fs::remove_all(pattern, ignored);
  return times;
}

// The buffers of one training step; both networks of an A/B run share them (same cell, same
// parameter layout). With `one_hot`, x is the one-hot form of random indices.
struct StepBuffers {
  std::vector<float> params, dparams, x, dx, y, dy;
  std::vector<int32_t> indices;
  std::vector<std::vector<float>> s0, sT, dsT, ds0;

  StepBuffers(const CompiledNetwork& net, bool one_hot) {
    const ir::NetworkSizes& s = net.sizes();
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-0.08f, 0.08f), v(-1.0f, 1.0f);
    params.resize(static_cast<size_t>(net.parameter_floats()));
    dparams.resize(params.size());
    for (float& p : params) p = u(rng);
    x.resize(static_cast<size_t>(s.unroll * s.batch * net.input_width()));
    dx.resize(x.size());
    y.resize(static_cast<size_t>(s.unroll * s.batch * net.output_width()));
    dy.resize(y.size());
    for (float& e : x) e = v(rng);
    for (float& e : dy) e = v(rng);
    if (one_hot) {
      const int64_t X = net.input_width();
      indices.resize(static_cast<size_t>(s.unroll * s.batch));
      std::fill(x.begin(), x.end(), 0.0f);
      for (size_t r = 0; r < indices.size(); ++r) {
        indices[r] = static_cast<int32_t>(rng() % static_cast<uint32_t>(X));
        x[r * static_cast<size_t>(X) + static_cast<size_t>(indices[r])] = 1.0f;
      }
    }
    const size_t S = net.state_names().size();
    s0.resize(S), sT.resize(S), dsT.resize(S), ds0.resize(S);
    for (size_t k = 0; k < S; ++k) {
      s0[k].assign(static_cast<size_t>(net.state_floats(k)), 0.0f);
      sT[k] = dsT[k] = ds0[k] = s0[k];
      for (float& e : dsT[k]) e = v(rng);
    }
  }

  // One training step; returns {forward ms, backward ms}.
  std::pair<double, double> step(CompiledNetwork& net) {
    std::vector<std::span<const float>> s0c(s0.begin(), s0.end()), dsTc(dsT.begin(), dsT.end());
    std::vector<std::span<float>> sTs(sT.begin(), sT.end()), ds0s(ds0.begin(), ds0.end());
    const NetworkInput in = net.spec().one_hot_input ? NetworkInput::one_hot(indices) : NetworkInput(x);
    const std::span<float> d_in = net.spec().input_gradient ? std::span<float>(dx) : std::span<float>();
    const auto t0 = Clock::now();
    net.forward(params, in, s0c, y, sTs);
    const auto t1 = Clock::now();
    net.backward(params, in, dy, dsTc, dparams, d_in, ds0s);
    const auto t2 = Clock::now();
    return {std::chrono::duration<double, std::milli>(t1 - t0).count(),
            std::chrono::duration<double, std::milli>(t2 - t1).count()};
  }

  bool gradients_finite() const {
    return std::all_of(dparams.begin(), dparams.end(), [](float e) { return std::isfinite(e); });
  }
};

struct Samples {
  std::vector<double> total, fwd, bwd;
  void add(std::pair<double, double> t) {
    fwd.push_back(t.first);
    bwd.push_back(t.second);
    total.push_back(t.first + t.second);
  }
};

}  // namespace

// "a=0.5,b=0.1" -> {a: 0.5, b: 0.1}.
std::map<std::string, double> named_rates(const std::string& text) {
  std::map<std::string, double> out;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find(',', at);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(at, end - at);
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "cellforge_rnn: expected NAME=RATE, got '%s'\n", item.c_str());
      std::exit(2);
    }
    out[item.substr(0, eq)] = std::atof(item.c_str() + eq + 1);
    at = end + 1;
  }
  return out;
}

int main(int argc, char** argv) {
  std::string cell_name = "lstm";
  ir::NetworkSpec regularized;  // only its regularizer fields: dropout, zoneout, weight drop
  bool regularizers_ab = false, one_hot_ab = false;
  int64_t T = 50, B = 32, X = 256, H = 256, L = 1, P = 0;
  int threads = 1, reps = 20, warmup = 3, block = 3;
  bool telemetry_ab = false, compile_times = false;
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
    if (a == "--cell") cell_name = next();
    else if (a == "--T") T = std::atoll(next());
    else if (a == "--B") B = std::atoll(next());
    else if (a == "--X") X = std::atoll(next());
    else if (a == "--H") H = std::atoll(next());
    else if (a == "--L") L = std::atoll(next());
    else if (a == "--P") P = std::atoll(next());
    else if (a == "--threads") threads = std::atoi(next());
    else if (a == "--reps") reps = std::atoi(next());
    else if (a == "--warmup") warmup = std::atoi(next());
    else if (a == "--block") block = std::atoi(next());
    else if (a == "--telemetry") options.telemetry.enabled = true;
    else if (a == "--telemetry-ab") telemetry_ab = true;
    else if (a == "--compile-times") compile_times = true;
    else if (a == "--use-cache") options.use_disk_cache = true;
    else if (a == "--no-simplify") options.passes.simplify = false;
    else if (a == "--vector-width") options.fused_vector_width = std::atoi(next());
    else if (a == "--no-hoist") options.passes.hoist_time_parallel = false;
    else if (a == "--no-fuse") options.passes.fuse_elementwise = false;
    else if (a == "--no-remat") options.passes.rematerialize = false;
    else if (a == "--no-sink-slices") options.passes.sink_slices = false;
    else if (a == "--dropout") regularized.dropout = std::atof(next());
    else if (a == "--variational-dropout") regularized.dropout_per_sequence = true;
    else if (a == "--zoneout") regularized.zoneout = named_rates(next());
    else if (a == "--weight-drop") regularized.weight_drop = named_rates(next());
    else if (a == "--regularizers-ab") regularizers_ab = true;
    else if (a == "--one-hot-ab") one_hot_ab = true;
    else {
      std::fprintf(stderr, "cellforge_rnn: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (threads < 1 || reps < 1 || warmup < 0 || block < 1) {
    std::fprintf(stderr, "cellforge_rnn: --threads, --reps and --block must be >= 1, --warmup >= 0\n");
    return 2;
  }
  if (telemetry_ab && options.telemetry.enabled) {
    std::fprintf(stderr, "cellforge_rnn: --telemetry and --telemetry-ab exclude each other\n");
    return 2;
  }
  if (telemetry_ab + regularizers_ab + one_hot_ab > 1) {
    std::fprintf(stderr, "cellforge_rnn: --telemetry-ab, --regularizers-ab and --one-hot-ab exclude each other\n");
    return 2;
  }
  options.threads = threads;
  ir::NetworkSizes sizes{X, H, B, T, L, {}};
  if (P > 0) sizes.extra["P"] = P;
  const ir::Graph cell = zoo::find(cell_name).build();
  ir::NetworkSpec plain = ir::NetworkSpec::stack(cell, sizes), with_regularizers = plain;
  with_regularizers.dropout = regularized.dropout;
  with_regularizers.dropout_per_sequence = regularized.dropout_per_sequence;
  with_regularizers.zoneout = regularized.zoneout;
  with_regularizers.weight_drop = regularized.weight_drop;
  if (one_hot_ab) {
    plain.input_gradient = false;  // the "off" network: one-hot floats, as the trainer compiled them before
    with_regularizers = plain;
    with_regularizers.one_hot_input = true;
  }

  // First, while the process has compiled nothing: the cold compile must compile the libraries.
  CompileTimes times;
  if (compile_times) times = measure_compile_times(cell, sizes, options);

  CompiledNetwork net = CompiledNetwork::compile(regularizers_ab || one_hot_ab ? plain : with_regularizers, options);
  StepBuffers buffers(net, one_hot_ab);
  Samples off, on;
  if (!telemetry_ab && !regularizers_ab && !one_hot_ab) {
    for (int r = 0; r < warmup + reps; ++r) {
      auto t = buffers.step(net);
      if (r >= warmup) off.add(t);
    }
  } else {
    NetworkOptions with = options;
    with.telemetry.enabled = telemetry_ab;
    CompiledNetwork net_on = CompiledNetwork::compile(with_regularizers, with);
    if (net_on.parameter_floats() != net.parameter_floats()) {
      std::fprintf(stderr, "cellforge_rnn: the second network has another parameter layout\n");
      return 1;
    }
    for (int r = 0; r < warmup; ++r) buffers.step(net), buffers.step(net_on);
    // Blocks alternate off, on, off, on, ...; each begins with one untimed call.
    while (static_cast<int>(on.total.size()) < reps) {
      for (auto [network, samples] : {std::pair{&net, &off}, std::pair{&net_on, &on}}) {
        buffers.step(*network);
        for (int k = 0; k < block && static_cast<int>(samples->total.size()) < reps; ++k)
          samples->add(buffers.step(*network));
      }
    }
  }
  if (!buffers.gradients_finite()) {
    std::fprintf(stderr, "cellforge_rnn: non-finite gradient\n");
    return 1;
  }

  const jit::CompileStats& c = net.compile_stats();
  const jit::HostTarget& host = jit::host_target();
  std::printf("{\"peer\":\"cellforge\",\"cell\":\"%s\",\"T\":%lld,\"B\":%lld,\"X\":%lld,\"H\":%lld,\"L\":%lld,"
              "\"threads\":%d,\"ms_median\":%.3f,\"ms_min\":%.3f,\"ms_all\":%s,\"fwd_ms_median\":%.3f,"
              "\"bwd_ms_median\":%.3f,\"compile_ms\":%.1f,\"telemetry\":%s,\"vector_floats\":%d,"
              "\"cpu\":\"%s\",\"llvm\":\"%s\"",
              cell_name.c_str(), (long long)T, (long long)B, (long long)X, (long long)H, (long long)L, threads,
              median(off.total), *std::min_element(off.total.begin(), off.total.end()), list(off.total).c_str(),
              median(off.fwd), median(off.bwd), c.total_ms, options.telemetry.enabled ? "true" : "false",
              host.avx512f ? 16 : 8, host.cpu.c_str(), host.llvm_version.c_str());
  if (regularizers_ab)
    std::printf(",\"regularized\":{\"ms_median\":%.3f,\"ms_min\":%.3f,\"fwd_ms_median\":%.3f,\"bwd_ms_median\":%.3f},"
                "\"regularizer_cost\":%.4f,\"ab_block\":%d",
                median(on.total), *std::min_element(on.total.begin(), on.total.end()), median(on.fwd), median(on.bwd),
                median(on.total) / median(off.total) - 1, block);
  if (one_hot_ab)
    std::printf(",\"one_hot\":{\"ms_median\":%.3f,\"ms_min\":%.3f,\"fwd_ms_median\":%.3f,\"bwd_ms_median\":%.3f},"
                "\"one_hot_speedup\":%.4f,\"ab_block\":%d",
                median(on.total), *std::min_element(on.total.begin(), on.total.end()), median(on.fwd), median(on.bwd),
                median(off.total) / median(on.total), block);
  if (telemetry_ab)
    std::printf(",\"telemetry_on\":{\"ms_median\":%.3f,\"ms_min\":%.3f,\"ms_all\":%s,\"fwd_ms_median\":%.3f,"
                "\"bwd_ms_median\":%.3f},\"telemetry_cost\":%.4f,\"ab_block\":%d",
                median(on.total), *std::min_element(on.total.begin(), on.total.end()), list(on.total).c_str(),
                median(on.fwd), median(on.bwd), median(on.total) / median(off.total) - 1, block);
  if (compile_times)
    std::printf(",\"compile\":{\"cold_ms\":%.1f,\"cold_library_ms\":%.1f,\"network_ms\":%.1f,\"cached_ms\":%.1f,"
                "\"network_stages_ms\":{\"build\":%.1f,\"optimize\":%.1f,\"codegen\":%.1f,\"link\":%.1f},"
                "\"object_bytes\":%zu}",
                times.cold_ms, times.cold_library_ms, times.network_ms, times.cached_ms, times.network.build_ms,
                times.network.optimize_ms, times.network.codegen_ms, times.network.link_ms, times.network.object_bytes);
  std::printf("}\n");
  return 0;
}
