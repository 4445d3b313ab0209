// groove: command-line entry point. Library errors become a message and exit code 1; bad usage
// exits with CLI11's code. Exit codes are documented in docs/cli.md.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "runtime/build_info.h"
#include "runtime/error.h"

namespace {
// Runs a command; library errors become a message and exit code 1.
int guarded(const std::function<int()>& command) {
  try {
    return command();
  } catch (const groove::Error& e) {
    std::fprintf(stderr, "groove: error: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "groove: unexpected error: %s\n", e.what());
  }
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  groove::reexec_with_openblas_coretype(argv);
  // Commands with free-form overrides parse their own arguments.
  if (argc >= 2) {
    const std::string command = argv[1];
    if (command == "run" || command == "sweep" || command == "reversal" || command == "plot" || command == "config" ||
        command == "decode" || command == "bench") {
      const std::vector<std::string> args(argv + 2, argv + argc);
      return guarded([&] {
        if (command == "plot") return groove::cli::plot_command(args, argv[0]);
        if (command == "config") return groove::cli::config_command(args);
        if (command == "decode") return groove::cli::decode_command(args);
        if (command == "bench") return groove::cli::bench_command(args);
        return groove::cli::train_command(command, args);
      });
    }
  }
  CLI::App app{
      "groove: very long training runs of small networks, and what they keep learning\n"
      "Commands with their own --help: run, sweep, reversal, decode, bench, plot, config"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] { return groove::cli::info_json()["version"].get<std::string>(); });

  bool info_as_json = false;
  std::string info_out;
  CLI::App* info = app.add_subcommand("info", "Version, build options, BLAS, CPU threads and GPUs");
  info->add_flag("--json", info_as_json, "Print JSON instead of text");
  info->add_option("--out", info_out, "Also write the JSON to this file");

  groove::cli::SelfcheckOptions check;
  CLI::App* selfcheck = app.add_subcommand("selfcheck", "Check every core op against its reference on this machine");
  selfcheck->add_option("--device", check.device, "auto, cpu or cuda:N")->capture_default_str();
  selfcheck->add_option("--out", check.out, "Write the JSON report to this file");

  CLI11_PARSE(app, argc, argv);
  return guarded([&] {
    if (info->parsed()) {
      const nlohmann::json j = groove::cli::info_json();
      if (info_as_json) {
        std::cout << j.dump(2) << "\n";
      } else {
        groove::cli::print_info(j);
      }
      if (!info_out.empty()) groove::cli::write_json(info_out, j);
      return 0;
    }
    if (selfcheck->parsed()) return groove::cli::selfcheck(check);
    return 0;
  });
}
