// CUDA runtime: contexts, host<->device copies, the caching allocator (no cudaMalloc in a steady
// state loop), workspaces. Skipped with a message when no GPU is present.
#include <gtest/gtest.h>

#include "runtime/context.h"
#include "runtime/device.h"
#include "runtime/tensor.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

using test::GpuTest;

TEST_F(GpuTest, DeviceQueries) {
  EXPECT_GT(cuda_device_count(), 0);
  EXPECT_TRUE(cuda_unavailable_reason().empty());
  const auto gpus = list_gpus();
  ASSERT_FALSE(gpus.empty());
  EXPECT_FALSE(gpus[0].name.empty());
  EXPECT_GT(gpus[0].sm_count, 0);
  EXPECT_GT(gpus[0].total_memory_bytes, 0u);
  EXPECT_FALSE(cuda_runtime_version().empty());
  EXPECT_TRUE(gpu->is_cuda());
}

TEST_F(GpuTest, CopiesRoundTripBitwise) {
  for (DType dt : {DType::f32, DType::f64, DType::i32}) {
    Tensor h = dt == DType::i32 ? test::random_indices({3, 1001}, 1000, 1) : test::random_tensor({3, 1001}, dt, 2);
    Tensor g = h.to(*gpu);
    EXPECT_TRUE(g.is_cuda());
    EXPECT_TRUE(test::bitwise_equal(g.to_host(), h));
    Tensor g2 = Tensor::empty(h.shape(), dt, *gpu);
    g2.copy_from(g, *gpu);  // device to device
    Tensor back = Tensor::host(h.shape(), dt);
    back.copy_from(g2, *gpu);  // device to host on the context's stream
    EXPECT_TRUE(test::bitwise_equal(back, h));
    EXPECT_TRUE(test::bitwise_equal(g.model(2).to_host(), h.model(2)));  // views of one model
  }
  Tensor z = Tensor::zeros({17}, DType::f32, *gpu);
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>(17, 0.f));
}

TEST_F(GpuTest, CachingAllocatorReusesBlocks) {
  Allocator& alloc = gpu->allocator();
  { Tensor warm = Tensor::empty({1000, 1000}, DType::f32, *gpu); }
  const AllocatorStats before = alloc.stats();
  for (int step = 0; step < 100; ++step) {
    Tensor a = Tensor::empty({1000, 1000}, DType::f32, *gpu);  // same size as the warm-up: a cache hit
  }
  const AllocatorStats after = alloc.stats();
  EXPECT_EQ(after.n_system_allocations, before.n_system_allocations);
  EXPECT_EQ(after.n_allocations, before.n_allocations + 100);
  EXPECT_EQ(after.n_cache_hits, before.n_cache_hits + 100);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  EXPECT_GE(after.peak_bytes_in_use, 4000000u);
  alloc.release_cached();
  EXPECT_EQ(alloc.stats().bytes_reserved, alloc.stats().bytes_in_use);
}

TEST_F(GpuTest, WorkspaceIsReused) {
  void* a = gpu->workspace(1 << 20);
  void* b = gpu->workspace(1 << 10);
  EXPECT_EQ(a, b);
  EXPECT_GE(gpu->workspace_bytes(), std::size_t(1) << 20);
}

TEST_F(GpuTest, BadDeviceIndexIsAClearError) {
  try {
    Context ctx(Device::cuda(cuda_device_count()));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA device(s) present"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace groove
