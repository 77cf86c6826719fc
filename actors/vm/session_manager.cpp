// The session_manager of a CT VM: attested client sessions (status, upload, download) and the
// attested links to the counterpart VMs (vm_internal.hpp). Socket work runs in threads that ask the
// orchestrator through scoped actors.

#include "vm_internal.hpp"

#include "joconde/engines/engine.hpp"
#include "joconde/runtime/log.hpp"

#include <joconde/agreement.pb.h>

#include <caf/scoped_actor.hpp>

#include <openssl/crypto.h>

namespace joconde::vm::detail {

namespace {

constexpr const char* component = "vm";

// -- session_manager --

/// The settings of the attested key exchange with counterpart `peer`.
enclave::handshake::settings peer_settings(const vm_context& ctx, const enclave::attester* att,
                                           const enclave::verifier* ver, unsigned peer) {
  enclave::handshake::settings s;
  s.ct_id = ctx.uuid;
  s.own_cp = ctx.options.cp_index;
  s.peer_cp = peer;
  s.attester = att;
  s.verifier = ver;
  s.reference = ctx.reference;
  return s;
}

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

/// Serves one client connection: attest, then one request.
void serve_client(session_ptr sh, int raw_fd) {
  fd_guard fd{raw_fd};
  auto& ctx = *sh->ctx;
  enclave::vm_settings vs{ctx.uuid, ctx.options.cp_index, sh->attester.get()};
  auto stream = enclave::accept_client(fd.release(), vs, std::chrono::milliseconds{10'000});
  if (!stream) {
    ctx.metrics->attestation_failures.Add({{"reason", "client-session"}}).Increment();
    log::info(component, "client session refused: " + stream.err().describe());
    return;
  }
  auto first = stream->receive(64 * 1024);
  if (!first)
    return;
  v1::VmRequest req;
  if (!req.ParseFromArray(first->data(), static_cast<int>(first->size()))) {
    send_reply(*stream, error_reply(errc::malformed_input, "not a VmRequest"));
    return;
  }
  caf::scoped_actor self{sh->orchestrator.home_system()};
  auto ask_status = [&]() {
    v1::VmReply r;
    self->request(sh->orchestrator, std::chrono::seconds{10}, status_atom::value)
      .receive([&](const std::string& bytes) { r.ParseFromString(bytes); }, [&](caf::error&) {});
    return r;
  };
  auto refuse = [&](errc code, const std::string& msg) {
    ctx.metrics->refused.Add({{"reason", std::string{to_string(code)}}}).Increment();
    auto r = ask_status();
    r.set_code(static_cast<std::uint32_t>(code));
    r.set_message(msg);
    r.set_rows(0);
    r.set_columns(0);
    send_reply(*stream, r);
  };
  if (req.kind() == v1::VmRequest::KIND_STATUS) {
    send_reply(*stream, ask_status());
    return;
  }
  bool upload = req.kind() == v1::VmRequest::KIND_UPLOAD;
  if (!upload && req.kind() != v1::VmRequest::KIND_DOWNLOAD)
    return refuse(errc::malformed_input, "unknown request kind");
  policy_verdict verdict{static_cast<std::uint32_t>(errc::timeout), "the policy did not answer", {}};
  self->request(sh->policy, std::chrono::seconds{10}, check_atom::value,
                proto::serialize(req.authorization()), upload)
    .receive([&](policy_verdict& v) { verdict = std::move(v); }, [&](caf::error&) {});
  if (verdict.code != 0)
    return refuse(static_cast<errc>(verdict.code), verdict.message);
  const auto& grant = verdict.grant;
  if (upload && req.rows() > grant.max_rows)
    return refuse(errc::too_large, "input " + grant.slot + " accepts at most "
                                     + std::to_string(grant.max_rows) + " rows, not "
                                     + std::to_string(req.rows()));
  const std::uint64_t rows = req.rows();
  if (upload) {
    std::tuple<std::uint32_t, std::string> began{static_cast<std::uint32_t>(errc::timeout), "no answer"};
    self->request(sh->orchestrator, std::chrono::seconds{10}, begin_atom::value, grant.slot,
                  grant.request_id, grant.who)
      .receive([&](std::uint32_t c, std::string& m) { began = {c, std::move(m)}; }, [&](caf::error&) {});
    if (std::get<0>(began) != 0)
      return refuse(static_cast<errc>(std::get<0>(began)), std::get<1>(began));
    const auto& ctsc = ctx.final.cta().ctsc();
    std::size_t ncols = 0;
    for (const auto& in : ctsc.inputs())
      if (in.key() == grant.slot)
        ncols = static_cast<std::size_t>(in.schema_size());
    // The go-ahead, then the columns.
    send_reply(*stream, error_reply(errc{}, "send the columns"));
    std::vector<std::string> cols;
    std::string failure;
    for (std::size_t c = 0; c < ncols && failure.empty(); ++c) {
      auto msg = stream->receive(16 + 16 * rows + 64);
      if (!msg) {
        failure = "column " + std::to_string(c + 1) + ": " + msg.err().describe();
        break;
      }
      auto shares = engines::check_shares(*msg, rows);
      if (!shares || *shares != rows)
        failure = "column " + std::to_string(c + 1) + " is not " + std::to_string(rows)
                  + " rows of shares";
      ctx.metrics->uploaded.Increment(static_cast<double>(msg->size()));
      cols.push_back(to_string(*msg));
      OPENSSL_cleanse(msg->data(), msg->size());
    }
    if (failure.empty()) {
      auto sealed = seal_columns(ctx, grant.slot, grant.request_id, cols, rows);
      for (auto& c : cols)
        OPENSSL_cleanse(c.data(), c.size());
      if (!sealed) {
        failure = sealed.err().describe();
      } else {
        std::tuple<std::uint32_t, std::string> outcome{static_cast<std::uint32_t>(errc::timeout),
                                                       "no answer"};
        auto wait = ctx.options.upload_confirm_timeout + std::chrono::seconds{10};
        self->request(sh->orchestrator, wait, sealed_atom::value, grant.request_id, *sealed)
          .receive([&](std::uint32_t c, std::string& m) { outcome = {c, std::move(m)}; },
                   [&](caf::error& e) { outcome = {static_cast<std::uint32_t>(errc::io_error), self->system().render(e)}; });
        auto r = ask_status();
        r.set_code(std::get<0>(outcome));
        r.set_message(std::get<1>(outcome));
        send_reply(*stream, r);
        return;
      }
    }
    self->send(sh->orchestrator, failed_atom::value, grant.request_id, failure);
    log::info(component, "upload " + grant.request_id + " failed here: " + failure);
    return refuse(errc::malformed_input, "upload failed: " + failure);
  }
  // Download: released once to the analyst's peer, whatever happens on the wire afterwards.
  std::tuple<std::uint32_t, std::string, std::vector<std::string>, std::uint64_t> rel{
    static_cast<std::uint32_t>(errc::timeout), "no answer", {}, 0};
  self->request(sh->orchestrator, std::chrono::seconds{30}, release_atom::value, grant.slot, grant.peer,
                grant.who, grant.name, grant.request_id)
    .receive([&](std::uint32_t c, std::string& m, std::vector<std::string>& cs, std::uint64_t rows) {
               rel = {c, std::move(m), std::move(cs), rows};
             },
             [&](caf::error&) {});
  if (std::get<0>(rel) != 0)
    return refuse(static_cast<errc>(std::get<0>(rel)), std::get<1>(rel));
  auto* cols = &std::get<2>(rel);
  auto r = ask_status();
  r.set_code(0);
  r.set_rows(std::get<3>(rel));
  r.set_columns(static_cast<std::uint32_t>(cols->size()));
  send_reply(*stream, r);
  for (auto& c : *cols) {
    ctx.metrics->downloaded.Increment(static_cast<double>(c.size()));
    if (!stream->send(crypto::to_bytes(c)))
      break;
    OPENSSL_cleanse(c.data(), c.size());
  }
  self->send(sh->orchestrator, done_atom::value);
}

/// Reads one counterpart's control messages until the link breaks. Silence is normal (a long
/// calculation sends no control message for minutes): only a closed or broken link ends it.
void read_peer(session_ptr sh, peer_link_ptr link) {
  caf::scoped_actor self{sh->orchestrator.home_system()};
  for (;;) {
    auto msg = link->stream.receive(1024 * 1024);
    if (!msg && msg.err().code == errc::timeout && link->stream.is_open() && !sh->ctx->stopping->load())
      continue;
    if (!msg) {
      if (!sh->ctx->stopping->load())
        self->send(sh->orchestrator, peer_down_atom::value, link->cp, msg.err().describe());
      return;
    }
    self->send(sh->orchestrator, peer_atom::value, link->cp, to_string(*msg));
  }
}

/// Completes the attested exchange with counterpart `peer` over `fd`.
void establish_peer(session_ptr sh, fd_guard fd, unsigned peer, std::string mpc_address) {
  auto& ctx = *sh->ctx;
  auto s = enclave::connect_peer(fd.release(), peer_settings(ctx, sh->attester.get(), sh->verifier.get(), peer),
                                 ctx.options.peer_timeout);
  caf::scoped_actor self{sh->orchestrator.home_system()};
  if (!s) {
    ctx.metrics->attestation_failures.Add({{"reason", "peer-" + std::string{to_string(s.err().code)}}}).Increment();
    log::warning(component, "counterpart cp-" + std::to_string(peer) + " refused: " + s.err().describe());
    std::lock_guard lock{sh->mutex};
    sh->connecting.erase(peer);
    return;
  }
  auto link = std::make_shared<peer_link>(peer, std::move(s->stream), s->mpc_key);
  self->send(sh->orchestrator, peer_up_atom::value, peer, link, mpc_address);
  read_peer(sh, link);
}

} // namespace

caf::behavior session_manager(caf::event_based_actor* self, session_ptr sh) {
  // Accept loops: clients, and counterparts with a higher CP index (they connect to the lower).
  sh->threads.emplace_back([sh] {
    while (!sh->ctx->stopping->load()) {
      int fd = accept_for(sh->client_listener.fd, 200);
      if (fd >= 0)
        std::thread{serve_client, sh, fd}.detach();
    }
  });
  self->attach_functor([sh] {
    sh->ctx->stopping->store(true);
    for (auto& t : sh->threads)
      if (t.joinable())
        t.join();
  });
  return {
    [=](peers_atom, std::map<unsigned, std::string> peer_addresses, std::map<unsigned, std::string> mpc)
      -> std::tuple<std::uint32_t, std::string> {
      {
        std::lock_guard lock{sh->mutex};
        if (sh->peers_given)
          return {std::uint32_t{0}, std::string{"peers known already"}};
        sh->peers_given = true;
      }
      auto own = sh->ctx->options.cp_index;
      for (auto& [cp, a] : peer_addresses) {
        if (cp == own || cp >= sh->ctx->parties)
          continue;
        auto addr = parse_address(a);
        if (!addr)
          return {static_cast<std::uint32_t>(errc::malformed_input), addr.err().message};
      }
      std::map<unsigned, std::string> mpc_copy = mpc;
      // Accept the counterparts above, connect to those below.
      std::set<unsigned> expected;
      for (auto& [cp, a] : peer_addresses)
        if (cp > own && cp < sh->ctx->parties)
          expected.insert(cp);
      if (!expected.empty())
        sh->threads.emplace_back([sh, expected, mpc_copy] {
          auto left = expected;
          while (!left.empty() && !sh->ctx->stopping->load()) {
            int raw = accept_for(sh->peer_listener.fd, 200);
            if (raw < 0)
              continue;
            fd_guard fd{raw};
            std::uint8_t idx[4];
            if (!read_all(fd.fd, idx, 4, 10'000))
              continue;
            unsigned cp = (unsigned{idx[0]} << 24) | (unsigned{idx[1]} << 16) | (unsigned{idx[2]} << 8) | idx[3];
            if (!left.count(cp))
              continue;
            {
              std::lock_guard lock{sh->mutex};
              if (sh->connecting.count(cp))
                continue;
              sh->connecting.insert(cp);
            }
            left.erase(cp);
            auto mpc_a = mpc_copy.count(cp) ? mpc_copy.at(cp) : std::string{};
            std::thread{establish_peer, sh, std::move(fd), cp, mpc_a}.detach();
          }
        });
      for (auto& [cp, a] : peer_addresses) {
        if (cp >= own)
          continue;
        auto addr = *parse_address(a);
        auto mpc_a = mpc_copy.count(cp) ? mpc_copy.at(cp) : std::string{};
        std::thread{[sh, addr, cp, own, mpc_a] {
          auto fd = connect_to(addr, sh->ctx->options.peer_timeout, *sh->ctx->stopping);
          if (!fd) {
            caf::scoped_actor self{sh->orchestrator.home_system()};
            self->send(sh->orchestrator, peer_down_atom::value, cp, fd.err().describe());
            return;
          }
          std::uint8_t idx[4] = {static_cast<std::uint8_t>(own >> 24), static_cast<std::uint8_t>(own >> 16),
                                 static_cast<std::uint8_t>(own >> 8), static_cast<std::uint8_t>(own)};
          if (!write_all(fd->fd, idx, 4))
            return;
          {
            std::lock_guard lock{sh->mutex};
            sh->connecting.insert(cp);
          }
          establish_peer(sh, std::move(*fd), cp, mpc_a);
        }}.detach();
      }
      return {std::uint32_t{0}, std::string{"connecting to counterparts"}};
    },
  };
}

} // namespace joconde::vm::detail
