// The groove CLI's subcommands. Each returns the process exit code; errors propagate as
// groove::Error and are printed by main().
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace groove::cli {

// `groove info`: version, build, BLAS, threads, GPUs.
nlohmann::json info_json();
void print_info(const nlohmann::json& info);

struct SelfcheckOptions {
  std::string device = "auto";  // auto, cpu, cuda:N
  std::string out;              // write the JSON report here when set
};
// `groove selfcheck`: runs every core op on the chosen device against its reference.
int selfcheck(const SelfcheckOptions& options);

// `groove run` / `groove sweep` / `groove reversal` (command = "run", "sweep" or "reversal"):
// args are the words after the command.
int train_command(const std::string& command, const std::vector<std::string>& args);
// `groove plot DIR`: runs tools/plot/groove_plot.py.
int plot_command(const std::vector<std::string>& args, const char* argv0);
// `groove config --schema` / `groove config CONFIG [overrides]`.
int config_command(const std::vector<std::string>& args);
// groove decode CONFIG [overrides] [--no-progress]
int decode_command(const std::vector<std::string>& args);

// groove bench [options]: times the PERF.md workload (bench/workload.h); --dump writes a peer's input.
int bench_command(const std::vector<std::string>& args);

// Writes JSON to a file atomically (pretty-printed), creating parent folders.
void write_json(const std::string& path, const nlohmann::json& j);

}  // namespace groove::cli
