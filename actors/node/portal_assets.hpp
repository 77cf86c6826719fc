#pragma once

// The web portal's files (actors/node/portal/), built into joconde-node by ops/cmake/embed_files.cmake:
// the node serves them from memory and reads nothing from disk for them. No CAF here.

#include <span>
#include <string_view>

namespace joconde {

/// One file of the portal.
struct portal_asset {
  std::string_view path;          ///< relative to actors/node/portal/, e.g. "index.html"
  std::string_view content_type;  ///< its media type
  std::string_view data;          ///< its bytes
};

/// Every file of the portal, sorted by path.
std::span<const portal_asset> portal_assets();

} // namespace joconde
