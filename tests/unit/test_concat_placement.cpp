// Where plan_network puts the parts of a concatenation (codegen/llvm/network_plan.cpp): a value a
// fused loop computes to be concatenated is stored by that loop straight into its slot in every
// concatenation of its phase, so the step copies nothing. A GRU's backward step is the case with
// two: the reset and update gate gradients are parts of both dz for W_hh and dz for W_ih.
#include <catch2/catch.hpp>

#include <vector>

#include "codegen/llvm/network_plan.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;
using ir::NodeId;
using ir::Op;
using llvm_backend::Location;

namespace {

bool same_place(const Location& a, const Location& b) {
  return a.valid() && a.slot == b.slot && a.offset == b.offset && a.row_stride == b.row_stride &&
         a.step_stride == b.step_stride && a.time_offset == b.time_offset;
}

struct Placement {
  int parts = 0;           // parts computed by fused loops
  int in_place = 0;        // of those, stored by their loop into the concatenation's slot
  int in_two_places = 0;   // parts of more than one concatenation, stored into each
};

Placement concat_parts(const std::string& cell_name, const ir::NetworkSizes& sizes) {
  const llvm_backend::NetworkPlan plan = llvm_backend::plan_network(zoo::find(cell_name).build(), sizes, {});
  Placement p;
  for (const llvm_backend::ScanPlan& scan : plan.backward) {
    const passes::ScanSchedule& s = plan.schedule_of(scan);
    std::vector<bool> in_group(s.graph.size(), false);
    for (const passes::FusionGroup& group : s.groups)
      for (NodeId id : group.nodes) in_group[id] = true;
    for (NodeId id = 0; id < s.graph.size(); ++id) {
      const ir::Node& node = s.graph.node(id);
      if (node.op != Op::concat || s.phase[id] != passes::Phase::loop) continue;
      int64_t offset = 0;
      for (NodeId part : node.args) {
        if (in_group[part]) {
          const Location slot = scan.location[id].shifted(offset);
          bool here = same_place(scan.location[part], slot);
          for (const Location& also : scan.also_at[part]) here = here || same_place(also, slot);
          ++p.parts;
          p.in_place += here;
          p.in_two_places += !scan.also_at[part].empty();
        }
        offset += scan.width[part];
      }
    }
  }
  return p;
}

ir::NetworkSizes sizes(int64_t batch) {
  ir::NetworkSizes s;
  s.input = 5;
  s.hidden = 16;
  s.batch = batch;
  s.unroll = 3;
  s.layers = 1;
  s.extra = {{"P", 7}};  // the projected LSTM's projection width
  return s;
}

}  // namespace

TEST_CASE("concat placement: a GRU's gate gradients are stored into both concatenations by their loop", "[unit]") {
  for (int64_t batch : {1, 4, 32}) {
    INFO("batch " << batch);
    const Placement p = concat_parts("gru", sizes(batch));
    CHECK(p.parts == 6);  // dz_h = [dr, dz, dn_h], dz_x = [dr, dz, dn_x]
    CHECK(p.in_place == p.parts);
    CHECK(p.in_two_places == 4);  // dr and dz, once per concatenation
  }
}

TEST_CASE("concat placement: every zoo cell's loop concatenations are assembled in place", "[unit]") {
  for (const auto& entry : zoo::cells()) {
    INFO(entry.name);
    const Placement p = concat_parts(entry.name, sizes(4));
    CHECK(p.in_place == p.parts);
  }
}
