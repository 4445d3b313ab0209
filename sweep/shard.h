// Sharding a sweep over independent processes: `--shard i/n` by hand, a Slurm job array, or the
// ranks of an MPI launch (mpirun / srun). A shard is a deterministic slice of the runs (run i belongs
// to shard i mod n), so shards never talk to each other and any subset can be rerun on its own.
// docs/cluster.md shows how to use it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace groove::sweep {

struct Shard {
  std::int64_t index = 0;  // 0 <= index < count
  std::int64_t count = 1;
  // Where it came from, for logs: "--shard", "SLURM_ARRAY_TASK_ID", "OMPI_COMM_WORLD_RANK",
  // "MV2_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_ARRAY_TASK_ID+OMPI_COMM_WORLD_RANK" (an
  // array task that launches MPI ranks), or "" (no sharding).
  std::string source;
};

// "i/n" with 0 <= i < n (decimal, nothing else); errors quote the text: "--shard '3/2': ...".
Shard parse_shard(const std::string& text);

// Looks up an environment variable; null when unset. Injected so tests need not touch the real
// environment.
using EnvLookup = std::function<const char*(const char*)>;
// std::getenv.
const char* process_environment(const char* name);

// The shard the scheduler or MPI launcher gave this process; {0, 1, ""} when none. Variables set
// to the empty string count as unset.
//   Slurm job array: SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT, SLURM_ARRAY_TASK_MIN (default 0),
//     SLURM_ARRAY_TASK_STEP (default 1): index (ID - MIN) / STEP of COUNT.
//   MPI, the first family whose rank variable is set:
//     Open MPI          OMPI_COMM_WORLD_RANK / OMPI_COMM_WORLD_SIZE
//     MVAPICH2          MV2_COMM_WORLD_RANK / MV2_COMM_WORLD_SIZE
//     MPICH, Intel MPI  PMI_RANK / PMI_SIZE (Hydra; also srun --mpi=pmi2)
//     PMIx              PMIX_RANK / the first of OMPI_COMM_WORLD_SIZE, PMIX_SIZE, SLURM_STEP_NUM_TASKS
//                       (srun --mpi=pmix sets PMIX_RANK and, for the step, SLURM_STEP_NUM_TASKS)
//   Both (an array task running MPI ranks): index ARRAY_INDEX * SIZE + RANK of COUNT * SIZE.
// SLURM_PROCID / SLURM_NTASKS are deliberately not used: a batch script's own shell has them too
// (0 of --ntasks), so a plain `groove sweep` there would wrongly run one slice; under `srun -n N`
// pass --shard "$SLURM_PROCID/$SLURM_NTASKS" instead. Malformed or inconsistent values throw
// groove::Error naming the variable and its value.
Shard shard_from_environment(const EnvLookup& env = process_environment);

// `flag` (the --shard value; "" = not given) wins over the environment, which is then not read at
// all, so a broken variable can be overridden by hand.
Shard resolve_shard(const std::string& flag, const EnvLookup& env = process_environment);

// Whether run `run_index` (its index in the expanded sweep, before grouping into ensembles) belongs
// to `shard`: run_index % count == index. Throws on a negative index or an invalid shard.
bool in_shard(std::int64_t run_index, const Shard& shard);
// The run indices in [0, n_runs) that belong to `shard`, ascending.
std::vector<std::int64_t> shard_runs(std::int64_t n_runs, const Shard& shard);

// For logs: "shard 3/16 (SLURM_ARRAY_TASK_ID)", or "no sharding".
std::string describe(const Shard& shard);

}  // namespace groove::sweep
