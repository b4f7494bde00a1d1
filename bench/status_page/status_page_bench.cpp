// isitup-bench-status-page: rendering the status page for 10, 100 and 1,000 checks (the fleet of
// fixtures/status_page_sample.hpp), against a floor measured in the same run: one pass of the
// HTML escaper over as many bytes as the page has (every output byte touched once).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include <isitup/core/status_page.hpp>
#include "bench_main.hpp"
#include "status_page_sample.hpp"

namespace {

void bm_render(benchmark::State& state) {
  const auto v = isitup::testing::sample_status_view(static_cast<int>(state.range(0)));
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string page = isitup::render_status_page(v);
    bytes = page.size();
    benchmark::DoNotOptimize(page.data());
  }
  state.counters["page_bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(bm_render)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void bm_escape_floor(benchmark::State& state) {
  const std::string page = isitup::render_status_page(
      isitup::testing::sample_status_view(static_cast<int>(state.range(0))));
  for (auto _ : state) {
    std::string out;
    out.reserve(page.size() * 2);
    isitup::append_html_escaped(out, page, page.size());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * page.size()));
}
BENCHMARK(bm_escape_floor)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void print_ratios(const isitup::bench::recording_reporter& reporter) {
  std::FILE* out = reporter.table();
  std::fprintf(out, "\nratio = render time / escape floor time (same run, same page size)\n");
  for (const char* n : {"10", "100", "1000"}) {
    const auto* r = reporter.run(std::string("bm_render/") + n);
    const auto* f = reporter.run(std::string("bm_escape_floor/") + n);
    if (r == nullptr || f == nullptr) continue;
    const double rt = r->GetAdjustedCPUTime(), ft = f->GetAdjustedCPUTime();
    std::fprintf(out, "%5s checks: render %8.2f ms, page %8.0f KB, %5.1fx the floor\n", n,
                 rt / benchmark::GetTimeUnitMultiplier(r->time_unit) * 1e3,
                 r->counters.at("page_bytes").value / 1024, ft > 0 ? rt / ft : 0.0);
  }
}

}  // namespace

int main(int argc, char** argv) { return isitup::bench::run_benchmarks(argc, argv, print_ratios); }
