// The client endpoint of a CT VM's session manager (session_manager.hpp): admission of connections
// (limits per endpoint and per source, the evidence budget), then one attested session per
// connection with one request: the CT's status, an upload of an input's shares or the download of
// this CP's shares of an output.

#include "session_manager.hpp"

#include "slot_files.hpp"
#include "upload_ledger.hpp"

#include "joconde/enclave/session.hpp"
#include "joconde/engines/engine.hpp"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/vm_metrics.hpp"

#include <joconde/vm.pb.h>

#include <caf/scoped_actor.hpp>

#include <openssl/crypto.h>

#include <algorithm>
#include <limits>
#include <optional>

namespace joconde::vm::detail {

namespace {

constexpr const char* component = "vm";

/// Sessions on the client endpoint at once, and from one source address.
constexpr unsigned max_client_sessions = 64;
constexpr unsigned max_client_sessions_per_source = 16;

/// Sources remembered for their evidence budget; beyond, those without a session are forgotten.
constexpr std::size_t max_client_sources = 4096;

void send_reply(enclave::secure_stream& stream, const v1::VmReply& r) {
  (void)stream.send(crypto::to_bytes(proto::serialize(r)));
}

v1::VmReply error_reply(errc code, std::string message, const std::string& phase = {}) {
  v1::VmReply r;
  r.set_code(static_cast<std::uint32_t>(code));
  r.set_message(std::move(message));
  r.set_phase(phase);
  return r;
}

/// The joconde error in `e`, or `fallback` when `e` is not one (no answer, the actor is gone).
error refusal_of(const caf::error& e, error fallback) {
  if (auto code = code_of(e); code != errc::none)
    return {code, message_of(e)};
  return fallback;
}

/// Counts and logs a connection on the client endpoint closed before its session began (the first
/// 16 of each reason at info level, later ones at debug level; the metric counts every one).
void refuse_client(const vm_context& ctx, const std::string& reason, const std::string& source) {
  auto& counter = ctx.metrics->client_refused(reason);
  counter.Increment();
  auto line = "connection on the client endpoint from " + source + " refused (" + reason + ")";
  if (counter.Value() <= 16)
    log::info(component, line);
  else
    log::debug(component, line);
}

/// Admits a client session from `source`, or names the limit it is over (client_refusal_reasons).
/// Under sh.mutex.
std::optional<std::string> admit_client(session_shared& sh, const std::string& source) {
  // How fast one source may open sessions, each of which makes the VM produce fresh attestation
  // evidence (costly on a real TEE): a burst, then a steady rate (vm_options).
  const double evidence_burst = sh.ctx->options.evidence_burst;
  const double evidence_per_second = sh.ctx->options.evidence_per_second;
  auto now = std::chrono::steady_clock::now();
  if (sh.client_sources.size() >= max_client_sources)
    std::erase_if(sh.client_sources, [](const auto& kv) { return kv.second.sessions == 0; });
  auto [it, fresh] = sh.client_sources.try_emplace(source);
  auto& src = it->second;
  if (fresh)
    src.tokens = evidence_burst;
  else
    src.tokens = std::min(evidence_burst, src.tokens + std::chrono::duration<double>(now - src.refilled).count()
                                                         * evidence_per_second);
  src.refilled = now;
  if (sh.client_sessions >= max_client_sessions)
    return "busy";
  if (src.sessions >= max_client_sessions_per_source)
    return "source-busy";
  if (src.tokens < 1)
    return "evidence-rate";
  src.tokens -= 1;
  ++src.sessions;
  ++sh.client_sessions;
  return std::nullopt;
}

/// One attested client session: its stream, and what it asks of the VM's actors.
class client_session {
public:
  client_session(session_shared& sh, enclave::secure_stream& stream)
    : sh_{sh}, ctx_{*sh.ctx}, stream_{stream}, self_{sh.orchestrator.home_system()} {
    // nop
  }

  /// Answers the request `req` (the session's first message).
  void serve(const v1::VmRequest& req);

private:
  /// The CT's phase and slots as a reply (an empty one when the orchestrator does not answer).
  v1::VmReply status();

  /// Refuses the request: counted, and the reply with the CT's status says why.
  void refuse(errc code, const std::string& msg);
  void refuse(const error& e) { refuse(e.code, e.message); }

  /// Receives `grant.slot`'s columns of `rows` rows, seals them and waits until every CP sealed its
  /// shares of the upload.
  void upload(const authorized& grant, std::uint64_t rows);

  /// The columns of an upload into `grant.slot`, checked and sealed at this CP; why not otherwise.
  result<sealed_content> receive_columns(const authorized& grant, std::uint64_t rows);

  /// Sends this CP's shares of `grant.slot` once every CP backs the download.
  void download(const authorized& grant);

  session_shared& sh_;
  const vm_context& ctx_;
  enclave::secure_stream& stream_;
  caf::scoped_actor self_;
};

v1::VmReply client_session::status() {
  v1::VmReply r;
  auto no_events = std::numeric_limits<std::uint64_t>::max();
  self_->request(sh_.orchestrator, std::chrono::seconds{10}, state_atom::value, no_events)
    .receive(
      [&](const ct_status& st) {
        r.set_phase(st.phase);
        for (const auto& s : st.slots) {
          auto* ss = r.add_slots();
          ss->set_key(s.key);
          ss->set_input(s.input);
          ss->set_state(s.state);
          ss->set_rows(s.rows);
        }
      },
      [&](caf::error&) {});
  return r;
}

void client_session::refuse(errc code, const std::string& msg) {
  ctx_.metrics->requests_refused(to_string(code)).Increment();
  auto r = status();
  r.set_code(static_cast<std::uint32_t>(code));
  r.set_message(msg);
  r.set_rows(0);
  r.set_columns(0);
  send_reply(stream_, r);
}

void client_session::serve(const v1::VmRequest& req) {
  if (req.kind() == v1::VmRequest::KIND_STATUS) {
    send_reply(stream_, status());
    return;
  }
  bool upload = req.kind() == v1::VmRequest::KIND_UPLOAD;
  if (!upload && req.kind() != v1::VmRequest::KIND_DOWNLOAD)
    return refuse(errc::malformed_input, "unknown request kind");
  std::optional<authorized> grant;
  error refusal{errc::timeout, "the policy did not answer"};
  auto signed_bytes = proto::serialize(req.authorization());
  self_->request(sh_.policy, std::chrono::seconds{10}, check_atom::value, signed_bytes, upload)
    .receive([&](authorized& g) { grant = std::move(g); },
             [&](caf::error& e) { refusal = refusal_of(e, std::move(refusal)); });
  if (!grant)
    return refuse(refusal);
  if (upload && req.rows() > grant->max_rows)
    return refuse(errc::too_large, "input " + grant->slot + " accepts at most " + std::to_string(grant->max_rows)
                                     + " rows, not " + std::to_string(req.rows()));
  if (upload)
    this->upload(*grant, req.rows());
  else
    download(*grant);
}

result<sealed_content> client_session::receive_columns(const authorized& grant, std::uint64_t rows) {
  const auto ncols = input_columns(ctx_, grant.slot);
  // The go-ahead, then the columns.
  send_reply(stream_, error_reply(errc{}, "send the columns"));
  std::vector<std::string> cols;
  std::string failure;
  for (std::size_t c = 0; c < ncols && failure.empty(); ++c) {
    auto msg = stream_.receive_pieces(16 + 16 * rows + 64);
    if (!msg) {
      failure = "column " + std::to_string(c + 1) + ": " + msg.err().describe();
      break;
    }
    auto shares = engines::check_shares(*msg, rows);
    if (!shares || *shares != rows)
      failure = "column " + std::to_string(c + 1) + " is not " + std::to_string(rows) + " rows of shares";
    ctx_.metrics->uploaded_bytes().Increment(static_cast<double>(msg->size()));
    cols.push_back(to_string(*msg));
    OPENSSL_cleanse(msg->data(), msg->size());
  }
  if (!failure.empty())
    return fail(errc::malformed_input, failure);
  auto sealed = seal_columns(ctx_, grant.slot, grant.request_id, cols, rows);
  for (auto& c : cols)
    OPENSSL_cleanse(c.data(), c.size());
  if (!sealed)
    return fail(sealed.err().code, sealed.err().describe());
  return sealed;
}

void client_session::upload(const authorized& grant, std::uint64_t rows) {
  error refusal{errc::timeout, "no answer"};
  bool began = false;
  self_->request(sh_.orchestrator, std::chrono::seconds{10}, begin_atom::value, grant)
    .receive([&]() { began = true; }, [&](caf::error& e) { refusal = refusal_of(e, std::move(refusal)); });
  if (!began)
    return refuse(refusal);
  auto sealed = receive_columns(grant, rows);
  if (!sealed) {
    const auto& failure = sealed.err().message;
    self_->send(sh_.orchestrator, failed_atom::value, grant.request_id, failure);
    log::info(component, "upload " + grant.request_id + " failed here: " + failure);
    return refuse(errc::malformed_input, "upload failed: " + failure);
  }
  error outcome{errc::timeout, "no answer"};
  // The orchestrator answers by the upload's deadline (upload_ledger::begin) at the latest.
  auto wait = ctx_.options.upload_confirm_timeout + std::chrono::seconds{10}
              + std::chrono::milliseconds{transfer_ms(grant.max_rows, input_columns(ctx_, grant.slot))};
  // With a data-quality check the answer is its verdict: the engine's connection and run (a second
  // per 10^4 rows is far above what rss3 needs), after the checks queued before it.
  if (has_quality_check(ctx_, grant.slot))
    wait += 2 * ctx_.options.io_timeout + std::chrono::seconds{rows / 10'000};
  self_->request(sh_.orchestrator, wait, sealed_atom::value, grant.request_id, *sealed)
    .receive([&](std::string& m) { outcome = {errc::none, std::move(m)}; },
             [&](caf::error& e) { outcome = refusal_of(e, {errc::io_error, self_->system().render(e)}); });
  auto r = status();
  r.set_code(static_cast<std::uint32_t>(outcome.code));
  r.set_message(outcome.message);
  send_reply(stream_, r);
}

void client_session::download(const authorized& grant) {
  // Released once to the analyst's peer, whatever happens on the wire afterwards.
  std::optional<released_output> released;
  error refusal{errc::timeout, "no answer"};
  self_->request(sh_.orchestrator, std::chrono::seconds{30}, release_atom::value, grant)
    .receive([&](released_output& out) { released = std::move(out); },
             [&](caf::error& e) { refusal = refusal_of(e, std::move(refusal)); });
  if (!released)
    return refuse(refusal);
  auto& cols = released->columns;
  auto r = status();
  r.set_code(0);
  r.set_rows(released->rows);
  r.set_columns(static_cast<std::uint32_t>(cols.size()));
  send_reply(stream_, r);
  for (auto& c : cols) {
    ctx_.metrics->released_bytes().Increment(static_cast<double>(c.size()));
    if (!stream_.send_pieces(crypto::to_bytes(c)))
      break;
    OPENSSL_cleanse(c.data(), c.size());
  }
  self_->send(sh_.orchestrator, done_atom::value);
}

/// Serves one client connection: attest, then one request.
void serve_client(session_ptr sh, io::unique_fd fd, std::string source) {
  struct leave {
    session_shared& sh;
    const std::string& source;
    ~leave() {
      std::lock_guard lock{sh.mutex};
      --sh.client_sessions;
      if (auto it = sh.client_sources.find(source); it != sh.client_sources.end())
        --it->second.sessions;
    }
  } left{*sh, source};
  auto& ctx = *sh->ctx;
  enclave::vm_settings vs{ctx.uuid, ctx.options.cp_index, sh->attester.get()};
  auto stream = enclave::accept_client(fd.release(), vs, std::chrono::milliseconds{10'000});
  if (!stream) {
    ctx.metrics->attestation_failures("client-session").Increment();
    log::info(component, "client session refused: " + stream.err().describe());
    return;
  }
  auto first = stream->receive(64 * 1024);
  if (!first)
    return;
  v1::VmRequest req;
  if (!proto::parse_into(req, std::string_view{reinterpret_cast<const char*>(first->data()), first->size()},
                         64 * 1024)) {
    send_reply(*stream, error_reply(errc::malformed_input, "not a VmRequest"));
    return;
  }
  client_session{*sh, *stream}.serve(req);
}

} // namespace

void accept_clients(session_ptr sh) {
  while (!sh->ctx->stopping->load()) {
    auto fd = accept_for(sh->client_listener.get(), 200);
    if (!fd.valid())
      continue;
    auto source = net::peer_address(fd.get());
    std::optional<std::string> refusal;
    {
      std::lock_guard lock{sh->mutex};
      refusal = admit_client(*sh, source);
    }
    if (refusal) {
      refuse_client(*sh->ctx, *refusal, source);
      continue;
    }
    spawn_worker(sh, serve_client, std::move(fd), source);
  }
}

} // namespace joconde::vm::detail
