// CUDA side of the runtime: error checks, device queries, the per-context stream and cuBLAS
// handle, and the caching device allocator. Compiled only when the CUDA backend is built;
// runtime/no_cuda.cpp provides the same functions for CPU-only builds.
#include <cuda_runtime.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <string>

#include "runtime/allocator.h"
#include "runtime/backend.h"
#include "runtime/context.h"
#include "runtime/cuda/cuda_check.h"
#include "runtime/cuda/cuda_state.h"
#include "runtime/device.h"

namespace groove {

// ---------------------------------------------------------------------------------------------
// checks

namespace cuda_detail {
const char* status_name(cudaError_t status) {
  return cudaGetErrorName(status);
}
const char* status_text(cudaError_t status) {
  return cudaGetErrorString(status);
}
const char* status_name(cublasStatus_t status) {
  return cublasGetStatusName(status);
}
const char* status_text(cublasStatus_t status) {
  return cublasGetStatusString(status);
}

void throw_cuda(const char* kind, const char* name, const char* text, const char* statement, const char* file,
                int line) {
  throw CudaError(std::string(kind) + " error " + name + " (" + text + ") in `" + statement + "`", file, line, nullptr);
}

void launch_check(cudaStream_t stream, const char* kernel, const char* file, int line) {
  cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    throw_cuda("CUDA", cudaGetErrorName(status), cudaGetErrorString(status), kernel, file, line);
  }
#if GROOVE_CUDA_SYNC_DEBUG
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(stream, &capture), "cudaStreamIsCapturing", file, line);
  if (capture == cudaStreamCaptureStatusNone) {
    status = cudaStreamSynchronize(stream);
    if (status != cudaSuccess) {
      throw_cuda("CUDA", cudaGetErrorName(status), cudaGetErrorString(status), kernel, file, line);
    }
  }
#else
  (void)stream;
#endif
}
}  // namespace cuda_detail

// ---------------------------------------------------------------------------------------------
// device queries

namespace {
struct CudaProbe {
  int count = 0;
  std::string reason;
};

const CudaProbe& probe() {
  static const CudaProbe result = [] {
    CudaProbe p;
    int n = 0;
    cudaError_t status = cudaGetDeviceCount(&n);
    if (status != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error so later calls start clean
      p.reason = std::string(status == cudaErrorInsufficientDriver ? "no CUDA driver found"
                             : status == cudaErrorNoDevice         ? "no CUDA device found"
                                                                   : "CUDA is unavailable") +
                 " (" + cudaGetErrorName(status) + ": " + cudaGetErrorString(status) + ")";
      return p;
    }
    p.count = n;
    if (n == 0) p.reason = "no CUDA device found";
    return p;
  }();
  return result;
}

std::string version_string(int v) {
  return v <= 0 ? std::string() : std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}
}  // namespace

int cuda_device_count() {
  return probe().count;
}
std::string cuda_unavailable_reason() {
  return probe().reason;
}

std::vector<GpuInfo> list_gpus() {
  std::vector<GpuInfo> out;
  for (int i = 0; i < cuda_device_count(); ++i) {
    cudaDeviceProp prop{};
    GROOVE_CUDA_CHECK(cudaGetDeviceProperties(&prop, i));
    GpuInfo g;
    g.index = i;
    g.name = prop.name;
    g.sm_count = prop.multiProcessorCount;
    g.compute_major = prop.major;
    g.compute_minor = prop.minor;
    g.total_memory_bytes = prop.totalGlobalMem;
    int clock = 0, bus = 0, memory_clock = 0;
    cudaDeviceGetAttribute(&clock, cudaDevAttrClockRate, i);
    cudaDeviceGetAttribute(&bus, cudaDevAttrGlobalMemoryBusWidth, i);
    cudaDeviceGetAttribute(&memory_clock, cudaDevAttrMemoryClockRate, i);
    g.clock_khz = clock;
    g.memory_bus_width_bits = bus;
    g.memory_clock_khz = memory_clock;
    out.push_back(g);
  }
  return out;
}

std::string cuda_driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) {
    cudaGetLastError();
    return {};
  }
  return version_string(v);
}

std::string cuda_runtime_version() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) {
    cudaGetLastError();
    return {};
  }
  return version_string(v);
}

// ---------------------------------------------------------------------------------------------
// caching device allocator

namespace {
class CudaCachingAllocator final : public Allocator {
 public:
  explicit CudaCachingAllocator(int device) : device_(device) {}
  ~CudaCachingAllocator() override { release_cached(); }

  void* allocate(std::size_t bytes) override {
    if (bytes == 0) return nullptr;
    const std::size_t size = caching_allocator_round(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.n_allocations;
    void* ptr = nullptr;
    // Best fit among cached blocks, but never more than twice the request (limits waste).
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first <= 2 * size) {
      ptr = it->second;
      live_[ptr] = it->first;
      stats_.bytes_in_use += it->first;
      free_.erase(it);
      ++stats_.n_cache_hits;
    } else {
      GROOVE_CUDA_CHECK(cudaSetDevice(device_));
      cudaError_t status = cudaMalloc(&ptr, size);
      if (status == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        release_cached_locked();  // give the cache back and try once more
        status = cudaMalloc(&ptr, size);
      }
      if (status != cudaSuccess) {
        cudaGetLastError();
        GROOVE_THROW("out of GPU memory on cuda:", device_, ": could not allocate ", size, " bytes (",
                     stats_.bytes_in_use, " bytes in use, ", stats_.bytes_reserved,
                     " reserved): ", cudaGetErrorString(status));
      }
      ++stats_.n_system_allocations;
      stats_.bytes_reserved += size;
      stats_.bytes_in_use += size;
      live_[ptr] = size;
    }
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
    return ptr;
  }

  void deallocate(void* ptr, std::size_t) noexcept override {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(ptr);
    if (it == live_.end()) return;  // not ours; never happens for tensors made by groove
    stats_.bytes_in_use -= it->second;
    free_.emplace(it->second, ptr);
    live_.erase(it);
  }

  AllocatorStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }
  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_bytes_in_use = stats_.bytes_in_use;
  }
  void release_cached() noexcept override {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached_locked();
  }
  std::string name() const override { return "cuda-caching:" + std::to_string(device_); }

 private:
  void release_cached_locked() noexcept {
    if (free_.empty()) return;
    cudaSetDevice(device_);
    cudaDeviceSynchronize();  // cached blocks may still be read by queued work
    for (auto& [size, ptr] : free_) {
      cudaFree(ptr);
      stats_.bytes_reserved -= size;
    }
    free_.clear();
  }

  int device_;
  mutable std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;
  std::map<void*, std::size_t> live_;
  AllocatorStats stats_;
};
}  // namespace

// ---------------------------------------------------------------------------------------------
// context state

Context::CudaState* create_cuda_state(Device device, std::shared_ptr<Allocator>& allocator_out) {
  const int n = cuda_device_count();
  GROOVE_CHECK(n > 0, "cannot use ", device.str(), ": ", cuda_unavailable_reason());
  GROOVE_CHECK(device.index() >= 0 && device.index() < n, "cannot use ", device.str(), ": only ", n,
               " CUDA device(s) present (cuda:0 .. cuda:", n - 1, ")");
  auto state = std::make_unique<Context::CudaState>();
  state->device = device.index();
  GROOVE_CUDA_CHECK(cudaSetDevice(state->device));
  GROOVE_CUDA_CHECK(cudaStreamCreateWithFlags(&state->stream, cudaStreamNonBlocking));
  GROOVE_CUDA_CHECK(cudaDeviceGetAttribute(&state->sm_count, cudaDevAttrMultiProcessorCount, state->device));
  GROOVE_CUDA_CHECK(
      cudaDeviceGetAttribute(&state->max_threads_per_block, cudaDevAttrMaxThreadsPerBlock, state->device));
  GROOVE_CUDA_CHECK(cublasCreate(&state->cublas));
  GROOVE_CUDA_CHECK(cublasSetStream(state->cublas, state->stream));
  // fp32 stays fp32 (no TF32 unless a later precision track asks for it); no atomics, so results
  // are deterministic; a fixed workspace so cuBLAS never allocates inside a captured graph.
  GROOVE_CUDA_CHECK(cublasSetMathMode(state->cublas, CUBLAS_DEFAULT_MATH));
  GROOVE_CUDA_CHECK(cublasSetAtomicsMode(state->cublas, CUBLAS_ATOMICS_NOT_ALLOWED));
  GROOVE_CUDA_CHECK(cublasSetPointerMode(state->cublas, CUBLAS_POINTER_MODE_HOST));
  state->cublas_workspace_bytes = std::size_t(32) << 20;
  GROOVE_CUDA_CHECK(cudaMalloc(&state->cublas_workspace, state->cublas_workspace_bytes));
  GROOVE_CUDA_CHECK(cublasSetWorkspace(state->cublas, state->cublas_workspace, state->cublas_workspace_bytes));
  allocator_out = std::make_shared<CudaCachingAllocator>(state->device);
  return state.release();
}

void Context::CudaStateDeleter::operator()(CudaState* state) const noexcept {
  if (!state) return;
  // Destructors log nothing and never throw: errors here cannot be acted on.
  cudaSetDevice(state->device);
  if (state->stream) cudaStreamSynchronize(state->stream);
  if (state->cublas) cublasDestroy(state->cublas);
  if (state->cublas_workspace) cudaFree(state->cublas_workspace);
  if (state->stream) cudaStreamDestroy(state->stream);
  delete state;
}

namespace {
Context::CudaState& state_of(const Context& ctx) {
  GROOVE_CHECK(ctx.cuda_state() != nullptr, "a CUDA context is needed, got a context on ", ctx.device().str());
  return *ctx.cuda_state();
}
}  // namespace

cudaStream_t cuda_stream(const Context& ctx) {
  return state_of(ctx).stream;
}
cublasHandle_t cublas_handle(const Context& ctx) {
  return state_of(ctx).cublas;
}
int cuda_sm_count(const Context& ctx) {
  return state_of(ctx).sm_count;
}
void cuda_set_device(const Context& ctx) {
  int current = -1;
  GROOVE_CUDA_CHECK(cudaGetDevice(&current));
  const int wanted = state_of(ctx).device;
  if (current != wanted) GROOVE_CUDA_CHECK(cudaSetDevice(wanted));
}

// ---------------------------------------------------------------------------------------------
// memory helpers used by Tensor and Context (declared in runtime/backend.h)

namespace backend {
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes,
                const Context* ctx) {
  if (bytes == 0) return;
  if (ctx && ctx->is_cuda()) {
    GROOVE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, cuda_stream(*ctx)));
    if (dst_device.is_cpu() || src_device.is_cpu()) {
      // Pageable host memory: finish before the caller touches it.
      GROOVE_CUDA_CHECK(cudaStreamSynchronize(cuda_stream(*ctx)));
    }
  } else {
    // No CUDA context at hand: order after all queued device work.
    GROOVE_CUDA_CHECK(cudaDeviceSynchronize());
    GROOVE_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
  }
}
void memset_zero(void* dst, std::size_t bytes, const Context& ctx) {
  GROOVE_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, cuda_stream(ctx)));
}
void synchronize(const Context& ctx) {
  GROOVE_CUDA_CHECK(cudaStreamSynchronize(cuda_stream(ctx)));
}
void* host_alloc_pinned(std::size_t bytes, const Context& ctx) {
  cuda_set_device(ctx);
  void* p = nullptr;
  GROOVE_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
  return p;
}
void host_free_pinned(void* p) noexcept {
  cudaFreeHost(p);
}
void* event_create(const Context& ctx) {
  cuda_set_device(ctx);
  cudaEvent_t event = nullptr;
  GROOVE_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  return event;
}
void event_destroy(void* event) noexcept {
  cudaEventDestroy(static_cast<cudaEvent_t>(event));
}
void event_record(void* event, const Context& ctx) {
  GROOVE_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), cuda_stream(ctx)));
}
void event_synchronize(void* event) {
  GROOVE_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event)));
}
void copy_to_host_async(void* dst, const void* src, std::size_t bytes, const Context& ctx) {
  GROOVE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cuda_stream(ctx)));
}
}  // namespace backend

}  // namespace groove
