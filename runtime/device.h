// Devices: the CPU and CUDA GPUs ("cpu", "cuda", "cuda:N"), and what the machine has.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace groove {

class Device {
 public:
  enum class Kind : unsigned char { cpu, cuda };

  constexpr Device() = default;
  static constexpr Device cpu() { return Device(Kind::cpu, 0); }
  static constexpr Device cuda(int index = 0) { return Device(Kind::cuda, index); }
  // "cpu", "cuda", "cuda:N", "gpu" (= cuda:0); throws groove::Error naming the text.
  static Device parse(const std::string& text);

  constexpr Kind kind() const { return kind_; }
  constexpr int index() const { return index_; }
  constexpr bool is_cpu() const { return kind_ == Kind::cpu; }
  constexpr bool is_cuda() const { return kind_ == Kind::cuda; }
  std::string str() const;  // "cpu" or "cuda:N"

  friend constexpr bool operator==(Device a, Device b) { return a.kind_ == b.kind_ && a.index_ == b.index_; }
  friend constexpr bool operator!=(Device a, Device b) { return !(a == b); }

 private:
  constexpr Device(Kind kind, int index) : kind_(kind), index_(index) {}
  Kind kind_ = Kind::cpu;
  int index_ = 0;
};

struct GpuInfo {
  int index = 0;
  std::string name;
  int sm_count = 0;
  int compute_major = 0;
  int compute_minor = 0;
  std::size_t total_memory_bytes = 0;
  int clock_khz = 0;
  int memory_bus_width_bits = 0;
  int memory_clock_khz = 0;  // peak memory clock (DRAM bandwidth = 2 x clock x bus width / 8)
};

// Number of usable CUDA devices; 0 when groove was built without CUDA, when there is no driver or
// no GPU. Never throws.
int cuda_device_count();
// Why no GPU can be used ("" when one can), e.g. "no CUDA driver found (CUDA error ...)".
std::string cuda_unavailable_reason();
// One entry per usable GPU.
std::vector<GpuInfo> list_gpus();
// Peak FP32 (non-tensor-core FMA) throughput of a GPU in GFLOP/s, from its SM count, FP32 lanes
// per SM (by compute capability) and boost clock; 0 when unknown.
double fp32_peak_gflops(const GpuInfo& gpu);
// Peak DRAM bandwidth in GB/s (10^9 bytes): 2 x memory clock x bus width / 8; 0 when unknown.
double dram_peak_gbps(const GpuInfo& gpu);
// Driver and runtime versions as "13.0"; "" when unavailable.
std::string cuda_driver_version();
std::string cuda_runtime_version();

// The device a run should use when the user asked for `requested` ("auto" = the first GPU if any,
// else the CPU). Throws groove::Error when a GPU is requested and none is usable.
Device resolve_device(const std::string& requested);

}  // namespace groove
