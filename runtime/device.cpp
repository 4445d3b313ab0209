// Device names and device selection.
#include "runtime/device.h"

#include <cctype>

#include "runtime/error.h"

namespace groove {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda" || text == "gpu") return cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5) {
    int index = 0;
    for (std::size_t i = 5; i < text.size(); ++i) {
      GROOVE_CHECK(std::isdigit(static_cast<unsigned char>(text[i])) && index < 100000, "invalid device '", text,
                   "': expected cpu, cuda or cuda:N");
      index = index * 10 + (text[i] - '0');
    }
    return cuda(index);
  }
  GROOVE_THROW("invalid device '", text, "': expected auto, cpu, cuda or cuda:N");
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index_);
}

Device resolve_device(const std::string& requested) {
  if (requested == "auto") return cuda_device_count() > 0 ? Device::cuda(0) : Device::cpu();
  Device d = Device::parse(requested);
  if (d.is_cuda()) {
    const int n = cuda_device_count();
    GROOVE_CHECK(n > 0, "device '", requested, "' requested but ", cuda_unavailable_reason());
    GROOVE_CHECK(d.index() < n, "device '", requested, "' requested but only ", n, " CUDA device(s) present");
  }
  return d;
}

double fp32_peak_gflops(const GpuInfo& gpu) {
  int lanes = 128;  // Maxwell .. Hopper consumer and data-centre parts, except:
  if (gpu.compute_major == 8 && gpu.compute_minor == 0) lanes = 64;  // A100
  if (gpu.compute_major == 7 || (gpu.compute_major == 6 && gpu.compute_minor == 0)) lanes = 64;  // V100/T4, P100
  return 2.0 * gpu.sm_count * lanes * (gpu.clock_khz * 1e-6);
}

double dram_peak_gbps(const GpuInfo& gpu) {
  return 2.0 * (gpu.memory_clock_khz * 1e3) * (gpu.memory_bus_width_bits / 8.0) * 1e-9;
}

}  // namespace groove
