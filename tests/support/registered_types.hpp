#pragma once

// An actor system that knows joconde's type ids (messages/type_ids.hpp), configured as joconde-node's
// is, and a round trip of a value through CAF's binary serialisation: the check that a type is
// registered and that its inspect() overload keeps every field.

#include "joconde/messages/wire.hpp"

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>

#include <memory>
#include <vector>

namespace joconde::test {

/// A fixture: an actor system with every joconde type registered.
struct registered_types {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  registered_types() {
    configure_plane_messages(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  /// True if a type of this name is registered.
  bool registered(const char* name) const { return sys->types().make_value(name) != nullptr; }

  /// `x` in a message, serialised and read back.
  template <class T>
  T round_trip(const T& x) {
    std::vector<char> buf;
    caf::binary_serializer sink{*sys, buf};
    auto out = caf::make_message(x);
    auto written = sink(out);
    BOOST_REQUIRE_MESSAGE(!written, sys->render(written));
    caf::message back;
    caf::binary_deserializer source{*sys, buf};
    auto read = source(back);
    BOOST_REQUIRE_MESSAGE(!read, sys->render(read));
    BOOST_REQUIRE(back.match_elements<T>());
    return back.get_as<T>(0);
  }
};

} // namespace joconde::test
