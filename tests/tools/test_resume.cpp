// The groove CLI under signals (tests the real binary, as a cluster runs it):
//   - SIGKILL at a step the test observes (the first checkpoint appearing), then a rerun: the
//     resumed run's files and final parameters are bitwise those of an uninterrupted run, and
//     metrics.csv holds every logged step exactly once;
//   - SIGTERM: a checkpoint, exit code 75, status "interrupted"; a corrupt latest checkpoint then
//     falls back to the previous one with a message, and the result is still bitwise the same;
//   - mpirun -np 2: every run of a sweep is trained by exactly one rank.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "runtime/npy.h"
#include "sweep/checkpoint.h"
#include "tests/common/test_util.h"

extern char** environ;
namespace fs = std::filesystem;

namespace groove {
namespace {

std::string read(const std::string& path) {
  return test::read_file(path);
}

// Starts `argv` with stdout and stderr to `log`.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> a = args;
  std::vector<char*> argv;
  for (std::string& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0) << "cannot start " << args[0];
  return pid;
}

// Waits for the process; returns its exit code, or 128 + the signal that killed it.
int wait_exit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls until `path` exists (or the process ended, or 60 s passed); true when it appeared.
bool wait_for_file(const std::string& path, pid_t pid) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < end) {
    if (fs::exists(path)) return true;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return fs::exists(path);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

class Resume : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.file("exp.yaml");
    // Long enough that the kill lands mid-run (tens of thousands of steps of a small network).
    std::ofstream(config_) << "name: r\n"
                              "device: cpu\n"
                              "steps: 30000\n"
                              "checkpoint_every: 2000\n"
                              "task: {kind: clusters, clusters: {classes: 2, dim: 8, train_per_class: 32, "
                              "test_per_class: 16}}\n"
                              "model: {hidden: [32], parameterization: standard, bias: true}\n"
                              "loss: {kind: logistic}\n"
                              "optimizer: {kind: momentum, lr: 0.05}\n"
                              "metrics: {every: 1, log_every: 500, probe_every: 10000, onset_window: 10, "
                              "logistic: false, svm: false}\n"
                              "sweep: {seeds: 2}\n";
  }
  std::vector<std::string> cmd(const std::string& out) const {
    return {GROOVE_CLI, "sweep", config_, "out=" + out, "--no-progress"};
  }
  // Runs to completion; returns the exit code.
  int run(const std::string& out, const std::string& log) { return wait_exit(spawn(cmd(out), log)); }
  // The files that must be bitwise equal between two complete runs.
  void expect_same_results(const std::string& a, const std::string& b) {
    for (const char* run : {"seed=0", "seed=1"}) {
      const std::string ra = a + "/r/" + run, rb = b + "/r/" + run;
      ASSERT_TRUE(fs::exists(rb + "/DONE")) << rb;
      for (const char* f : {"metrics.csv", "examples.npy", "summary.json"}) {
        EXPECT_TRUE(read(ra + "/" + f) == read(rb + "/" + f)) << run << "/" << f << " differs";
      }
      for (const auto& e : fs::directory_iterator(ra + "/snapshots")) {
        const std::string name = e.path().filename().string();
        EXPECT_TRUE(read(e.path().string()) == read(rb + "/snapshots/" + name)) << run << "/snapshots/" << name;
      }
      const sweep::Checkpoint ca = sweep::read_checkpoint_file(ra + "/checkpoint/latest.npz");
      const sweep::Checkpoint cb = sweep::read_checkpoint_file(rb + "/checkpoint/latest.npz");
      EXPECT_EQ(ca.step, 30000);
      EXPECT_EQ(cb.step, 30000);
      ASSERT_EQ(ca.arrays.at(0).name, "params");
      EXPECT_TRUE(serialize_npy(ca.arrays.at(0).tensor) == serialize_npy(cb.arrays.at(0).tensor))
          << run << ": final parameters differ";
      // Every logged step exactly once.
      std::istringstream m(read(rb + "/metrics.csv"));
      std::string line;
      std::getline(m, line);
      std::int64_t expect = 0;
      while (std::getline(m, line)) {
        ASSERT_EQ(std::stoll(line.substr(0, line.find(','))), expect) << run << ": metrics.csv row " << expect;
        ++expect;
      }
      EXPECT_EQ(expect, 30001);
    }
  }
  const std::string& reference() {
    static std::string ref;
    if (ref.empty() || !fs::exists(ref + "/r/seed=0/DONE")) {
      ref = ref_dir_.path();
      EXPECT_EQ(run(ref, ref_dir_.file("log")), 0) << read(ref_dir_.file("log"));
    }
    return ref;
  }

  test::TempDir dir_;
  static test::TempDir ref_dir_;
  std::string config_;
};
test::TempDir Resume::ref_dir_;

TEST_F(Resume, KillAtAnObservedStepThenResumeIsBitwiseIdentical) {
  const std::string out = dir_.file("killed");
  const pid_t pid = spawn(cmd(out), dir_.file("log1"));
  // The step the test observes: the first checkpoint (step 2000) is on disk.
  ASSERT_TRUE(wait_for_file(out + "/r/seed=1/checkpoint/latest.npz", pid)) << read(dir_.file("log1"));
  kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
  ASSERT_FALSE(fs::exists(out + "/r/seed=0/DONE")) << "the run finished before the kill: make it longer";
  const std::int64_t killed_at = sweep::read_checkpoint_file(out + "/r/seed=0/checkpoint/latest.npz").step;
  EXPECT_GE(killed_at, 2000);
  EXPECT_LT(killed_at, 30000);
  ASSERT_EQ(run(out, dir_.file("log2")), 0) << read(dir_.file("log2"));
  EXPECT_NE(read(dir_.file("log2")).find("resuming from step"), std::string::npos) << read(dir_.file("log2"));
  expect_same_results(reference(), out);
}

TEST_F(Resume, SigtermCheckpointsExits75AndACorruptLatestFallsBack) {
  const std::string out = dir_.file("term");
  const pid_t pid = spawn(cmd(out), dir_.file("log1"));
  ASSERT_TRUE(wait_for_file(out + "/r/seed=1/checkpoint/latest.npz", pid)) << read(dir_.file("log1"));
  // Wait for the second periodic checkpoint too, so latest and previous both exist.
  ASSERT_TRUE(wait_for_file(out + "/r/seed=1/checkpoint/previous.npz", pid));
  kill(pid, SIGTERM);
  ASSERT_EQ(wait_exit(pid), 75) << read(dir_.file("log1"));
  EXPECT_NE(read(dir_.file("log1")).find("stopped by SIGTERM"), std::string::npos) << read(dir_.file("log1"));
  const nlohmann::json st = nlohmann::json::parse(read(out + "/r/seed=0/status.json"));
  EXPECT_EQ(st["status"], "interrupted");
  const std::int64_t at = st["step"];
  EXPECT_EQ(sweep::read_checkpoint_file(out + "/r/seed=0/checkpoint/latest.npz").step, at);
  EXPECT_FALSE(fs::exists(out + "/r/seed=0/DONE"));
  // Damage the newest checkpoint of seed=0: the rerun must use previous.npz and say so.
  const std::string latest = out + "/r/seed=0/checkpoint/latest.npz";
  fs::resize_file(latest, fs::file_size(latest) / 2);
  ASSERT_EQ(run(out, dir_.file("log2")), 0) << read(dir_.file("log2"));
  const std::string log2 = read(dir_.file("log2"));
  EXPECT_NE(log2.find("seed=0"), std::string::npos);
  EXPECT_NE(log2.find("latest.npz"), std::string::npos) << log2;
  EXPECT_NE(log2.find("previous.npz"), std::string::npos) << log2;
  expect_same_results(reference(), out);
}

TEST(Mpi, EveryRunOfASweepIsTrainedByExactlyOneRank) {
  if (std::system("command -v mpirun > /dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun is not installed";
  test::TempDir dir;
  std::ofstream(dir.file("exp.yaml")) << "name: m\ndevice: cpu\nsteps: 20\n"
                                         "task: {kind: clusters, clusters: {classes: 2, dim: 4, train_per_class: 8, "
                                         "test_per_class: 4}}\n"
                                         "model: {hidden: [8], parameterization: standard}\n"
                                         "metrics: {log_every: 10, probe_every: 0}\n"
                                         "sweep: {seeds: 5}\n";
  const std::string cmd = "mpirun --allow-run-as-root --oversubscribe -np 2 " + std::string(GROOVE_CLI) + " sweep " +
                          dir.file("exp.yaml") + " out=" + dir.path() + " --no-progress > " + dir.file("log") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read(dir.file("log"));
  std::set<std::string> seen;
  for (int rank = 0; rank < 2; ++rank) {
    std::istringstream in(read(dir.file("m/shards/runs-" + std::to_string(rank) + "-of-2.csv")));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      const std::string id = line.substr(0, line.find(','));
      EXPECT_TRUE(seen.insert(id).second) << id << " was trained by both ranks";
      EXPECT_NE(line.find(",done,20,"), std::string::npos) << line;
    }
  }
  EXPECT_EQ(seen.size(), 5u) << read(dir.file("log"));
  ASSERT_EQ(std::system((std::string(GROOVE_CLI) + " sweep --merge " + dir.file("m") + " > /dev/null").c_str()), 0);
  std::istringstream runs(read(dir.file("m/runs.csv")));
  std::string line;
  int done = 0;
  std::getline(runs, line);
  while (std::getline(runs, line)) done += line.find(",done,20,") != std::string::npos;
  EXPECT_EQ(done, 5);
}

}  // namespace
}  // namespace groove
