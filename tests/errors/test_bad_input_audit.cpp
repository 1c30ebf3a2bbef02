// The bad-input audit (reliability.md (c), docs/reliability.md): the rows that the other error
// tests did not pin under the `errors` label, each by its whole text where the text is the same on
// every machine. A compiled buffer whose length is whole steps of another unroll (#2, #8); a
// variable-length batch with an empty sequence (#7); sizes whose values overflow or whose network
// cannot fit in memory, and stacks too deep to compile (#9, #11); a non-finite dy in strict mode
// (#12); a non-finite gradient (#13); cells in IR text that return a state in another shape, never
// read a state, have an unused parameter or no output (#3, #15, #16, #23); differentiating a
// derivative (#19); buffers a call writes that overlap another (#21); options the JIT cannot honour
// (#22); and resuming a checkpoint written on another machine (#27). Each refusal has a control
// that the nearest good input passes.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <vector>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/error.hpp"
#include "codegen/ir/reference_network.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/ir/verify.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "codegen/jit/thread_pool.hpp"
#include "runtime/train/checkpoint.hpp"
#include "runtime/train/optimizer.hpp"
#include "runtime/train/trainer.hpp"
#include "runtime/zoo/zoo.hpp"
#include "errors/call_buffers.hpp"

using namespace cellforge;

namespace {

ir::NetworkSizes small_sizes() {
  ir::NetworkSizes s;
  s.input = 3, s.hidden = 4, s.batch = 2, s.unroll = 5, s.layers = 2;
  return s;
}

NetworkOptions one_thread(bool strict = false) {
  NetworkOptions o;
  o.threads = 1;
  o.strict = strict;
  return o;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "accepted";
}

using Buffers = testing::CallBuffers;

std::string verify_text(const std::string& text) {
  return error_of([&] { ir::verify_cell(ir::parse(text)); });
}

}  // namespace

TEST_CASE("errors: audit: a sequence of another length than the compiled unroll (#2, #8)", "[errors]") {
  CompiledNetwork net = CompiledNetwork::compile(zoo::find("lstm").build(), small_sizes(), one_thread());
  Buffers b(net);
  CHECK_NOTHROW(net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals)));
  // x is [T=5][B=2][X=3]: 24 floats are 4 whole steps, 29 are not.
  std::vector<float> four_steps(4 * 2 * 3, 0.5f), ragged(29, 0.5f);
  CHECK(error_of([&] { net.forward(b.params, four_steps, b.in(b.states), b.y, b.out(b.finals)); }) ==
        "x has 24 floats; expected 30 = [T=5][B=2][X=3]; that is 4 steps, but the network was compiled for unroll "
        "length 5: pad the sequences to 5 steps or compile for 4");
  CHECK(error_of([&] { net.forward(b.params, ragged, b.in(b.states), b.y, b.out(b.finals)); }) ==
        "x has 29 floats; expected 30 = [T=5][B=2][X=3]");
  std::vector<float> six_steps(6 * 2 * 4, 0.0f);
  CHECK(error_of([&] { net.forward(b.params, b.x, b.in(b.states), six_steps, b.out(b.finals)); }) ==
        "y has 48 floats; expected 40 = [T=5][B=2][Y=4]; that is 6 steps, but the network was compiled for unroll "
        "length 5: pad the sequences to 5 steps or compile for 6");
  net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals));
  CHECK(error_of([&] { net.backward(b.params, b.x, six_steps, b.in(b.d_finals), b.dparams, b.dx, b.out(b.d_initials)); }) ==
        "dy has 48 floats; expected 40 = [T=5][B=2][Y=4]; that is 6 steps, but the network was compiled for unroll "
        "length 5: pad the sequences to 5 steps or compile for 6");
  // The initial state: one [B][H] block per layer.
  std::vector<float> one_layer(2 * 4, 0.0f);
  std::vector<std::span<const float>> short_h = {one_layer, b.states[1]};
  CHECK(error_of([&] { net.forward(b.params, b.x, short_h, b.y, b.out(b.finals)); }) ==
        "initial state 'h' has 8 floats; expected 16 (see CompiledNetwork's buffer layouts)");
}

TEST_CASE("errors: audit: variable lengths: a sequence of length 0 or beyond the unroll (#7, #8)", "[errors]") {
  ir::NetworkSpec spec = ir::NetworkSpec::stack(zoo::find("gru").build(), small_sizes());
  spec.variable_lengths = true;
  CompiledNetwork net = CompiledNetwork::compile(spec, one_thread());
  Buffers b(net);
  const std::vector<int64_t> good = {5, 1}, empty = {5, 0}, long_one = {6, 2}, one = {3};
  CHECK_NOTHROW(net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals), {.lengths = good}));
  CHECK(error_of([&] { net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals), {.lengths = empty}); }) ==
        "sequence 1 has length 0; lengths must be in [1, 5]");
  CHECK(error_of([&] { net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals), {.lengths = long_one}); }) ==
        "sequence 0 has length 6; lengths must be in [1, 5]");
  CHECK(error_of([&] { net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals), {.lengths = one}); }) ==
        "lengths: got 1 sequence lengths; the batch has 2 sequences (the network was compiled for variable lengths)");
  // Unsorted lengths need no sorting: {1, 5} runs as well as {5, 1}.
  const std::vector<int64_t> unsorted = {1, 5};
  CHECK_NOTHROW(net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals), {.lengths = unsorted}));
}

TEST_CASE("errors: audit: sizes that overflow, networks larger than memory, stacks too deep (#9, #11)", "[errors]") {
  const ir::Graph lstm = zoo::find("lstm").build();
  auto with = [](auto change) {
    ir::NetworkSizes s = small_sizes();
    change(s);
    return s;
  };
  // 4H with H = 2^62 does not fit in 64 bits.
  CHECK(error_of([&] { CompiledNetwork::compile(lstm, with([](auto& s) { s.hidden = int64_t{1} << 62; }), one_thread()); }) ==
        "size [4H] overflows a 64-bit integer with H = 4611686018427387904; use smaller sizes");
  // W_hh alone is 4H x H = 1.8e19 floats at H = 2^31; T x B = 2^62 x 2 step values overflow int64.
  const std::string too_big = "the network needs at least (.*) of memory \\(its parameters, its input, and every "
                              "layer's outputs and states at all 5 steps of 2 sequences\\), more than this machine's "
                              "(.*); use a smaller hidden size, unroll length, batch or number of layers";
  CHECK_THAT(error_of([&] { CompiledNetwork::compile(lstm, with([](auto& s) { s.hidden = int64_t{1} << 31; }), one_thread()); }),
             Catch::Matches(too_big));
  CHECK_THAT(error_of([&] {
               ir::ReferenceNetwork net(lstm, autodiff::differentiate(lstm), with([](auto& s) { s.hidden = int64_t{1} << 31; }));
             }),
             Catch::Matches(too_big));
  CHECK_THAT(error_of([&] { CompiledNetwork::compile(lstm, with([](auto& s) { s.unroll = int64_t{1} << 62; }), one_thread()); }),
             Catch::StartsWith("the network needs at least ") &&
                 Catch::Contains("at all 4611686018427387904 steps of 2 sequences), more than this machine's "));
  // A stack refused before a copy of the cell is made per layer.
  CHECK(error_of([&] { CompiledNetwork::compile(lstm, with([](auto& s) { s.layers = 100'000'000; }), one_thread()); }) ==
        "number of layers must be <= 256, got 100000000; every layer is compiled into code of its own, so stack fewer "
        "layers");
  CHECK(error_of([&] { ir::check_sizes(lstm, with([](auto& s) { s.layers = 257; })); }) ==
        "number of layers must be <= 256, got 257; every layer is compiled into code of its own, so stack fewer layers");
  CHECK(error_of([&] { ir::check_sizes(lstm, with([](auto& s) { s.layers = 256; })); }) == "accepted");
}

TEST_CASE("errors: audit: strict mode checks dy in backward by step and position (#12)", "[errors]") {
  CompiledNetwork net = CompiledNetwork::compile(zoo::find("rnn").build(), small_sizes(), one_thread(true));
  Buffers b(net);
  net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals));
  CHECK_NOTHROW(net.backward(b.params, b.x, b.dy, b.in(b.d_finals), b.dparams, b.dx, b.out(b.d_initials)));
  b.dy[static_cast<size_t>(4 * 2 * 4 + 0 * 4 + 1)] = -INFINITY;  // dy is [T=5][B=2][Y=4]: step 4, row 0, feature 1
  CHECK(error_of([&] { net.backward(b.params, b.x, b.dy, b.in(b.d_finals), b.dparams, b.dx, b.out(b.d_initials)); }) ==
        "non-finite value (Inf) in dy at step 4, batch row 0, feature 1");
}

TEST_CASE("errors: audit: a non-finite gradient refuses the update, naming the step and the element (#13)", "[errors]") {
  std::vector<float> w{0.5f, -0.25f, 1.0f, 2.0f}, gw{0.1f, -0.2f, 0.3f, -0.4f};
  std::vector<train::ParameterView> views = {{"layer1.W_hh", 2, 2, w, gw}};
  train::Optimizer o(train::OptimizerConfig{}, views);
  CHECK(o.step(views, 1e-3, {}, 1).applied);
  const std::vector<float> before = w;
  gw[2] = std::nanf("");
  const train::StepReport r = o.step(views, 1e-3, {}, 17);
  CHECK_FALSE(r.applied);
  CHECK(r.refused == "gradient norm is NaN at step 17 (first non-finite: 'layer1.W_hh' element [1, 0] = nan); the update was "
                     "not applied");
  CHECK(w == before);
}

TEST_CASE("errors: audit: cells in IR text that break a rule of cells (#3, #15, #16, #23)", "[errors]") {
  const std::string head = "cell c {\n  input %x : [X]\n  state %h : [H]\n  param %W : [H, X]\n  param %U : [H, H]\n";
  const std::string body = "  %0 = matmul %W, %x : [H]\n  %1 = matmul %U, %h : [H]\n  %2 = add %0, %1 : [H]\n"
                           "  %h_next = tanh %2 : [H]\n";
  CHECK(verify_text(head + body + "  next h = %h_next\n  output y = %h_next\n}\n") == "accepted");
  // #3: the state comes back in another shape.
  CHECK(verify_text(head + body + "  %3 = concat %h_next, %h_next : [2H]\n  next h = %3\n  output y = %h_next\n}\n") ==
        "cell 'c': state 'h' is [H] on input but its next value is [2H]; a cell must return each state with the shape "
        "it received");
  // #15: the state is never read.
  CHECK(verify_text("cell c {\n  input %x : [X]\n  state %h : [H]\n  param %W : [H, X]\n  %0 = matmul %W, %x : [H]\n"
                    "  %h_next = tanh %0 : [H]\n  next h = %h_next\n  output y = %h_next\n}\n") ==
        "cell 'c' never reads its state 'h'; it is not recurrent. Read the state, or drop it and use a feed-forward layer");
  CHECK(verify_text(head + body + "  output y = %h_next\n}\n") ==
        "cell 'c' reads state 'h' but never gives its next value; add next(h, ...)");
  // #16: a parameter no result uses.
  CHECK(verify_text(head + "  param %V : [H]\n" + body + "  next h = %h_next\n  output y = %h_next\n}\n") ==
        "param 'V' does not affect any result of cell 'c'; remove it or use it");
  // #23: a cell without an output.
  CHECK(verify_text(head + body + "  next h = %h_next\n}\n") == "cell 'c' has 0 outputs; a cell has exactly one output");
  CHECK(verify_text("") == "empty graph text: expected 'cell NAME {'");
}

TEST_CASE("errors: audit: a derivative graph is not differentiated again (#19)", "[errors]") {
  const ir::Graph rnn = zoo::find("rnn").build();
  const ir::Graph grad = autodiff::differentiate(rnn);
  CHECK(error_of([&] { autodiff::differentiate(grad); }) ==
        "cell 'rnn_grad' is a derivative graph (it has seed leaves); cellforge computes first derivatives only: "
        "differentiate the forward cell");
  CHECK(error_of([&] { autodiff::state_vjp(grad); }) ==
        "cell 'rnn_grad' is a derivative graph (it has seed leaves); cellforge computes first derivatives only: "
        "differentiate the forward cell");
  // Compiling one: its results are gradients, not an output.
  CHECK(error_of([&] { CompiledNetwork::compile(grad, small_sizes(), one_thread()); }) ==
        "cell 'rnn_grad' has no output; a cell has exactly one (output(...) in the DSL, 'output y = %v' in IR text)");
  CHECK(error_of([&] { ir::verify_cell(grad); }) == "cell 'rnn_grad' contains a seed leaf; only derived graphs have those");
}

TEST_CASE("errors: audit: a buffer a call writes may not overlap another buffer of the call (#21)", "[errors]") {
  CompiledNetwork net = CompiledNetwork::compile(zoo::find("lstm").build(), small_sizes(), one_thread());
  Buffers b(net);
  // y ([5][2][4] = 40 floats) inside x's memory; x is 30, so use one buffer of 70 floats.
  std::vector<float> shared(70, 0.5f);
  std::span<const float> x(shared.data(), 30);
  std::span<float> y_after(shared.data() + 30, 40), y_over(shared.data() + 20, 40);
  CHECK_NOTHROW(net.forward(b.params, x, b.in(b.states), y_after, b.out(b.finals)));
  CHECK(error_of([&] { net.forward(b.params, x, b.in(b.states), y_over, b.out(b.finals)); }) ==
        "y overlaps x; the call writes y while it reads the others, so every output buffer needs memory of its own");
  std::vector<std::span<float>> in_place = {b.states[0], b.finals[1]};
  CHECK(error_of([&] { net.forward(b.params, b.x, b.in(b.states), b.y, in_place); }) ==
        "final state 'h' overlaps initial state 'h'; the call writes final state 'h' while it reads the others, so "
        "every output buffer needs memory of its own");
  net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals));
  CHECK(error_of([&] { net.backward(b.params, b.x, b.dy, b.in(b.d_finals), b.params, b.dx, b.out(b.d_initials)); }) ==
        "dparams overlaps params; the call writes dparams while it reads the others, so every output buffer needs memory "
        "of its own");
  std::vector<std::span<float>> two_into_one = {b.d_initials[0], b.d_initials[0]};
  CHECK(error_of([&] { net.backward(b.params, b.x, b.dy, b.in(b.d_finals), b.dparams, b.dx, two_into_one); }) ==
        "d_initial state 'h' overlaps d_initial state 'c'; the call writes d_initial state 'h' while it reads the "
        "others, so every output buffer needs memory of its own");
  CHECK_NOTHROW(net.backward(b.params, b.x, b.dy, b.in(b.d_finals), b.dparams, b.dx, b.out(b.d_initials)));
}

TEST_CASE("errors: audit: JIT options out of range: vector width, threads, optimization level (#22)", "[errors]") {
  const ir::Graph rnn = zoo::find("rnn").build();
  NetworkOptions o = one_thread();
  o.fused_vector_width = 12;
  CHECK(error_of([&] { CompiledNetwork::compile(rnn, small_sizes(), o); }) ==
        "fused_vector_width is 12; expected 4, 8 or 16 floats (or 0 for the CPU's best)");
  o = one_thread();
  o.threads = -3;
  const std::string threads_fix = "; expected 0 (one per hardware thread, " + std::to_string(jit::hardware_threads()) +
                                  " here) or a count from 1 to 256";
  CHECK(error_of([&] { CompiledNetwork::compile(rnn, small_sizes(), o); }) == "threads is -3" + threads_fix);
  o.threads = 100000;
  CHECK(error_of([&] { CompiledNetwork::compile(rnn, small_sizes(), o); }) == "threads is 100000" + threads_fix);
  o = one_thread();
  o.opt_level = 9;
  CHECK(error_of([&] { CompiledNetwork::compile(rnn, small_sizes(), o); }) ==
        "opt_level is 9; expected 0, 1, 2 or 3 (LLVM's -O0 to -O3)");
}

TEST_CASE("errors: audit: resuming a checkpoint written on another machine needs a flag (#27)", "[errors]") {
  train::ModelSpec spec;
  spec.cell = zoo::find("rnn").build();
  spec.hidden = 2;
  spec.layers = 1;
  train::TrainConfig c;
  c.batch = 1, c.unroll = 2, c.val_fraction = 0;
  const train::Corpus corpus = train::Corpus::from_text("abcab", "abc");
  train::Trainer t(spec, corpus, c, one_thread());
  t.train_step();
  train::Checkpoint elsewhere = t.checkpoint();
  elsewhere.machine = "pentium4 i686-pc-linux-gnu LLVM 3.4";
  const std::string path = (std::filesystem::temp_directory_path() / "cellforge-audit-elsewhere.ckpt").string();
  train::save_checkpoint(path, elsewhere);
  CHECK(error_of([&] { train::Trainer::resume(path, corpus); }) ==
        "checkpoint '" + path + "' was written on pentium4 i686-pc-linux-gnu LLVM 3.4, this is " +
            train::machine_signature() + "; exact resume needs the same CPU and LLVM. Pass --allow-inexact-resume to continue anyway");
  train::ResumeOptions inexact;
  inexact.allow_inexact = true;
  CHECK_NOTHROW(train::Trainer::resume(path, corpus, inexact));
  std::filesystem::remove(path);
}
