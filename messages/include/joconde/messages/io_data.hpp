#pragma once

// The plain data a client node's HTTP API and its io_service exchange (messages/cplane.hpp
// io_service_actor): what a Data Custodian uploads or a Data Analyst downloads, and what came of it.
// Small structs with inspect() overloads; the HTTP edge (actors/node/http_io.cpp) renders a receipt
// as JSON, the io_service never does. No CAF here.

#include "joconde/messages/proto_bytes.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace joconde::v1 {
class SignedAuthorization;
} // namespace joconde::v1

namespace joconde {

/// A person's request to move one input into, or one output out of, a CT.
struct io_request {
  std::string uuid;   ///< the CT
  std::string key;    ///< the input key (upload) or output key (download)
  proto_bytes<v1::SignedAuthorization> authorization;  ///< signed with the person's PAK
  std::string user;   ///< the node user who asked (audited)
  std::string csv;    ///< upload: the table; download: empty

  bool operator==(const io_request&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, io_request& x) {
  return f(x.uuid, x.key, x.authorization.bytes, x.user, x.csv);
}

/// What an upload or a download did.
struct io_receipt {
  std::string uuid;      ///< the CT
  std::string key;       ///< the input or output key
  std::uint64_t rows = 0;
  std::string phase;     ///< upload: the CT's phase afterwards
  std::uint64_t suppressed = 0;  ///< download: rows the algorithm marked invalid
  std::string csv;       ///< download: the output table
  bool simulated = false;        ///< the CT VMs run on the simulated TEE platform
  std::vector<std::pair<std::string, double>> timings_ms;  ///< each step's duration, in order

  bool operator==(const io_receipt&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, io_receipt& x) {
  return f(x.uuid, x.key, x.rows, x.phase, x.suppressed, x.csv, x.simulated, x.timings_ms);
}

} // namespace joconde
