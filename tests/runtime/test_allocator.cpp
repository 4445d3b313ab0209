// Tests of the host allocator and the caching allocator's size classes.
#include <gtest/gtest.h>

#include <cstdint>

#include "runtime/allocator.h"

namespace groove {
namespace {

TEST(HostAllocator, AlignedAndCounted) {
  HostAllocator alloc;
  void* p = alloc.allocate(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % HostAllocator::kAlignment, 0u);
  void* q = alloc.allocate(1000);
  AllocatorStats s = alloc.stats();
  EXPECT_EQ(s.bytes_in_use, 1100u);
  EXPECT_EQ(s.peak_bytes_in_use, 1100u);
  EXPECT_EQ(s.n_allocations, 2u);
  alloc.deallocate(q, 1000);
  s = alloc.stats();
  EXPECT_EQ(s.bytes_in_use, 100u);
  EXPECT_EQ(s.peak_bytes_in_use, 1100u);
  alloc.reset_peak();
  EXPECT_EQ(alloc.stats().peak_bytes_in_use, 100u);
  alloc.deallocate(p, 100);
  EXPECT_EQ(alloc.allocate(0), nullptr);
}

TEST(CachingAllocator, SizeClasses) {
  EXPECT_EQ(caching_allocator_round(0), 0u);
  EXPECT_EQ(caching_allocator_round(1), 512u);
  EXPECT_EQ(caching_allocator_round(512), 512u);
  EXPECT_EQ(caching_allocator_round(513), 1024u);
  EXPECT_EQ(caching_allocator_round((1u << 20) - 1), 1u << 20);
  EXPECT_EQ(caching_allocator_round(1u << 20), 2u << 20);
  EXPECT_EQ(caching_allocator_round((2u << 20) + 1), 4u << 20);
}

}  // namespace
}  // namespace groove
