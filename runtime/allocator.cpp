// Host allocator and the size classes of the caching device allocator.
#include "runtime/allocator.h"

#include <cstdlib>
#include <new>

#include "runtime/error.h"

namespace groove {

std::size_t caching_allocator_round(std::size_t bytes) {
  constexpr std::size_t kSmall = 512, kLarge = std::size_t(2) << 20, kSmallLimit = std::size_t(1) << 20;
  if (bytes == 0) return 0;
  if (bytes < kSmallLimit) return (bytes + kSmall - 1) / kSmall * kSmall;
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

void* HostAllocator::allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* ptr = std::aligned_alloc(kAlignment, rounded);
  GROOVE_CHECK(ptr != nullptr, "out of host memory: could not allocate ", bytes, " bytes");
  n_alloc_.fetch_add(1, std::memory_order_relaxed);
  const std::size_t now = in_use_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  std::size_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  return ptr;
}

void HostAllocator::deallocate(void* ptr, std::size_t bytes) noexcept {
  if (!ptr) return;
  std::free(ptr);
  in_use_.fetch_sub(bytes, std::memory_order_relaxed);
}

AllocatorStats HostAllocator::stats() const {
  AllocatorStats s;
  s.bytes_in_use = in_use_.load();
  s.peak_bytes_in_use = peak_.load();
  s.bytes_reserved = s.bytes_in_use;
  s.n_allocations = n_alloc_.load();
  s.n_system_allocations = s.n_allocations;
  return s;
}

void HostAllocator::reset_peak() {
  peak_.store(in_use_.load());
}

std::shared_ptr<HostAllocator> HostAllocator::shared() {
  static const std::shared_ptr<HostAllocator> instance = std::make_shared<HostAllocator>();
  return instance;
}

}  // namespace groove
