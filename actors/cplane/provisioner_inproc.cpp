// The `inproc` VM provisioner (tests; provisioner.hpp): vm::run_vm in a thread of the node. The
// platform is the simulated one loaded from tee.platform-dir, and the VM's attester is the one that
// platform launches with the measurement of the VM binary and image configuration and the CTA hash
// as host data, exactly what joconde-sp would do in its own process. The only way to end the VM is
// its stop flag.

#include "provisioner.hpp"

#include "vm/vm_run.hpp"

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

namespace joconde {

namespace fs = std::filesystem;

namespace {

/// How long tear-down waits for a stopped VM thread before leaving it behind.
constexpr auto join_wait = std::chrono::seconds{10};

class thread_handle final : public vm_handle {
public:
  thread_handle(std::shared_ptr<std::atomic<bool>> stop, std::future<int> done, std::thread thread)
    : stop_(std::move(stop)), done_(std::move(done)), thread_(std::move(thread)) {
    // nop
  }

  ~thread_handle() override {
    stop_->store(true);
    if (status_ || done_.wait_for(join_wait) == std::future_status::ready)
      thread_.join();
    else
      thread_.detach(); // run_vm does not heed its stop flag: never block the node on it
  }

  bool alive() override {
    if (status_)
      return false;
    if (done_.wait_for(std::chrono::seconds{0}) != std::future_status::ready)
      return true;
    status_ = done_.get();
    return false;
  }

  std::optional<int> exit_status() override {
    alive();
    return status_;
  }

  void stop() override {
    stop_->store(true);
  }

  void kill() override {
    stop_->store(true);
  }

  std::string describe() const override {
    return "in-process thread";
  }

private:
  std::shared_ptr<std::atomic<bool>> stop_;
  std::future<int> done_;
  std::optional<int> status_;
  std::thread thread_;
};

result<std::string> read_text(const char* key, const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return fail(errc::invalid_config, std::string{key} + " = " + file.string() + " cannot be read");
  std::ostringstream buf;
  buf << in.rdbuf();
  return std::move(buf).str();
}

class inproc_provisioner final : public provisioner {
public:
  explicit inproc_provisioner(tee_config tee) : tee_(std::move(tee)) {
    // nop
  }

  result<std::unique_ptr<vm_handle>> start(const vm_launch& l) override {
    auto platform = enclave::simulated_platform::load(tee_.platform_dir);
    if (!platform)
      return fail(errc::invalid_config, "tee.platform-dir = " + tee_.platform_dir.string() + ": "
                                          + platform.err().message);
    auto text = read_text("tee.image-config", tee_.image_config);
    if (!text)
      return text.err();
    auto image = vm::image_config::parse(*text);
    if (!image)
      return fail(image.err().code, "tee.image-config = " + tee_.image_config.string() + ": "
                                      + image.err().message);
    auto m = image_measurement(tee_);
    if (!m)
      return m.err();
    auto attester = std::make_shared<const enclave::simulated_attester>(
      platform->launch(*m, l.cta_hash, false));
    vm::vm_options opts;
    opts.cta_file = l.cta_file;
    opts.cp_index = l.cp_index;
    opts.data_dir = l.vm_dir;
    opts.bind_host = tee_.network.bind;
    opts.advertise_host = tee_.network.advertise;
    opts.admin_bind_host = tee_.network.admin_bind;
    opts.ports = tee_.network.ports;
    opts.admin_token = l.admin_token;
    auto stop = std::make_shared<std::atomic<bool>>(false);
    std::promise<int> promise;
    auto done = promise.get_future();
    std::thread thread{[opts, image = std::move(*image), host = l.cta_hash, attester, stop,
                        promise = std::move(promise)]() mutable {
      int status = vm::exit_failed;
      try {
        status = vm::run_vm(opts, image, host, attester, stop);
      } catch (...) {
        status = vm::exit_failed;
      }
      promise.set_value(status);
    }};
    return std::unique_ptr<vm_handle>{
      std::make_unique<thread_handle>(std::move(stop), std::move(done), std::move(thread))};
  }

  void end_leftover(const fs::path&) override {
    // nop: an in-process VM ended with the node
  }

  std::string name() const override {
    return "inproc";
  }

private:
  tee_config tee_;
};

} // namespace

std::unique_ptr<provisioner> make_inproc_provisioner(tee_config tee) {
  return std::make_unique<inproc_provisioner>(std::move(tee));
}

} // namespace joconde
