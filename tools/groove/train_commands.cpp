// groove run / sweep / reversal / plot / config: argument handling on top of sweep/. Overrides
// (`key=value`, `--key value`) are free-form, so these commands parse their own arguments.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "decode/decode.h"
#include "runtime/error.h"
#include "sweep/config.h"
#include "sweep/reversal.h"
#include "sweep/runner.h"

extern char** environ;

namespace fs = std::filesystem;

namespace groove::cli {

namespace {

const char* kRunHelp =
    "usage: groove run CONFIG [key=value | --key value ...] [--no-progress] [--dry-run]\n"
    "       groove sweep CONFIG [key=value | --key value ...] [--shard i/n] [--no-progress] [--dry-run]\n"
    "       groove sweep --merge DIR\n"
    "\n"
    "Trains the run(s) a YAML config describes (docs/config.md), on the GPU when present unless\n"
    "device=cpu. Results: <out>/<name>/ (runs.csv, one folder per run). Reruns skip runs with DONE\n"
    "and resume the others from their checkpoints. Overrides: model.gamma=0.1, --optimizer.lr 0.1,\n"
    "sweep.grid.model.gamma=[0.1,1], sweep.seeds=4, out=DIR, device=cpu.\n"
    "  --dry-run       print the runs, their ensembles and the predicted device memory; train nothing\n"
    "  --shard i/n     run only runs with index % n == i (default: from SLURM_ARRAY_TASK_ID / the MPI rank)\n"
    "  --merge DIR     rebuild DIR/runs.csv from every run folder (after sharded runs)\n"
    "  --no-progress   no progress bar / lines on stderr\n"
    "Exit codes: 0 done, 1 error or failed runs, 75 interrupted by SIGTERM/SIGINT/SIGUSR1 (checkpointed:\n"
    "requeue me).\n";

const char* kReversalHelp =
    "usage: groove reversal CONFIG [key=value | --key value ...] [--no-progress]\n"
    "\n"
    "The overtraining-reversal protocol (docs/experiments.md): pretrain for each T in\n"
    "reversal.pretrain_steps, attach a new readout on reversed labels, and report the steps to reach\n"
    "reversal.loss_criterion / reversal.accuracy_criterion against T, for the configured MLP and the\n"
    "two-layer linear mean-field network (reversal.networks).\n";

const char* kDecodeHelp =
    "usage: groove decode CONFIG [key=value ...] [--key value ...] [--no-progress]\n"
    "\n"
    "Neural-data reanalysis (docs/decode.md): preprocesses sessions of trials x neurons, decodes\n"
    "target vs non-target with cross-validated LDA / linear SVM / logistic regression (every session,\n"
    "shuffle, fold and label permutation as one batched job on the device), and writes accuracy,\n"
    "chance, margins, RSA, PCA, flips, generalization and smoothed trends to <out>/<name>/.\n"
    "Keys: groove config --schema decode.\n";

const char* kPlotHelp =
    "usage: groove plot DIR [--out FIGDIR]\n"
    "\n"
    "Renders PNG figures of a run, a sweep, a reversal or a decode folder (default FIGDIR: DIR/figures) with\n"
    "tools/plot/groove_plot.py (Python 3 with numpy and matplotlib) and prints their paths.\n";

bool wants_help(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") return true;
  }
  return false;
}

// The plot script: $GROOVE_PLOT_SCRIPT, next to an installed binary (../share/groove/), or the
// source tree this binary was built from.
std::string plot_script(const char* argv0) {
  if (const char* env = std::getenv("GROOVE_PLOT_SCRIPT")) return env;
  std::error_code ec;
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "groove" / "groove_plot.py";
    if (fs::exists(installed)) return installed.string();
  }
  (void)argv0;
  const fs::path source = fs::path(GROOVE_SOURCE_DIR) / "tools" / "plot" / "groove_plot.py";
  GROOVE_CHECK(fs::exists(source), "groove plot: cannot find groove_plot.py (set GROOVE_PLOT_SCRIPT)");
  return source.string();
}

// GROOVE_PYTHON, else the first of Debian's interpreter (which has Debian's numpy and matplotlib)
// and the python3 on PATH (a virtual environment or a GPU image) that can import both.
std::string python() {
  if (const char* env = std::getenv("GROOVE_PYTHON")) return env;
  for (const char* candidate : {"/usr/bin/python3", "python3"}) {
    const std::string probe = std::string(candidate) + " -c 'import numpy, matplotlib' > /dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return candidate;
  }
  return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";  // its error names what is missing
}

}  // namespace

int train_command(const std::string& command, const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::cout << (command == "reversal" ? kReversalHelp : kRunHelp);
    return 0;
  }
  std::string config, shard, merge;
  bool dry_run = false, progress = true;
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--dry-run") {
      dry_run = true;
    } else if (a == "--no-progress") {
      progress = false;
    } else if (a == "--shard" || a == "--merge") {
      GROOVE_CHECK(i + 1 < args.size(), command, ": ", a, " needs a value");
      (a == "--shard" ? shard : merge) = args[++i];
    } else if (a.rfind("--shard=", 0) == 0) {
      shard = a.substr(8);
    } else if (a.rfind("--merge=", 0) == 0) {
      merge = a.substr(8);
    } else if (config.empty() && a.rfind("--", 0) != 0 && a.find('=') == std::string::npos) {
      config = a;
    } else {
      rest.push_back(a);
    }
  }
  if (command == "sweep" && !merge.empty()) {
    GROOVE_CHECK(config.empty() && rest.empty(), "groove sweep --merge DIR takes no config or overrides");
    sweep::merge_sweep(merge);
    std::cout << "groove: wrote " << merge << "/runs.csv\n";
    return 0;
  }
  GROOVE_CHECK(!config.empty(), "groove ", command, ": no config file given (groove ", command,
               " CONFIG [overrides]; --help for more)");
  if (command == "reversal") {
    GROOVE_CHECK(!dry_run && shard.empty(), "groove reversal: --dry-run and --shard are not supported");
    sweep::ReversalOptions o;
    o.overrides = sweep::Config::overrides_from_args(rest);
    o.progress = progress;
    sweep::run_reversal(config, o);
    return 0;
  }
  sweep::SweepOptions o;
  o.overrides = sweep::Config::overrides_from_args(rest);
  o.shard = shard;
  o.dry_run = dry_run;
  o.progress = progress;
  o.single_run = command == "run";
  const sweep::SweepSummary s = sweep::run_sweep(config, o);
  return s.exit_code;
}

int decode_command(const std::vector<std::string>& args) {
  if (wants_help(args) || args.empty()) {
    std::cout << kDecodeHelp;
    return args.empty() ? 1 : 0;
  }
  decode::DecodeOptions o;
  std::string config;
  std::vector<std::string> rest;
  for (const std::string& a : args) {
    if (a == "--no-progress") {
      o.progress = false;
    } else if (config.empty() && a.rfind("--", 0) != 0 && a.find('=') == std::string::npos) {
      config = a;
    } else {
      rest.push_back(a);
    }
  }
  GROOVE_CHECK(!config.empty(), "groove decode: no config file given (groove decode CONFIG [overrides]; --help)");
  o.overrides = sweep::Config::overrides_from_args(rest);
  const decode::DecodeResult r = decode::run_decode(config, o);
  std::cout << "groove: decoded " << r.sessions << " sessions (" << r.models << " decoder fits) in " << r.seconds
            << " s\ngroove: results in " << r.dir << " (sessions.csv, days.csv; plots: groove plot " << r.dir << ")\n";
  return 0;
}

int plot_command(const std::vector<std::string>& args, const char* argv0) {
  if (wants_help(args) || args.empty()) {
    std::cout << kPlotHelp;
    return args.empty() ? 1 : 0;
  }
  std::vector<std::string> argv_s = {python(), plot_script(argv0)};
  for (const std::string& a : args) argv_s.push_back(a);
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  GROOVE_CHECK(rc == 0, "groove plot: cannot start ", argv_s[0], " (", std::strerror(rc),
               "); install python3 with numpy and matplotlib (tools/install-deps)");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    GROOVE_CHECK(errno == EINTR, "groove plot: waitpid failed");
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int config_command(const std::vector<std::string>& args) {
  if (args.empty() || wants_help(args)) {
    std::cout << "usage: groove config --schema          print every config key (Markdown table, docs/config.md)\n"
                 "       groove config --schema decode   the same for groove decode (docs/decode.md)\n"
                 "       groove config CONFIG [overrides]  print the resolved config (defaults filled in)\n";
    return args.empty() ? 1 : 0;
  }
  if (args[0] == "--schema") {
    GROOVE_CHECK(args.size() == 1 || (args.size() == 2 && args[1] == "decode"),
                 "groove config --schema takes nothing or 'decode'");
    std::cout << (args.size() == 2 ? sweep::schema_markdown(decode::schema()) : sweep::schema_markdown());
    return 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  const sweep::Config c = sweep::Config::load(args[0], sweep::Config::overrides_from_args(rest));
  std::cout << c.to_yaml(true);
  return 0;
}

}  // namespace groove::cli
