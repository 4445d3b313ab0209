// The groove CLI's subcommands. Each returns the process exit code; errors propagate as
// groove::Error and are printed by main().
#pragma once

#include <nlohmann/json.hpp>
#include <string>

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

// Writes JSON to a file atomically (pretty-printed), creating parent folders.
void write_json(const std::string& path, const nlohmann::json& j);

}  // namespace groove::cli
