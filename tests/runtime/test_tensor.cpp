// Tests of runtime/tensor.h and runtime/device.h on the CPU.
#include <gtest/gtest.h>

#include "runtime/context.h"
#include "runtime/device.h"
#include "runtime/tensor.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

TEST(Shape, BasicsAndEditing) {
  const Shape s{4, 3, 2};
  EXPECT_EQ(s.ndim(), 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.str(), "[4, 3, 2]");
  EXPECT_EQ(s.drop_front(), (Shape{3, 2}));
  EXPECT_EQ(s.drop_front().with_front(5), (Shape{5, 3, 2}));
  EXPECT_EQ(s.without(1), (Shape{4, 2}));
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ((Shape{3, 0}).numel(), 0);
  EXPECT_THROW(Shape({1, 2, 3, 4, 5, 6, 7}), Error);
  EXPECT_THROW(Shape({2, -1}), Error);
  EXPECT_THROW(Shape({1LL << 40, 1LL << 40}), Error);
}

TEST(Device, ParseAndPrint) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:3"), Device::cuda(3));
  EXPECT_EQ(Device::cuda(2).str(), "cuda:2");
  EXPECT_THROW(Device::parse("tpu"), Error);
  EXPECT_THROW(Device::parse("cuda:x"), Error);
  EXPECT_EQ(resolve_device("cpu"), Device::cpu());
  if (cuda_device_count() == 0) {
    EXPECT_EQ(resolve_device("auto"), Device::cpu());
    EXPECT_THROW(resolve_device("cuda:0"), Error);
    EXPECT_FALSE(cuda_unavailable_reason().empty());
  } else {
    EXPECT_EQ(resolve_device("auto"), Device::cuda(0));
  }
}

TEST(Tensor, HostAllocationAndTypedAccess) {
  Tensor t = Tensor::host_zeros({2, 3}, DType::f64);
  EXPECT_TRUE(t.defined());
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 48u);
  EXPECT_EQ(t.str(), "f64[2, 3] on cpu");
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.raw()) % HostAllocator::kAlignment, 0u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.flat<double>(i), 0.0);
  EXPECT_THROW(t.data<float>(), Error);
  EXPECT_THROW(Tensor().data<float>(), Error);
  EXPECT_EQ(t.dim(-1), 3);
  EXPECT_THROW(t.dim(2), Error);
}

TEST(Tensor, ModelViewsShareStorage) {
  Tensor t = Tensor::from_vector<float>({3, 2, 2}, {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23});
  Tensor m1 = t.model(1);
  EXPECT_EQ(m1.shape(), (Shape{2, 2}));
  EXPECT_EQ(m1.flat<float>(0), 10.f);
  EXPECT_EQ(m1.flat<float>(3), 13.f);
  m1.flat<float>(2) = -5.f;
  EXPECT_EQ(t.flat<float>(6), -5.f);
  EXPECT_TRUE(m1.shares_storage_with(t));

  Tensor tail = t.models(1, 2);
  EXPECT_EQ(tail.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(tail.flat<float>(4), 20.f);
  EXPECT_EQ(tail.model(1).flat<float>(1), 21.f);
  EXPECT_THROW(t.model(3), Error);
  EXPECT_THROW(t.models(2, 2), Error);

  Tensor flat = t.reshape({12});
  EXPECT_EQ(flat.flat<float>(11), 23.f);
  EXPECT_THROW(t.reshape({5}), Error);
}

TEST(Tensor, ViewsKeepStorageAliveAndFreeIt) {
  auto alloc = HostAllocator::shared();
  const std::size_t before = alloc->stats().bytes_in_use;
  Tensor view;
  {
    Tensor t = Tensor::host({1000}, DType::f32);
    t.flat<float>(999) = 7.f;
    view = t.models(990, 10);
  }
  EXPECT_GE(alloc->stats().bytes_in_use, before + 4000);
  EXPECT_EQ(view.flat<float>(9), 7.f);
  view = Tensor();
  EXPECT_EQ(alloc->stats().bytes_in_use, before);
}

TEST(Tensor, CopiesOnTheCpu) {
  Context ctx;
  Tensor a = test::random_tensor({4, 5}, DType::f32, 1);
  Tensor b = a.to(ctx);
  EXPECT_FALSE(b.shares_storage_with(a));
  EXPECT_TRUE(test::bitwise_equal(b, a));
  Tensor c = Tensor::zeros({4, 5}, DType::f32, ctx);
  c.copy_from(a, ctx);
  EXPECT_TRUE(test::bitwise_equal(c, a));
  EXPECT_EQ(a.to_vector<float>().size(), 20u);
  Tensor wrong = Tensor::host({5, 4}, DType::f32);
  EXPECT_THROW(wrong.copy_from(a, ctx), Error);
}

TEST(Tensor, BorrowedMemoryIsNotFreed) {
  std::vector<double> buf(6, 2.5);
  {
    Tensor t = Tensor::borrow(buf.data(), {2, 3}, DType::f64, Device::cpu());
    t.flat<double>(4) = 9.0;
  }
  EXPECT_EQ(buf[4], 9.0);
}

TEST(Tensor, ChecksNameTheTensor) {
  Tensor t = Tensor::host({2, 3}, DType::f32);
  try {
    check_shape(t, "weights", {3, 2});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'weights' has shape [2, 3], expected [3, 2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(check_tensor(t, "labels", DType::i32), Error);
  EXPECT_EQ(parse_dtype("float64"), DType::f64);
  EXPECT_THROW(parse_dtype("f16"), Error);
}

TEST(Context, CpuContextAndWorkspace) {
  Context ctx(Device::cpu(), ContextOptions{2});
  EXPECT_TRUE(ctx.is_cpu());
  EXPECT_EQ(ctx.cpu_threads(), 2);
  void* w1 = ctx.workspace(100);
  void* w2 = ctx.workspace(50);
  EXPECT_EQ(w1, w2);  // reused when large enough
  EXPECT_GE(ctx.workspace_bytes(), 100u);
  ctx.synchronize();
  EXPECT_THROW(Context(Device::cpu(), ContextOptions{-1}), Error);
}

TEST(Context, CudaContextWithoutGpuIsAClearError) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a GPU is present";
  try {
    Context ctx(Device::cuda(0));
    FAIL() << "created a CUDA context without a GPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot use cuda:0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace groove

namespace groove {
namespace {

// The peaks `groove bench` and the benchmarks report percentages of, from published figures.
TEST(DevicePeak, FromTheDeviceProperties) {
  GpuInfo h100;  // H100 SXM5: 132 SMs, 1980 MHz boost, HBM3 2619 MHz x 5120 bits
  h100.sm_count = 132, h100.compute_major = 9, h100.compute_minor = 0, h100.clock_khz = 1980000;
  h100.memory_clock_khz = 2619000, h100.memory_bus_width_bits = 5120;
  EXPECT_NEAR(fp32_peak_gflops(h100), 66908.2, 0.1);  // NVIDIA: 67 TFLOP/s FP32
  EXPECT_NEAR(dram_peak_gbps(h100), 3352.3, 0.1);     // NVIDIA: 3.35 TB/s
  GpuInfo a100;  // A100 SXM4: 108 SMs of 64 FP32 lanes at 1410 MHz = 19.5 TFLOP/s
  a100.sm_count = 108, a100.compute_major = 8, a100.compute_minor = 0, a100.clock_khz = 1410000;
  EXPECT_NEAR(fp32_peak_gflops(a100), 19491.8, 0.1);
  EXPECT_EQ(dram_peak_gbps(GpuInfo{}), 0.0);
}

}  // namespace
}  // namespace groove
