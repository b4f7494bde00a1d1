// A sink that takes events only while a gate file exists: write_events appends each event's
// JSON as a line to the file of option `log` when the file of option `gate` exists, and
// answers ISITUP_RETRY otherwise (a receiver that is down). Results are accepted; with option
// `results` set, write() appends a line per batch to that file. Built twice (CMakeLists.txt):
// gated_sink, and gated_notifier with ISITUP_SINK_NOTIFIER (-DNOTIFIER), which must get only
// the events of checks that name it and never a result.
#include <isitup/plugin.hpp>

#include <sys/stat.h>

#ifdef NOTIFIER
#define SINK_FLAGS ISITUP_SINK_NOTIFIER
#else
#define SINK_FLAGS 0u
#endif
#include <fstream>
#include <mutex>
#include <string>

namespace sdk = isitup::sdk;

namespace {

class gated_sink : public sdk::sink {
 public:
  gated_sink(const sdk::host&, const sdk::options_view& o)
      : log_(o.string("log")), gate_(o.string("gate")), results_(o.string("results")) {}

  void write(const sdk::batch_view& batch, sdk::batch_done done) override {
    if (!results_.empty()) {
      std::lock_guard lock(mu_);
      std::ofstream(results_, std::ios::app) << batch.size() << " results\n";
    }
    done(sdk::status::ok);
  }

  void write_events(sdk::event_span events, sdk::batch_done done) {
    struct stat st {};
    if (::stat(gate_.c_str(), &st) != 0) return done(sdk::status::retry, "gate closed");
    std::lock_guard lock(mu_);
    std::ofstream out(log_, std::ios::app);
    for (const isitup_event_v1* e : events) out << e->json << '\n';
    out.flush();
    done(out ? sdk::status::ok : sdk::status::retry, "cannot write the log");
  }

  sdk::status flush(std::chrono::milliseconds) override { return sdk::status::ok; }

 private:
  std::string log_, gate_, results_;
  std::mutex mu_;
};

}  // namespace

ISITUP_PLUGIN(
    sdk::plugin_def(PLUGIN_NAME, "1.0.0", "test plugin: events pass while a file exists")
        .sink<gated_sink>(
            {
                {"log", ISITUP_OPT_STRING, nullptr, "file the events are appended to", true},
                {"gate", ISITUP_OPT_STRING, nullptr, "events pass while this file exists", true},
                {"results", ISITUP_OPT_STRING, "", "file noting each result batch"},
            },
            1, SINK_FLAGS))
