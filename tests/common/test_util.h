// Shared test helpers: random (never zero) inputs, the atol + rtol*|ref| comparison that prints
// the worst element, a GPU fixture that skips with a message, temporary folders, and running
// the Python interpreter that has numpy.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include <vector>

#include "runtime/context.h"
#include "runtime/error.h"
#include "runtime/tensor.h"

namespace groove::test {

// Host tensor of uniform values in [lo, hi) drawn from Philox(seed); by default never zero
// (values in [0.1, 1) with a random sign).
Tensor random_tensor(const Shape& shape, DType dtype, std::uint64_t seed, double lo = 0.1, double hi = 1.0,
                     bool random_sign = true);
// Host i32 tensor of integers in [0, n).
Tensor random_indices(const Shape& shape, std::int32_t n, std::uint64_t seed);

// Default tolerances per dtype for comparing a kernel with its reference.
struct Tolerance {
  double atol, rtol;
};
Tolerance default_tolerance(DType dtype);

// Passes when |actual - expected| <= atol + rtol * |expected| everywhere (NaN matches NaN, an
// infinity matches the same infinity);
// otherwise fails and names the worst element, its index and both values.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double atol, double rtol);
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected);
// Bitwise equality (for RNG and integer outputs), naming the first differing element.
::testing::AssertionResult bitwise_equal(const Tensor& actual, const Tensor& expected);

// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Passes when fn throws groove::Error whose message contains every needle.
template <typename Fn>
::testing::AssertionResult throws_mentioning(Fn&& fn, const std::vector<std::string>& needles) {
  try {
    fn();
  } catch (const Error& e) {
    for (const std::string& needle : needles) {
      if (e.message().find(needle) == std::string::npos) {
        return ::testing::AssertionFailure() << "the error does not mention \"" << needle << "\": " << e.message();
      }
    }
    return ::testing::AssertionSuccess() << e.message();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-groove exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

// The bytes of a file ("" when it cannot be read).
std::string read_file(const std::string& path);

// The Python interpreter with numpy chosen at configure time ("" if none).
std::string python();
// Runs `python script args...`; returns the exit code, and the combined output in *output.
int run_python(const std::string& script, const std::string& args, std::string* output);

// Fixture for tests that need a GPU: skips with a clear message when none is usable, and gives
// each test a CPU and a CUDA context.
class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override;
  std::unique_ptr<Context> cpu;
  std::unique_ptr<Context> gpu;
};

}  // namespace groove::test
