// Shared test helpers (see test_util.h).
#include "tests/common/test_util.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/device.h"
#include "runtime/philox.h"

namespace groove::test {

Tensor random_tensor(const Shape& shape, DType dtype, std::uint64_t seed, double lo, double hi, bool random_sign) {
  Tensor t = Tensor::host(shape, dtype);
  const std::int64_t n = t.numel();
  for (std::int64_t i = 0; i < n; ++i) {
    const U32x4 w = philox_block(seed, 0x7e57, static_cast<std::uint64_t>(i));
    double v = lo + (hi - lo) * u01_f64(w.v[0], w.v[1]);
    if (random_sign && (w.v[2] & 1u)) v = -v;
    switch (dtype) {
      case DType::f32:
        t.flat<float>(i) = static_cast<float>(v);
        break;
      case DType::f64:
        t.flat<double>(i) = v;
        break;
      case DType::i32:
        t.flat<std::int32_t>(i) = static_cast<std::int32_t>(std::floor(v));
        break;
    }
  }
  return t;
}

Tensor random_indices(const Shape& shape, std::int32_t n, std::uint64_t seed) {
  Tensor t = Tensor::host(shape, DType::i32);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    const U32x4 w = philox_block(seed, 0x1d5, static_cast<std::uint64_t>(i));
    t.flat<std::int32_t>(i) = static_cast<std::int32_t>(w.v[0] % static_cast<std::uint32_t>(n));
  }
  return t;
}

Tolerance default_tolerance(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return {1e-5, 1e-4};
    case DType::f64:
      return {1e-12, 1e-10};
    case DType::i32:
      return {0, 0};
  }
  return {0, 0};
}

namespace {

::testing::AssertionResult same_layout(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) {
    return ::testing::AssertionFailure() << "actual " << a.str() << " vs expected " << b.str();
  }
  return ::testing::AssertionSuccess();
}
}  // namespace

::testing::AssertionResult all_close(const Tensor& actual_in, const Tensor& expected_in, double atol, double rtol) {
  auto layout = same_layout(actual_in, expected_in);
  if (!layout) return layout;
  const Tensor actual = actual_in.is_cuda() ? actual_in.to_host() : actual_in;
  const Tensor expected = expected_in.is_cuda() ? expected_in.to_host() : expected_in;
  std::int64_t worst = -1, n_bad = 0;
  double worst_excess = 0;
  for (std::int64_t i = 0; i < actual.numel(); ++i) {
    const double a = actual.value(i), e = expected.value(i);
    if (std::isnan(a) && std::isnan(e)) continue;
    if (a == e) continue;  // equal infinities (|inf - inf| is NaN)
    const double err = std::fabs(a - e), allowed = atol + rtol * std::fabs(e);
    if (!(err <= allowed)) {
      ++n_bad;
      const double excess = std::isnan(err) ? INFINITY : err / (allowed > 0 ? allowed : 1e-300);
      if (worst < 0 || excess > worst_excess) {
        worst = i;
        worst_excess = excess;
      }
    }
  }
  if (n_bad == 0) return ::testing::AssertionSuccess();
  const double a = actual.value(worst), e = expected.value(worst);
  std::ostringstream os;
  os.precision(17);
  os << n_bad << " of " << actual.numel() << " elements of " << actual.str() << " differ; worst at flat index " << worst
     << ": actual " << a << ", expected " << e << ", |diff| " << std::fabs(a - e) << " > atol " << atol << " + rtol "
     << rtol << " * |expected|";
  return ::testing::AssertionFailure() << os.str();
}

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected) {
  const Tolerance tol = default_tolerance(expected.dtype());
  return all_close(actual, expected, tol.atol, tol.rtol);
}

::testing::AssertionResult bitwise_equal(const Tensor& actual_in, const Tensor& expected_in) {
  auto layout = same_layout(actual_in, expected_in);
  if (!layout) return layout;
  const Tensor actual = actual_in.is_cuda() ? actual_in.to_host() : actual_in;
  const Tensor expected = expected_in.is_cuda() ? expected_in.to_host() : expected_in;
  const std::size_t elem = dtype_size(actual.dtype());
  const auto* pa = static_cast<const unsigned char*>(actual.raw());
  const auto* pe = static_cast<const unsigned char*>(expected.raw());
  for (std::int64_t i = 0; i < actual.numel(); ++i) {
    if (std::memcmp(pa + i * elem, pe + i * elem, elem) != 0) {
      std::ostringstream os;
      os.precision(17);
      os << actual.str() << " differs bitwise first at flat index " << i << ": actual " << actual.value(i)
         << ", expected " << expected.value(i);
      return ::testing::AssertionFailure() << os.str();
    }
  }
  return ::testing::AssertionSuccess();
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "groove-test-XXXXXX").string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string python() {
  return GROOVE_TEST_PYTHON;
}

int run_python(const std::string& script, const std::string& args, std::string* output) {
  const std::string cmd = python() + " " + script + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return -1;
  std::string out;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void GpuTest::SetUp() {
  if (cuda_device_count() == 0) {
    GTEST_SKIP() << "GPU test skipped: " << cuda_unavailable_reason();
  }
  cpu = std::make_unique<Context>(Device::cpu());
  gpu = std::make_unique<Context>(Device::cuda(0));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace groove::test
