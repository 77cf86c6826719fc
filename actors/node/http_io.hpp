#pragma once

// The HTTP face of the IO Service (actors/cplane/io_service.hpp) at a client node: a Data
// Custodian's upload and a Data Analyst's download. Include only from CAF translation units.
//
//   POST /v1/ctas/{uuid}/inputs/{key}?authorization=HEX   body: the CSV file (text/csv)
//        -> 200 {uuid, input, rows, phase, simulated, timings_ms{parse, attest, share, transfer}}
//   POST /v1/ctas/{uuid}/outputs/{key}?authorization=HEX
//        -> 200 {uuid, output, rows, suppressed, confidential, csv, simulated,
//                timings_ms{attest, transfer, rebuild}}
// HEX is the serialized SignedAuthorization (vm.proto) the person's PAK signed; the node never sees
// the PAK's private key.

#include "node_context.hpp"

#include "joconde/runtime/http_server.hpp"

namespace joconde {

struct user;

/// The largest CSV file an upload accepts (bytes).
inline constexpr std::size_t max_upload_bytes = std::size_t{512} << 20;

/// POST /v1/ctas/{uuid}/inputs/{key}: checks, attests, shares and uploads the CSV body.
http::response upload_input(node_context& ctx, const http::request& req, const user& who);

/// POST /v1/ctas/{uuid}/outputs/{key}: attests, downloads once and rebuilds the output.
http::response download_output(node_context& ctx, const http::request& req, const user& who);

} // namespace joconde
