#include "cli_io.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/runtime/crypto.hpp"

#include <joconde/vm.pb.h>

#include <openssl/crypto.h>

#include <fstream>
#include <iterator>

namespace joconde::cli {

namespace {

/// The prefix the CT VMs' task policy expects before the serialized SlotAuthorization
/// (actors/vm/task_policy.hpp authorization_label).
constexpr std::string_view authorization_label = "joconde/slot-authorization/v1";

result<std::string> read_small(const std::string& path, const char* what) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return fail(errc::invalid_config, std::string{"cannot read the "} + what + " " + path);
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  if (text.size() > 64 * 1024)
    return fail(errc::invalid_config, std::string{"the "} + what + " " + path + " is too large");
  return text;
}

} // namespace

result<std::string> signed_authorization(const std::string& uuid, const std::string& slot, bool upload,
                                         const std::string& key_file, const std::string& passphrase_file,
                                         std::int64_t now_ms) {
  auto pem = read_small(key_file, "key file");
  if (!pem)
    return pem.err();
  auto pass_text = read_small(passphrase_file, "passphrase file");
  if (!pass_text)
    return pass_text.err();
  auto pass = pass_text->substr(0, pass_text->find('\n'));
  auto key = crypto::private_key::from_pem(*pem, pass);
  OPENSSL_cleanse(pass.data(), pass.size());
  OPENSSL_cleanse(pass_text->data(), pass_text->size());
  if (!key)
    return fail(errc::invalid_config, "cannot open the key file " + key_file
                                        + " with that pass phrase: " + key.err().message);
  v1::SlotAuthorization auth;
  auth.set_ct_uuid(uuid);
  auth.set_slot(slot);
  auth.set_upload(upload);
  auto id = crypto::random_bytes(16);
  auth.set_request_id(std::string{id.begin(), id.end()});
  auth.set_issued_at_ms(now_ms);
  auto auth_bytes = proto::serialize(auth);
  std::string to_sign{authorization_label};
  to_sign += auth_bytes;
  auto sig = key->sign(crypto::to_bytes(to_sign));
  if (!sig)
    return sig.err();
  v1::SignedAuthorization sa;
  sa.set_authorization(auth_bytes);
  auto der = key->public_key().to_der();
  sa.set_pak(std::string{der.begin(), der.end()});
  sa.set_signature(std::string{sig->begin(), sig->end()});
  return crypto::hex(crypto::to_bytes(proto::serialize(sa)));
}

} // namespace joconde::cli
