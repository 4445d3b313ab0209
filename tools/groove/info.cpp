// `groove info`: what this copy of groove is and what the machine offers.
#include <cstdio>
#include <filesystem>
#include <thread>

#include "commands.h"
#include "runtime/build_info.h"
#include "runtime/device.h"
#include "runtime/npy.h"

namespace groove::cli {

nlohmann::json info_json() {
  const BuildInfo b = build_info();
  nlohmann::json j;
  j["version"] = b.version;
  j["git_hash"] = b.git_hash;
  j["build"] = {{"type", b.build_type},
                {"cuda_backend", b.with_cuda},
                {"cuda_architectures", b.cuda_architectures},
                {"cuda_sync_debug", b.cuda_sync_debug},
                {"compiler", b.compiler}};
  j["blas"] = b.blas;
  j["blas_coretype_hint"] = openblas_recommended_coretype();
  j["cpu_threads"] = b.omp_max_threads;
  j["hardware_threads"] = std::thread::hardware_concurrency();
  j["rng"] = "Philox-4x32-10";
  j["cuda_driver"] = cuda_driver_version();
  j["cuda_runtime"] = cuda_runtime_version();
  nlohmann::json gpus = nlohmann::json::array();
  for (const GpuInfo& g : list_gpus()) {
    gpus.push_back({{"index", g.index},
                    {"name", g.name},
                    {"sm_count", g.sm_count},
                    {"compute_capability", std::to_string(g.compute_major) + "." + std::to_string(g.compute_minor)},
                    {"memory_bytes", g.total_memory_bytes},
                    {"clock_khz", g.clock_khz},
                    {"memory_bus_width_bits", g.memory_bus_width_bits},
                    {"memory_clock_khz", g.memory_clock_khz},
                    {"fp32_peak_gflops", fp32_peak_gflops(g)},
                    {"dram_peak_gbps", dram_peak_gbps(g)}});
  }
  j["gpus"] = gpus;
  j["gpu_unavailable_reason"] = cuda_unavailable_reason();
  j["default_device"] = resolve_device("auto").str();
  return j;
}

void print_info(const nlohmann::json& j) {
  const auto& b = j["build"];
  std::printf("groove %s (git %s)\n", j["version"].get<std::string>().c_str(),
              j["git_hash"].get<std::string>().c_str());
  std::printf("  build:        %s, CUDA backend %s%s, sync-debug %s\n", b["type"].get<std::string>().c_str(),
              b["cuda_backend"].get<bool>() ? "on" : "off",
              b["cuda_backend"].get<bool>() ? (" (sm " + b["cuda_architectures"].get<std::string>() + ")").c_str() : "",
              b["cuda_sync_debug"].get<bool>() ? "on" : "off");
  std::printf("  compiler:     %s\n", b["compiler"].get<std::string>().c_str());
  std::printf("  BLAS:         %s\n", j["blas"].get<std::string>().c_str());
  if (!j["blas_coretype_hint"].get<std::string>().empty()) {
    std::printf(
        "                (OpenBLAS chose generic kernels for this CPU; export OPENBLAS_CORETYPE=%s for "
        "its vector kernels)\n",
        j["blas_coretype_hint"].get<std::string>().c_str());
  }
  std::printf("  CPU threads:  %d (OpenMP), %u hardware\n", j["cpu_threads"].get<int>(),
              j["hardware_threads"].get<unsigned>());
  std::printf("  RNG:          %s\n", j["rng"].get<std::string>().c_str());
  if (!j["cuda_runtime"].get<std::string>().empty()) {
    const std::string driver = j["cuda_driver"].get<std::string>();
    std::printf("  CUDA:         runtime %s, driver %s\n", j["cuda_runtime"].get<std::string>().c_str(),
                driver.empty() || driver == "0.0" ? "none" : driver.c_str());
  }
  if (j["gpus"].empty()) {
    std::printf("  GPUs:         no GPU found: using the CPU backend (%s)\n",
                j["gpu_unavailable_reason"].get<std::string>().c_str());
  } else {
    for (const auto& g : j["gpus"]) {
      std::printf("  GPU %d:        %s, %d SMs, %.1f GiB, compute capability %s, %.0f MHz\n", g["index"].get<int>(),
                  g["name"].get<std::string>().c_str(), g["sm_count"].get<int>(),
                  g["memory_bytes"].get<double>() / (1024.0 * 1024 * 1024),
                  g["compute_capability"].get<std::string>().c_str(), g["clock_khz"].get<double>() / 1000);
    }
  }
  std::printf("  default device: %s\n", j["default_device"].get<std::string>().c_str());
}

void write_json(const std::string& path, const nlohmann::json& j) {
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace groove::cli
