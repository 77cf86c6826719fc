#include "node_store.hpp"

namespace joconde {

result<node_store> node_store::open(const std::filesystem::path& data_dir, uint64_t map_size) {
  auto env = lmdb::environment::open(data_dir / "store", map_size, 24);
  if (!env)
    return env.err();
  node_store st;
  st.env = *env;
  struct named {
    const char* name;
    lmdb::database* db;
  };
  for (auto [name, db] : {named{"children", &st.children}, named{"trusted", &st.trusted},
                          named{"revoked", &st.revoked}, named{"outbox", &st.outbox},
                          named{"seen", &st.seen}, named{"inbox", &st.inbox},
                          named{"meta", &st.meta}, named{"users", &st.users},
                          named{"tokens", &st.tokens}, named{"ctas", &st.ctas},
                          named{"pending_local", &st.pending_local}, named{"paks", &st.paks},
                          named{"overrides", &st.overrides}, named{"rotations", &st.rotations},
                          named{"audit_heads", &st.audit_heads}, named{"mail_outbox", &st.mail_outbox},
                          named{"mail_sent", &st.mail_sent}, named{"revoked_keys", &st.revoked_keys}}) {
    auto handle = st.env->db(name);
    if (!handle)
      return handle.err();
    *db = *handle;
  }
  return st;
}

} // namespace joconde
