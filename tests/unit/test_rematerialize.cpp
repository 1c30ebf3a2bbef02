// The rematerialize pass (codegen/passes/rematerialize.cpp): a cheap value that a later fused loop
// reads is computed again there instead of stored and read back, but only when the later loop then
// reads no more memory than before and the work is a few adds and multiplies.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "codegen/ir/text.hpp"
#include "codegen/passes/passes.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;
using ir::NodeId;
using ir::Op;

namespace {

// A step with a layer norm without gain: z - mean(z) (%c) is needed before the variance (one loop)
// and after it (the next loop). `z` is the text of the normalized value, `tail` what follows the
// variance %4 and defines %y.
std::string norm_cell(const std::string& z, const std::string& tail) {
  return R"(cell norm {
  input %x : [H]
  state %h : [H]
  param %W : [H, H]
  %0 = matmul %W, %h : [H]
)" + z + R"(
  %1 = mean %z : [1]
  %c = sub %z, %1 : [H]
  %3 = mul %c, %c : [H]
  %4 = mean %3 : [1]
)" + tail + R"(
  next h = %y
  output y = %y
})";
}
const std::string kZIsProduct = "  %z = mul %0, %0 : [H]";
const std::string kZReadsInput = "  %z = add %0, %x : [H]";

NodeId find_labelled(const ir::Graph& g, const std::string& label) {
  const std::vector<std::string> names = ir::printed_names(g);
  for (NodeId id = 0; id < g.size(); ++id)
    if (names[id] == label) return id;
  FAIL("no node %" << label << " in\n" << ir::print(g));
  return 0;
}

// The fused loops of the schedule that compute `node` again.
std::vector<size_t> recomputing(const passes::ScanSchedule& s, NodeId node) {
  std::vector<size_t> loops;
  for (size_t k = 0; k < s.groups.size(); ++k)
    if (std::count(s.groups[k].recomputed.begin(), s.groups[k].recomputed.end(), node)) loops.push_back(k);
  return loops;
}

// The forward step's schedule (no values saved for a backward pass), with or without the pass.
passes::ScanSchedule schedule_of(const std::string& text, bool remat) {
  passes::ScanSchedule s = passes::hoist_time_parallel(ir::parse(text), /*reverse=*/false);
  passes::fuse_elementwise(s);
  passes::rematerialize(s, remat);
  return s;
}

}  // namespace

TEST_CASE("rematerialize: x - mean is computed again after the variance instead of stored", "[unit]") {
  const std::string text = norm_cell(kZIsProduct, "  %5 = mul %c, %4 : [H]\n  %y = add %5, %x : [H]");
  const passes::ScanSchedule on = schedule_of(text, true), off = schedule_of(text, false);
  const NodeId c = find_labelled(on.graph, "c");
  const NodeId y = find_labelled(on.graph, "y");
  REQUIRE(on.stage[y] > on.stage[c]);  // the variance separates them
  CHECK(off.materialized[c]);
  CHECK(recomputing(off, c).empty());
  CHECK_FALSE(on.materialized[c]);
  const std::vector<size_t> loops = recomputing(on, c);
  REQUIRE(loops.size() == 1);
  const passes::FusionGroup& later = on.groups[loops[0]];
  CHECK(later.stage == on.stage[y]);
  CHECK(std::count(later.nodes.begin(), later.nodes.end(), y) == 1);
  // It stays in its own loop too, where the variance needs it.
  bool own = false;
  for (const passes::FusionGroup& group : on.groups)
    own = own || std::count(group.nodes.begin(), group.nodes.end(), c) == 1;
  CHECK(own);
}

TEST_CASE("rematerialize: not when the later loop would read two vectors instead of one", "[unit]") {
  // %c = W h * x_t is needed after its row mean. Recomputing it reads W h and x_t, two row-vectors
  // the last loop does not read otherwise, for the one it saves.
  auto cell = [](const std::string& tail) {
    return R"(cell scaled {
  input %x : [H]
  state %h : [H]
  param %W : [H, H]
  %0 = matmul %W, %h : [H]
  %c = mul %0, %x : [H]
  %1 = mean %c : [1]
  %2 = mul %c, %1 : [H]
)" + tail + R"(
  next h = %y
  output y = %y
})";
  };
  const passes::ScanSchedule s = schedule_of(cell("  %y = tanh %2 : [H]"), true);
  const NodeId c = find_labelled(s.graph, "c");
  CHECK(s.materialized[c]);
  CHECK(recomputing(s, c).empty());
  // ...but when that loop reads x_t anyway, only W h is new.
  const passes::ScanSchedule t = schedule_of(cell("  %y = add %2, %x : [H]"), true);
  const NodeId c2 = find_labelled(t.graph, "c");
  CHECK_FALSE(t.materialized[c2]);
  CHECK(recomputing(t, c2).size() == 1);
}

TEST_CASE("rematerialize: transcendental functions and results stay stored", "[unit]") {
  // tanh(x - mean) is not cheap: stored once, read back.
  const std::string with_tanh = norm_cell(
      kZReadsInput, "  %t = tanh %c : [H]\n  %5 = mul %t, %t : [H]\n  %6 = mean %5 : [1]\n  %y = mul %t, %6 : [H]");
  const passes::ScanSchedule s = schedule_of(with_tanh, true);
  const NodeId t = find_labelled(s.graph, "t");
  CHECK(s.materialized[t]);
  CHECK(recomputing(s, t).empty());
  // A value that is a result (a saved value, a next state) needs its buffer whatever reads it.
  for (const auto& entry : zoo::cells()) {
    INFO(entry.name);
    const passes::LayerSchedule layer = passes::schedule_layer(entry.build());
    for (const passes::ScanSchedule* scan : {&layer.forward, &layer.backward})
      for (const ir::Output& o : scan->graph.outputs()) CHECK(recomputing(*scan, o.node).empty());
  }
}

TEST_CASE("rematerialize: the layer-norm LSTM's backward stores no centred value", "[unit]") {
  // x - mean of the input and recurrent pre-activations is needed before and after the row sums
  // of the layer norm's backward; with the pass it is recomputed from the saved W x and U h.
  const passes::LayerSchedule on = passes::schedule_layer(zoo::find("layernorm_lstm").build());
  passes::PassOptions no;
  no.rematerialize = false;
  const passes::LayerSchedule off = passes::schedule_layer(zoo::find("layernorm_lstm").build(), no);
  auto stored_centred = [](const passes::ScanSchedule& s) {
    int count = 0;
    for (NodeId id = 0; id < s.graph.size(); ++id) {
      const ir::Node& n = s.graph.node(id);
      count += n.op == Op::sub && s.graph.node(n.args[0]).op == Op::saved && s.materialized[id];
    }
    return count;
  };
  CHECK(stored_centred(off.backward) == 2);
  CHECK(stored_centred(on.backward) == 0);
  int stored_on = 0, stored_off = 0;
  for (NodeId id = 0; id < on.backward.graph.size(); ++id) stored_on += on.backward.materialized[id];
  for (NodeId id = 0; id < off.backward.graph.size(); ++id) stored_off += off.backward.materialized[id];
  CHECK(stored_on < stored_off);
}
