#include "backup.hpp"

#include "../mplane/node_store.hpp"
#include "node_config.hpp"
#include "pki_commands.hpp"

#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/lmdb.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <sys/stat.h>

#include <array>
#include <fstream>
#include <system_error>

namespace joconde::backup {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view magic = "JCBACKUP";
constexpr std::uint8_t version = 1;
constexpr std::uint8_t scrypt_log2_n = 15;
constexpr std::uint8_t scrypt_r = 8;
constexpr std::uint8_t scrypt_p = 1;
constexpr std::size_t salt_bytes = 16;
constexpr std::size_t prefix_bytes = 8;
constexpr std::size_t header_bytes = 8 + 4 + salt_bytes + prefix_bytes;
constexpr std::size_t chunk_bytes = 1 << 20;
constexpr std::size_t tag_bytes = 16;
constexpr std::size_t max_path = 4096;

/// The directories and files a backup never holds (relative to the node's directory).
bool left_out(const fs::path& rel, const node_config& cfg, const fs::path& dir) {
  auto first = rel.begin()->string();
  if (first == "store" || first == "ct" || first == "ct-logs" || first == "offline")
    return true;  // the store is copied through LMDB; CT VM state never leaves its VM; the root CA
                  // key (offline/) belongs in offline storage, not in a node's backups
  auto full = fs::absolute(dir / rel).lexically_normal();
  if (!cfg.passphrase_file.empty() && full == fs::absolute(cfg.passphrase_file).lexically_normal())
    return true;
  if (!cfg.log_file.empty() && full == fs::absolute(cfg.log_file).lexically_normal())
    return true;
  auto name = rel.filename().string();
  return name.rfind("node.log", 0) == 0;
}

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_be(std::string_view in, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v = (v << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
  return v;
}

/// The file key: scrypt of the pass phrase with `salt`.
result<crypto::secure_bytes> key_of(const std::string& passphrase, std::string_view salt) {
  crypto::secure_bytes key{32};
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                     salt.size(), std::uint64_t{1} << scrypt_log2_n, scrypt_r, scrypt_p, 64u << 20, key.data(),
                     key.size()) != 1)
    return fail(errc::crypto_failure, "cannot derive the backup's key (scrypt)");
  return key;
}

crypto::bytes_view view(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Nonce and authenticated data of chunk `index`.
std::pair<std::string, std::string> chunk_binding(const std::string& header, std::uint32_t index, bool last) {
  std::string nonce = header.substr(header_bytes - prefix_bytes);
  put_be(nonce, index, 4);
  std::string aad = header;
  put_be(aad, index, 4);
  aad.push_back(last ? '\1' : '\0');
  return {nonce, aad};
}

/// Seals the plaintext stream into chunks on `out`.
class sealer {
public:
  sealer(std::ofstream& out, crypto::secure_bytes key, std::string header)
    : out_(out), key_(std::move(key)), header_(std::move(header)) {}

  ~sealer() { OPENSSL_cleanse(buf_.data(), buf_.size()); }

  result<void> put(std::string_view bytes) {
    buf_.append(bytes);
    while (buf_.size() >= chunk_bytes) {
      if (auto r = seal(std::string_view{buf_}.substr(0, chunk_bytes), false); !r)
        return r;
      OPENSSL_cleanse(buf_.data(), chunk_bytes);
      buf_.erase(0, chunk_bytes);
    }
    return ok();
  }

  result<void> finish() { return seal(buf_, true); }

private:
  result<void> seal(std::string_view plain, bool last) {
    auto [nonce, aad] = chunk_binding(header_, index_++, last);
    auto sealed = crypto::aes256gcm_seal(key_.view(), view(nonce), view(aad), view(plain));
    if (!sealed)
      return sealed.err();
    std::string len;
    put_be(len, sealed->size(), 4);
    out_.write(len.data(), 4);
    out_.write(reinterpret_cast<const char*>(sealed->data()), static_cast<std::streamsize>(sealed->size()));
    if (!out_)
      return fail(errc::io_error, "cannot write the backup file");
    return ok();
  }

  std::ofstream& out_;
  crypto::secure_bytes key_;
  std::string header_;
  std::string buf_;
  std::uint32_t index_ = 0;
};

/// Adds the file `file` as entry `rel` to the stream.
result<std::uint64_t> add_file(sealer& s, const fs::path& file, const std::string& rel) {
  std::error_code ec;
  auto st = fs::status(file, ec);
  auto size = fs::file_size(file, ec);
  std::ifstream in{file, std::ios::binary};
  if (ec || !in)
    return fail(errc::io_error, "cannot read " + file.string());
  std::string head = "F";
  put_be(head, rel.size(), 2);
  head += rel;
  put_be(head, static_cast<std::uint32_t>(st.permissions()) & 0777, 4);
  put_be(head, size, 8);
  if (auto r = s.put(head); !r)
    return r.err();
  // Exactly `size` bytes: a file that grows meanwhile (the audit log) is cut where it was measured.
  std::string piece(std::min<std::uint64_t>(size, chunk_bytes), '\0');
  std::uint64_t left = size;
  while (left > 0) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, piece.size()));
    in.read(piece.data(), static_cast<std::streamsize>(n));
    if (static_cast<std::size_t>(in.gcount()) != n)
      return fail(errc::io_error, file.string() + " shrank while it was backed up");
    if (auto r = s.put(std::string_view{piece}.substr(0, n)); !r)
      return r.err();
    left -= n;
  }
  OPENSSL_cleanse(piece.data(), piece.size());
  return size;
}

/// A relative path a backup may name: no root, no "..", no empty or "." segment.
bool safe_path(std::string_view p) {
  if (p.empty() || p.size() > max_path || p.front() == '/' || p.back() == '/')
    return false;
  std::size_t at = 0;
  while (at <= p.size()) {
    auto slash = p.find('/', at);
    auto seg = p.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
    if (seg.empty() || seg == "." || seg == ".." || seg.find('\0') != std::string_view::npos)
      return false;
    if (slash == std::string_view::npos)
      break;
    at = slash + 1;
  }
  return true;
}

/// Opens the chunks of a backup file in order.
class opener {
public:
  explicit opener(std::ifstream& in) : in_(in) {}

  /// Reads the header and derives the key from `passphrase`.
  result<void> start(const std::string& passphrase) {
    header_.resize(header_bytes);
    in_.read(header_.data(), static_cast<std::streamsize>(header_bytes));
    if (static_cast<std::size_t>(in_.gcount()) != header_bytes || header_.compare(0, magic.size(), magic) != 0)
      return fail(errc::malformed_input, "not a joconde backup file");
    if (static_cast<std::uint8_t>(header_[8]) != version || static_cast<std::uint8_t>(header_[9]) != scrypt_log2_n
        || static_cast<std::uint8_t>(header_[10]) != scrypt_r || static_cast<std::uint8_t>(header_[11]) != scrypt_p)
      return fail(errc::unsupported, "a backup of another format version");
    auto key = key_of(passphrase, std::string_view{header_}.substr(12, salt_bytes));
    if (!key)
      return key.err();
    key_ = std::move(*key);
    return ok();
  }

  /// The next chunk's plaintext into `out`; `last` says whether it was the final one.
  result<void> next(std::string& out, bool& last) {
    std::array<char, 4> len{};
    in_.read(len.data(), 4);
    if (in_.gcount() != 4)
      return fail(errc::malformed_input, "the backup file is cut off (its last chunk is missing)");
    auto n = get_be({len.data(), 4}, 4);
    if (n < tag_bytes || n > chunk_bytes + tag_bytes)
      return fail(errc::malformed_input, "the backup file has a chunk of an impossible size");
    std::string sealed(n, '\0');
    in_.read(sealed.data(), static_cast<std::streamsize>(n));
    if (static_cast<std::size_t>(in_.gcount()) != n)
      return fail(errc::malformed_input, "the backup file is cut off inside a chunk");
    // The last chunk says so in its authenticated data: try "not last" first, then "last".
    for (bool final_chunk : {false, true}) {
      auto [nonce, aad] = chunk_binding(header_, index_, final_chunk);
      auto plain = crypto::aes256gcm_open(key_.view(), view(nonce), view(aad), view(sealed));
      if (plain) {
        ++index_;
        last = final_chunk;
        out.assign(reinterpret_cast<const char*>(plain->data()), plain->size());
        OPENSSL_cleanse(plain->data(), plain->size());
        return ok();
      }
    }
    return fail(errc::bad_mac, index_ == 0 ? "the backup does not open with this pass phrase (or it was changed)"
                                           : "chunk " + std::to_string(index_) + " of the backup was changed");
  }

  bool at_end() { return in_.peek() == std::char_traits<char>::eof(); }

private:
  std::ifstream& in_;
  std::string header_;
  crypto::secure_bytes key_;
  std::uint32_t index_ = 0;
};

/// Writes the entries of the plaintext stream under `root`.
class extractor {
public:
  explicit extractor(fs::path root) : root_(std::move(root)) {}

  result<void> feed(std::string_view data) {
    buf_.append(data);
    std::size_t at = 0;
    for (;;) {
      if (left_ > 0) {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, buf_.size() - at));
        out_.write(buf_.data() + at, static_cast<std::streamsize>(n));
        if (!out_)
          return fail(errc::io_error, "cannot write " + current_);
        at += n;
        left_ -= n;
        if (left_ > 0)
          break;
        out_.close();
      }
      if (done_) {
        if (at != buf_.size())
          return fail(errc::malformed_input, "the backup has bytes after its end");
        break;
      }
      if (at >= buf_.size())
        break;
      if (buf_[at] == 'E') {
        done_ = true;
        ++at;
        continue;
      }
      if (buf_[at] != 'F')
        return fail(errc::malformed_input, "the backup's entries are garbled");
      if (buf_.size() - at < 3)
        break;
      auto plen = static_cast<std::size_t>(get_be(std::string_view{buf_}.substr(at + 1, 2), 2));
      if (buf_.size() - at < 3 + plen + 12)
        break;
      auto rel = buf_.substr(at + 3, plen);
      auto mode = static_cast<std::uint32_t>(get_be(std::string_view{buf_}.substr(at + 3 + plen, 4), 4));
      auto size = get_be(std::string_view{buf_}.substr(at + 7 + plen, 8), 8);
      at += 3 + plen + 12;
      if (!safe_path(rel))
        return fail(errc::malformed_input, "the backup names an unsafe path: " + rel.substr(0, 80));
      auto file = root_ / rel;
      std::error_code ec;
      fs::create_directories(file.parent_path(), ec);
      if (ec || fs::exists(file))
        return fail(errc::malformed_input, "the backup names " + rel + " twice, or cannot make its directory");
      out_.open(file, std::ios::binary | std::ios::trunc);
      if (!out_)
        return fail(errc::io_error, "cannot write " + file.string());
      fs::permissions(file, static_cast<fs::perms>(mode & 0700 ? mode & 0700 : 0600), ec);
      current_ = rel;
      files_.push_back(rel);
      bytes_ += size;
      left_ = size;
      if (size == 0)
        out_.close();
    }
    OPENSSL_cleanse(buf_.data(), at);
    buf_.erase(0, at);
    return ok();
  }

  bool complete() const { return done_ && left_ == 0; }
  std::vector<std::string> files() const { return files_; }
  std::uint64_t bytes() const { return bytes_; }

private:
  fs::path root_;
  std::string buf_;
  std::ofstream out_;
  std::string current_;
  std::uint64_t left_ = 0;
  bool done_ = false;
  std::vector<std::string> files_;
  std::uint64_t bytes_ = 0;
};

/// Removes `p` on destruction unless kept.
struct cleanup {
  fs::path p;
  bool keep = false;
  ~cleanup() {
    std::error_code ec;
    if (!keep && !p.empty())
      fs::remove_all(p, ec);
  }
};

} // namespace

result<summary> create(const fs::path& dir, const fs::path& to) {
  auto cfg = load_node_config(dir / "joconde.ini", {});
  if (!cfg)
    return cfg.err();
  auto passphrase = pki::read_secret(cfg->passphrase_file);
  if (!passphrase)
    return fail(errc::invalid_config, "the node's pass phrase (node.passphrase-file): " + passphrase.err().message);
  std::error_code ec;
  if (fs::exists(to, ec))
    return fail(errc::already_exists, to.string() + " exists: a backup is written to a new file");
  auto store = lmdb::environment::open(cfg->data_dir / "store", cfg->map_size);
  if (!store)
    return store.err();
  // The store first: one read transaction, while the node goes on.
  auto snapshot = fs::path{to.string() + ".store"};
  cleanup drop_snapshot{snapshot};
  fs::create_directories(snapshot, ec);
  if (ec)
    return fail(errc::io_error, "cannot make " + snapshot.string() + ": " + ec.message());
  if (auto r = (*store)->copy_to(snapshot); !r)
    return r.err();

  cleanup drop_partial{to};
  std::ofstream out{to, std::ios::binary | std::ios::trunc};
  if (!out)
    return fail(errc::io_error, "cannot write " + to.string());
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, ec);
  std::string header{magic};
  header.push_back(static_cast<char>(version));
  for (auto b : {scrypt_log2_n, scrypt_r, scrypt_p})
    header.push_back(static_cast<char>(b));
  auto random = crypto::random_bytes(salt_bytes + prefix_bytes);
  header.append(reinterpret_cast<const char*>(random.data()), random.size());
  auto key = key_of(*passphrase, std::string_view{header}.substr(12, salt_bytes));
  OPENSSL_cleanse(passphrase->data(), passphrase->size());
  if (!key)
    return key.err();
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  sealer s{out, std::move(*key), header};

  summary sum;
  auto add = [&](const fs::path& file, const std::string& rel) -> result<void> {
    auto n = add_file(s, file, rel);
    if (!n)
      return n.err();
    sum.files.push_back(rel);
    sum.bytes += *n;
    return ok();
  };
  if (auto r = add(snapshot / "data.mdb", "store/data.mdb"); !r)
    return r.err();
  // The audit log's head before the log: the log is then at least as long as the head says.
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator{dir, ec}; !ec && it != fs::recursive_directory_iterator{};
       it.increment(ec)) {
    auto rel = it->path().lexically_relative(dir);
    if (left_out(rel, *cfg, dir)) {
      if (it->is_directory())
        it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && !it->is_symlink())
      files.push_back(rel);
  }
  if (ec)
    return fail(errc::io_error, "cannot list " + dir.string() + ": " + ec.message());
  std::stable_sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    return (a.filename() == "audit.log.head") > (b.filename() == "audit.log.head");
  });
  for (const auto& rel : files)
    if (auto r = add(dir / rel, rel.generic_string()); !r)
      return r.err();
  if (auto r = s.put("E"); !r)
    return r.err();
  if (auto r = s.finish(); !r)
    return r.err();
  out.close();
  if (!out)
    return fail(errc::io_error, "cannot write " + to.string());
  sum.file_bytes = fs::file_size(to, ec);
  drop_partial.keep = true;
  return sum;
}

result<summary> restore(const fs::path& from, const fs::path& dir, const fs::path& passphrase_file) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
    return fail(errc::already_exists, dir.string() + " is not empty: a node is restored into an empty directory");
  auto passphrase = pki::read_secret(passphrase_file);
  if (!passphrase)
    return fail(errc::invalid_config, "--passphrase-file: " + passphrase.err().message);
  std::ifstream in{from, std::ios::binary};
  if (!in)
    return fail(errc::io_error, "cannot read " + from.string());
  // Everything goes to a directory beside `dir` first, and becomes `dir` only once it checks out.
  auto staging = fs::path{dir.string() + ".restoring"};
  fs::remove_all(staging, ec);
  cleanup drop_staging{staging};
  fs::create_directories(staging, ec);
  fs::permissions(staging, fs::perms::owner_all, ec);
  opener o{in};
  if (auto r = o.start(*passphrase); !r)
    return r.err();
  extractor x{staging};
  for (bool last = false; !last;) {
    std::string plain;
    if (auto r = o.next(plain, last); !r)
      return r.err();
    auto fed = x.feed(plain);
    OPENSSL_cleanse(plain.data(), plain.size());
    if (!fed)
      return fed.err();
  }
  if (!o.at_end())
    return fail(errc::malformed_input, "the backup file goes on after its last chunk");
  if (!x.complete())
    return fail(errc::malformed_input, "the backup's entries end early");

  // The restored node must be usable: its configuration reads, the pass phrase opens its key, its
  // store opens.
  auto cfg = load_node_config(staging / "joconde.ini", {});
  if (!cfg)
    return fail(errc::malformed_input, "the restored configuration does not read: " + cfg.err().message);
  auto key_pem = pki::read_file(cfg->key);
  if (!key_pem)
    return fail(errc::malformed_input, "the backup holds no node key: " + key_pem.err().message);
  auto key = crypto::private_key::from_pem(*key_pem, *passphrase);
  if (!key)
    return fail(errc::bad_passphrase, "the pass phrase does not open the restored node key");
  auto store = node_store::open(cfg->data_dir, cfg->map_size);
  if (!store)
    return store.err();
  store->env.reset();
  // The pass phrase goes where the configuration names it, when that is in the node's directory.
  auto wanted = fs::absolute(cfg->passphrase_file).lexically_normal();
  auto rel = wanted.lexically_relative(fs::absolute(staging).lexically_normal());
  if (!rel.empty() && *rel.begin() != "..") {
    std::ofstream p{wanted, std::ios::trunc};
    p << *passphrase << "\n";
    p.close();
    fs::permissions(wanted, fs::perms::owner_read, ec);
  }
  OPENSSL_cleanse(passphrase->data(), passphrase->size());
  if (fs::exists(dir))
    fs::remove(dir, ec);
  fs::rename(staging, dir, ec);
  if (ec)
    return fail(errc::io_error, "cannot move the restored node into " + dir.string() + ": " + ec.message());
  drop_staging.keep = true;
  return summary{x.files(), x.bytes(), fs::file_size(from, ec)};
}

} // namespace joconde::backup
