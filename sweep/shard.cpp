// Shards from --shard, Slurm job arrays and MPI launchers (see shard.h).
#include "sweep/shard.h"

#include <cstdlib>
#include <limits>
#include <optional>

#include "runtime/error.h"

namespace groove::sweep {

namespace {

// Strict non-negative decimal: digits only (no sign, spaces or suffix), no overflow.
std::optional<std::int64_t> parse_count(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;  // 18 digits always fit in int64
  std::int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

const char* lookup(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  return v != nullptr && v[0] != '\0' ? v : nullptr;
}

// A variable that, when set, must hold a non-negative integer. With `needed_by`, a missing one is an
// error that names the variable that needed it.
std::optional<std::int64_t> env_int(const EnvLookup& env, const char* name, const char* needed_by) {
  const char* v = lookup(env, name);
  if (v == nullptr) {
    GROOVE_CHECK(needed_by == nullptr, name, " is not set but ", needed_by,
                 " is; groove needs both to pick its shard (or pass --shard i/n)");
    return std::nullopt;
  }
  const auto n = parse_count(v);
  GROOVE_CHECK(n.has_value(), name, "='", printable(v), "': expected a non-negative integer");
  return n;
}

std::optional<Shard> slurm_array(const EnvLookup& env) {
  const char* kId = "SLURM_ARRAY_TASK_ID";
  const auto id = env_int(env, kId, nullptr);
  if (!id) return std::nullopt;
  const std::int64_t count = *env_int(env, "SLURM_ARRAY_TASK_COUNT", kId);
  const std::int64_t min = env_int(env, "SLURM_ARRAY_TASK_MIN", nullptr).value_or(0);
  const std::int64_t step = env_int(env, "SLURM_ARRAY_TASK_STEP", nullptr).value_or(1);
  GROOVE_CHECK(count >= 1, "SLURM_ARRAY_TASK_COUNT=", count, ": expected at least 1");
  GROOVE_CHECK(step >= 1, "SLURM_ARRAY_TASK_STEP=", step, ": expected at least 1");
  // Task ids must be MIN, MIN + STEP, ... so that every shard index has exactly one task.
  const std::int64_t offset = *id - min;
  GROOVE_CHECK(offset >= 0 && offset % step == 0 && offset / step < count, kId, "=", *id,
               " is not one of the SLURM_ARRAY_TASK_COUNT=", count,
               " evenly spaced task ids from SLURM_ARRAY_TASK_MIN=", min, " by SLURM_ARRAY_TASK_STEP=", step,
               "; groove shards need an array such as --array=0-15 (or pass --shard i/n)");
  return Shard{offset / step, count, kId};
}

std::optional<Shard> mpi_rank(const EnvLookup& env) {
  struct Family {
    const char* rank;
    std::vector<const char*> sizes;  // the first one set is used
  };
  const Family families[] = {
      {"OMPI_COMM_WORLD_RANK", {"OMPI_COMM_WORLD_SIZE"}},
      {"MV2_COMM_WORLD_RANK", {"MV2_COMM_WORLD_SIZE"}},
      {"PMI_RANK", {"PMI_SIZE"}},
      {"PMIX_RANK", {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS"}},
  };
  for (const Family& f : families) {
    const auto rank = env_int(env, f.rank, nullptr);
    if (!rank) continue;
    const char* size_name = nullptr;
    for (const char* s : f.sizes) {
      if (lookup(env, s) != nullptr) {
        size_name = s;
        break;
      }
    }
    if (size_name == nullptr) {
      std::string names;
      for (const char* s : f.sizes) names += (names.empty() ? "" : " or ") + std::string(s);
      GROOVE_THROW(f.rank, " is set but ", names, " is not; groove needs the number of ranks to pick its shard ",
                   "(or pass --shard i/n)");
    }
    const std::int64_t size = *env_int(env, size_name, nullptr);
    GROOVE_CHECK(size >= 1, size_name, "=", size, ": expected at least 1");
    GROOVE_CHECK(*rank < size, f.rank, "=", *rank, " is not less than ", size_name, "=", size);
    return Shard{*rank, size, f.rank};
  }
  return std::nullopt;
}

void check_valid(const Shard& shard) {
  GROOVE_CHECK(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count, "invalid shard ", shard.index, "/",
               shard.count, " (from ", shard.source.empty() ? "nowhere" : shard.source,
               "): expected 0 <= index < count");
}

}  // namespace

Shard parse_shard(const std::string& text) {
  const std::string quoted = "--shard '" + printable(text) + "'";
  const std::size_t slash = text.find('/');
  const auto index = slash == std::string::npos ? std::nullopt : parse_count(text.substr(0, slash));
  const auto count = slash == std::string::npos ? std::nullopt : parse_count(text.substr(slash + 1));
  GROOVE_CHECK(index && count, quoted, ": expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. --shard 0/4");
  GROOVE_CHECK(*count >= 1, quoted, ": the count must be at least 1");
  GROOVE_CHECK(*index < *count, quoted, ": the index ", *index, " must be less than the count ", *count,
               " (shards are numbered from 0 to ", *count - 1, ")");
  return Shard{*index, *count, "--shard"};
}

const char* process_environment(const char* name) {
  return std::getenv(name);
}

Shard shard_from_environment(const EnvLookup& env) {
  const std::optional<Shard> array = slurm_array(env);
  const std::optional<Shard> mpi = mpi_rank(env);
  if (array && mpi) {
    // Each array task runs mpi->count ranks: number the shards task-major.
    GROOVE_CHECK(array->count <= std::numeric_limits<std::int64_t>::max() / mpi->count,
                 "SLURM_ARRAY_TASK_COUNT=", array->count, " times ", mpi->source, " size ", mpi->count, " overflows");
    return Shard{array->index * mpi->count + mpi->index, array->count * mpi->count, array->source + "+" + mpi->source};
  }
  if (array) return *array;
  if (mpi) return *mpi;
  return Shard{};
}

Shard resolve_shard(const std::string& flag, const EnvLookup& env) {
  return flag.empty() ? shard_from_environment(env) : parse_shard(flag);
}

bool in_shard(std::int64_t run_index, const Shard& shard) {
  check_valid(shard);
  GROOVE_CHECK(run_index >= 0, "in_shard: negative run index ", run_index);
  return run_index % shard.count == shard.index;
}

std::vector<std::int64_t> shard_runs(std::int64_t n_runs, const Shard& shard) {
  check_valid(shard);
  GROOVE_CHECK(n_runs >= 0, "shard_runs: negative number of runs ", n_runs);
  std::vector<std::int64_t> runs;
  if (shard.index < n_runs) runs.reserve(static_cast<std::size_t>((n_runs - shard.index - 1) / shard.count + 1));
  // The break keeps i + count from overflowing when n_runs is near INT64_MAX.
  for (std::int64_t i = shard.index; i < n_runs; i += shard.count) {
    runs.push_back(i);
    if (i > n_runs - shard.count) break;
  }
  return runs;
}

std::string describe(const Shard& shard) {
  if (shard.source.empty() && shard.count == 1) return "no sharding";
  std::string s = "shard " + std::to_string(shard.index) + "/" + std::to_string(shard.count);
  if (!shard.source.empty()) s += " (" + shard.source + ")";
  return s;
}

}  // namespace groove::sweep
