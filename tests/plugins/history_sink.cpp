// A sink that answers the status page's history (ISITUP_SINK_HISTORY) from made-up data and
// takes every batch. For each asked day: check "stored" has 1,000 results of which 750 up;
// check "local" has 500, all up, except today. For each asked hour: "stored" has 60 results,
// all up, p50 20 ms and p95 50 ms. Each call appends "<from> <to> <length>" to the file of
// option `calls`.
#include <isitup/plugin.hpp>

#include <fstream>
#include <string>

namespace sdk = isitup::sdk;

namespace {

class history_sink : public sdk::sink {
 public:
  history_sink(const sdk::host&, const sdk::options_view& o) : calls_(o.string("calls")) {}

  void write(const sdk::batch_view&, sdk::batch_done done) override { done(sdk::status::ok); }
  sdk::status flush(std::chrono::milliseconds) override { return sdk::status::ok; }

  void read_history(const sdk::history_query& q,
                    const std::function<void(const sdk::history_bucket&)>& emit) {
    std::ofstream(calls_, std::ios::app)
        << q.from_ms << ' ' << q.to_ms << ' ' << q.length_ms << '\n';
    const bool days = q.length_ms == 86'400'000;
    for (int64_t at = q.from_ms; at < q.to_ms; at += q.length_ms) {
      sdk::history_bucket b;
      b.check = "stored";
      b.start_ms = at;
      b.results = days ? 1000 : 60;
      b.up = days ? 750 : 60;
      if (!days) {
        b.p50_total_ms = 20;
        b.p95_total_ms = 50;
      }
      emit(b);
      if (days && at + q.length_ms < q.to_ms) {
        b.check = "local";
        b.results = b.up = 500;
        emit(b);
      }
    }
  }

 private:
  std::string calls_;
};

}  // namespace

ISITUP_PLUGIN(sdk::plugin_def(PLUGIN_NAME, "1.0.0", "test plugin: a sink with made-up history")
                  .sink<history_sink>({{"calls", ISITUP_OPT_STRING, nullptr,
                                        "file each read_history call is appended to", true}}))
