#include "routing.hpp"

namespace joconde {

std::string child_towards(const std::string& name, const std::string& self) {
  // name = "a.b.cp1.joconde.test", self = "cp1.joconde.test" -> "b.cp1.joconde.test"
  auto head = name.substr(0, name.size() - self.size() - 1);
  auto dot = head.rfind('.');
  auto label = dot == std::string::npos ? head : head.substr(dot + 1);
  return label + "." + self;
}

} // namespace joconde
