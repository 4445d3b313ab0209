// `groove bench`: times the training step of the PERF.md workload (bench/workload.h) over a grid
// of shapes, with the per-step statistics on, on the CPU or the GPU; prints a table and writes it
// as CSV and Markdown (with the machine, device, versions and date) under bench/results/.
// `groove bench --dump DIR` writes what the PyTorch / JAX peers (bench/peers/) need to redo and
// check one configuration. Options: docs/cli.md, method: BENCHMARKS.md.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/workload.h"
#include "commands.h"
#include "kernels/ops.h"
#include "runtime/device.h"
#include "runtime/error.h"

namespace groove::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using bench::WorkloadSpec;

struct BenchOptions {
  std::string device = "auto";
  std::string grid = "piriform";
  std::vector<std::string> configs;
  std::string stats = "on";
  std::int64_t steps = 0;  // 0: auto
  double min_time = 1.0;
  int repeats = 5;
  std::string out = "bench/results";
  std::string name;
  bool no_write = false;
  std::string dump;
  std::int64_t dump_steps = 1000;
  bool json = false;
  bool quiet = false;
};

// "D=128,N=1024,P=512,C=2,K=1,B=0" (any subset; the rest from piriform-1k).
WorkloadSpec parse_config_text(const std::string& text) {
  WorkloadSpec s;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    GROOVE_CHECK(eq != std::string::npos, "bench --config '", text, "': '", item, "' is not KEY=VALUE");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    std::size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    GROOVE_CHECK(used == value.size() && v >= 0, "bench --config '", text, "': ", key,
                 " must be a non-negative integer, got '", value, "'");
    if (key == "D") {
      s.d = v;
    } else if (key == "N") {
      s.n = v;
    } else if (key == "P") {
      s.p = v;
    } else if (key == "C") {
      s.c = v;
    } else if (key == "K") {
      s.k = v;
    } else if (key == "B") {
      s.batch = v;
    } else if (key == "Q") {
      s.q = v;
    } else {
      GROOVE_THROW("bench --config '", text, "': unknown key '", key, "' (D, N, P, C, K, B, Q)");
    }
  }
  s.validate();
  return s;
}

// The grids (shared/PERF.md): piriform-1k at K = 1 and many K; "perf" varies one factor at a time
// around piriform-1k over D {32, 128, 1024}, N {64, 1024, 8192}, P {64, 512, 4096}, C {2, 10},
// K {1, 8, 64, 1024}, adds minibatches of 64 and the single small model (D32 N64 P64).
std::vector<WorkloadSpec> grid(const std::string& name, bool cuda, std::vector<std::string>* skipped) {
  const WorkloadSpec base;
  std::vector<WorkloadSpec> out;
  auto with = [&](auto set) {
    WorkloadSpec s = base;
    set(s);
    out.push_back(s);
  };
  const std::int64_t big_k = cuda ? 1024 : 64;
  if (name == "piriform") {
    with([](WorkloadSpec&) {});
    with([&](WorkloadSpec& s) { s.k = big_k; });
    return out;
  }
  if (name == "small") {
    with([](WorkloadSpec& s) { s.d = 32, s.n = 64, s.p = 64; });
    with([](WorkloadSpec& s) { s.d = 32, s.n = 64, s.p = 64, s.k = 64; });
    return out;
  }
  GROOVE_CHECK(name == "perf", "bench --grid '", name, "': unknown grid (piriform, small, perf)");
  with([](WorkloadSpec& s) { s.d = 32, s.n = 64, s.p = 64; });
  with([](WorkloadSpec&) {});
  for (std::int64_t d : {32, 1024}) with([&](WorkloadSpec& s) { s.d = d; });
  for (std::int64_t n : {64, 8192}) with([&](WorkloadSpec& s) { s.n = n; });
  for (std::int64_t p : {64, 4096}) with([&](WorkloadSpec& s) { s.p = p; });
  with([](WorkloadSpec& s) { s.c = 10; });
  for (std::int64_t k : {8, 64, 1024}) {
    if (!cuda && k == 1024) {
      if (skipped) skipped->push_back("D128 N1024 P512 C2 K1024 full: not run on the CPU (~2 GB per activation, "
                                      "~1 s per step); use --config K=1024 to run it");
      continue;
    }
    with([&](WorkloadSpec& s) { s.k = k; });
  }
  with([](WorkloadSpec& s) { s.batch = 64; });
  with([&](WorkloadSpec& s) { s.batch = 64, s.k = cuda ? 1024 : 64; });
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Peak {
  double gflops = 0;  // the reference throughput for "% of peak"
  std::string what;   // what it is
};

// GPU: FP32 FMA peak from the device's SM count and clock. CPU: OpenBLAS sgemm on the config's
// first-layer product (K x [P, D] x [D, N]) measured now, the throughput PERF.md's CPU target
// compares with.
Peak reference_peak(Context& ctx, const WorkloadSpec& s) {
  if (ctx.is_cuda()) {
    for (const GpuInfo& g : list_gpus()) {
      if (g.index != ctx.device().index()) continue;
      Peak p;
      p.gflops = fp32_peak_gflops(g);
      p.what = "FP32 peak of " + g.name;
      return p;
    }
    return {};
  }
  const std::int64_t rows = s.batch > 0 ? s.batch : s.p;
  Tensor x = Tensor::host({rows, s.d}, DType::f32), w = Tensor::host({s.k, s.n, s.d}, DType::f32);
  Tensor h = Tensor::host({s.k, rows, s.n}, DType::f32);
  ops::random_uniform(x, RngKey{1, 0xbe7c, 0}, -1.0, 1.0, ctx);
  ops::random_uniform(w, RngKey{2, 0xbe7c, 0}, -1.0, 1.0, ctx);
  ops::GemmOptions o;
  o.trans_b = true;
  o.algo = ops::GemmAlgo::vendor;
  ops::gemm(h, x, w, o, ctx);
  const double flops = 2.0 * static_cast<double>(s.k * rows * s.n * s.d);
  std::vector<double> rates;
  for (int r = 0; r < 5; ++r) {
    int reps = 0;
    const auto t0 = Clock::now();
    double seconds = 0;
    do {
      ops::gemm(h, x, w, o, ctx);
      ++reps;
      seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (seconds < 0.1);
    rates.push_back(flops * reps / seconds * 1e-9);
  }
  Peak p;
  p.gflops = median(rates);
  p.what = "OpenBLAS sgemm, same shape";
  return p;
}

struct Result {
  WorkloadSpec spec;
  std::int64_t steps = 0;
  std::vector<double> seconds;
  double steps_per_s = 0, min_steps_per_s = 0, max_steps_per_s = 0;
  double setup_s = 0;
  Peak peak;
};

Result measure(Context& ctx, const WorkloadSpec& spec, const BenchOptions& o) {
  Result r;
  r.spec = spec;
  const auto t_setup = Clock::now();
  bench::Workload w(ctx, spec);
  // Warm-up: records the step, captures the CUDA graphs, first-touch allocation.
  w.run(ctx.is_cuda() ? 2 * spec.steps_per_graph + 1 : 2);
  ctx.synchronize();
  r.setup_s = std::chrono::duration<double>(Clock::now() - t_setup).count();
  std::int64_t steps = o.steps;
  if (steps <= 0) {
    // Calibrate: enough steps for min_time seconds (at least 3; GPU at least 10^4, PERF.md).
    const std::int64_t probe = ctx.is_cuda() ? 256 : 3;
    const auto t0 = Clock::now();
    w.run(probe);
    ctx.synchronize();
    const double per_step = std::chrono::duration<double>(Clock::now() - t0).count() / static_cast<double>(probe);
    steps = std::max<std::int64_t>(ctx.is_cuda() ? 10000 : 3, static_cast<std::int64_t>(std::ceil(o.min_time / per_step)));
  }
  r.steps = steps;
  for (int rep = 0; rep < o.repeats; ++rep) {
    const auto t0 = Clock::now();
    w.run(steps);
    ctx.synchronize();
    r.seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::vector<double> rates;
  for (double s : r.seconds) rates.push_back(static_cast<double>(steps) / s);
  r.steps_per_s = median(rates);
  r.min_steps_per_s = *std::min_element(rates.begin(), rates.end());
  r.max_steps_per_s = *std::max_element(rates.begin(), rates.end());
  r.peak = reference_peak(ctx, spec);
  return r;
}

std::string now_utc(const char* format) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown CPU";
}

nlohmann::json machine_json(Context& ctx) {
  nlohmann::json info = info_json();
  nlohmann::json m;
  m["date"] = now_utc("%Y-%m-%dT%H:%M:%SZ");
  m["cpu"] = cpu_model();
  m["hardware_threads"] = std::thread::hardware_concurrency();
  m["cpu_threads"] = info["cpu_threads"];
  m["device"] = ctx.device().str();
  for (const auto& g : info["gpus"])
    if (ctx.is_cuda() && g["index"].get<int>() == ctx.device().index()) m["gpu"] = g;
  m["groove"] = info["version"];
  m["git"] = info["git_hash"];
  m["compiler"] = info["build"]["compiler"];
  m["blas"] = info["blas"];
  m["cuda_runtime"] = info["cuda_runtime"];
  m["cuda_driver"] = info["cuda_driver"];
  return m;
}

const char* kColumns[] = {"config", "D", "N", "P", "C", "K", "B", "stats", "steps", "repeats", "steps_per_s",
                          "steps_per_s_min", "steps_per_s_max", "model_steps_per_s", "gflops", "peak_gflops",
                          "pct_of_peak", "peak", "ms_per_1e4_steps", "setup_s"};

std::vector<std::string> row_of(const Result& r) {
  // 4 significant digits, never in exponent notation (the tables are read by people).
  auto num = [](double v, int digits = 4) {
    char buf[64];
    if (!std::isfinite(v)) return std::string("nan");
    const int magnitude = v == 0 ? 0 : static_cast<int>(std::floor(std::log10(std::fabs(v))));
    std::snprintf(buf, sizeof buf, "%.*f", std::max(0, digits - 1 - magnitude), v);
    return std::string(buf);
  };
  const double gflops = r.steps_per_s * static_cast<double>(r.spec.k) * r.spec.flops_per_model_step() * 1e-9;
  return {r.spec.label(),
          std::to_string(r.spec.d),
          std::to_string(r.spec.n),
          std::to_string(r.spec.p),
          std::to_string(r.spec.c),
          std::to_string(r.spec.k),
          std::to_string(r.spec.batch),
          r.spec.stats ? "on" : "off",
          std::to_string(r.steps),
          std::to_string(r.seconds.size()),
          num(r.steps_per_s),
          num(r.min_steps_per_s),
          num(r.max_steps_per_s),
          num(r.steps_per_s * static_cast<double>(r.spec.k)),
          num(gflops),
          num(r.peak.gflops),
          r.peak.gflops > 0 ? num(100.0 * gflops / r.peak.gflops, 3) : "",
          r.peak.what,
          num(1e7 / r.steps_per_s),
          num(r.setup_s, 3)};
}

void write_outputs(const std::vector<Result>& results, const nlohmann::json& machine, const std::string& csv_path,
                   const std::string& md_path, const std::string& command) {
  std::ostringstream csv;
  for (std::size_t j = 0; j < std::size(kColumns); ++j) csv << (j ? "," : "") << kColumns[j];
  csv << "\n";
  for (const Result& r : results) {
    const auto row = row_of(r);
    for (std::size_t j = 0; j < row.size(); ++j) csv << (j ? "," : "") << (j == 0 || j == 17 ? "\"" + row[j] + "\"" : row[j]);
    csv << "\n";
  }
  std::ostringstream md;
  md << "# groove bench, " << machine["device"].get<std::string>() << ", " << machine["date"].get<std::string>()
     << "\n\n";
  md << "Command: `" << command << "`\n\n";
  md << "| machine | |\n|---|---|\n";
  for (const auto& [k, v] : machine.items()) md << "| " << k << " | " << (v.is_string() ? v.get<std::string>() : v.dump()) << " |\n";
  md << "\nWorkload (bench/workload.h): K two-layer MLPs, mean-field readout, ReLU, SGD, cross-entropy, f32, "
        "per-step statistics every step (stats on), drained every 1000 steps. Median of the repeats; "
        "GFLOP/s counts 4BDN + 6BNC per model-step (B = examples per step).\n\n";
  md << "| config | stats | steps/s | model-steps/s | GFLOP/s | % of peak | ms / 10^4 steps | steps x repeats | min-max steps/s |\n";
  md << "|---|---|---|---|---|---|---|---|---|\n";
  for (const Result& r : results) {
    const auto row = row_of(r);
    md << "| " << row[0] << " | " << row[7] << " | " << row[10] << " | " << row[13] << " | " << row[14] << " | "
       << (row[16].empty() ? "" : row[16] + "% (" + row[17] + ")") << " | " << row[18] << " | " << row[8] << " x "
       << row[9] << " | " << row[11] << "-" << row[12] << " |\n";
  }
  auto write = [](const std::string& path, const std::string& text) {
    if (path.empty()) return;
    const fs::path p(path);
    if (p.has_parent_path()) fs::create_directories(p.parent_path());
    const std::string tmp = path + ".tmp";
    {
      std::ofstream f(tmp);
      GROOVE_CHECK(f.good(), "groove bench: cannot write '", tmp, "'");
      f << text;
    }
    fs::rename(tmp, path);
  };
  write(csv_path, csv.str());
  write(md_path, md.str());
}

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  BenchOptions o;
  CLI::App app{"groove bench: time the training step of the PERF.md workload (with per-step statistics) and "
               "write the table under bench/results/",
               "groove bench"};
  app.add_option("--device", o.device, "auto, cpu or cuda[:N]")->capture_default_str();
  app.add_option("--grid", o.grid, "piriform (piriform-1k at K = 1 and many K), small, or perf (PERF.md's grid)")
      ->capture_default_str();
  app.add_option("--config", o.configs,
                 "One configuration, e.g. D=128,N=1024,P=512,C=2,K=64,B=0 (unset keys: piriform-1k); repeatable; "
                 "replaces the grid");
  app.add_option("--stats", o.stats, "Per-step statistics: on, off or both")->capture_default_str();
  app.add_option("--steps", o.steps, "Steps per repeat (default: at least --min-time seconds; at least 10^4 on a GPU)");
  app.add_option("--min-time", o.min_time, "Seconds per repeat when --steps is not given")->capture_default_str();
  app.add_option("--repeats", o.repeats, "Repeats (the median is reported)")->capture_default_str();
  app.add_option("--out", o.out, "Folder of the CSV and Markdown tables")->capture_default_str();
  app.add_option("--name", o.name, "File stem of the tables (default bench-DATE-DEVICE)");
  app.add_flag("--no-write", o.no_write, "Print the table only");
  app.add_option("--dump", o.dump,
                 "Write the peers' input for the (single) --config to this folder (bench.json, init.npz, data.npz, "
                 "curves.npz) and exit");
  app.add_option("--dump-steps", o.dump_steps, "Steps whose statistics --dump records")->capture_default_str();
  app.add_flag("--json", o.json, "Print the results as JSON on stdout instead of the table");
  app.add_flag("--quiet", o.quiet, "No progress on stderr");
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  GROOVE_CHECK(o.stats == "on" || o.stats == "off" || o.stats == "both", "bench --stats must be on, off or both, got '",
               o.stats, "'");
  GROOVE_CHECK(o.repeats >= 1, "bench --repeats must be >= 1, got ", o.repeats);
  GROOVE_CHECK(o.min_time > 0, "bench --min-time must be > 0, got ", o.min_time);
  GROOVE_CHECK(o.steps >= 0, "bench --steps must be >= 0, got ", o.steps);
  Context ctx(resolve_device(o.device));

  std::vector<WorkloadSpec> specs;
  std::vector<std::string> skipped;
  if (!o.configs.empty()) {
    for (const std::string& c : o.configs) specs.push_back(parse_config_text(c));
  } else {
    specs = grid(o.grid, ctx.is_cuda(), &skipped);
  }

  if (!o.dump.empty()) {
    GROOVE_CHECK(specs.size() == 1 && !o.configs.empty(), "bench --dump needs exactly one --config");
    GROOVE_CHECK(o.dump_steps >= 1, "bench --dump-steps must be >= 1, got ", o.dump_steps);
    bench::Workload w(ctx, specs[0]);
    w.dump(o.dump, o.dump_steps, machine_json(ctx).dump());
    std::printf("groove bench: wrote %s/{bench.json,init.npz,data.npz,curves.npz} (%s, %lld steps, %s)\n",
                o.dump.c_str(), specs[0].label().c_str(), static_cast<long long>(o.dump_steps),
                ctx.device().str().c_str());
    return 0;
  }

  std::vector<Result> results;
  const nlohmann::json machine = machine_json(ctx);
  for (const WorkloadSpec& base : specs) {
    for (int stats_on = 1; stats_on >= 0; --stats_on) {
      if ((stats_on && o.stats == "off") || (!stats_on && o.stats == "on")) continue;
      WorkloadSpec s = base;
      s.stats = stats_on != 0;
      if (!o.quiet) std::fprintf(stderr, "groove bench: %s, stats %s on %s ...\n", s.label().c_str(), s.stats ? "on" : "off",
                               ctx.device().str().c_str());
      results.push_back(measure(ctx, s, o));
    }
  }
  for (const std::string& s : skipped) std::fprintf(stderr, "groove bench: skipped %s\n", s.c_str());

  std::string command = "groove bench";
  for (const std::string& a : args) command += " " + a;
  if (o.json) {
    nlohmann::json j;
    j["machine"] = machine;
    j["command"] = command;
    j["results"] = nlohmann::json::array();
    for (const Result& r : results) {
      const auto row = row_of(r);
      nlohmann::json x;
      for (std::size_t c = 0; c < row.size(); ++c) x[kColumns[c]] = row[c];
      x["repeat_seconds"] = r.seconds;
      j["results"].push_back(x);
    }
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%-28s %-5s %12s %14s %10s %16s %14s\n", "config", "stats", "steps/s", "model-steps/s", "GFLOP/s",
                "% of peak", "ms/1e4 steps");
    for (const Result& r : results) {
      const auto row = row_of(r);
      std::printf("%-28s %-5s %12s %14s %10s %16s %14s\n", row[0].c_str(), row[7].c_str(), row[10].c_str(),
                  row[13].c_str(), row[14].c_str(), row[16].empty() ? "" : (row[16] + "%").c_str(), row[18].c_str());
    }
    if (!results.empty() && results[0].peak.gflops > 0)
      std::printf("%% of peak: of %s\n", ctx.is_cuda() ? results[0].peak.what.c_str() : "OpenBLAS sgemm on the config's first-layer shape");
  }
  if (!o.no_write) {
    std::string dev = ctx.device().str();
    std::replace(dev.begin(), dev.end(), ':', '-');
    const std::string stem = o.name.empty() ? "bench-" + now_utc("%Y-%m-%d") + "-" + dev : o.name;
    const std::string base = (fs::path(o.out) / stem).string();
    write_outputs(results, machine, base + ".csv", base + ".md", command);
    std::fprintf(stderr, "groove bench: wrote %s.csv and %s.md\n", base.c_str(), base.c_str());
  }
  return 0;
}

}  // namespace groove::cli
