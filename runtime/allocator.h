// Memory allocators with statistics that tests and `groove sweep --dry-run` can read.
//   HostAllocator            aligned host memory (64-byte alignment, for vector loads).
//   CudaCachingAllocator     device memory; freed blocks are cached by size and reused, so the
//                            steady-state training loop never calls cudaMalloc (runtime/cuda/).
// Blocks freed on a context's stream can be reused by the next allocation on the same stream
// (stream order makes that safe), as in PyTorch's caching allocator.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace groove {

struct AllocatorStats {
  std::size_t bytes_in_use = 0;            // handed out and not yet freed
  std::size_t peak_bytes_in_use = 0;       // high-water mark of bytes_in_use
  std::size_t bytes_reserved = 0;          // obtained from the system (in use + cached)
  std::uint64_t n_allocations = 0;         // calls to allocate()
  std::uint64_t n_system_allocations = 0;  // calls to the system (cudaMalloc / aligned_alloc)
  std::uint64_t n_cache_hits = 0;          // allocations served from the cache
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Returns memory of at least `bytes` bytes, 64-byte aligned (256 on the GPU). bytes == 0 gives
  // nullptr. Throws groove::Error when out of memory, naming the size.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* ptr, std::size_t bytes) noexcept = 0;
  virtual AllocatorStats stats() const = 0;
  virtual void reset_peak() = 0;
  // Returns cached, unused blocks to the system.
  virtual void release_cached() noexcept {}
  virtual std::string name() const = 0;
};

class HostAllocator final : public Allocator {
 public:
  static constexpr std::size_t kAlignment = 64;
  void* allocate(std::size_t bytes) override;
  void deallocate(void* ptr, std::size_t bytes) noexcept override;
  AllocatorStats stats() const override;
  void reset_peak() override;
  std::string name() const override { return "host"; }

  // The process-wide host allocator used by host tensors made without a context.
  static std::shared_ptr<HostAllocator> shared();

 private:
  std::atomic<std::size_t> in_use_{0}, peak_{0};
  std::atomic<std::uint64_t> n_alloc_{0};
};

// Rounds a request up to the size class the caching allocator uses: multiples of 512 bytes below
// 1 MiB, multiples of 2 MiB from there. Exposed for tests and memory prediction.
std::size_t caching_allocator_round(std::size_t bytes);

}  // namespace groove
