// The standard process_* metrics of Prometheus' client libraries (prometheus-cpp has none), read
// from /proc/self at each scrape: CPU seconds, resident and virtual memory, open and allowed file
// descriptors, start time.

#include "joconde/runtime/metrics.hpp"

#include <prometheus/metric_family.h>

#include <unistd.h>

#include <dirent.h>
#include <sys/resource.h>

#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace joconde::metrics {

namespace {

/// The fields of /proc/self/stat after the command name: utime (14), stime (15), starttime (22),
/// vsize (23), rss (24) in the numbering of proc(5).
struct proc_stat {
  double utime_ticks = 0, stime_ticks = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
  bool ok = false;
};

proc_stat read_stat() {
  proc_stat out;
  std::ifstream in{"/proc/self/stat"};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  // The command name is in parentheses and may hold spaces: fields start after the last ')'.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return out;
  std::istringstream fields{text.substr(close + 2)};
  std::vector<std::string> f{std::istream_iterator<std::string>{fields}, {}};
  // f[0] is field 3 (state).
  auto at = [&](size_t field) { return field - 3 < f.size() ? std::stod(f[field - 3]) : 0.0; };
  if (f.size() < 22)
    return out;
  out.utime_ticks = at(14);
  out.stime_ticks = at(15);
  out.start_ticks = at(22);
  out.vsize = at(23);
  out.rss_pages = at(24);
  out.ok = true;
  return out;
}

/// Seconds since the epoch at boot (btime of /proc/stat).
double boot_time() {
  std::ifstream in{"/proc/stat"};
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

double open_fds() {
  double n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (auto* e = readdir(d))
      if (e->d_name[0] != '.')
        ++n;
    closedir(d);
    --n;  // the descriptor of the directory being read
  }
  return n;
}

prometheus::MetricFamily gauge(const char* name, const char* help, double value, bool counter = false) {
  prometheus::MetricFamily fam;
  fam.name = name;
  fam.help = help;
  fam.type = counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
  prometheus::ClientMetric m;
  if (counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  fam.metric.push_back(std::move(m));
  return fam;
}

} // namespace

std::vector<prometheus::MetricFamily> process_families() {
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  static const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  static const double booted = boot_time();
  std::vector<prometheus::MetricFamily> out;
  auto st = read_stat();
  if (st.ok) {
    out.push_back(gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                        (st.utime_ticks + st.stime_ticks) / ticks, true));
    out.push_back(gauge("process_resident_memory_bytes", "Resident memory size in bytes.", st.rss_pages * page));
    out.push_back(gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", st.vsize));
    out.push_back(gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                        booted + st.start_ticks / ticks));
  }
  out.push_back(gauge("process_open_fds", "Number of open file descriptors.", open_fds()));
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
    out.push_back(gauge("process_max_fds", "Maximum number of open file descriptors.",
                        lim.rlim_cur == RLIM_INFINITY ? -1.0 : static_cast<double>(lim.rlim_cur)));
  return out;
}

} // namespace joconde::metrics
