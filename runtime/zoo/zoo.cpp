// The zoo's registry; the cells themselves are in basic.cpp and variants.cpp.
#include "runtime/zoo/zoo.hpp"

#include "codegen/ir/error.hpp"

namespace cellforge::zoo {

const std::vector<ZooCell>& cells() {
  static const std::vector<ZooCell> all = [] {
    std::vector<ZooCell> v;
    add_basic_cells(v);
    add_variant_cells(v);
    return v;
  }();
  return all;
}

const ZooCell& find(const std::string& name) {
  std::string known;
  for (const ZooCell& c : cells()) {
    if (c.name == name) return c;
    known += (known.empty() ? "" : ", ") + c.name;
  }
  user_error("unknown cell '", name, "'; the zoo has: ", known, " (cellforge cells lists them with their equations)");
}

}  // namespace cellforge::zoo
