// build_info(): version, git hash, build options and the BLAS library in use.
#include "runtime/build_info.h"

#include <cblas.h>
#include <groove/config.h>
#include <omp.h>
#include <strings.h>
#include <unistd.h>

#include <cstdlib>
#include <initializer_list>

#include "git_hash.inc"  // generated on every build: #define GROOVE_GIT_HASH "..."

namespace groove {

namespace {
std::string blas_description() {
  std::string s = openblas_get_config();
  s += ", core ";
  s += openblas_get_corename();
  switch (openblas_get_parallel()) {
    case 0:
      s += " (sequential)";
      break;
    case 1:
      s += " (pthreads)";
      break;
    case 2:
      s += " (OpenMP)";
      break;
    default:
      break;
  }
  return s;
}
}  // namespace

BuildInfo build_info() {
  BuildInfo b;
  b.version = GROOVE_VERSION_STRING;
  b.git_hash = GROOVE_GIT_HASH;
  b.build_type = GROOVE_BUILD_TYPE;
  b.with_cuda = GROOVE_WITH_CUDA;
  b.cuda_architectures = GROOVE_WITH_CUDA ? GROOVE_CUDA_ARCHITECTURES : "";
  b.cuda_sync_debug = GROOVE_CUDA_SYNC_DEBUG;
#if defined(__clang__)
  b.compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  b.compiler = std::string("g++ ") + __VERSION__;
#else
  b.compiler = "unknown";
#endif
  b.blas = blas_description();
  b.omp_max_threads = omp_get_max_threads();
  return b;
}

std::string openblas_recommended_coretype() {
#if defined(__x86_64__)
  if (std::getenv("OPENBLAS_CORETYPE")) return "";
  const std::string core = openblas_get_corename();
  auto is_one_of = [&](std::initializer_list<const char*> names) {
    for (const char* n : names) {
      if (strcasecmp(core.c_str(), n) == 0) return true;
    }
    return false;
  };
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      !is_one_of({"SkylakeX", "Cooperlake", "SapphireRapids", "Zen"})) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      is_one_of({"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Sandybridge", "Katmai", "Coppermine",
                 "Northwood", "Banias"})) {
    return "Haswell";
  }
#endif
  return "";
}

void reexec_with_openblas_coretype(char** argv) {
  const std::string core = openblas_recommended_coretype();
  if (core.empty() || !argv || !argv[0]) return;
  setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  execv("/proc/self/exe", argv);  // only returns on failure: then run with the generic kernels
}

}  // namespace groove
