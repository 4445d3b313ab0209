// Tests of sweep sharding: --shard parsing, each scheduler / MPI environment (with a fake
// environment, and with a real mpirun when one is installed), precedence, and that every run of a
// sweep lands in exactly one shard.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "sweep/shard.h"
#include "tests/common/test_util.h"

namespace groove::sweep {
namespace {

using test::throws_mentioning;

using Env = std::map<std::string, std::string>;

// An EnvLookup over a fixed map (the map must outlive the lookup).
EnvLookup fake(const Env& env) {
  return [&env](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
}

void expect_shard(const Shard& s, std::int64_t index, std::int64_t count, const std::string& source) {
  EXPECT_EQ(s.index, index);
  EXPECT_EQ(s.count, count);
  EXPECT_EQ(s.source, source);
}

TEST(ShardTest, ParsesIndexSlashCount) {
  expect_shard(parse_shard("0/1"), 0, 1, "--shard");
  expect_shard(parse_shard("3/16"), 3, 16, "--shard");
  expect_shard(parse_shard("15/16"), 15, 16, "--shard");
  expect_shard(parse_shard("007/010"), 7, 10, "--shard");
}

TEST(ShardTest, ParseErrorsQuoteTheText) {
  EXPECT_TRUE(throws_mentioning([] { parse_shard("3/2"); }, {"--shard '3/2'", "less than the count 2"}));
  EXPECT_TRUE(throws_mentioning([] { parse_shard("2/2"); }, {"--shard '2/2'", "0 to 1"}));
  EXPECT_TRUE(throws_mentioning([] { parse_shard("0/0"); }, {"--shard '0/0'", "at least 1"}));
  for (const char* bad : {"", "3", "/4", "3/", "-1/4", "1/-4", "a/4", "1/4x", " 1/4", "1 /4", "1/4/5", "+1/4", "1.0/4",
                          "99999999999999999999/4"}) {
    EXPECT_TRUE(throws_mentioning([&] { parse_shard(bad); }, {"--shard '" + std::string(bad) + "'", "INDEX/COUNT"}))
        << bad;
  }
}

TEST(ShardTest, NoVariablesMeansNoSharding) {
  const Env env;
  expect_shard(shard_from_environment(fake(env)), 0, 1, "");
  // Set-but-empty counts as unset.
  const Env empty = {{"SLURM_ARRAY_TASK_ID", ""}, {"OMPI_COMM_WORLD_RANK", ""}};
  expect_shard(shard_from_environment(fake(empty)), 0, 1, "");
  EXPECT_EQ(describe(shard_from_environment(fake(env))), "no sharding");
}

TEST(ShardTest, SlurmArray) {
  const Env plain = {{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_COUNT", "16"}};
  expect_shard(shard_from_environment(fake(plain)), 5, 16, "SLURM_ARRAY_TASK_ID");
  EXPECT_EQ(describe(shard_from_environment(fake(plain))), "shard 5/16 (SLURM_ARRAY_TASK_ID)");
  // --array=1-16: ids start at SLURM_ARRAY_TASK_MIN.
  const Env from_one = {{"SLURM_ARRAY_TASK_ID", "16"}, {"SLURM_ARRAY_TASK_COUNT", "16"}, {"SLURM_ARRAY_TASK_MIN", "1"}};
  expect_shard(shard_from_environment(fake(from_one)), 15, 16, "SLURM_ARRAY_TASK_ID");
  // --array=10-40:10 -> ids 10, 20, 30, 40.
  const Env stepped = {{"SLURM_ARRAY_TASK_ID", "30"},
                       {"SLURM_ARRAY_TASK_COUNT", "4"},
                       {"SLURM_ARRAY_TASK_MIN", "10"},
                       {"SLURM_ARRAY_TASK_STEP", "10"}};
  expect_shard(shard_from_environment(fake(stepped)), 2, 4, "SLURM_ARRAY_TASK_ID");
}

TEST(ShardTest, SlurmArrayErrorsNameTheVariable) {
  const Env no_count = {{"SLURM_ARRAY_TASK_ID", "1"}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(no_count)); },
                                {"SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_ID"}));
  const Env bad_id = {{"SLURM_ARRAY_TASK_ID", "x1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(bad_id)); }, {"SLURM_ARRAY_TASK_ID='x1'"}));
  const Env bad_count = {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "-4"}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(bad_count)); }, {"SLURM_ARRAY_TASK_COUNT='-4'"}));
  const Env zero_count = {{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "0"}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(zero_count)); }, {"SLURM_ARRAY_TASK_COUNT=0"}));
  // --array=0,2,5 (not evenly spaced): task 5 has no shard index below 3.
  const Env gap = {{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_COUNT", "3"}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(gap)); }, {"SLURM_ARRAY_TASK_ID=5", "--array=0-15"}));
  const Env below_min = {{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "3"}, {"SLURM_ARRAY_TASK_MIN", "1"}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(below_min)); }, {"SLURM_ARRAY_TASK_ID=0"}));
  const Env off_step = {{"SLURM_ARRAY_TASK_ID", "15"},
                        {"SLURM_ARRAY_TASK_COUNT", "4"},
                        {"SLURM_ARRAY_TASK_MIN", "10"},
                        {"SLURM_ARRAY_TASK_STEP", "10"}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(off_step)); }, {"SLURM_ARRAY_TASK_ID=15"}));
}

TEST(ShardTest, EachMpiFamily) {
  struct Case {
    Env env;
    std::int64_t index, count;
    const char* source;
  };
  const Case cases[] = {
      {{{"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "4"}}, 2, 4, "OMPI_COMM_WORLD_RANK"},
      {{{"MV2_COMM_WORLD_RANK", "0"}, {"MV2_COMM_WORLD_SIZE", "3"}}, 0, 3, "MV2_COMM_WORLD_RANK"},
      {{{"PMI_RANK", "6"}, {"PMI_SIZE", "7"}}, 6, 7, "PMI_RANK"},
      {{{"PMIX_RANK", "1"}, {"PMIX_SIZE", "5"}}, 1, 5, "PMIX_RANK"},
      {{{"PMIX_RANK", "1"}, {"SLURM_STEP_NUM_TASKS", "8"}}, 1, 8, "PMIX_RANK"},
      // Open MPI 5 sets both its own and PMIx's rank; its own family comes first (same values).
      {{{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "4"}, {"PMIX_RANK", "3"}},
       3,
       4,
       "OMPI_COMM_WORLD_RANK"},
      // A PMIx rank with Open MPI's size.
      {{{"PMIX_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "9"}, {"SLURM_STEP_NUM_TASKS", "2"}}, 3, 9, "PMIX_RANK"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.source);
    expect_shard(shard_from_environment(fake(c.env)), c.index, c.count, c.source);
  }
}

TEST(ShardTest, MpiErrorsNameTheVariable) {
  const Env no_size = {{"PMI_RANK", "1"}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(no_size)); }, {"PMI_RANK", "PMI_SIZE"}));
  const Env pmix_no_size = {{"PMIX_RANK", "1"}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(pmix_no_size)); }, {"PMIX_RANK", "PMIX_SIZE"}));
  const Env rank_too_big = {{"OMPI_COMM_WORLD_RANK", "4"}, {"OMPI_COMM_WORLD_SIZE", "4"}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(rank_too_big)); },
                                {"OMPI_COMM_WORLD_RANK=4", "OMPI_COMM_WORLD_SIZE=4"}));
  const Env bad_rank = {{"MV2_COMM_WORLD_RANK", "one"}, {"MV2_COMM_WORLD_SIZE", "4"}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(bad_rank)); }, {"MV2_COMM_WORLD_RANK='one'"}));
  const Env bad_size = {{"PMI_RANK", "0"}, {"PMI_SIZE", "4 "}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(bad_size)); }, {"PMI_SIZE='4 '"}));
  const Env zero_size = {{"PMI_RANK", "0"}, {"PMI_SIZE", "0"}};
  EXPECT_TRUE(throws_mentioning([&] { shard_from_environment(fake(zero_size)); }, {"PMI_SIZE=0"}));
}

TEST(ShardTest, ArrayTaskRunningMpiRanksNumbersShardsTaskMajor) {
  // Array task 2 of 3, rank 1 of 4: shard 2 * 4 + 1 = 9 of 12.
  const Env env = {{"SLURM_ARRAY_TASK_ID", "2"},
                   {"SLURM_ARRAY_TASK_COUNT", "3"},
                   {"OMPI_COMM_WORLD_RANK", "1"},
                   {"OMPI_COMM_WORLD_SIZE", "4"}};
  expect_shard(shard_from_environment(fake(env)), 9, 12, "SLURM_ARRAY_TASK_ID+OMPI_COMM_WORLD_RANK");
}

TEST(ShardTest, SlurmTaskVariablesAloneDoNotShard) {
  // A batch script's shell has these for --ntasks=4; a plain `groove sweep` there runs everything.
  const Env env = {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_JOB_ID", "123"}};
  expect_shard(shard_from_environment(fake(env)), 0, 1, "");
}

TEST(ShardTest, TheFlagWinsAndTheEnvironmentIsThenNotRead) {
  const Env env = {{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_COUNT", "16"}};
  expect_shard(resolve_shard("1/2", fake(env)), 1, 2, "--shard");
  expect_shard(resolve_shard("", fake(env)), 5, 16, "SLURM_ARRAY_TASK_ID");
  // A broken variable does not matter when --shard is given...
  const Env broken = {{"OMPI_COMM_WORLD_RANK", "garbage"}};
  expect_shard(resolve_shard("0/3", fake(broken)), 0, 3, "--shard");
  // ... and is an error when it is not.
  EXPECT_TRUE(throws_mentioning([&] { resolve_shard("", fake(broken)); }, {"OMPI_COMM_WORLD_RANK"}));
  // A bad flag is an error even with a good environment.
  EXPECT_TRUE(throws_mentioning([&] { resolve_shard("5/5", fake(env)); }, {"--shard '5/5'"}));
}

TEST(ShardTest, RunsOfAShard) {
  EXPECT_EQ(shard_runs(10, Shard{1, 3, ""}), (std::vector<std::int64_t>{1, 4, 7}));
  EXPECT_EQ(shard_runs(10, Shard{0, 3, ""}), (std::vector<std::int64_t>{0, 3, 6, 9}));
  EXPECT_EQ(shard_runs(2, Shard{2, 3, ""}), (std::vector<std::int64_t>{}));
  EXPECT_EQ(shard_runs(0, Shard{}), (std::vector<std::int64_t>{}));
  EXPECT_EQ(shard_runs(3, Shard{}), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_TRUE(in_shard(7, Shard{1, 3, ""}));
  EXPECT_FALSE(in_shard(8, Shard{1, 3, ""}));
  EXPECT_TRUE(throws_mentioning([] { in_shard(0, Shard{3, 3, "x"}); }, {"invalid shard 3/3"}));
  EXPECT_TRUE(throws_mentioning([] { in_shard(-1, Shard{}); }, {"negative run index"}));
  EXPECT_TRUE(throws_mentioning([] { shard_runs(5, Shard{0, 0, ""}); }, {"invalid shard 0/0"}));
  // Near the top of int64 the stride must not overflow.
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(shard_runs(big, Shard{big - 2, big - 1, ""}), (std::vector<std::int64_t>{big - 2}));
}

TEST(ShardTest, EveryRunIsInExactlyOneShard) {
  for (std::int64_t n_runs = 0; n_runs <= 40; ++n_runs) {
    for (std::int64_t count = 1; count <= 12; ++count) {
      std::vector<int> owners(static_cast<std::size_t>(n_runs), 0);
      std::size_t smallest = SIZE_MAX, largest = 0;
      for (std::int64_t index = 0; index < count; ++index) {
        const Shard shard{index, count, "--shard"};
        const std::vector<std::int64_t> runs = shard_runs(n_runs, shard);
        smallest = std::min(smallest, runs.size());
        largest = std::max(largest, runs.size());
        for (std::size_t j = 0; j < runs.size(); ++j) {
          ASSERT_TRUE(runs[j] >= 0 && runs[j] < n_runs);
          if (j > 0) {
            ASSERT_LT(runs[j - 1], runs[j]);
          }
          ASSERT_TRUE(in_shard(runs[j], shard));
          ++owners[static_cast<std::size_t>(runs[j])];
        }
        for (std::int64_t r = 0; r < n_runs; ++r) {
          ASSERT_EQ(in_shard(r, shard), std::find(runs.begin(), runs.end(), r) != runs.end());
        }
      }
      for (std::int64_t r = 0; r < n_runs; ++r) {
        ASSERT_EQ(owners[static_cast<std::size_t>(r)], 1)
            << "run " << r << " of " << n_runs << ", " << count << " shards";
      }
      // Round-robin keeps shards balanced: sizes differ by at most one.
      EXPECT_LE(largest - smallest, 1u) << n_runs << " runs, " << count << " shards";
    }
  }
}

// Reads a file of NUL-separated NAME=VALUE entries (`env -0`).
Env read_env0(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  Env env;
  std::string entry;
  while (std::getline(ss, entry, '\0')) {
    const std::size_t eq = entry.find('=');
    // Scheduler variables of a developer's own session would change the expected shards.
    if (eq != std::string::npos && entry.compare(0, 6, "SLURM_") != 0) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

TEST(ShardTest, RealMpirunGivesEachRankItsOwnShard) {
  if (std::system("command -v mpirun > /dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun is not installed";
  test::TempDir dir;
  // Each rank writes its environment to a file of its own; the shards are then computed here.
  const std::string cmd = "mpirun --allow-run-as-root --oversubscribe -np 3 sh -c 'env -0 > \"" + dir.path() +
                          "/env.$$\"' > \"" + dir.path() + "/mpirun.log\" 2>&1";
  const int status = std::system(cmd.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream log(dir.file("mpirun.log"));
    std::stringstream ss;
    ss << log.rdbuf();
    GTEST_SKIP() << "mpirun cannot start processes here (exit status " << status << "): " << ss.str();
  }
  std::set<std::int64_t> indices;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().filename().string().rfind("env.", 0) != 0) continue;
    ++files;
    const Env env = read_env0(entry.path().string());
    const Shard s = shard_from_environment(fake(env));
    EXPECT_EQ(s.count, 3);
    EXPECT_FALSE(s.source.empty());  // OMPI_COMM_WORLD_RANK with Open MPI, PMI_RANK with MPICH
    indices.insert(s.index);
  }
  EXPECT_EQ(files, 3);
  EXPECT_EQ(indices, (std::set<std::int64_t>{0, 1, 2}));
}

}  // namespace
}  // namespace groove::sweep
