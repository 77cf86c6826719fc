// libFuzzer target: share files and the data slots they go into. Share files reach a CT VM from a
// Data Custodian's upload and a client from a CT VM's download (engines/src/base/shares.cpp
// check_shares / decode_shares, engines/src/rss3/shares.cpp rebuild); the data slot
// (actors/vm/data_slot.cpp) takes the events an upload or a download causes, in the peers' order.
//
// The first byte picks what the rest is:
//   0  u64 max_rows, then a share file: what check_shares accepts decodes to that many rows and
//      (unless it has none) encodes back to the same bytes
//   1  three share files (u16 lengths first) rebuilt as the three rss3 parties' shares
//   2  a sequence of data slot events with fuzzer-chosen arguments: a refused event changes nothing

#include "fuzz_input.hpp"

#include "joconde/engines/engine.hpp"
#include "joconde/engines/rss3/rss3.hpp"
#include "vm/data_slot.hpp"

namespace {

using namespace joconde;

void share_file(fuzz::input& in) {
  auto max_rows = static_cast<size_t>(in.u64());
  auto file = in.rest_bytes();
  auto rows = engines::check_shares(file, max_rows);
  auto decoded = engines::decode_shares(file, max_rows);
  fuzz::require(rows.ok() == decoded.ok(), "check_shares and decode_shares agree");
  if (!rows)
    return;
  fuzz::require(*rows <= max_rows, "no more rows than max_rows");
  fuzz::require(decoded->a.size() == *rows && (decoded->b.empty() || decoded->b.size() == *rows),
                "decoded shares have the announced rows");
  auto again = engines::encode_shares(*decoded);
  if (*rows == 0) {
    // An empty table has no second component to tell one- from two-component files apart: both
    // decode to the empty secret, which encodes as one component.
    fuzz::require(engines::check_shares(again, 0).ok(), "an empty table encodes as an empty file");
    return;
  }
  fuzz::require(std::equal(again.begin(), again.end(), file.begin(), file.end()),
                "a share file decodes to what encodes to it");
}

void rebuild(fuzz::input& in) {
  std::vector<engines::secret> parties;
  for (int p = 0; p < 3; ++p) {
    auto n = in.u16();
    std::string file;
    for (size_t i = 0; i < n && !in.empty(); ++i)
      file.push_back(static_cast<char>(in.byte()));
    auto s = engines::decode_shares({reinterpret_cast<const uint8_t*>(file.data()), file.size()}, 4096);
    if (!s)
      return;
    parties.push_back(std::move(*s));
  }
  auto values = engines::rss3::rebuild(parties);
  if (values)
    fuzz::require(values->size() == parties[0].a.size(), "one value per row");
}

/// What a refused event must leave as it was.
struct slot_view {
  slot_state state;
  bool closed;
  std::string content;
  std::string writer;
  uint64_t rows;
  std::string sha256;
  size_t releases;
  std::vector<std::string> erasures;

  explicit slot_view(const data_slot& s)
    : state(s.state()),
      closed(s.input_closed()),
      content(s.content_id()),
      writer(s.writer()),
      rows(s.rows()),
      sha256(s.sha256()),
      releases(s.releases().size()),
      erasures(s.erasures()) {
    // nop
  }

  bool operator==(const slot_view&) const = default;
};

void slot_events(fuzz::input& in) {
  bool output = in.byte() & 1;
  data_slot slot{"table", output ? slot_kind::output : slot_kind::input, {"p1", "p2"}};
  auto id = [&] { return std::string(1, static_cast<char>('a' + in.byte() % 3)); };
  auto peer = [&] { return std::string{"p"} + static_cast<char>('0' + in.byte() % 4); };
  for (int step = 0; step < 64 && !in.empty(); ++step) {
    slot_view before{slot};
    result<void> r;
    switch (in.byte() % 10) {
      case 0: r = slot.begin_upload(in.byte() % 5 ? id() : "", in.small_string(8), 1000); break;
      case 1: r = slot.complete(id(), in.u16(), in.small_string(8)); break;
      case 2: r = slot.fail(id()); break;
      case 3: r = slot.peer_failed(id()); break;
      case 4: r = slot.close_input(); break;
      case 5: r = slot.store(in.byte() % 5 ? id() : "", in.u16(), in.small_string(8)); break;
      case 6: r = slot.check_peer(peer()); break;
      case 7: r = slot.release(peer(), in.small_string(8), in.small_string(8), 2000); break;
      case 8: slot.discard(); break;
      default: (void) slot.take_erasures();
    }
    if (!r)
      fuzz::require(slot_view{slot} == before, "a refused slot event changes nothing");
    fuzz::require(slot.state() != slot_state::empty || slot.rows() == 0, "an empty slot has no rows");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::input in{data, size};
  switch (in.byte() % 3) {
    case 0: share_file(in); break;
    case 1: rebuild(in); break;
    default: slot_events(in);
  }
  return 0;
}
