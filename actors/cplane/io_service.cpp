#include "io_service.hpp"
#include "personal_data.hpp"

#include "joconde/io/net.hpp"

#include "joconde/enclave/session.hpp"
#include "joconde/enclave/simulated.hpp"
#include "joconde/engines/csv.hpp"
#include "joconde/engines/ctsc.hpp"
#include "joconde/engines/engine.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/crypto.hpp"

#include <joconde/agreement.pb.h>
#include <joconde/vm.pb.h>

#include <openssl/crypto.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

namespace joconde::io {

namespace {

using clock = std::chrono::steady_clock;

double ms_since(clock::time_point t) {
  return std::chrono::duration<double, std::milli>(clock::now() - t).count();
}

std::string cp_name(std::uint32_t i) { return enclave::cp_id_of(i); }

/// A TCP connection to a VM's client endpoint (host:port: IPv4, [IPv6] or a host name) within
/// `timeout`.
result<int> dial(const std::string& address, std::chrono::milliseconds timeout) {
  auto at = net::parse_host_port(address);
  if (!at)
    return fail(errc::malformed_input, "a VM address is host:port: " + at.err().message);
  auto fd = net::connect_tcp(*at, timeout);
  if (!fd)
    return fd.err();
  return fd->release();
}

/// An attested session with every VM of the CT, in CP order; fails on the first refusal.
struct sessions {
  std::vector<enclave::client_session> vm;
  bool simulated = false;
};

result<sessions> attest_all(const io_target& t) {
  const auto& cta = t.final->cta();
  const auto& ctsc = cta.ctsc();
  auto hash = cta_hash(cta);
  if (!hash || hash->size() != 32)
    return fail(errc::crypto_failure, "cannot hash the CTA");
  enclave::reference_values ref;
  std::memcpy(ref.cta_hash.data(), hash->data(), 32);
  ref.allow_simulated = t.allow_simulated;
  ref.min_tcb_version = t.min_tcb_version;
  for (const auto& m : ctsc.tee_measurements())
    if (m.measurement().size() == 48) {
      enclave::measurement mm{};
      std::memcpy(mm.data(), m.measurement().data(), 48);
      ref.measurements.push_back(mm);
    }
  if (ref.measurements.empty())
    return fail(errc::invalid_config, "the CTSC names no TEE measurement: its VMs cannot be attested");
  auto parties = static_cast<std::uint32_t>(ctsc.computing_parties_size());
  if (t.vms.size() != parties)
    return fail(errc::invalid_state, "the addresses of " + std::to_string(parties - t.vms.size())
                                       + " of the CT's VMs are not known yet (is the CT instantiated?)");
  enclave::simulated_verifier verifier{t.trusted_roots};
  // Attest all VMs concurrently; each gets its own fresh nonce inside attest_vm.
  std::vector<std::optional<result<enclave::client_session>>> got(parties);
  std::vector<std::thread> threads;
  for (std::uint32_t i = 0; i < parties; ++i) {
    const vm_address* a = nullptr;
    for (const auto& v : t.vms)
      if (v.cp_index == i)
        a = &v;
    if (a == nullptr)
      return fail(errc::invalid_state, "the address of " + cp_name(i) + "'s VM is not known yet");
    threads.emplace_back([&, i, a] {
      auto fd = dial(a->client_address, std::chrono::milliseconds{10'000});
      if (!fd) {
        got[i] = fd.err();
        return;
      }
      enclave::client_settings cs{ctsc.uuid(), i, &verifier, ref};
      got[i] = enclave::attest_vm(*fd, cs, std::chrono::milliseconds{15'000});
    });
  }
  for (auto& th : threads)
    th.join();
  sessions out;
  for (std::uint32_t i = 0; i < parties; ++i) {
    auto& r = *got[i];
    if (!r)
      return error{r.err().code, "the CT VM of " + cp_name(i) + " (" + ctsc.computing_parties(static_cast<int>(i)).fqdn()
                                   + ") failed attestation: " + r.err().message};
    out.simulated = out.simulated || r->vm.simulated;
    out.vm.push_back(std::move(*r));
  }
  return out;
}

result<v1::VmReply> read_reply(enclave::secure_stream& s) {
  auto msg = s.receive(1024 * 1024);
  if (!msg)
    return msg.err();
  auto r = proto::parse<v1::VmReply>({reinterpret_cast<const char*>(msg->data()), msg->size()}, 1024 * 1024);
  if (!r)
    return fail(errc::malformed_input, "the VM's answer is not a VmReply");
  return r;
}

error vm_refusal(std::uint32_t cp, const v1::VmReply& r) {
  auto code = static_cast<errc>(r.code());
  return error{code, "the CT VM of " + cp_name(cp) + " refused: " + r.message() + " (phase "
                       + r.phase() + ")"};
}

/// The next answer of VM `cp`; the VM's refusal as an error.
result<v1::VmReply> read_answer(enclave::secure_stream& st, std::uint32_t cp) {
  auto reply = read_reply(st);
  if (!reply)
    return reply.err();
  if (reply->code() != 0)
    return vm_refusal(cp, *reply);
  return reply;
}

/// Sends VM `cp` the request and returns its first answer; the VM's refusal as an error.
result<v1::VmReply> ask(enclave::secure_stream& st, std::uint32_t cp, v1::VmRequest::Kind kind,
                        const v1::SignedAuthorization& authorization, std::uint64_t rows) {
  v1::VmRequest req;
  req.set_kind(kind);
  *req.mutable_authorization() = authorization;
  req.set_rows(rows);
  if (auto r = st.send(crypto::to_bytes(proto::serialize(req))); !r)
    return r.err();
  return read_answer(st, cp);
}

/// The engine the CTSC names, if this node has it.
result<const engines::engine*> engine_of(const v1::Ctsc& ctsc) {
  const auto* engine = engines::find_engine(ctsc.engine().name());
  if (engine == nullptr || engine->caps().testing_only)
    return fail(errc::unsupported, "this node has no engine " + ctsc.engine().name().substr(0, 64));
  return engine;
}

/// An input or output of the CT with the engine and the schema its data is handled with.
template <class Spec>
struct ct_slot {
  const Spec* spec = nullptr;
  const engines::engine* engine = nullptr;
  engines::table_schema schema;
};

/// Finds `key` among `specs` (the CTSC's inputs or outputs, `what` naming which) and resolves the
/// engine and the schema for it.
template <class Specs>
result<ct_slot<typename Specs::value_type>> resolve_slot(const v1::Ctsc& ctsc, const Specs& specs,
                                                          const char* what, const std::string& key) {
  for (const auto& spec : specs) {
    if (spec.key() != key)
      continue;
    auto engine = engine_of(ctsc);
    if (!engine)
      return engine.err();
    auto schema = engines::schema_of(spec.key(), spec.schema(),
                                     spec.max_rows() == 0 ? 1'000'000 : spec.max_rows());
    if (!schema)
      return schema.err();
    return ct_slot<typename Specs::value_type>{&spec, *engine, std::move(*schema)};
  }
  return fail(errc::not_found, std::string{"the CT has no "} + what + " " + key);
}

/// Whether the columns of `input` the CTSC's program needs unique (declared UNIQUE, or the keys of a
/// one-to-one join of undeclared keys) hold no value twice in `table`: found here, at the
/// custodian's node, with the lines, rather than in the calculation.
result<void> unique_keys_hold(const v1::Ctsc& ctsc, const std::string& input, const engines::csv_table& table,
                              const engines::table_schema& schema) {
  auto program = engines::compile_ctsc(ctsc);
  if (!program)
    return program.err();
  for (const auto& column : program->unique_columns(input))
    if (auto r = engines::check_unique(table, schema, column); !r)
      return r;
  return ok();
}

/// Per party, per column: the encoded shares of an input table.
using share_messages = std::vector<std::vector<std::vector<std::uint8_t>>>;

/// Splits every column of `table` into shares for `parties` parties, the columns concurrently; each
/// column's clear values are released as soon as it is split.
share_messages split_columns(const engines::engine& engine, engines::csv_table& table, std::size_t parties) {
  const auto ncols = table.columns.size();
  share_messages msgs(parties, std::vector<std::vector<std::uint8_t>>(ncols));
  std::vector<std::thread> splitters;
  for (std::size_t c = 0; c < ncols; ++c)
    splitters.emplace_back([&, c] {
      auto shares = engine.split(table.columns[c]);
      std::vector<engines::word>().swap(table.columns[c]);
      for (std::size_t p = 0; p < parties; ++p)
        msgs[p][c] = engines::encode_shares(shares[p]);
    });
  for (auto& t : splitters)
    t.join();
  return msgs;
}

/// The progress of an upload to all VMs: bytes sent of `total`, reported under one lock.
struct upload_progress {
  explicit upload_progress(const std::function<void(std::uint64_t, std::uint64_t)>& report) : report{report} {
    // nop
  }

  std::atomic<std::uint64_t> sent{0};
  std::uint64_t total = 0;
  std::mutex mutex;
  const std::function<void(std::uint64_t, std::uint64_t)>& report;
};

/// Uploads one party's shares to its VM (request, columns, outcome), wiping each column once sent.
result<v1::VmReply> upload_to_vm(enclave::secure_stream& st, std::uint32_t cp,
                                 const v1::SignedAuthorization& authorization, std::uint64_t rows,
                                 std::vector<std::vector<std::uint8_t>>& columns, upload_progress& progress,
                                 bool checked) {
  auto go = ask(st, cp, v1::VmRequest::KIND_UPLOAD, authorization, rows);
  if (!go)
    return go.err();
  std::uint64_t sent_here = 0;
  for (auto& m : columns) {
    if (auto r = st.send_pieces(m); !r)
      return r.err();
    sent_here += m.size();
    auto now = progress.sent += m.size();
    OPENSSL_cleanse(m.data(), m.size());
    if (progress.report) {
      std::lock_guard lock{progress.mutex};
      progress.report(now, progress.total);
    }
  }
  // The VM answers once it has sealed the columns and every CP has (it waits up to its
  // upload-confirm time for that): a minute, and a second more per 8 MB of shares it seals; with a
  // data-quality check, once the CPs ran it (the VM waits two of its I/O timeouts for that, and a
  // second per 10^4 rows).
  auto wait = std::chrono::seconds{60} + std::chrono::seconds{sent_here / (8 << 20)};
  if (checked)
    wait += std::chrono::seconds{150} + std::chrono::seconds{rows / 10'000};
  st.set_io_timeout(wait);
  return read_answer(st, cp);
}

/// Uploads the shares to all VMs at once; returns the phase the first VM reports, or the first
/// party's failure.
result<std::string> upload_all(sessions& s, share_messages& msgs, const v1::SignedAuthorization& authorization,
                               std::uint64_t rows, upload_progress& progress, bool checked) {
  const auto parties = s.vm.size();
  std::vector<std::optional<result<v1::VmReply>>> finals(parties);
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < parties; ++p)
    threads.emplace_back([&, p] {
      finals[p] = upload_to_vm(s.vm[p].stream, static_cast<std::uint32_t>(p), authorization, rows, msgs[p],
                               progress, checked);
    });
  for (auto& th : threads)
    th.join();
  for (auto& f : finals)
    if (!*f)
      return f->err();
  return (*finals[0])->phase();
}

/// One party's share of an output table: its row count and one secret per column.
struct output_shares {
  std::uint64_t rows = 0;
  std::vector<engines::secret> columns;
};

/// Downloads VM `cp`'s shares of an output of `ncols` columns (the valid flags last), checking the
/// table's shape.
result<output_shares> download_from_vm(enclave::secure_stream& st, std::uint32_t cp,
                                       const v1::SignedAuthorization& authorization, std::size_t ncols,
                                       std::uint64_t max_rows) {
  auto head = ask(st, cp, v1::VmRequest::KIND_DOWNLOAD, authorization, 0);
  if (!head)
    return head.err();
  if (head->columns() != ncols || head->rows() > max_rows)
    return error{errc::malformed_input, "the CT VM of " + cp_name(cp) + " sent a table of the wrong shape"};
  output_shares out;
  out.rows = head->rows();
  for (std::size_t c = 0; c < ncols; ++c) {
    auto msg = st.receive_pieces(16 + 16 * head->rows() + 64);
    if (!msg)
      return msg.err();
    auto sh = engines::decode_shares(*msg, head->rows());
    if (!sh || sh->a.size() != head->rows())
      return error{errc::malformed_input, "the CT VM of " + cp_name(cp) + " sent damaged shares"};
    out.columns.push_back(std::move(*sh));
  }
  return out;
}

/// Downloads the shares from all VMs at once; one failure is reported, and the VMs that did release
/// have released their shares for good.
result<std::vector<output_shares>> download_all(sessions& s, const v1::SignedAuthorization& authorization,
                                                std::size_t ncols, std::uint64_t max_rows) {
  const auto parties = s.vm.size();
  std::vector<std::optional<result<output_shares>>> got(parties);
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < parties; ++p)
    threads.emplace_back([&, p] {
      got[p] = download_from_vm(s.vm[p].stream, static_cast<std::uint32_t>(p), authorization, ncols, max_rows);
    });
  for (auto& th : threads)
    th.join();
  std::vector<output_shares> out;
  for (auto& g : got) {
    if (!*g)
      return g->err();
    out.push_back(std::move(**g));
  }
  return out;
}

/// Rebuilds the clear columns of `output_key` from every party's shares.
result<std::vector<std::vector<engines::word>>> rebuild_columns(const engines::engine& engine,
                                                                std::vector<output_shares>& shares,
                                                                std::size_t ncols, const std::string& output_key) {
  std::vector<std::vector<engines::word>> clear(ncols);
  for (std::size_t c = 0; c < ncols; ++c) {
    std::vector<engines::secret> per_party;
    for (auto& party : shares)
      per_party.push_back(std::move(party.columns[c]));
    auto values = engine.rebuild(per_party);
    if (!values)
      return error{values.err().code, "the CT VMs' shares of " + output_key + " do not agree: "
                                        + values.err().message};
    clear[c] = std::move(*values);
  }
  return clear;
}

/// Keeps the rows the algorithm marked valid in the last column (the others are suppressed cells,
/// zeroed) and counts the suppressed ones in `rep`.
std::vector<std::vector<engines::word>> keep_valid_rows(const std::vector<std::vector<engines::word>>& clear,
                                                        std::uint64_t rows, download_report& rep) {
  const auto& valid = clear.back();
  std::vector<std::vector<engines::word>> kept(clear.size() - 1);
  for (std::size_t r = 0; r < rows; ++r) {
    if (valid[r] != 1) {
      ++rep.suppressed;
      continue;
    }
    for (std::size_t c = 0; c + 1 < clear.size(); ++c)
      kept[c].push_back(clear[c][r]);
  }
  return kept;
}

} // namespace

result<upload_report> upload(const io_target& t, const std::string& input_key, std::string_view csv,
                             const v1::SignedAuthorization& authorization,
                             const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  upload_report rep;
  const auto& ctsc = t.final->cta().ctsc();
  auto slot = resolve_slot(ctsc, ctsc.inputs(), "input", input_key);
  if (!slot)
    return slot.err();
  // 1. The file against the schema, before anything leaves the node.
  auto start = clock::now();
  auto table = engines::parse_csv(csv, slot->schema);
  if (!table)
    return error{table.err().code, input_key + ": " + table.err().message};
  if (auto unique = unique_keys_hold(ctsc, input_key, *table, slot->schema); !unique)
    return error{unique.err().code, input_key + ": " + unique.err().message};
  rep.rows = table->rows;
  rep.parse_ms = ms_since(start);
  // 2. Every VM attested before any share is made.
  start = clock::now();
  auto s = attest_all(t);
  if (!s)
    return s.err();
  rep.attest_ms = ms_since(start);
  rep.simulated = s->simulated;
  // 3. Shares: one encoded message per column and party, the columns split concurrently.
  start = clock::now();
  auto msgs = split_columns(*slot->engine, *table, s->vm.size());
  upload_progress sent{progress};
  for (const auto& per_party : msgs)
    for (const auto& m : per_party)
      sent.total += m.size();
  rep.share_ms = ms_since(start);
  // 4. The request, the columns, the outcome: all VMs at once.
  start = clock::now();
  const bool checked = !slot->spec->data_quality().source().empty();
  auto phase = upload_all(*s, msgs, authorization, rep.rows, sent, checked);
  rep.transfer_ms = ms_since(start);
  if (!phase)
    return phase.err();
  rep.checked = checked;
  rep.phase = std::move(*phase);
  return rep;
}

result<download_report> download(const io_target& t, const std::string& output_key,
                                 const v1::SignedAuthorization& authorization) {
  download_report rep;
  const auto& ctsc = t.final->cta().ctsc();
  auto slot = resolve_slot(ctsc, ctsc.outputs(), "output", output_key);
  if (!slot)
    return slot.err();
  const auto& schema = slot->schema;
  // An aggregate beyond the 64-bit ring comes as three columns, and a confidentiality rule's
  // verdict as one more after the values (the program says which).
  auto program = engines::compile_ctsc(ctsc);
  if (!program)
    return program.err();
  const auto words = program->output_words(output_key);
  const auto flags = program->confidentiality(output_key);
  auto start = clock::now();
  auto s = attest_all(t);
  if (!s)
    return s.err();
  rep.attest_ms = ms_since(start);
  rep.simulated = s->simulated;
  start = clock::now();
  std::size_t ncols = flags.flagged ? 2 : 1;  // the published flags, and the valid flags
  for (std::size_t c = 0; c < schema.columns.size(); ++c)
    ncols += c < words.size() ? words[c] : 1;
  auto shares = download_all(*s, authorization, ncols, schema.max_rows);
  rep.transfer_ms = ms_since(start);
  if (!shares)
    return shares.err();
  for (std::size_t p = 1; p < shares->size(); ++p)
    if ((*shares)[p].rows != (*shares)[0].rows)
      return fail(errc::malformed_input, "the CT VMs disagree on the number of rows of " + output_key);
  start = clock::now();
  auto clear = rebuild_columns(*slot->engine, *shares, ncols, output_key);
  if (!clear)
    return clear.err();
  const auto rows = (*shares)[0].rows;
  auto kept = keep_valid_rows(*clear, rows, rep);
  rep.rows = rows - rep.suppressed;
  if (flags.flagged) {
    for (auto published : kept.back())
      rep.confidential += published != 1 ? 1 : 0;
    rep.csv = engines::format_flagged_csv(schema, kept, rep.rows, words, flags);
  } else {
    rep.csv = engines::format_csv(schema, kept, rep.rows, words);
  }
  rep.rebuild_ms = ms_since(start);
  return rep;
}

} // namespace joconde::io
