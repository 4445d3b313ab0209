// Tests of NPY / NPZ reading and writing: round trips within groove and through numpy, conversion
// of numpy's integer types, and groove::Error (never a crash) for every kind of malformed file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/context.h"
#include "runtime/npy.h"
#include "tests/common/test_util.h"

namespace groove::test {
namespace {

namespace fs = std::filesystem;

const char* const kRoundTripScript = GROOVE_SOURCE_DIR "/tests/runtime/npy_roundtrip.py";

// The deterministic values npy_roundtrip.py also computes: float i * 0.5 + 1, integer i * 3 - 7.
Tensor arange_tensor(const Shape& shape, DType dtype) {
  Tensor t = Tensor::host(shape, dtype);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    switch (dtype) {
      case DType::f32:
        t.flat<float>(i) = static_cast<float>(static_cast<double>(i) * 0.5 + 1);
        break;
      case DType::f64:
        t.flat<double>(i) = static_cast<double>(i) * 0.5 + 1;
        break;
      case DType::i32:
        t.flat<std::int32_t>(i) = static_cast<std::int32_t>(i * 3 - 7);
        break;
    }
  }
  return t;
}

Tensor int_tensor(const Shape& shape, const std::vector<std::int32_t>& values) {
  return Tensor::from_vector<std::int32_t>(shape, values);
}

// Non-zero random data; random_tensor's default [0.1, 1) range would floor to 0 / -1 for i32.
Tensor random_data(const Shape& shape, DType dtype, std::uint64_t seed) {
  return dtype == DType::i32 ? random_tensor(shape, dtype, seed, 1.0, 1e9) : random_tensor(shape, dtype, seed);
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

template <typename T>
std::string raw_bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// An NPY file with the given header dict and data (no alignment padding: readers must not need it).
std::string make_npy(const std::string& dict, const std::string& data, int major = 1) {
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  const std::string header = dict + "\n";
  const std::size_t n = header.size();
  out.push_back(static_cast<char>(n & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  if (major != 1) {
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    out.push_back(static_cast<char>((n >> 24) & 0xff));
  }
  return out + header + data;
}

// Passes when fn throws groove::Error whose what() contains every needle.
template <typename Fn>
::testing::AssertionResult throws_mentioning(Fn&& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const std::string& needle : needles) {
      if (what.find(needle) == std::string::npos) {
        return ::testing::AssertionFailure() << "the error does not mention \"" << needle << "\": " << what;
      }
    }
    return ::testing::AssertionSuccess() << what;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-groove exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

#define EXPECT_GROOVE_ERROR(statement, ...)                            \
  do {                                                                 \
    EXPECT_THROW(statement, ::groove::Error);                          \
    EXPECT_TRUE(throws_mentioning([&] { statement; }, {__VA_ARGS__})); \
  } while (0)

std::uint16_t u16_at(const std::string& s, std::size_t pos) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(s[pos]) | (static_cast<unsigned char>(s[pos + 1]) << 8));
}
std::uint32_t u32_at(const std::string& s, std::size_t pos) {
  return u16_at(s, pos) | (static_cast<std::uint32_t>(u16_at(s, pos + 2)) << 16);
}
void set_u16(std::string& s, std::size_t pos, std::uint32_t v) {
  s[pos] = static_cast<char>(v & 0xff);
  s[pos + 1] = static_cast<char>((v >> 8) & 0xff);
}
void append_u16(std::string& s, std::uint32_t v) {
  s.push_back(static_cast<char>(v & 0xff));
  s.push_back(static_cast<char>((v >> 8) & 0xff));
}
void append_u32(std::string& s, std::uint64_t v) {
  append_u16(s, static_cast<std::uint32_t>(v & 0xffff));
  append_u16(s, static_cast<std::uint32_t>((v >> 16) & 0xffff));
}
void append_u64(std::string& s, std::uint64_t v) {
  append_u32(s, v & 0xffffffffu);
  append_u32(s, v >> 32);
}

// Offsets of every occurrence of a 4-byte ZIP signature.
std::vector<std::size_t> find_all(const std::string& s, const std::string& needle) {
  std::vector<std::size_t> out;
  for (std::size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) out.push_back(p);
  return out;
}
const std::string kLocalSig("PK\x03\x04", 4);
const std::string kCentralSig("PK\x01\x02", 4);

std::vector<NamedTensor> sample_arrays() {
  return {{"weights", random_data({4, 6}, DType::f32, 1)},
          {"bias", random_data({6}, DType::f64, 2)},
          {"labels", random_data({10}, DType::i32, 3)},
          {"step", random_data({}, DType::i32, 4)},
          {"empty", random_data({0, 3}, DType::f32, 5)}};
}

void expect_same_arrays(const std::vector<NamedTensor>& actual, const std::vector<NamedTensor>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].name, expected[i].name);
    EXPECT_TRUE(bitwise_equal(actual[i].tensor, expected[i].tensor)) << actual[i].name;
  }
}

// ---------------------------------------------------------------------------------------------
// NPY

TEST(NpyTest, RoundTripsEveryDtypeAndShape) {
  TempDir dir;
  const std::vector<Shape> shapes = {Shape{}, Shape{1}, Shape{7}, Shape{3, 5}, Shape{2, 3, 4}, Shape{0, 3}};
  std::uint64_t seed = 10;
  for (DType dtype : {DType::f32, DType::f64, DType::i32}) {
    for (const Shape& shape : shapes) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + shape.str());
      const Tensor t = random_data(shape, dtype, ++seed);
      const std::string path = dir.file("a.npy");
      write_npy(path, t);
      const Tensor back = read_npy(path);
      EXPECT_EQ(back.ndim(), shape.ndim());
      EXPECT_TRUE(bitwise_equal(back, t));
      // In memory too.
      const std::string bytes = serialize_npy(t);
      EXPECT_EQ(bytes, read_bytes(path));
      EXPECT_TRUE(bitwise_equal(parse_npy(bytes.data(), bytes.size(), "memory"), t));
    }
  }
}

TEST(NpyTest, RoundTripsAModelSliceView) {
  const Tensor all = random_data({3, 2, 5}, DType::f32, 77);
  const Tensor slice = all.model(1);
  const std::string bytes = serialize_npy(slice);
  EXPECT_TRUE(bitwise_equal(parse_npy(bytes.data(), bytes.size(), "memory"), slice.to_host()));
}

TEST(NpyTest, WritesNumpysHeaderLayout) {
  const std::string bytes = serialize_npy(arange_tensor({3, 5}, DType::f32));
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t offset = 10 + u16_at(bytes, 8);
  EXPECT_EQ(offset % 64, 0u);
  EXPECT_EQ(bytes.size(), offset + 15 * 4);
  const std::string header = bytes.substr(10, offset - 10);
  EXPECT_EQ(header.back(), '\n');
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }";
  EXPECT_EQ(header.substr(0, dict.size()), dict);
  EXPECT_EQ(header.find_first_not_of(' ', dict.size()), header.size() - 1) << "padding must be spaces";

  const std::string one_d = serialize_npy(arange_tensor({7}, DType::i32));
  EXPECT_NE(one_d.find("'descr': '<i4'"), std::string::npos);
  EXPECT_NE(one_d.find("'shape': (7,)"), std::string::npos) << "1-d shapes need the trailing comma";
  const std::string scalar = serialize_npy(arange_tensor({}, DType::f64));
  EXPECT_NE(scalar.find("'descr': '<f8'"), std::string::npos);
  EXPECT_NE(scalar.find("'shape': ()"), std::string::npos);
  EXPECT_EQ((10 + u16_at(scalar, 8)) % 64, 0u);
}

TEST(NpyTest, WriteRejectsAnUndefinedTensorAndKeepsTheOldFile) {
  TempDir dir;
  const std::string path = dir.file("keep.npy");
  const Tensor t = arange_tensor({4}, DType::f32);
  write_npy(path, t);
  const std::string before = read_bytes(path);
  EXPECT_GROOVE_ERROR(write_npy(path, Tensor()), path, "undefined");
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(bitwise_equal(read_npy(path), t));
}

TEST(NpyTest, ParsesHeaderVariants) {
  const std::string data = raw_bytes(std::vector<float>{1.5f, -2.f, 3.f, 4.25f, 5.f, 6.f});
  const Tensor expected = Tensor::from_vector<float>({2, 3}, {1.5f, -2.f, 3.f, 4.25f, 5.f, 6.f});
  const std::vector<std::string> dicts = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
      "{  'fortran_order' :False,'shape':(2,3,),\t'descr':'<f4' ,}   ",
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2L, 3L)}",
      "{'descr': '=f4', 'fortran_order': False, 'shape': (2, 3)}",
  };
  for (const std::string& dict : dicts) {
    SCOPED_TRACE(dict);
    for (int major : {1, 2, 3}) {
      const std::string file = make_npy(dict, data, major);
      Tensor t;
      ASSERT_NO_THROW(t = parse_npy(file.data(), file.size(), "variant"));
      EXPECT_TRUE(bitwise_equal(t, expected));
    }
  }
  // Scalars and 1-element tuples.
  const std::string scalar =
      make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': ()}", raw_bytes(std::vector<double>{-0.25}));
  const Tensor s = parse_npy(scalar.data(), scalar.size(), "scalar");
  EXPECT_EQ(s.ndim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.flat<double>(0), -0.25);
  const std::string vec = make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (3,)}",
                                   raw_bytes(std::vector<std::int32_t>{7, -8, 9}));
  EXPECT_TRUE(bitwise_equal(parse_npy(vec.data(), vec.size(), "vec"), int_tensor({3}, {7, -8, 9})));
}

TEST(NpyTest, ReadsFortranOrderIntoRowMajor) {
  // [[1, 2, 3], [4, 5, 6]] stored column by column.
  const std::string f2 = make_npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                                  raw_bytes(std::vector<double>{1, 4, 2, 5, 3, 6}));
  EXPECT_TRUE(bitwise_equal(parse_npy(f2.data(), f2.size(), "f2"),
                            Tensor::from_vector<double>({2, 3}, {1, 2, 3, 4, 5, 6})));
  // Three dimensions, element (i, j, k) = 100 i + 10 j + k, stored with i fastest; integers converted.
  std::vector<std::int16_t> data;
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) data.push_back(static_cast<std::int16_t>(100 * i + 10 * j + k));
  const std::string f3 = make_npy("{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3, 4), }", raw_bytes(data));
  const Tensor t = parse_npy(f3.data(), f3.size(), "f3");
  ASSERT_EQ(t.shape(), Shape({2, 3, 4}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(t.flat<std::int32_t>((i * 3 + j) * 4 + k), 100 * i + 10 * j + k);
  // One dimension: Fortran and C order are the same.
  const std::string f1 = make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }",
                                  raw_bytes(std::vector<float>{1, 2, 3}));
  EXPECT_TRUE(bitwise_equal(parse_npy(f1.data(), f1.size(), "f1"), Tensor::from_vector<float>({3}, {1, 2, 3})));
}

TEST(NpyTest, ConvertsNumpyIntegerTypesToInt32) {
  struct Case {
    std::string descr;
    std::string data;
    std::vector<std::int32_t> expected;
  };
  const std::int64_t lo = std::numeric_limits<std::int32_t>::min();
  const std::int64_t hi = std::numeric_limits<std::int32_t>::max();
  const std::vector<Case> cases = {
      {"<i8", raw_bytes(std::vector<std::int64_t>{lo, -1, 0, hi}), {INT32_MIN, -1, 0, INT32_MAX}},
      {"|i1", raw_bytes(std::vector<std::int8_t>{-128, -1, 0, 127}), {-128, -1, 0, 127}},
      {"|u1", raw_bytes(std::vector<std::uint8_t>{0, 1, 200, 255}), {0, 1, 200, 255}},
      {">u1", raw_bytes(std::vector<std::uint8_t>{0, 1, 200, 255}), {0, 1, 200, 255}},
      {"|b1", raw_bytes(std::vector<std::uint8_t>{1, 0, 0, 1}), {1, 0, 0, 1}},
      {"<i2", raw_bytes(std::vector<std::int16_t>{-32768, -5, 5, 32767}), {-32768, -5, 5, 32767}},
      {"<u2", raw_bytes(std::vector<std::uint16_t>{0, 5, 40000, 65535}), {0, 5, 40000, 65535}},
      {"<u4", raw_bytes(std::vector<std::uint32_t>{0, 5, 40000, 2147483647u}), {0, 5, 40000, INT32_MAX}},
      {"<u8", raw_bytes(std::vector<std::uint64_t>{0, 5, 40000, 2147483647u}), {0, 5, 40000, INT32_MAX}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.descr);
    const std::string file = make_npy("{'descr': '" + c.descr + "', 'fortran_order': False, 'shape': (2, 2)}", c.data);
    Tensor t;
    ASSERT_NO_THROW(t = parse_npy(file.data(), file.size(), "ints"));
    EXPECT_TRUE(bitwise_equal(t, int_tensor({2, 2}, c.expected)));
  }
}

TEST(NpyTest, IntegerOutOfInt32RangeNamesTheFileIndexAndValue) {
  TempDir dir;
  struct Case {
    std::string descr;
    std::string data;
    std::string value;
  };
  const std::vector<Case> cases = {
      {"<i8", raw_bytes(std::vector<std::int64_t>{1, 2, 3000000000LL, 4}), "3000000000"},
      {"<i8", raw_bytes(std::vector<std::int64_t>{1, 2, -2147483649LL, 4}), "-2147483649"},
      {"<u4", raw_bytes(std::vector<std::uint32_t>{1, 2, 4000000000u, 4}), "4000000000"},
      {"<u8", raw_bytes(std::vector<std::uint64_t>{1, 2, 18446744073709551615ull, 4}), "18446744073709551615"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.descr + " " + c.value);
    const std::string path = dir.file("big_" + c.value + ".npy");
    write_bytes(path, make_npy("{'descr': '" + c.descr + "', 'fortran_order': False, 'shape': (4,)}", c.data));
    EXPECT_GROOVE_ERROR(read_npy(path), path, c.value, "index 2", "int32");
  }
}

TEST(NpyTest, MalformedFilesThrowNamingTheFile) {
  TempDir dir;
  const std::string f4x6 = raw_bytes(std::vector<float>{1, 2, 3, 4, 5, 6});
  const std::string good = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4x6);
  auto with_dict = [&](const std::string& dict) { return make_npy(dict, f4x6); };
  std::string bad_version = good;
  bad_version[6] = 4;
  std::string bad_minor = good;
  bad_minor[7] = 1;
  std::string long_header = good;
  set_u16(long_header, 8, 60000);
  std::string wrong_magic = good;
  wrong_magic[1] = 'X';

  struct Case {
    const char* name;
    std::string bytes;
    std::string needle;  // besides the file name
  };
  const std::vector<Case> cases = {
      {"truncated_data", good.substr(0, good.size() - 3), "truncated"},
      {"truncated_header", good.substr(0, 30), "past the end"},
      {"only_magic", good.substr(0, 7), "truncated"},
      {"empty", "", "empty"},
      {"wrong_magic", wrong_magic, "not an NPY file"},
      {"text_file", "hello, this is not numpy\n", "not an NPY file"},
      {"bad_version", bad_version, "version 4.0"},
      {"bad_minor_version", bad_minor, "version 1.1"},
      {"header_past_eof", long_header, "past the end"},
      {"garbage_dict", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ]"), "malformed"},
      {"not_a_dict", with_dict("['descr', '<f4']"), "not a dictionary"},
      {"unterminated_string", with_dict("{'descr': '<f4"), "malformed"},
      {"float_in_shape", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 3)}"), "malformed"},
      {"deep_nesting", with_dict(std::string(5000, '(')), "nested too deeply"},
      {"missing_shape", with_dict("{'descr': '<f4', 'fortran_order': False}"), "'shape'"},
      {"missing_descr", with_dict("{'fortran_order': False, 'shape': (2, 3)}"), "'descr'"},
      {"unknown_key", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}"), "'x'"},
      {"duplicate_key", with_dict("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}"),
       "duplicate"},
      {"shape_not_tuple", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': 6}"), "not a tuple"},
      {"fortran_order_not_bool", with_dict("{'descr': '<f4', 'fortran_order': 1, 'shape': (2, 3)}"),
       "'fortran_order' is not True or False"},
      {"big_endian", with_dict("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3)}"), "big-endian"},
      {"big_endian_i8", with_dict("{'descr': '>i8', 'fortran_order': False, 'shape': (3,)}"), "big-endian"},
      {"complex", with_dict("{'descr': '<c8', 'fortran_order': False, 'shape': (3,)}"), "'<c8'"},
      {"half", with_dict("{'descr': '<f2', 'fortran_order': False, 'shape': (12,)}"), "'<f2'"},
      {"object", with_dict("{'descr': '|O', 'fortran_order': False, 'shape': (3,)}"), "'|O'"},
      {"unicode", with_dict("{'descr': '<U2', 'fortran_order': False, 'shape': (3,)}"), "'<U2'"},
      {"structured", with_dict("{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (3,)}"),
       "structured"},
      {"negative_dim", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -3)}"),
       "negative dimension -2"},
      {"absurd_dim", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,)}"),
       "overflows"},
      {"count_overflow", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}"),
       "overflows"},
      {"huge_integer", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
       "too large"},
      {"lying_shape", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000)}"), "truncated"},
      {"too_many_dims", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 6)}"),
       "dimensions"},
      {"trailing_bytes", good + "xyz", "3 trailing bytes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir.file(std::string(c.name) + ".npy");
    write_bytes(path, c.bytes);
    EXPECT_GROOVE_ERROR(read_npy(path), path, c.needle);
  }
  EXPECT_GROOVE_ERROR(read_npy(dir.file("does_not_exist.npy")), dir.file("does_not_exist.npy"), "No such file");
  EXPECT_GROOVE_ERROR(read_npy(dir.path()), dir.path(), "not a regular file");
}

TEST(NpyTest, TruncationAtAnyLengthThrows) {
  const std::string good = serialize_npy(arange_tensor({3, 4}, DType::f64));
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_THROW(parse_npy(good.data(), n, "cut"), Error) << "cut at " << n << " of " << good.size();
  }
}

// ---------------------------------------------------------------------------------------------
// Atomic writes

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(NpyTest, WriteFileAtomicReplacesAnExistingFile) {
  TempDir dir;
  const std::string path = dir.file("out.bin");
  write_bytes(path, "old contents that are longer than the new ones");
  write_file_atomic(path, "new");
  EXPECT_EQ(read_bytes(path), "new");
  write_file_atomic(path, std::string("\0binary\xff", 8));
  EXPECT_EQ(read_bytes(path), std::string("\0binary\xff", 8));
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"out.bin"}) << "a temporary file was left behind";
}

TEST(NpyTest, WriteFileAtomicIntoAMissingFolderThrows) {
  TempDir dir;
  const std::string path = dir.file("no/such/folder/out.npy");
  EXPECT_GROOVE_ERROR(write_file_atomic(path, "data"), path, "No such file or directory");
  EXPECT_GROOVE_ERROR(write_npy(path, arange_tensor({2}, DType::f32)), path);
  EXPECT_GROOVE_ERROR(write_npz(path, {{"a", arange_tensor({2}, DType::f32)}}), path);
  EXPECT_TRUE(list_dir(dir.path()).empty());
}

TEST(NpyTest, WriteFileAtomicFailedRenameRemovesTheTempFileAndKeepsTheTarget) {
  TempDir dir;
  // A non-empty folder cannot be replaced by a file: the temporary file is written, the rename fails.
  const std::string path = dir.file("target");
  fs::create_directory(path);
  write_bytes(path + "/inside.txt", "keep me");
  EXPECT_GROOVE_ERROR(write_file_atomic(path, "data"), path, "rename");
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"target"}) << "the temporary file was left behind";
  EXPECT_EQ(read_bytes(path + "/inside.txt"), "keep me");
}

// ---------------------------------------------------------------------------------------------
// NPZ

TEST(NpzTest, RoundTripsStoredAndDeflated) {
  TempDir dir;
  const std::vector<NamedTensor> arrays = sample_arrays();
  for (NpzCompression c : {NpzCompression::stored, NpzCompression::deflated}) {
    SCOPED_TRACE(c == NpzCompression::stored ? "stored" : "deflated");
    const std::string path = dir.file("a.npz");
    write_npz(path, arrays, c);
    expect_same_arrays(read_npz(path), arrays);
    for (const NamedTensor& a : arrays) EXPECT_TRUE(bitwise_equal(read_npz_array(path, a.name), a.tensor));
    // The method field of every member says what was asked for.
    const std::string bytes = read_bytes(path);
    const auto locals = find_all(bytes, kLocalSig);
    ASSERT_EQ(locals.size(), arrays.size());
    for (std::size_t p : locals) EXPECT_EQ(u16_at(bytes, p + 8), c == NpzCompression::stored ? 0 : 8);
  }
}

TEST(NpzTest, EmptyArchiveRoundTrips) {
  TempDir dir;
  write_npz(dir.file("e.npz"), {});
  EXPECT_EQ(read_bytes(dir.file("e.npz")).size(), 22u);
  EXPECT_TRUE(read_npz(dir.file("e.npz")).empty());
  EXPECT_GROOVE_ERROR(read_npz_array(dir.file("e.npz"), "x"), "e.npz", "'x'", "(none)");
}

TEST(NpzTest, DeflateCompressesRedundantData) {
  TempDir dir;
  const Tensor zeros = Tensor::host_zeros({256, 256}, DType::f32);
  write_npz(dir.file("s.npz"), {{"z", zeros}}, NpzCompression::stored);
  write_npz(dir.file("d.npz"), {{"z", zeros}}, NpzCompression::deflated);
  EXPECT_GT(read_bytes(dir.file("s.npz")).size(), 256u * 256u * 4u);
  EXPECT_LT(read_bytes(dir.file("d.npz")).size(), 4096u);
  EXPECT_TRUE(bitwise_equal(read_npz_array(dir.file("d.npz"), "z"), zeros));
}

TEST(NpzTest, OutputIsReproducible) {
  TempDir dir;
  for (NpzCompression c : {NpzCompression::stored, NpzCompression::deflated}) {
    write_npz(dir.file("1.npz"), sample_arrays(), c);
    write_npz(dir.file("2.npz"), sample_arrays(), c);
    EXPECT_EQ(read_bytes(dir.file("1.npz")), read_bytes(dir.file("2.npz")));
  }
}

TEST(NpzTest, ReadNpzArrayListsTheNamesPresentWhenMissing) {
  TempDir dir;
  const std::string path = dir.file("m.npz");
  write_npz(path, {{"alpha", arange_tensor({2}, DType::f32)}, {"beta", arange_tensor({3}, DType::i32)}});
  EXPECT_TRUE(bitwise_equal(read_npz_array(path, "beta"), arange_tensor({3}, DType::i32)));
  EXPECT_GROOVE_ERROR(read_npz_array(path, "gamma"), path, "'gamma'", "alpha, beta");
}

TEST(NpzTest, WriteRejectsBadNames) {
  TempDir dir;
  const std::string path = dir.file("bad.npz");
  const Tensor t = arange_tensor({2}, DType::f32);
  EXPECT_GROOVE_ERROR(write_npz(path, {{"", t}}), path, "empty name");
  EXPECT_GROOVE_ERROR(write_npz(path, {{"a", t}, {"b", t}, {"a", t}}), path, "duplicate", "'a'");
  EXPECT_GROOVE_ERROR(write_npz(path, {{"dir/a", t}}), path, "'dir/a'", "'/'");
  EXPECT_GROOVE_ERROR(write_npz(path, {{"u", Tensor()}}), path, "'u'", "undefined");
  EXPECT_FALSE(fs::exists(path));
}

TEST(NpzTest, WriteRejectsTooManyMembers) {
  TempDir dir;
  const Tensor t = arange_tensor({1}, DType::f32);
  std::vector<NamedTensor> many(65535, NamedTensor{"x", t});
  EXPECT_GROOVE_ERROR(write_npz(dir.file("many.npz"), many), "many.npz", "65535");
}

// A ZIP64 archive as Python's zipfile writes with force_zip64 (ZIP64 extra fields in the local
// headers, 0xffffffff sizes and offsets in the central directory with a ZIP64 extra field, a ZIP64
// end-of-central-directory record and locator), built by hand so this runs without numpy.
std::string make_zip64(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string zip, central;
  for (const auto& [name, npy] : members) {
    const std::uint64_t offset = zip.size();
    append_u32(zip, 0x04034b50);
    append_u16(zip, 45);
    append_u16(zip, 0);
    append_u16(zip, 0);  // stored
    append_u16(zip, 0);
    append_u16(zip, 0x21);
    const std::size_t crc_at = zip.size();
    append_u32(zip, 0);  // CRC-32, patched in once computed below
    append_u32(zip, 0xffffffffu);
    append_u32(zip, 0xffffffffu);
    append_u16(zip, static_cast<std::uint32_t>(name.size()));
    append_u16(zip, 20);
    zip += name;
    append_u16(zip, 1);
    append_u16(zip, 16);
    append_u64(zip, npy.size());
    append_u64(zip, npy.size());
    zip += npy;
    // CRC-32 (IEEE), computed here to keep the builder independent of groove's zlib use.
    std::uint32_t c = 0xffffffffu;
    for (unsigned char byte : npy) {
      c ^= byte;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    c ^= 0xffffffffu;
    zip[crc_at] = static_cast<char>(c & 0xff);
    zip[crc_at + 1] = static_cast<char>((c >> 8) & 0xff);
    zip[crc_at + 2] = static_cast<char>((c >> 16) & 0xff);
    zip[crc_at + 3] = static_cast<char>((c >> 24) & 0xff);

    append_u32(central, 0x02014b50);
    append_u16(central, 45);
    append_u16(central, 45);
    append_u16(central, 0);
    append_u16(central, 0);
    append_u16(central, 0);
    append_u16(central, 0x21);
    append_u32(central, c);
    append_u32(central, 0xffffffffu);
    append_u32(central, 0xffffffffu);
    append_u16(central, static_cast<std::uint32_t>(name.size()));
    append_u16(central, 4 + 24 + 8);  // an unrelated extra field before the ZIP64 one
    append_u16(central, 0);
    append_u16(central, 0);
    append_u16(central, 0);
    append_u32(central, 0);
    append_u32(central, 0xffffffffu);
    central += name;
    append_u16(central, 0x5455);  // extended timestamp, to be skipped
    append_u16(central, 4);
    append_u32(central, 0);
    append_u16(central, 1);
    append_u16(central, 24);
    append_u64(central, npy.size());
    append_u64(central, npy.size());
    append_u64(central, offset);
  }
  const std::uint64_t cd_offset = zip.size();
  zip += central;
  const std::uint64_t z64_offset = zip.size();
  append_u32(zip, 0x06064b50);
  append_u64(zip, 44);
  append_u16(zip, 45);
  append_u16(zip, 45);
  append_u32(zip, 0);
  append_u32(zip, 0);
  append_u64(zip, members.size());
  append_u64(zip, members.size());
  append_u64(zip, central.size());
  append_u64(zip, cd_offset);
  append_u32(zip, 0x07064b50);
  append_u32(zip, 0);
  append_u64(zip, z64_offset);
  append_u32(zip, 1);
  append_u32(zip, 0x06054b50);
  append_u16(zip, 0);
  append_u16(zip, 0);
  append_u16(zip, 0xffff);
  append_u16(zip, 0xffff);
  append_u32(zip, 0xffffffffu);
  append_u32(zip, 0xffffffffu);
  append_u16(zip, 0);
  return zip;
}

TEST(NpzTest, ReadsZip64Records) {
  TempDir dir;
  const Tensor a = random_data({3, 4}, DType::f32, 21), b = random_data({5}, DType::i32, 22);
  const std::string path = dir.file("z64.npz");
  write_bytes(path, make_zip64({{"a.npy", serialize_npy(a)}, {"b.npy", serialize_npy(b)}}));
  expect_same_arrays(read_npz(path), {{"a", a}, {"b", b}});
}

TEST(NpzTest, TruncationAtAnyLengthThrows) {
  TempDir dir;
  const std::string good_path = dir.file("good.npz");
  write_npz(good_path, {{"a", arange_tensor({3}, DType::f32)}, {"b", arange_tensor({2, 2}, DType::i32)}},
            NpzCompression::deflated);
  const std::string good = read_bytes(good_path);
  const std::string path = dir.file("cut.npz");
  for (std::size_t n = 0; n < good.size(); ++n) {
    write_bytes(path, good.substr(0, n));
    EXPECT_TRUE(throws_mentioning([&] { read_npz(path); }, {path})) << "cut at " << n << " of " << good.size();
  }
}

TEST(NpzTest, CorruptedMemberDataFailsTheCrcCheck) {
  TempDir dir;
  const std::string path = dir.file("crc.npz");
  write_npz(path, {{"a", arange_tensor({16}, DType::f32)}});
  std::string bytes = read_bytes(path);
  // The member's data ends right before the central directory; flip its last byte (array data).
  const auto central = find_all(bytes, kCentralSig);
  ASSERT_EQ(central.size(), 1u);
  bytes[central[0] - 1] = static_cast<char>(bytes[central[0] - 1] ^ 0x40);
  write_bytes(path, bytes);
  EXPECT_GROOVE_ERROR(read_npz(path), path, "a.npy", "CRC-32");
}

TEST(NpzTest, NotAZipArchiveThrows) {
  TempDir dir;
  const std::string path = dir.file("text.npz");
  write_bytes(path, std::string(200, 'x'));
  EXPECT_GROOVE_ERROR(read_npz(path), path, "not a ZIP");
  const std::string npy_path = dir.file("an_npy.npz");
  write_bytes(npy_path, serialize_npy(arange_tensor({5}, DType::f32)));
  EXPECT_GROOVE_ERROR(read_npz(npy_path), npy_path, "not a ZIP");
  EXPECT_GROOVE_ERROR(read_npz(dir.file("missing.npz")), dir.file("missing.npz"), "No such file");
}

TEST(NpzTest, MemberThatIsNotNpyThrows) {
  TempDir dir;
  const std::string path = dir.file("txt.npz");
  write_npz(path, {{"notes", arange_tensor({2}, DType::f32)}});
  std::string bytes = read_bytes(path);
  const auto names = find_all(bytes, "notes.npy");
  ASSERT_EQ(names.size(), 2u);  // local header and central directory
  for (std::size_t p : names) bytes.replace(p, 9, "notes.txt");
  write_bytes(path, bytes);
  EXPECT_GROOVE_ERROR(read_npz(path), path, "notes.txt", ".npy");
}

TEST(NpzTest, UnsupportedCompressionMethodThrows) {
  TempDir dir;
  const std::string path = dir.file("bzip2.npz");
  write_npz(path, {{"a", arange_tensor({2}, DType::f32)}});
  std::string bytes = read_bytes(path);
  for (std::size_t p : find_all(bytes, kLocalSig)) set_u16(bytes, p + 8, 12);
  for (std::size_t p : find_all(bytes, kCentralSig)) set_u16(bytes, p + 10, 12);
  write_bytes(path, bytes);
  EXPECT_GROOVE_ERROR(read_npz(path), path, "a.npy", "compression method 12");
}

TEST(NpzTest, EncryptedMemberThrows) {
  TempDir dir;
  const std::string path = dir.file("enc.npz");
  write_npz(path, {{"a", arange_tensor({2}, DType::f32)}});
  std::string bytes = read_bytes(path);
  for (std::size_t p : find_all(bytes, kCentralSig)) set_u16(bytes, p + 8, 1);
  write_bytes(path, bytes);
  EXPECT_GROOVE_ERROR(read_npz(path), path, "a.npy", "encrypted");
}

TEST(NpzTest, LyingSizesThrowWithoutHugeAllocations) {
  TempDir dir;
  const std::string path = dir.file("lie.npz");
  write_npz(path, {{"a", arange_tensor({64}, DType::f32)}}, NpzCompression::deflated);
  const std::string good = read_bytes(path);
  const std::size_t cd = find_all(good, kCentralSig).at(0);
  const std::uint32_t usize = u32_at(good, cd + 24);
  for (std::uint32_t lie : {0xfffffff0u, usize + 1, usize - 1}) {
    std::string bytes = good;
    set_u16(bytes, cd + 24, lie & 0xffff);
    set_u16(bytes, cd + 26, lie >> 16);
    write_bytes(path, bytes);
    EXPECT_GROOVE_ERROR(read_npz(path), path, "a.npy");
  }
  // A member whose data runs past the end, and a central directory offset past the end.
  std::string past = good;
  set_u16(past, cd + 42, 0xfff0);
  write_bytes(path, past);
  EXPECT_GROOVE_ERROR(read_npz(path), path, "a.npy", "past the end");
}

TEST(NpzTest, EveryCorruptedByteIsAnErrorOrValidData) {
  TempDir dir;
  const std::string path = dir.file("flip.npz");
  for (NpzCompression c : {NpzCompression::stored, NpzCompression::deflated}) {
    write_npz(path, {{"a", arange_tensor({3}, DType::f32)}, {"bb", arange_tensor({2}, DType::i32)}}, c);
    const std::string good = read_bytes(path);
    for (std::size_t i = 0; i < good.size(); ++i) {
      for (unsigned char mask : {0x01, 0x80, 0xff}) {
        std::string bytes = good;
        bytes[i] = static_cast<char>(bytes[i] ^ mask);
        write_bytes(path, bytes);
        try {
          (void)read_npz(path);
        } catch (const Error&) {
        } catch (const std::exception& e) {
          ADD_FAILURE() << "byte " << i << " ^ " << int(mask) << ": non-groove exception " << e.what();
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Through numpy

std::string spec(const std::string& target, const Shape& shape, DType dtype) {
  std::string s = target + "=" + (dtype == DType::f32 ? "f4" : dtype == DType::f64 ? "f8" : "i4") + ":";
  for (int i = 0; i < shape.ndim(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return s;
}

void expect_arange(const Tensor& t, const Shape& shape, DType dtype, const std::string& what) {
  EXPECT_TRUE(bitwise_equal(t, arange_tensor(shape, dtype))) << what;
}

// Integer formulas of npy_roundtrip.py: signed i * 3 - 7, unsigned i * 3 + 5, bool i % 3 == 0.
Tensor int_formula(const Shape& shape, char kind) {
  Tensor t = Tensor::host(shape, DType::i32);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    t.flat<std::int32_t>(i) = static_cast<std::int32_t>(kind == 'u'   ? i * 3 + 5
                                                        : kind == 'b' ? (i % 3 == 0)
                                                                      : i * 3 - 7);
  }
  return t;
}

TEST(NpyTest, RoundTripsThroughNumpy) {
  std::cout << "python: " << python() << std::endl;
  ASSERT_FALSE(python().empty()) << "no Python interpreter with numpy was found when configuring; run "
                                    "tools/install-deps and re-run cmake";
  TempDir dir;
  const auto q = [](const std::string& s) { return "'" + s + "'"; };

  // groove -> numpy
  struct Item {
    std::string file;
    Shape shape;
    DType dtype;
  };
  const std::vector<Item> npys = {{"g_f32.npy", {3, 5}, DType::f32},   {"g_f64.npy", {2, 3, 4}, DType::f64},
                                  {"g_i32.npy", {7}, DType::i32},      {"g_scalar.npy", {}, DType::f64},
                                  {"g_empty.npy", {0, 3}, DType::f32}, {"g_one.npy", {1}, DType::i32},
                                  {"g_big.npy", {300, 70}, DType::f32}};
  std::string args = "check " + q(dir.path());
  for (const Item& it : npys) {
    write_npy(dir.file(it.file), arange_tensor(it.shape, it.dtype));
    args += " " + q(spec(it.file, it.shape, it.dtype));
  }
  const std::vector<Item> members = {{"weights", {4, 6}, DType::f32}, {"bias", {6}, DType::f64},
                                     {"labels", {10}, DType::i32},    {"step", {}, DType::i32},
                                     {"nothing", {0}, DType::f64},    {"big", {200, 50}, DType::f32}};
  for (const auto& [file, c] : {std::pair<std::string, NpzCompression>{"g_stored.npz", NpzCompression::stored},
                                std::pair<std::string, NpzCompression>{"g_deflated.npz", NpzCompression::deflated}}) {
    std::vector<NamedTensor> arrays;
    for (const Item& m : members) {
      arrays.push_back({m.file, arange_tensor(m.shape, m.dtype)});
      args += " " + q(spec(file + "/" + m.file, m.shape, m.dtype));
    }
    write_npz(dir.file(file), arrays, c);
    args += std::string(" --") + (c == NpzCompression::stored ? "stored=" : "deflated=") + file;
  }
  std::string out;
  int rc = run_python(q(kRoundTripScript), args, &out);
  ASSERT_EQ(rc, 0) << "npy_roundtrip.py check failed:\n" << out;

  // numpy -> groove
  rc = run_python(q(kRoundTripScript), "write " + q(dir.path()), &out);
  ASSERT_EQ(rc, 0) << "npy_roundtrip.py write failed:\n" << out;
  auto read = [&](const std::string& name) {
    Tensor t;
    EXPECT_NO_THROW(t = read_npy(dir.file(name))) << name;
    return t;
  };
  expect_arange(read("py_f4.npy"), {3, 4}, DType::f32, "py_f4");
  expect_arange(read("py_f8.npy"), {2, 3, 5}, DType::f64, "py_f8");
  expect_arange(read("py_i4.npy"), {11}, DType::i32, "py_i4");
  expect_arange(read("py_i8.npy"), {3, 4}, DType::i32, "py_i8");
  expect_arange(read("py_i1.npy"), {20}, DType::i32, "py_i1");
  expect_arange(read("py_i2.npy"), {4, 5}, DType::i32, "py_i2");
  EXPECT_TRUE(bitwise_equal(read("py_u1.npy"), int_formula({20}, 'u')));
  EXPECT_TRUE(bitwise_equal(read("py_u2.npy"), int_formula({6}, 'u')));
  EXPECT_TRUE(bitwise_equal(read("py_u4.npy"), int_formula({6}, 'u')));
  EXPECT_TRUE(bitwise_equal(read("py_u8.npy"), int_formula({6}, 'u')));
  EXPECT_TRUE(bitwise_equal(read("py_bool.npy"), int_formula({2, 5}, 'b')));
  const Tensor scalar = read("py_scalar.npy");
  EXPECT_TRUE(bitwise_equal(scalar, Tensor::from_vector<double>({}, {42.5})));
  EXPECT_EQ(scalar.ndim(), 0);
  EXPECT_TRUE(bitwise_equal(read("py_scalar_i8.npy"), int_tensor({}, {-5})));
  EXPECT_TRUE(bitwise_equal(read("py_empty.npy"), Tensor::host({0, 3}, DType::f32)));
  expect_arange(read("py_v2.npy"), {3, 4}, DType::f32, "py_v2");
  expect_arange(read("py_v3.npy"), {5}, DType::f64, "py_v3");
  expect_arange(read("py_fortran.npy"), {2, 3}, DType::f32, "py_fortran");
  expect_arange(read("py_fortran3.npy"), {2, 3, 4}, DType::i32, "py_fortran3");
  EXPECT_GROOVE_ERROR(read_npy(dir.file("py_big_i8.npy")), "py_big_i8.npy", "1099511627776", "index 5");
  EXPECT_GROOVE_ERROR(read_npy(dir.file("py_be.npy")), "py_be.npy", "big-endian");
  EXPECT_GROOVE_ERROR(read_npy(dir.file("py_c8.npy")), "py_c8.npy", "'<c8'");

  std::vector<NamedTensor> npz;
  ASSERT_NO_THROW(npz = read_npz(dir.file("py.npz")));
  expect_same_arrays(npz, {{"a", arange_tensor({3, 4}, DType::f32)},
                           {"b", arange_tensor({5}, DType::i32)},
                           {"c", Tensor::from_vector<double>({}, {42.5})}});
  ASSERT_NO_THROW(npz = read_npz(dir.file("py_compressed.npz")));
  expect_same_arrays(npz, {{"w", arange_tensor({7, 3}, DType::f64)},
                           {"b", int_formula({9}, 'b')},
                           {"arr_0", arange_tensor({100, 50}, DType::f32)}});
  EXPECT_TRUE(
      bitwise_equal(read_npz_array(dir.file("py_compressed.npz"), "arr_0"), arange_tensor({100, 50}, DType::f32)));
}

// ---------------------------------------------------------------------------------------------
// Device tensors (skipped without a GPU)

using NpyGpuTest = GpuTest;

TEST_F(NpyGpuTest, WritesDeviceTensors) {
  TempDir dir;
  const Tensor host = random_data({5, 7}, DType::f32, 99);
  const Tensor device = host.to(*gpu);
  ASSERT_TRUE(device.is_cuda());
  write_npy(dir.file("d.npy"), device);
  EXPECT_TRUE(bitwise_equal(read_npy(dir.file("d.npy")), host));
  write_npz(dir.file("d.npz"), {{"d", device}}, NpzCompression::deflated);
  EXPECT_TRUE(bitwise_equal(read_npz_array(dir.file("d.npz"), "d"), host));
}

}  // namespace
}  // namespace groove::test
